//! The admin tools, run as binaries on a real configdirectory and spool.

use mailbox::{Mailbox, Uid, flag};
use mboxlist::{InternalName, MboxList, Store};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Inst {
    dir: PathBuf,
    conf: PathBuf,
}

impl Inst {
    fn new(name: &str) -> Inst {
        Inst::with(name, "")
    }

    /// An instance whose imapd.conf has `extra` lines.
    fn with(name: &str, extra: &str) -> Inst {
        let dir = std::env::temp_dir().join(format!("tools-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let conf = dir.join("imapd.conf");
        std::fs::write(
            &conf,
            format!("configdirectory: {0}/config\npartition-default: {0}/spool\nsyslog_socket: {0}/no.sock\nunixhierarchysep: yes\n{extra}", dir.display()),
        )
        .unwrap();
        let i = Inst { dir, conf };
        let (code, _, err) = i.run("mkimap", &[]);
        assert_eq!(code, 0, "{err}");
        i
    }

    fn run(&self, tool: &str, args: &[&str]) -> (i32, String, String) {
        let exe = match tool {
            "mkimap" => env!("CARGO_BIN_EXE_mkimap"),
            "reconstruct" => env!("CARGO_BIN_EXE_reconstruct"),
            "quota" => env!("CARGO_BIN_EXE_quota"),
            "ctl_mboxlist" => env!("CARGO_BIN_EXE_ctl_mboxlist"),
            "ctl_cyrusdb" => env!("CARGO_BIN_EXE_ctl_cyrusdb"),
            "mbpath" => env!("CARGO_BIN_EXE_mbpath"),
            "cyr_expire" => env!("CARGO_BIN_EXE_cyr_expire"),
            _ => panic!("{tool}"),
        };
        let out = Command::new(exe).arg("-C").arg(&self.conf).args(args).env_remove("CYRUS_CONFIG").output().unwrap();
        (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }

    fn store(&self) -> Store {
        Store::open(&conf::Config::load(&self.conf).unwrap()).unwrap()
    }

    /// Lays a mailbox directory as copied from a Cyrus server: message files only, plus
    /// Cyrus's own (unreadable to us) metadata.
    fn cyrus_spool(&self, rel: &str, uids: &[u32]) -> PathBuf {
        let d = self.dir.join("spool").join(rel);
        std::fs::create_dir_all(&d).unwrap();
        for &u in uids {
            std::fs::write(d.join(format!("{u}.")), msg(u)).unwrap();
        }
        std::fs::write(d.join("cyrus.index"), b"\xa1\x02\x8b\x0dCyrus index").unwrap();
        d
    }
}

impl Drop for Inst {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn msg(u: u32) -> Vec<u8> {
    format!("From: x@y\r\nSubject: message {u}\r\n\r\n{}\r\n", "z".repeat(u as usize * 10)).into_bytes()
}

#[test]
fn reconstruct_finds_a_copied_spool_and_the_other_tools_see_it() {
    let i = Inst::new("recon");
    i.cyrus_spool("user/fred", &[1, 2, 5]);
    i.cyrus_spool("user/fred/Sent", &[3]);
    let (code, out, err) = i.run("reconstruct", &["-r", "-f", "user/fred"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("user.fred: found on disk") && out.contains("user.fred.Sent: found on disk"), "{out}");
    assert!(out.contains("user.fred: 3 messages, added uids [1, 2, 5], index rebuilt from nothing"), "{out}");
    let s = i.store();
    let (_, mb) = s.open_mailbox(&InternalName("user.fred".into())).unwrap();
    assert_eq!(mb.records().map(|r| r.unwrap().uid.0).collect::<Vec<_>>(), vec![1, 2, 5]);
    assert_eq!(mb.uidnext(), 6);
    assert_eq!(mb.read_message(Uid(5)).unwrap(), msg(5));
    // Again: nothing to fix.
    let (code, out, _) = i.run("reconstruct", &["-q", "-r", "user/fred"]);
    assert_eq!((code, out.as_str()), (0, ""));
    // mbpath, in both name forms.
    let (code, out, _) = i.run("mbpath", &["user/fred", "user.fred.Sent"]);
    assert_eq!(code, 0);
    assert_eq!(out, format!("{}\n{}\n", i.dir.join("spool/user/fred").display(), i.dir.join("spool/user/fred/Sent").display()));
    let (code, _, err) = i.run("mbpath", &["user/nobody"]);
    assert!(code != 0 && err.contains("user/nobody"), "{err}");
    let (_, out, _) = i.run("mbpath", &["-u", "fred"]);
    assert!(out.ends_with("spool/user/fred\n"));
    assert_eq!(i.run("reconstruct", &["user/../../etc"]).0, 1);
}

#[test]
fn hashed_and_by_id_spools_found_where_cyrus_keeps_them() {
    let i = Inst::with("hashed", "hashimapspool: yes\n");
    i.cyrus_spool("f/user/fred", &[1, 2]);
    i.cyrus_spool("f/user/fred/Sent", &[3]);
    i.cyrus_spool("s/shared", &[1]);
    i.cyrus_spool("b/shared/box", &[4]);
    i.cyrus_spool("s/shared/sub", &[5]);
    // Not where Cyrus would keep shared.misplaced (m/shared/misplaced): left alone.
    i.cyrus_spool("x/shared/misplaced", &[6]);
    let (code, out, err) = i.run("reconstruct", &["-r", "-f", "user/fred", "shared"]);
    assert_eq!(code, 0, "{out}{err}");
    for n in ["user.fred", "user.fred.Sent", "shared", "shared.box", "shared.sub"] {
        assert!(out.contains(&format!("{n}: found on disk")), "{n}: {out}");
    }
    assert!(!out.contains("misplaced"), "{out}");
    assert!(out.contains("shared.box: 1 messages"), "{out}");
    let (_, out, _) = i.run("mbpath", &["shared/box", "user/fred/Sent"]);
    assert_eq!(out, format!("{}\n{}\n", i.dir.join("spool/b/shared/box").display(), i.dir.join("spool/f/user/fred/Sent").display()));

    // A mailbox by id is known from the list (here loaded as text), never found on disk.
    let d = i.cyrus_spool("uuid/x/t/xtbcz3811ht2q5ijm3o2bmhv", &[7]);
    let (_, out, _) = i.run("reconstruct", &["-f", "user/fred"]);
    assert!(!out.contains("found on disk"), "{out}");
    let file = i.dir.join("list.txt");
    std::fs::write(&file, "user.fred.Old\tdefault\txtbcz3811ht2q5ijm3o2bmhv\t5;by-id\tfred\tlrswipkxtecdan\t\n").unwrap();
    assert_eq!(i.run("ctl_mboxlist", &["-u", "-f", file.to_str().unwrap()]).0, 0);
    let (code, out, err) = i.run("reconstruct", &["user/fred/Old"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("user.fred.Old: 1 messages, added uids [7]"), "{out}");
    for flag in [&[][..], &["-m"][..]] {
        let (_, out, _) = i.run("mbpath", &[flag, &["user.fred.Old"]].concat());
        assert_eq!(out, format!("{}\n", d.display()));
    }
    let s = i.store();
    let (_, mb) = s.open_mailbox(&InternalName("user.fred.Old".into())).unwrap();
    assert_eq!(mb.read_message(Uid(7)).unwrap(), msg(7));
}

#[test]
fn ctl_mboxlist_dump_and_undump_round_trip() {
    let a = Inst::new("dump-a");
    a.cyrus_spool("user/fred", &[1]);
    a.cyrus_spool("user/barney", &[1]);
    assert_eq!(a.run("reconstruct", &["-r", "-f", "user"]).0, 0);
    let (code, dump, _) = a.run("ctl_mboxlist", &["-d"]);
    assert_eq!(code, 0);
    assert_eq!(dump.lines().count(), 2, "{dump}");
    assert!(dump.starts_with("user.barney\tdefault\t"), "{dump}");
    assert!(dump.contains("\tbarney\tlrswipkxtecdan\t"), "{dump}");
    let b = Inst::new("dump-b");
    let file = b.dir.join("list.txt");
    std::fs::write(&file, &dump).unwrap();
    let (code, _, err) = b.run("ctl_mboxlist", &["-u", "-f", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(b.run("ctl_mboxlist", &["-d"]).1, dump);
    // A mailbox whose directory is by id keeps that through a dump and a load.
    let by_id = "user.wilma\tdefault\tq1eler7zcy1hbwe6ful0u9de\t1796399005;by-id\twilma\tlrswipkxtecdan\t\n";
    std::fs::write(&file, by_id).unwrap();
    let (code, _, err) = b.run("ctl_mboxlist", &["-u", "-f", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let again = b.run("ctl_mboxlist", &["-d"]).1;
    assert!(again.ends_with(by_id), "{again}");
    std::fs::write(&file, "user.x\tdefault\n").unwrap();
    let (code, _, err) = b.run("ctl_mboxlist", &["-u", "-f", file.to_str().unwrap()]);
    assert!(code != 0 && err.contains("line 1"), "{err}");
    std::fs::write(&file, "user..x\tdefault\tu\t1\t\n").unwrap();
    assert_ne!(b.run("ctl_mboxlist", &["-u", "-f", file.to_str().unwrap()]).0, 0);
}

#[test]
fn quota_reports_and_fixes_usage() {
    let i = Inst::new("quota");
    i.cyrus_spool("user/wilma", &[1, 2]);
    i.cyrus_spool("user/wilma/Trash", &[7]);
    assert_eq!(i.run("reconstruct", &["-r", "-f", "user/wilma"]).0, 0);
    let want: usize = msg(1).len() + msg(2).len() + msg(7).len();
    MboxList::open(&i.dir.join("config"), false).unwrap().set_quota_limits("user.wilma", Some(100), Some(10)).unwrap();
    let (code, out, _) = i.run("quota", &[]);
    assert_eq!(code, 0);
    assert!(out.contains("     100        0        0 STORAGE  user.wilma"), "{out}");
    let (code, out, _) = i.run("quota", &["-f"]);
    assert_eq!(code, 0);
    assert!(out.contains(&format!("user.wilma: usage was 0 bytes in 0 messages, now {want} bytes in 3 messages")), "{out}");
    assert!(out.contains("      10       30        3 MESSAGE  user.wilma"), "{out}");
    assert!(!i.run("quota", &["-f"]).1.contains("usage was"), "fixed for good");
    assert!(!i.run("quota", &["user/barney"]).1.contains("user.wilma"));
}

#[test]
fn cyr_expire_removes_old_expunged_files_and_prunes_deliver_records() {
    let i = Inst::new("expire");
    i.cyrus_spool("user/betty", &[1, 2, 3]);
    assert_eq!(i.run("reconstruct", &["-f", "user/betty"]).0, 0);
    let s = i.store();
    let name = InternalName("user.betty".into());
    let (_, mut mb) = s.open_mailbox(&name).unwrap();
    s.expunge(&name, &mut mb, &[Uid(2)]).unwrap();
    let file = mb.paths().message(Uid(2));
    // Not old enough yet.
    let (code, _, err) = i.run("cyr_expire", &["-X", "1", "-v"]);
    assert_eq!(code, 0, "{err}");
    assert!(file.exists());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    // A stage file left by a killed delivery, two days old, goes too; a fresh one stays.
    let stage = i.dir.join("spool/stage.");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(stage.join("old"), b"x").unwrap();
    std::fs::write(stage.join("new"), b"x").unwrap();
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
    std::fs::File::options().write(true).open(stage.join("old")).unwrap().set_modified(two_days_ago).unwrap();
    let (code, out, _) = i.run("cyr_expire", &["-X", "0s", "-v"]);
    assert!(!stage.join("old").exists() && stage.join("new").exists());
    assert_eq!(code, 0);
    assert!(out.contains("user.betty: removed 1 expunged message files"), "{out}");
    assert!(!file.exists());
    // Its record left the index too (the bound on what QRESYNC remembers), noted in
    // the header's deletedmodseq.
    mb.refresh().unwrap();
    let uids: Vec<u32> = mb.records().map(|r| r.unwrap().uid.0).collect();
    assert_eq!(uids, [1, 3]);
    assert!(mb.header().deletedmodseq > 0 && mb.records().all(|r| !r.unwrap().has(flag::UNLINKED)));
    // reconstruct afterwards does not bring it back, nor complain.
    let (_, out, _) = i.run("reconstruct", &["-q", "user/betty"]);
    assert_eq!(out, "");
    let mut db = deliverdb::DeliverDb::new(&i.dir.join("config"));
    db.mark("<old@x>", "betty", 10).unwrap();
    db.mark("<new@x>", "betty", tools::now() as u64).unwrap();
    drop(db);
    let (code, out, _) = i.run("cyr_expire", &["-E", "3", "-v"]);
    assert_eq!(code, 0);
    assert!(out.contains("pruned 1 of 2"), "{out}");
    assert_eq!(i.run("ctl_cyrusdb", &["-r"]).0, 0);
    assert_eq!(i.run("ctl_cyrusdb", &["-c"]).0, 0);
    assert_eq!(i.run("ctl_cyrusdb", &[]).0, 64);
    let _ = Mailbox::open;
    let _ = Path::new("");
}
