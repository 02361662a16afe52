//! The store benchmark (see the crate doc).

use mailbox::{Mailbox, NewMessage, Paths};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn msg(n: u64) -> Vec<u8> {
    format!(
        "From: Sender <sender@example.org>\r\nTo: fred@example.org\r\nSubject: benchmark message {n}\r\nDate: Sun, 29 Nov 2026 03:00:00 +0000\r\nMessage-ID: <{n}@bench>\r\n\r\n{}\r\n",
        "The quick brown fox jumps over the lazy dog. ".repeat(40)
    )
    .into_bytes()
}

/// Runs one phase in a child and returns (its output line, its max RSS in KiB).
fn child(name: &str, dir: &Path, arg: u64) -> (String, u64) {
    let out = Command::new(std::env::current_exe().expect("own path"))
        .args(["phase", name])
        .arg(dir)
        .arg(arg.to_string())
        .output()
        .expect("run phase");
    assert!(out.status.success(), "phase {name} failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let (line, rss) = text.rsplit_once(" rss=").unwrap_or((&text, "0"));
    (line.to_string(), rss.parse().unwrap_or(0))
}

fn max_rss_kib() -> u64 {
    use nix::sys::resource::{UsageWho, getrusage};
    getrusage(UsageWho::RUSAGE_SELF).map_or(0, |u| u.max_rss() as u64)
}

pub fn run(dir: Option<PathBuf>, messages: u32, seconds: u64) {
    let own = dir.is_none();
    let dir = dir.unwrap_or_else(|| std::env::temp_dir().join(format!("suite-bench-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    println!("suite-bench store: scratch {} ({} s per append phase)", dir.display(), seconds);
    println!("{:<44} {:>14} {:>12}", "phase", "result", "max RSS");
    let row = |label: &str, (line, rss): (String, u64)| println!("{label:<44} {line:>14} {:>9} KiB", rss);
    row("fsync (4 KiB write + fdatasync) per second", child("fsync", &dir, seconds));
    row("append, 1 writer, 1 message per append /s", child("append1", &dir, seconds));
    row("append, 1 writer, batches of 100, msgs/s", child("append100", &dir, seconds));
    let t = Instant::now();
    let kids: Vec<_> = (0..4)
        .map(|k| {
            Command::new(std::env::current_exe().expect("own path"))
                .args(["phase", "append-shared"])
                .arg(&dir)
                .arg((seconds * 1000 + k).to_string())
                .output()
        })
        .collect();
    let total: u64 = kids
        .into_iter()
        .map(|o| String::from_utf8_lossy(&o.expect("writer").stdout).split_whitespace().next().unwrap_or("0").parse::<u64>().unwrap_or(0))
        .sum();
    let elapsed = t.elapsed().as_secs_f64();
    let stored = Mailbox::open(&Paths::single(&dir.join("shared"))).map(|m| m.len() as u64).unwrap_or(0);
    assert_eq!(stored, total, "records in the shared mailbox differ from the appends acknowledged");
    row("append, 4 writer processes, 1 per append /s", (format!("{:.0}", total as f64 / seconds as f64), 0));
    let _ = elapsed;
    row(&format!("lay out {messages} messages (files + reconstruct) s"), child("build", &dir, u64::from(messages)));
    row(&format!("open {messages}-message mailbox + read UID/FLAGS ms"), child("scan", &dir, u64::from(messages)));
    row(&format!("ENVELOPE+BODYSTRUCTURE of {messages} cached msgs ms"), child("fetch", &dir, u64::from(messages)));
    if own {
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn new_box(dir: &Path, name: &str) -> Paths {
    let p = Paths::single(&dir.join(name));
    let _ = std::fs::remove_dir_all(&p.data);
    mailbox::create(&p, name, name, 1).expect("create");
    p
}

pub fn phase(name: &str, dir: &Path, arg: u64) {
    let result = match name {
        "fsync" => {
            let f = std::fs::File::create(dir.join("fsync.dat")).expect("file");
            let buf = vec![7u8; 4096];
            let until = Instant::now() + Duration::from_secs(arg);
            let mut n = 0u64;
            let t = Instant::now();
            while Instant::now() < until {
                use std::os::unix::fs::FileExt;
                f.write_all_at(&buf, 0).expect("write");
                f.sync_data().expect("fdatasync");
                n += 1;
            }
            format!("{:.0}", n as f64 / t.elapsed().as_secs_f64())
        }
        "append1" | "append100" => {
            let batch = if name == "append1" { 1 } else { 100 };
            let p = new_box(dir, name);
            let mut mb = Mailbox::open(&p).expect("open");
            let raws: Vec<Vec<u8>> = (0..batch).map(msg).collect();
            let msgs: Vec<NewMessage> = raws.iter().map(|r| NewMessage { raw: r, flags: 0, keywords: &[], internaldate: 0, parsed: None, link_from: None }).collect();
            let until = Instant::now() + Duration::from_secs(arg);
            let t = Instant::now();
            let mut n = 0u64;
            while Instant::now() < until {
                mb.lock().expect("lock").append(&msgs).expect("append");
                n += batch;
            }
            format!("{:.0}", n as f64 / t.elapsed().as_secs_f64())
        }
        "append-shared" => {
            // arg = milliseconds*1000 + writer number; the first creates the mailbox.
            let (secs, k) = (arg / 1000, arg % 1000);
            let p = Paths::single(&dir.join("shared"));
            if k == 0 {
                let _ = std::fs::remove_dir_all(&p.data);
                mailbox::create(&p, "shared", "shared", 1).expect("create");
            } else {
                std::thread::sleep(Duration::from_millis(200));
            }
            let mut mb = Mailbox::open(&p).expect("open");
            let raw = msg(k);
            let m = [NewMessage { raw: &raw, flags: 0, keywords: &[], internaldate: 0, parsed: None, link_from: None }];
            let until = Instant::now() + Duration::from_secs(secs);
            let mut n = 0u64;
            while Instant::now() < until {
                mb.lock().expect("lock").append(&m).expect("append");
                n += 1;
            }
            format!("{n}")
        }
        "build" => {
            let p = Paths::single(&dir.join("big"));
            let _ = std::fs::remove_dir_all(&p.data);
            std::fs::create_dir_all(&p.data).expect("dir");
            let t = Instant::now();
            for u in 1..=arg {
                std::fs::write(p.message(mailbox::Uid(u as u32)), msg(u)).expect("write");
            }
            mailbox::reconstruct(&p, "big", "big", 1).expect("reconstruct");
            format!("{:.1}", t.elapsed().as_secs_f64())
        }
        "scan" => {
            let p = Paths::single(&dir.join("big"));
            let t = Instant::now();
            let mb = Mailbox::open(&p).expect("open");
            let mut sum = 0u64;
            for r in mb.records() {
                let r = r.expect("record");
                sum = sum.wrapping_add(u64::from(r.uid.0) ^ u64::from(r.system_flags));
            }
            assert_eq!(mb.len() as u64, arg);
            std::hint::black_box(sum);
            format!("{:.1}", t.elapsed().as_secs_f64() * 1000.0)
        }
        "fetch" => {
            let p = Paths::single(&dir.join("big"));
            let t = Instant::now();
            let mb = Mailbox::open(&p).expect("open");
            let mut bytes = 0usize;
            for r in mb.records() {
                let r = r.expect("record");
                let m = mailbox::cache::structure(mb.cache_entry(&r).expect("cache")).expect("structure");
                bytes += m.envelope().len() + m.bodystructure().len();
            }
            assert_eq!(mb.len() as u64, arg);
            std::hint::black_box(bytes);
            format!("{:.1}", t.elapsed().as_secs_f64() * 1000.0)
        }
        other => panic!("unknown phase {other}"),
    };
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "{result} rss={}", max_rss_kib());
}
