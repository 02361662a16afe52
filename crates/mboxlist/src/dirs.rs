//! Moving and removing mailbox directories on disk, for [`Store::rename`] and
//! [`Store::delete`](crate::Store::delete).
//!
//! A mailbox's own files are the regular files of its directory (`UID.` message files,
//! `cyrus.*`); its subdirectories, in the by-name layout, are the directories of its
//! children. By name, a child is usually inside its parent and moves with it, but not
//! always: with `hashimapspool` a one-level name's children are hashed apart (`shared`
//! is `s/shared`, `shared.box` is `b/shared/box`, `shared.sub` is `s/shared/sub`), and
//! a by-id directory never moves. So a rename is planned per mailbox, never assumed.
//!
//! [`Store::rename`]: crate::Store::rename

use std::path::{Path, PathBuf};

/// Whether a directory entry named `n` is one of a mailbox's own files.
fn is_own_file(n: &str) -> bool {
    n.starts_with("cyrus.") || n.strip_suffix('.').is_some_and(|d| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit())) || n.ends_with(".tmp")
}

/// Whether `dir` holds a mailbox's files (an index, a header or a message file).
pub(crate) fn holds_mailbox(dir: &Path) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else { return false };
    rd.flatten().any(|e| e.file_type().is_ok_and(|t| t.is_file()) && is_own_file(&e.file_name().to_string_lossy()))
}

/// Removes a mailbox's own files from `dir` (message files, cyrus.*), then `dir`
/// itself if nothing (no child mailbox) is left in it.
pub(crate) fn remove_mailbox_files(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        if e.file_type().is_ok_and(|t| t.is_file()) && is_own_file(&e.file_name().to_string_lossy()) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Moves mailbox directories. `moves` holds, for each mailbox of a renamed tree (a
/// parent before its children, as the list sorts them), its directory before and
/// after; a pair whose two sides are equal (a by-id directory) is left alone.
///
/// Where the new directory does not exist, the old one is renamed into place whole,
/// carrying what is inside; a child carried along that belongs elsewhere is moved
/// again when its own pair comes. Where it exists already (an empty directory on the
/// way to a deeper mailbox), the mailbox's own files are moved into it one by one.
/// Before anything moves, a new directory that already holds a mailbox's files (one
/// that is not in the list) stops the rename: nothing is mixed into it.
pub(crate) fn move_mailbox_dirs(moves: &[(PathBuf, PathBuf)]) -> Result<(), String> {
    if let Some((_, new)) = moves.iter().find(|(old, new)| old != new && holds_mailbox(new)) {
        return Err(format!("{}: the files of another mailbox are in the way", new.display()));
    }
    // Whole directories moved so far, old → new.
    let mut carried: Vec<(&Path, &Path)> = Vec::new();
    let mut emptied = Vec::new();
    for (old, new) in moves {
        let now = carried
            .iter()
            .filter(|(from, _)| old.starts_with(from))
            .max_by_key(|(from, _)| from.components().count())
            .and_then(|(from, to)| old.strip_prefix(from).ok().map(|rest| to.join(rest)))
            .unwrap_or_else(|| old.clone());
        if now == *new || !now.is_dir() {
            continue;
        }
        let parent = new.parent().unwrap_or(Path::new("/"));
        mailbox::create_dirs_durably(parent).map_err(|e| e.to_string())?;
        if new.exists() {
            move_own_files(&now, new)?;
            emptied.push(now);
        } else {
            std::fs::rename(&now, new).map_err(|e| format!("{} -> {}: {e}", now.display(), new.display()))?;
            for d in [parent, now.parent().unwrap_or(Path::new("/"))] {
                mailbox::fsync_dir(d).map_err(|e| format!("{}: {e}", d.display()))?;
            }
            carried.push((old, new));
        }
    }
    // Directories whose files went one by one, once their children have gone too.
    for d in emptied.iter().rev() {
        let _ = std::fs::remove_dir(d);
    }
    Ok(())
}

/// Moves the regular files of `from` into the existing directory `to`.
fn move_own_files(from: &Path, to: &Path) -> Result<(), String> {
    let rd = std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
    for e in rd.flatten() {
        if e.file_type().is_ok_and(|t| !t.is_dir()) {
            let dest = to.join(e.file_name());
            std::fs::rename(e.path(), &dest).map_err(|x| format!("{} -> {}: {x}", e.path().display(), dest.display()))?;
        }
    }
    mailbox::fsync_dir(to).map_err(|e| format!("{}: {e}", to.display()))
}
