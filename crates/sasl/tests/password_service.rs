//! A password service that hangs or is down, and the application's name rule, against
//! the real libsasl2 (`pwcheck_method: saslauthd`). One process, one `sasl::init`.

use sasl::ServerConn;
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

#[test]
fn hanging_saslauthd_is_given_up_and_bad_names_never_reach_it() {
    let dir = std::env::temp_dir().join(format!("sasl-pwservice-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mux = dir.join("mux");
    // A saslauthd that accepts and never answers; it counts the requests it got.
    let listener = UnixListener::bind(&mux).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
            let _ = tx.send(());
        }
    });
    let text = format!("sasl_pwcheck_method: saslauthd\nsasl_saslauthd_path: {}\n", mux.display());
    let cfg = conf::Config::parse_str(&dir.join("imapd.conf"), &text).unwrap();
    sasl::set_canon_user(|name, _| if name.contains('*') { Err("invalid userid: '*'".into()) } else { Ok(name.to_ascii_lowercase()) });
    sasl::init("test", &cfg).unwrap();
    let new = || {
        let mut c = ServerConn::new("imap", "mail.suite.test", None, None, None, None).unwrap();
        c.set_deadline(Some(Duration::from_millis(800)));
        c
    };

    // Given up after the deadline, with a detail that says so.
    let mut c = new();
    let t = Instant::now();
    let e = c.checkpass("fred", b"pw").unwrap_err();
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(800) && took < Duration::from_secs(3), "{took:?}");
    assert_eq!(e.code, sasl::SASL_UNAVAIL);
    assert!(e.is_temporary() && e.detail.contains("no answer within 0.8 s"), "{e}");
    assert!(rx.recv_timeout(Duration::from_secs(1)).is_ok(), "saslauthd was asked");
    // The handle went to the helper thread: later calls fail at once, drop is safe.
    let t = Instant::now();
    assert!(c.checkpass("fred", b"pw").is_err() && c.username().is_none());
    assert!(t.elapsed() < Duration::from_millis(100));
    drop(c);

    // A name the rule refuses is refused by libsasl2's canon_user step, before any
    // password check: saslauthd is not asked, and the name is kept for the log.
    let mut c = new();
    let e = c.checkpass("*)(uid=*", b"pw").unwrap_err();
    assert!(e.is_auth_failure() && !e.is_temporary(), "{e}");
    assert!(e.detail.contains("invalid userid"), "{e}");
    assert_eq!(sasl::take_refused_name().as_deref(), Some("*)(uid=*"));
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "saslauthd was asked about a refused name");

    // A second hanging check on a new handle is bounded the same way.
    let mut c = new();
    let t = Instant::now();
    assert_eq!(c.checkpass("fred", b"pw").unwrap_err().code, sasl::SASL_UNAVAIL);
    assert!(t.elapsed() < Duration::from_secs(3));
    let _ = std::fs::remove_dir_all(&dir);
}
