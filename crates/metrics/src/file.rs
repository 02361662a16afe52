//! One service's stats file: created or opened, checked, mapped shared.
//!
//! Processes of a service open the file concurrently without a lock: each extends an
//! empty file to its size (idempotent) and writes the same header, so the race is
//! harmless. A file whose header is of another layout (an older suite) is replaced by
//! renaming a fresh one over it; processes still mapping the old one count into an
//! unlinked file until they exit.

use crate::Slot;
use memmap2::MmapMut;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const MAGIC: u64 = u64::from_ne_bytes(*b"CYRSTAT1");
const NAME_LEN: usize = 32;
/// Header: magic, slot count, program name.
const HEADER: usize = 16 + NAME_LEN;
/// Size of a file.
pub(crate) const FILE_LEN: usize = HEADER + 8 * Slot::COUNT;
/// File name suffix.
pub const SUFFIX: &str = ".stats";

/// A mapped stats file.
pub struct StatsFile {
    map: MmapMut,
}

/// The path of `service`'s file in `dir`; `None` for a name that is not a plain file
/// name.
pub fn path_of(dir: &Path, service: &str) -> Option<PathBuf> {
    let ok = !service.is_empty() && !service.starts_with('.') && !service.contains('/') && service.len() <= 200;
    ok.then(|| dir.join(format!("{service}{SUFFIX}")))
}

impl StatsFile {
    /// Opens (creating `dir` and the file as needed) the file of `service`, whose
    /// workers run `program`.
    pub fn open(dir: &Path, service: &str, program: &str) -> io::Result<StatsFile> {
        let path = path_of(dir, service).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("unusable service name {service:?}")))?;
        std::fs::DirBuilder::new().recursive(true).mode(0o750).create(dir)?;
        let f = OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o640).open(&path)?;
        let len = f.metadata()?.len();
        let f = if len == 0 {
            f.set_len(FILE_LEN as u64)?;
            f
        } else if len != FILE_LEN as u64 || !header_fits(&f)? {
            replace(&path)?
        } else {
            f
        };
        // SAFETY: the file is FILE_LEN long and only ever accessed through atomics;
        // other processes change it concurrently, which is what MAP_SHARED is for.
        let map = unsafe { MmapMut::map_mut(&f)? };
        let sf = StatsFile { map };
        sf.write_header(program);
        Ok(sf)
    }

    /// Maps an existing file read-only-in-intent (for the exporter); `None` when it is
    /// not a stats file of this layout.
    pub fn read(path: &Path) -> io::Result<Option<(String, Vec<u64>)>> {
        let f = File::open(path)?;
        if f.metadata()?.len() != FILE_LEN as u64 {
            return Ok(None);
        }
        // SAFETY: read through atomics only; the file keeps its size (writers never
        // truncate a file of this layout).
        let map = unsafe { memmap2::Mmap::map(&f)? };
        let words = |i: usize| -> u64 {
            // SAFETY: in bounds, 8-aligned (page-aligned map, HEADER is a multiple of 8).
            unsafe { (*(map.as_ptr().add(i * 8) as *const AtomicU64)).load(Ordering::Relaxed) }
        };
        if words(0) != MAGIC || words(1) != Slot::COUNT as u64 {
            return Ok(None);
        }
        let name = &map[16..HEADER];
        let end = name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
        let program = String::from_utf8_lossy(&name[..end]).into_owned();
        let slots = (0..Slot::COUNT).map(|i| words(HEADER / 8 + i)).collect();
        Ok(Some((program, slots)))
    }

    fn atomics(&self) -> &[AtomicU64] {
        // SAFETY: the map is FILE_LEN bytes, page-aligned; AtomicU64 has u64's layout.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr() as *const AtomicU64, FILE_LEN / 8) }
    }

    pub(crate) fn slots_ptr(&self) -> *mut AtomicU64 {
        self.atomics()[HEADER / 8..].as_ptr() as *mut AtomicU64
    }

    /// The value of a slot.
    pub fn get(&self, slot: Slot) -> u64 {
        self.atomics()[HEADER / 8 + slot.0].load(Ordering::Relaxed)
    }

    /// Sets a gauge (master's worker counts).
    pub fn set(&self, slot: Slot, v: u64) {
        self.atomics()[HEADER / 8 + slot.0].store(v, Ordering::Relaxed)
    }

    /// Adds to a counter of this file (master's, which holds one file per service).
    pub fn add(&self, slot: Slot, n: u64) {
        self.atomics()[HEADER / 8 + slot.0].fetch_add(n, Ordering::Relaxed);
    }

    fn write_header(&self, program: &str) {
        let a = self.atomics();
        let mut name = [0u8; NAME_LEN];
        let p = program.as_bytes();
        let n = p.len().min(NAME_LEN);
        name[..n].copy_from_slice(&p[..n]);
        for (i, chunk) in name.chunks_exact(8).enumerate() {
            let w = u64::from_ne_bytes(chunk.try_into().unwrap_or_default());
            if a[2 + i].load(Ordering::Relaxed) != w {
                a[2 + i].store(w, Ordering::Relaxed);
            }
        }
        a[1].store(Slot::COUNT as u64, Ordering::Relaxed);
        a[0].store(MAGIC, Ordering::Release);
    }
}

/// Whether an existing file of the right size is ours or still being set up (magic 0:
/// another process has just created it).
fn header_fits(f: &File) -> io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let mut h = [0u8; 16];
    f.read_exact_at(&mut h, 0)?;
    let magic = u64::from_ne_bytes(h[..8].try_into().unwrap_or_default());
    let count = u64::from_ne_bytes(h[8..].try_into().unwrap_or_default());
    Ok((magic == MAGIC && count == Slot::COUNT as u64) || magic == 0)
}

/// Puts a fresh, empty file of this layout at `path`.
fn replace(path: &Path) -> io::Result<File> {
    let tmp = path.with_extension(format!("new.{}", std::process::id()));
    let f = OpenOptions::new().read(true).write(true).create(true).truncate(true).mode(0o640).open(&tmp)?;
    f.set_len(FILE_LEN as u64)?;
    std::fs::rename(&tmp, path)?;
    Ok(f)
}
