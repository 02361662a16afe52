//! The mailbox store under real processes: durability across SIGKILL, many writers
//! and readers at once, corruption detection, counters and notification.

use mailbox::{FlagOp, Mailbox, NewMessage, Paths, Uid, Watch, flag};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mailbox-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn message(tag: &str, n: usize) -> Vec<u8> {
    format!("From: a@example.org\r\nSubject: {tag} {n}\r\nMessage-ID: <{tag}.{n}@x>\r\n\r\nbody of {tag} {n}\r\n{}\r\n", "x".repeat(n % 300)).into_bytes()
}

fn new(raw: &[u8]) -> NewMessage<'_> {
    NewMessage { raw, flags: 0, keywords: &[], internaldate: 1_700_000_000, parsed: None, link_from: None }
}

/// Runs one test function of this binary in a child process.
fn child(test: &str, env: &[(&str, String)]) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", test, "--nocapture", "--ignored", "-q"]);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

#[test]
fn append_read_flags_expunge_and_counters() {
    let d = tmp("basic");
    let paths = Paths::single(&d.join("user/fred"));
    mailbox::create(&paths, "user.fred", "uid-1", 42).unwrap();
    assert!(mailbox::create(&paths, "user.fred", "uid-1", 42).is_err(), "create twice");
    let mut mb = Mailbox::open(&paths).unwrap();
    assert_eq!((mb.header().uidvalidity, mb.uidnext(), mb.len()), (42, 1, 0));
    let raws: Vec<Vec<u8>> = (0..5).map(|n| message("basic", n)).collect();
    let batch: Vec<NewMessage> = raws
        .iter()
        .enumerate()
        .map(|(i, r)| NewMessage { raw: r, flags: if i == 0 { flag::SEEN } else { 0 }, keywords: if i == 1 { &["$Forwarded"] } else { &[] }, internaldate: 100 + i as i64, parsed: None, link_from: None })
        .collect();
    let uids = mb.lock().unwrap().append(&batch).unwrap();
    assert_eq!(uids, (1..=5).map(Uid).collect::<Vec<_>>());
    let size: u64 = raws.iter().map(|r| r.len() as u64).sum();
    let h = mb.header().clone();
    assert_eq!((h.exists, h.seen, h.quota_used, h.last_uid), (5, 1, size, 5));
    let r1 = mb.record(1).unwrap();
    assert_eq!(mb.user_flags(), &["$Forwarded".to_string()]);
    assert!(r1.has_user_flag(0));
    assert_eq!(r1.internaldate, 101);
    assert_eq!(mb.read_message(Uid(2)).unwrap(), raws[1]);
    let payload = mb.cache_entry(&r1).unwrap();
    let parsed = mailbox::cache::structure(payload).expect("structure in the cache");
    assert_eq!(parsed, message::parse(&raws[1]), "the cached structure is the parsed message");
    assert!(parsed.envelope().starts_with(b"(NIL \"basic 1\" ((NIL NIL \"a\" \"example.org\"))"), "{}", String::from_utf8_lossy(parsed.envelope()));
    let hb = mailbox::cache::header_block(payload).unwrap();
    assert!(hb.starts_with(b"From: a@example.org\r\nSubject: basic 1\r\n") && hb.ends_with(b"\r\n\r\n"));

    // Flags: add, remove, replace; modseq grows with each change.
    let before = mb.header().highestmodseq;
    let changed = mb.lock().unwrap().store(&[Uid(2), Uid(3), Uid(99)], FlagOp::Add, flag::DELETED | flag::SEEN, &["Junk"]).unwrap();
    assert_eq!(changed.len(), 2);
    assert!(changed.iter().all(|r| r.has(flag::DELETED) && r.has_user_flag(1) && r.modseq.0 > before));
    assert_eq!((mb.header().deleted, mb.header().seen), (2, 3));
    assert!(mb.lock().unwrap().store(&[Uid(2)], FlagOp::Add, flag::DELETED, &[]).unwrap().is_empty(), "no-op");
    mb.lock().unwrap().store(&[Uid(3)], FlagOp::Remove, flag::SEEN, &[]).unwrap();
    mb.lock().unwrap().store(&[Uid(4)], FlagOp::Replace, flag::FLAGGED, &["$Forwarded"]).unwrap();
    let r4 = mb.record(3).unwrap();
    assert_eq!(r4.system_flags, flag::FLAGGED);
    assert!(r4.has_user_flag(0) && !r4.has_user_flag(1));

    // Expunge: gone from the counters and quota, file kept for cyr_expire.
    let gone = mb.lock().unwrap().expunge(&[Uid(2), Uid(3), Uid(3)]).unwrap();
    assert_eq!(gone, vec![Uid(2), Uid(3)]);
    let h = mb.header().clone();
    assert_eq!((h.exists, h.deleted, h.quota_used), (3, 0, size - raws[1].len() as u64 - raws[2].len() as u64));
    assert!(paths.message(Uid(2)).exists());
    // UIDs go on after the last one, never reused.
    let m = message("basic", 9);
    assert_eq!(mb.lock().unwrap().append(&[new(&m)]).unwrap(), vec![Uid(6)]);
    assert_eq!(mb.find(Uid(6)).unwrap(), Some(5));
    assert_eq!(mb.find(Uid(7)).unwrap(), None);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn another_handle_sees_changes_and_is_notified() {
    let d = tmp("notify");
    let paths = Paths::single(&d);
    mailbox::create(&paths, "user.n", "u", 1).unwrap();
    let mut reader = Mailbox::open(&paths).unwrap();
    let watch = Watch::new(&paths.meta).unwrap();
    let mut writer = Mailbox::open(&paths).unwrap();
    let m = message("n", 1);
    let t = Instant::now();
    writer.lock().unwrap().append(&[new(&m)]).unwrap();
    assert!(watch.wait(1000), "no inotify event");
    assert!(watch.drain());
    let latency = t.elapsed();
    assert!(latency < Duration::from_secs(1), "{latency:?}");
    assert_eq!(reader.len(), 0);
    reader.refresh().unwrap();
    assert_eq!(reader.len(), 1);
    assert_eq!(reader.record(0).unwrap().uid, Uid(1));
    writer.lock().unwrap().store(&[Uid(1)], FlagOp::Add, flag::FLAGGED, &[]).unwrap();
    assert!(watch.wait(1000) && watch.drain());
    reader.refresh().unwrap();
    assert!(reader.record(0).unwrap().has(flag::FLAGGED));
    assert!(!watch.drain(), "nothing more pending");
    std::fs::remove_dir_all(d).unwrap();
}

/// Sets the header's count of records not known to be on disk, as a crash before
/// an append's sync leaves it.
fn unsettle(paths: &Paths, last_append: u32) {
    let mut bytes = std::fs::read(paths.index()).unwrap();
    let mut h = mailbox::IndexHeader::decode(&bytes).unwrap();
    h.last_append = last_append;
    bytes[..mailbox::format::HEADER_SIZE].copy_from_slice(&h.encode());
    std::fs::write(paths.index(), &bytes).unwrap();
}

/// The header of appends reached the disk, one of their records did not (a crash
/// between the writes and the sync): the count is cut at that record, the appends
/// before it stay; its UID is not given again; the repaired header is written by the
/// next writer. Then a message file without its data.
#[test]
fn a_torn_last_append_is_cut_at_open() {
    let d = tmp("torn");
    let paths = Paths::single(&d);
    mailbox::create(&paths, "user.t", "u", 1).unwrap();
    let mut mb = Mailbox::open(&paths).unwrap();
    let raws: Vec<Vec<u8>> = (0..5).map(|n| message("t", n)).collect();
    let first: Vec<NewMessage> = raws[..2].iter().map(|r| new(r)).collect();
    mb.append(&first).unwrap();
    let second: Vec<NewMessage> = raws[2..4].iter().map(|r| new(r)).collect();
    mb.append(&second).unwrap();
    assert_eq!(mb.header().last_append, 0, "settled after the sync");
    drop(mb);
    unsettle(&paths, 3);
    let mut bytes = std::fs::read(paths.index()).unwrap();
    let last = mailbox::format::HEADER_SIZE + 3 * mailbox::format::RECORD_SIZE;
    bytes[last..last + mailbox::format::RECORD_SIZE].fill(0);
    std::fs::write(paths.index(), &bytes).unwrap();
    let mut mb = Mailbox::open(&paths).unwrap();
    assert_eq!(mb.len(), 3, "cut at the torn record");
    assert_eq!((mb.header().exists, mb.header().last_uid), (3, 4), "counted again; UID 4 is not reused");
    assert_eq!(mb.header().quota_used, raws[..3].iter().map(|r| r.len() as u64).sum::<u64>());
    assert_eq!(mb.append(&[new(&raws[4])]).unwrap(), vec![Uid(5)]);
    assert!(!paths.message(Uid(4)).exists(), "the cut record's file went with it");
    drop(mb);
    let mb = Mailbox::open(&paths).unwrap();
    assert_eq!(mb.records().map(|r| r.unwrap().uid.0).collect::<Vec<_>>(), vec![1, 2, 3, 5]);
    assert_eq!(mb.header().exists, 4);
    assert_eq!(mb.read_message(Uid(5)).unwrap(), raws[4]);
    drop(mb);
    // The header and record on disk, the message file's data not (its size is short).
    unsettle(&paths, 2);
    std::fs::write(paths.message(Uid(5)), &raws[4][..10]).unwrap();
    let mb = Mailbox::open(&paths).unwrap();
    assert_eq!(mb.records().map(|r| r.unwrap().uid.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    std::fs::remove_dir_all(d).unwrap();
}

/// A writer killed after placing message files and before counting them: the header
/// says how many it was placing, and the next writer (or reconstruct) removes those
/// files and no other (here one an administrator copied in, which reconstruct adds).
#[test]
fn files_placed_by_a_killed_append_are_removed_by_the_next_writer() {
    let d = tmp("placing");
    let paths = Paths::single(&d);
    mailbox::create(&paths, "user.p", "u", 1).unwrap();
    let mut mb = Mailbox::open(&paths).unwrap();
    let raws: Vec<Vec<u8>> = (0..4).map(|n| message("p", n)).collect();
    mb.append(&[new(&raws[0])]).unwrap();
    drop(mb);
    let placing = |n: u32| {
        let mut bytes = std::fs::read(paths.index()).unwrap();
        let mut h = mailbox::IndexHeader::decode(&bytes).unwrap();
        h.placing = n;
        bytes[..mailbox::format::HEADER_SIZE].copy_from_slice(&h.encode());
        std::fs::write(paths.index(), &bytes).unwrap();
        std::fs::write(paths.message(Uid(2)), &raws[1]).unwrap();
        std::fs::write(paths.message(Uid(3)), &raws[2]).unwrap();
    };
    placing(2);
    std::fs::write(paths.message(Uid(9)), &raws[3]).unwrap();
    let mut mb = Mailbox::open(&paths).unwrap();
    assert_eq!(mb.header().placing, 2);
    drop(mb.lock().unwrap());
    assert!(!paths.message(Uid(2)).exists() && !paths.message(Uid(3)).exists());
    assert_eq!(mb.header().placing, 0);
    drop(mb);
    assert_eq!(mailbox::IndexHeader::decode(&std::fs::read(paths.index()).unwrap()).unwrap().placing, 0, "written");
    placing(2);
    let report = mailbox::reconstruct(&paths, "user.p", "u", 1).unwrap();
    assert_eq!(report.added, vec![Uid(9)], "the placed files removed, the copied-in one added");
    let mb = Mailbox::open(&paths).unwrap();
    assert_eq!(mb.records().map(|r| r.unwrap().uid.0).collect::<Vec<_>>(), vec![1, 9]);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn a_flipped_byte_in_a_record_is_detected() {
    let d = tmp("corrupt");
    let paths = Paths::single(&d);
    mailbox::create(&paths, "user.c", "u", 1).unwrap();
    let mut mb = Mailbox::open(&paths).unwrap();
    let raws: Vec<Vec<u8>> = (0..4).map(|n| message("c", n)).collect();
    let batch: Vec<NewMessage> = raws[..3].iter().map(|r| new(r)).collect();
    mb.lock().unwrap().append(&batch).unwrap();
    // Not in the last append (whose records a crash may have torn: see below).
    mb.append(&[new(&raws[3])]).unwrap();
    drop(mb);
    let mut bytes = std::fs::read(paths.index()).unwrap();
    bytes[mailbox::format::HEADER_SIZE + mailbox::format::RECORD_SIZE + 25] ^= 0x10;
    std::fs::write(paths.index(), &bytes).unwrap();
    let mb = Mailbox::open(&paths).unwrap();
    assert!(mb.record(0).is_ok());
    let e = mb.record(1).unwrap_err();
    assert!(matches!(e, mailbox::Error::Corrupt(_)), "{e}");
    assert!(e.to_string().contains("checksum"), "{e}");
    // reconstruct rebuilds it from the message files: the damaged record's message comes
    // back (without its flags), the others keep theirs.
    let report = mailbox::reconstruct(&paths, "user.c", "u", 1).unwrap();
    assert_eq!((report.files, report.kept, report.damaged, report.added.clone()), (4, 3, 1, vec![Uid(2)]));
    let mb = Mailbox::open(&paths).unwrap();
    assert_eq!(mb.records().map(|r| r.unwrap().uid.0).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
    assert_eq!(mb.read_message(Uid(2)).unwrap(), raws[1]);
    assert!(!mailbox::reconstruct(&paths, "user.c", "u", 1).unwrap().changed(), "a second run finds nothing");
    drop(mb);
    let mut bytes = std::fs::read(paths.index()).unwrap();
    // A damaged header stops the open, with the reason.
    bytes[40] ^= 1;
    std::fs::write(paths.index(), &bytes).unwrap();
    let e = Mailbox::open(&paths).err().unwrap();
    assert!(e.to_string().contains("header"), "{e}");
    std::fs::remove_dir_all(d).unwrap();
}

/// Child of `acknowledged_appends_survive_sigkill`: appends one message at a time and
/// prints each UID once the append has returned.
#[test]
#[ignore]
fn child_appender() {
    let Ok(dir) = std::env::var("MAILBOX_DIR") else { return };
    let paths = Paths::single(Path::new(&dir));
    let mut mb = Mailbox::open(&paths).unwrap();
    let out = std::io::stdout();
    for n in 0.. {
        let uid = mb.uidnext();
        let m = message("kill", uid as usize);
        let got = mb.append(&[new(&m)]).unwrap();
        let mut o = out.lock();
        writeln!(o, "ACK {}", got[0].0).unwrap();
        o.flush().unwrap();
        let _ = n;
    }
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    let d = tmp("kill");
    let paths = Paths::single(&d);
    mailbox::create(&paths, "user.k", "u", 1).unwrap();
    let mut acked: Vec<u32> = Vec::new();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    // 200 kills at random points; on a machine slow to start a child or to
    // fsync few of them land after an acknowledgement, so go on (with longer
    // lives) until at least 100 appends were acknowledged.
    let mut round = 0;
    while round < 200 || (acked.len() < 100 && round < 2_000) {
        round += 1;
        let extra = if round > 200 { 50_000 } else { 0 };
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut c = child("child_appender", &[("MAILBOX_DIR", d.display().to_string())]).stdout(Stdio::piped()).spawn().unwrap();
        let stdout = c.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout).lines().map_while(Result::ok).filter_map(|l| l.strip_prefix("ACK ").and_then(|u| u.parse::<u32>().ok())).collect::<Vec<_>>()
        });
        std::thread::sleep(Duration::from_micros(2_000 + extra + seed % 25_000));
        c.kill().unwrap();
        c.wait().unwrap();
        acked.extend(reader.join().unwrap());
        // Every acknowledged append is there, whole, with a sound record.
        let mb = Mailbox::open(&paths).unwrap();
        let last = *acked.last().unwrap_or(&0);
        assert!(mb.header().last_uid >= last, "header lost an acknowledged uid");
        let uids: Vec<u32> = mb.records().map(|r| r.unwrap().uid.0).collect();
        assert!(uids.windows(2).all(|w| w[0] < w[1]), "uids not increasing");
        for &u in acked.iter().rev().take(3) {
            let i = mb.find(Uid(u)).unwrap().unwrap_or_else(|| panic!("acknowledged uid {u} missing"));
            let r = mb.record(i).unwrap();
            let raw = mb.read_message(Uid(u)).unwrap();
            assert_eq!(raw, message("kill", u as usize));
            assert_eq!(r.size as usize, raw.len());
            assert!(mb.cache_entry(&r).is_ok());
        }
    }
    let mb = Mailbox::open(&paths).unwrap();
    let uids: Vec<u32> = mb.records().map(|r| r.unwrap().uid.0).collect();
    for u in &acked {
        assert!(uids.binary_search(u).is_ok(), "acknowledged uid {u} missing at the end");
    }
    assert!(acked.len() >= 100, "too few appends acknowledged to mean anything: {}", acked.len());
    // reconstruct finds nothing to fix beyond unacknowledged trailing messages.
    drop(mb);
    let last_acked = *acked.last().unwrap();
    let report = mailbox::reconstruct(&paths, "user.k", "u", 1).unwrap();
    assert!(report.removed.is_empty() && report.damaged == 0 && !report.old_index_unreadable, "{report:?}");
    assert!(report.added.iter().all(|u| u.0 > last_acked), "{report:?}");
    eprintln!("{} acknowledged appends across {round} SIGKILLs, {} records", acked.len(), uids.len());
    std::fs::remove_dir_all(d).unwrap();
}

/// Child of `writers_and_readers_at_once`.
#[test]
#[ignore]
fn child_worker() {
    let Ok(dir) = std::env::var("MAILBOX_DIR") else { return };
    let role = std::env::var("MAILBOX_ROLE").unwrap();
    let until = Instant::now() + Duration::from_millis(std::env::var("MAILBOX_MS").unwrap().parse().unwrap());
    let paths = Paths::single(Path::new(&dir));
    let mut mb = Mailbox::open(&paths).unwrap();
    let mut out = std::io::stdout().lock();
    if role.starts_with('w') {
        let mut n = 0;
        while Instant::now() < until {
            let m = message(&role, n);
            let uids = mb.lock().unwrap().append(&[new(&m)]).unwrap();
            writeln!(out, "ACK {}", uids[0].0).unwrap();
            if n % 3 == 0 {
                mb.lock().unwrap().store(&uids, FlagOp::Add, flag::SEEN, &[]).unwrap();
            }
            n += 1;
        }
    } else {
        let (mut seen_versions, mut last_len) = (0, 0);
        while Instant::now() < until {
            mb.refresh().unwrap();
            let uids: Vec<u32> = mb.records().map(|r| r.unwrap().uid.0).collect();
            assert!(uids.windows(2).all(|w| w[0] < w[1]), "reader saw uids out of order");
            assert!(uids.len() >= last_len, "reader saw the mailbox shrink");
            if uids.len() != last_len {
                seen_versions += 1;
                last_len = uids.len();
            }
        }
        writeln!(out, "VERSIONS {seen_versions}").unwrap();
    }
}

#[test]
fn writers_and_readers_at_once() {
    let d = tmp("conc");
    let paths = Paths::single(&d);
    mailbox::create(&paths, "user.c", "u", 1).unwrap();
    let ms = std::env::var("MAILBOX_CONCURRENCY_MS").unwrap_or_else(|_| "20000".into());
    let kids: Vec<_> = ["w1", "w2", "w3", "w4", "r1", "r2", "r3", "r4"]
        .iter()
        .map(|role| {
            child("child_worker", &[("MAILBOX_DIR", d.display().to_string()), ("MAILBOX_ROLE", role.to_string()), ("MAILBOX_MS", ms.clone())])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut acked = Vec::new();
    let mut versions = Vec::new();
    for k in kids {
        let out = k.wait_with_output().unwrap();
        assert!(out.status.success(), "a child failed: {}", String::from_utf8_lossy(&out.stderr));
        for l in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(u) = l.strip_prefix("ACK ") {
                acked.push(u.parse::<u32>().unwrap());
            }
            if let Some(v) = l.strip_prefix("VERSIONS ") {
                versions.push(v.parse::<u32>().unwrap());
            }
        }
    }
    acked.sort();
    let n = acked.len();
    acked.dedup();
    assert_eq!(acked.len(), n, "a UID was given twice");
    let mb = Mailbox::open(&paths).unwrap();
    let uids: Vec<u32> = mb.records().map(|r| r.unwrap().uid.0).collect();
    assert_eq!(uids, acked, "records differ from acknowledged appends");
    assert_eq!(mb.header().exists as usize, n);
    assert!(versions.iter().all(|&v| v > 1), "a reader saw no change: {versions:?}");
    eprintln!("{n} appends by 4 writers; readers saw {versions:?} versions");
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn reconstruct_keeps_flags_and_expunges_and_rebuilds_a_bare_spool() {
    let d = tmp("recon");
    let paths = Paths::single(&d);
    mailbox::create(&paths, "user.r", "u", 77).unwrap();
    let mut mb = Mailbox::open(&paths).unwrap();
    let raws: Vec<Vec<u8>> = (0..4).map(|n| message("r", n)).collect();
    let batch: Vec<NewMessage> = raws.iter().map(|r| new(r)).collect();
    mb.lock().unwrap().append(&batch).unwrap();
    mb.lock().unwrap().store(&[Uid(1)], FlagOp::Add, flag::FLAGGED, &["Work"]).unwrap();
    mb.lock().unwrap().expunge(&[Uid(2)]).unwrap();
    std::fs::remove_file(paths.message(Uid(3))).unwrap();
    let report = mailbox::reconstruct(&paths, "user.r", "u", 77).unwrap();
    assert_eq!(report.removed, vec![Uid(3)]);
    mb.refresh().unwrap();
    let recs: Vec<_> = mb.records().map(|r| r.unwrap()).collect();
    assert_eq!(recs.iter().map(|r| r.uid.0).collect::<Vec<_>>(), vec![1, 2, 4]);
    assert!(recs[0].has(flag::FLAGGED) && recs[0].has_user_flag(0));
    assert!(recs[1].is_expunged(), "never brings deleted mail back");
    assert_eq!(mb.header().exists, 2);
    assert_eq!(mb.header().uidvalidity, 77);
    assert_eq!(mb.uidnext(), 5, "UIDs are never reused");
    drop(mb);

    // A spool whose index and header this suite cannot read (as copied from Cyrus):
    // rebuilt from the files, UIDs in file order.
    let spool = tmp("spool");
    for (uid, n) in [(5u32, 0usize), (9, 1), (10, 2)] {
        std::fs::write(spool.join(format!("{uid}.")), message("cy", n)).unwrap();
    }
    std::fs::write(spool.join("cyrus.index"), b"\xa1\x02\x8b\x0dnot ours").unwrap();
    std::fs::write(spool.join("cyrus.header"), b"\xa1\x02\x8b\x0dCyrus mailbox header\n").unwrap();
    std::fs::write(spool.join("cyrus.cache"), b"").unwrap();
    let sp = Paths::single(&spool);
    let report = mailbox::reconstruct(&sp, "user.cy", "abc", 123).unwrap();
    assert!(report.old_index_unreadable);
    assert_eq!(report.added, vec![Uid(5), Uid(9), Uid(10)]);
    let mb = Mailbox::open(&sp).unwrap();
    assert_eq!((mb.name(), mb.uniqueid(), mb.uidnext()), ("user.cy", "abc", 11));
    // The old index existed but could not be read: UIDs it knew may come back, so the
    // UIDVALIDITY changes and clients drop their caches.
    assert!(mb.header().uidvalidity > 123);
    assert_eq!(mb.read_message(Uid(9)).unwrap(), message("cy", 1));
    std::fs::remove_dir_all(d).unwrap();
    std::fs::remove_dir_all(spool).unwrap();
}
