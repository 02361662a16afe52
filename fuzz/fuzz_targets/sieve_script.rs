//! Sieve: any bytes compile to a script or to an error with a position; a script that
//! compiles runs against a message to actions or a run-time error, within its bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;

struct Host;

impl sieve::Host for Host {
    fn mailbox_exists(&mut self, name: &str) -> bool {
        name.len() % 2 == 0
    }
    fn special_use_exists(&mut self, _: Option<&str>, _: &[String]) -> bool {
        false
    }
    fn metadata(&mut self, _: Option<&str>, entry: &str) -> Option<String> {
        entry.starts_with("/shared").then(|| "value".to_string())
    }
    fn duplicate(&mut self, key: &str, _: u64, _: bool) -> bool {
        key.len() % 3 == 0
    }
    fn include(&mut self, name: &str, _: bool) -> Option<Vec<u8>> {
        (name == "self").then(|| b"require \"include\"; include \"self\";".to_vec())
    }
    fn list_contains(&mut self, _: &str, _: &str) -> Option<bool> {
        Some(false)
    }
}

const MSG: &[u8] = b"From: A <a@example.org>\r\nTo: b+x@example.com\r\nSubject: =?utf-8?q?h=C3=A9llo?=\r\nDate: Tue, 1 Jul 2003 10:52:37 +0200\r\nMessage-ID: <m@x>\r\n\r\nbody text\r\n";

fuzz_target!(|data: &[u8]| {
    let exts = sieve::Extensions::all();
    match sieve::compile(data, &exts) {
        Ok(script) => {
            let parsed = message::parse(MSG);
            let input = sieve::Input {
                raw: MSG,
                parsed: &parsed,
                envelope: sieve::Envelope { from: "a@example.org".into(), to: "b+x@example.com".into(), auth: None },
                user: "b",
                now: 1_700_000_000,
                environment: &[("domain", "example.com".to_string())],
            };
            if let Ok(o) = sieve::execute(&script, &input, &mut Host, &exts, &sieve::Limits::default()) {
                assert!(o.actions.len() <= sieve::Limits::default().max_actions + 1);
            }
        }
        Err(e) => assert!(e.line >= 1 && e.column >= 1),
    }
});
