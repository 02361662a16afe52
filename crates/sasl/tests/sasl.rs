//! The wrapper against the real libsasl2 and a sasldb made by saslpasswd2.

use sasl::{ServerConn, Step};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const REALM: &str = "suite.test";

fn saslpasswd2(db: &Path, user: &str, pass: &str) {
    let mut c = Command::new("saslpasswd2")
        .args(["-p", "-c", "-f"])
        .arg(db)
        .args(["-u", REALM, user])
        .stdin(Stdio::piped())
        .spawn()
        .expect("saslpasswd2 (package sasl2-bin)");
    c.stdin.take().unwrap().write_all(pass.as_bytes()).unwrap();
    assert!(c.wait().unwrap().success());
}

fn hmac_md5_hex(key: &[u8], text: &[u8]) -> String {
    let pkey = openssl::pkey::PKey::hmac(key).unwrap();
    let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::md5(), &pkey).unwrap();
    signer.update(text).unwrap();
    signer.sign_to_vec().unwrap().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn real_exchanges_against_a_sasldb() {
    let dir = std::env::temp_dir().join(format!("sasl-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("sasldb2");
    saslpasswd2(&db, "fred", "s3cret");
    let text = format!(
        "sasl_pwcheck_method: auxprop\nsasl_auxprop_plugin: sasldb\nsasl_sasldb_path: {}\nsasl_mech_list: PLAIN LOGIN CRAM-MD5\nimap_sasl_mech_list: PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256\n",
        db.display()
    );
    let cfg = conf::Config::parse_str(&dir.join("imapd.conf"), &text).unwrap().for_service("imap");
    sasl::init("test", &cfg).unwrap();
    let new = || ServerConn::new("imap", "mail.suite.test", Some(REALM), Some("127.0.0.1;143"), Some("127.0.0.1;5000"), None).unwrap();

    // Before TLS: no plaintext mechanisms offered, and PLAIN refused.
    let mut c = new();
    c.set_plaintext_allowed(false).unwrap();
    let mechs = c.mechanisms().unwrap();
    assert!(mechs.contains(&"CRAM-MD5".to_string()) && !mechs.contains(&"PLAIN".to_string()), "{mechs:?}");
    assert!(mechs.contains(&"SCRAM-SHA-256".to_string()), "service prefix: {mechs:?}");
    assert!(c.start("PLAIN", Some(b"\0fred\0s3cret")).is_err());

    // After TLS (or allowplaintext): PLAIN with an initial response.
    let mut c = new();
    c.set_plaintext_allowed(true).unwrap();
    c.set_external_ssf(256).unwrap();
    assert!(c.mechanisms().unwrap().contains(&"PLAIN".to_string()));
    assert_eq!(c.start("PLAIN", Some(b"\0fred\0s3cret")).unwrap(), Step::Done(None));
    assert_eq!(c.username().as_deref(), Some("fred@suite.test"));
    assert_eq!(c.authuser().as_deref(), Some("fred@suite.test"));

    let mut c = new();
    c.set_plaintext_allowed(true).unwrap();
    let e = c.start("PLAIN", Some(b"\0fred\0wrong")).unwrap_err();
    assert!(e.is_auth_failure(), "{e}");
    assert!(!e.detail.contains("wrong"), "no password in the error: {e}");
    let mut c = new();
    c.set_plaintext_allowed(true).unwrap();
    assert!(c.start("PLAIN", Some(b"\0nobody\0x")).unwrap_err().is_auth_failure());

    // PLAIN without an initial response: an empty challenge first.
    let mut c = new();
    c.set_plaintext_allowed(true).unwrap();
    assert_eq!(c.start("PLAIN", None).unwrap(), Step::Continue(vec![]));
    assert_eq!(c.step(b"\0fred\0s3cret").unwrap(), Step::Done(None));

    // LOGIN: user, then password.
    let mut c = new();
    c.set_plaintext_allowed(true).unwrap();
    assert!(matches!(c.start("LOGIN", None).unwrap(), Step::Continue(_)));
    assert!(matches!(c.step(b"fred").unwrap(), Step::Continue(_)));
    assert_eq!(c.step(b"s3cret").unwrap(), Step::Done(None));

    // CRAM-MD5: the client answers the challenge with an HMAC of the password.
    let mut c = new();
    let Step::Continue(challenge) = c.start("CRAM-MD5", None).unwrap() else { panic!("no challenge") };
    let answer = format!("fred {}", hmac_md5_hex(b"s3cret", &challenge));
    assert_eq!(c.step(answer.as_bytes()).unwrap(), Step::Done(None));
    let mut c = new();
    let Step::Continue(challenge) = c.start("CRAM-MD5", None).unwrap() else { panic!("no challenge") };
    let answer = format!("fred {}", hmac_md5_hex(b"nope", &challenge));
    assert!(c.step(answer.as_bytes()).unwrap_err().is_auth_failure());

    // checkpass (LOGIN command, USER/PASS).
    let mut c = new();
    c.checkpass("fred", b"s3cret").unwrap();
    assert!(c.checkpass("fred", b"s3cre").unwrap_err().is_auth_failure());
    assert!(c.checkpass("fred", b"s3\0cret").is_err());
    std::fs::remove_dir_all(dir).unwrap();
}
