//! ctl_deliver against real per-letter databases.

use std::path::Path;
use std::process::Command;

fn run(conf: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ctl_deliver"))
        .arg("-C")
        .arg(conf)
        .args(args)
        .env_remove("CYRUS_CONFIG")
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn dump_and_prune() {
    let dir = std::env::temp_dir().join(format!("ctl-deliver-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("imapd.conf");
    std::fs::write(&conf, format!("configdirectory: {}\nsyslog_socket: {}/nosuch.sock\n", dir.display(), dir.display())).unwrap();

    // No database at all is normal: nothing to dump, nothing to prune, no error.
    let (code, out, err) = run(&conf, &["-d", "-E", "3"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "");

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut db = deliverdb::DeliverDb::new(&dir);
    db.mark("<old@x>", "fred", now - 10 * 86_400).unwrap();
    db.mark("<new@x>", "fred", now - 3600).unwrap();
    db.mark("<old2@x>", "wilma", now - 5 * 86_400).unwrap();
    drop(db);

    let (code, out, _) = run(&conf, &["-d"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(out.contains(&format!("<new@x>\tfred\t{}\n", now - 3600)), "{out}");

    let (code, _, err) = run(&conf, &["-E", "4"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("pruned 2 of 3"), "{err}");
    let (_, out, _) = run(&conf, &["-d"]);
    assert_eq!(out.lines().collect::<Vec<_>>(), vec![format!("<new@x>\tfred\t{}", now - 3600)]);

    // -f names one letter's file.
    let (_, out, _) = run(&conf, &["-d", "-f", dir.join("deliverdb/deliver-w.db").to_str().unwrap()]);
    assert_eq!(out, "");
    let (code, _, err) = run(&conf, &["-d", "-f", "/nonexistent/thing"]);
    assert_eq!(code, 78, "{err}");

    let (code, _, _) = run(&conf, &[]);
    assert_eq!(code, 64);
    std::fs::remove_dir_all(dir).unwrap();
}
