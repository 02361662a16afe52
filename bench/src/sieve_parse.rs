//! Compile time of a large Sieve script and the time of one run of it.

use std::time::Instant;

const RULES: &[&str] = &[
    "if header :contains \"subject\" [\"viagra\", \"lottery\"] { discard; stop; }\n",
    "if address :domain :is \"from\" \"partner{N}.example\" { fileinto \"INBOX.Partners.{N}\"; stop; }\n",
    "if header :matches \"subject\" \"[[]ticket #*]*\" { addflag \"$Ticket{N}\"; }\n",
    "if allof (header :contains \"list-id\" \"list{N}.example.org\", not exists \"x-spam\") { fileinto \"INBOX.Lists.{N}\"; stop; }\n",
    "/* rule {N} */ if size :over {N}K { addflag \"$Big\"; } # comment\n",
];

struct NoStore;

impl sieve::Host for NoStore {
    fn mailbox_exists(&mut self, _: &str) -> bool {
        true
    }
    fn special_use_exists(&mut self, _: Option<&str>, _: &[String]) -> bool {
        false
    }
    fn metadata(&mut self, _: Option<&str>, _: &str) -> Option<String> {
        None
    }
    fn duplicate(&mut self, _: &str, _: u64, _: bool) -> bool {
        false
    }
    fn include(&mut self, _: &str, _: bool) -> Option<Vec<u8>> {
        None
    }
    fn list_contains(&mut self, _: &str, _: &str) -> Option<bool> {
        None
    }
}

pub fn run(kib: usize) {
    let mut src = String::from("require [\"fileinto\", \"imap4flags\"];\n");
    let mut n = 0;
    while src.len() < kib * 1024 {
        src.push_str(&RULES[n % RULES.len()].replace("{N}", &n.to_string()));
        n += 1;
    }
    let exts = sieve::Extensions::all();
    let rounds = 20;
    let t = Instant::now();
    let mut script = None;
    for _ in 0..rounds {
        script = Some(sieve::compile(src.as_bytes(), &exts).expect("the generated script compiles"));
    }
    let compile = t.elapsed() / rounds;
    let script = script.expect("compiled");
    let raw = b"From: a@partner7.example\r\nTo: b@example.org\r\nSubject: hello\r\nMessage-ID: <x@y>\r\n\r\nbody\r\n";
    let parsed = message::parse(raw);
    let input = sieve::Input { raw, parsed: &parsed, envelope: sieve::Envelope::default(), user: "b", now: 0, environment: &[] };
    let t = Instant::now();
    let mut actions = 0;
    for _ in 0..rounds {
        actions = sieve::execute(&script, &input, &mut NoStore, &exts, &sieve::Limits::default()).map(|o| o.actions.len()).unwrap_or(0);
    }
    let exec = t.elapsed() / rounds;
    println!("Sieve script of {} bytes, {n} rules: compile {:.2} ms, one run {:.3} ms ({actions} actions)", src.len(), compile.as_secs_f64() * 1e3, exec.as_secs_f64() * 1e3);
}
