//! The engine as a table: scripts × messages → the actions expected, covering every
//! extension on the SIEVE line, the RFCs' own examples among them; and compile errors
//! with their positions.

use sieve::{Action, Envelope, Extensions, FileInto, Host, Input, Limits, Outcome};
use std::collections::{HashMap, HashSet};

#[derive(Default)]
struct TestHost {
    mailboxes: HashSet<String>,
    seen: HashMap<String, u64>,
    scripts: HashMap<(bool, String), String>,
    metadata: HashMap<(Option<String>, String), String>,
    lists: HashMap<String, Vec<String>>,
    special: Vec<(String, String)>,
}

impl Host for TestHost {
    fn mailbox_exists(&mut self, name: &str) -> bool {
        self.mailboxes.contains(name)
    }
    fn special_use_exists(&mut self, mailbox: Option<&str>, uses: &[String]) -> bool {
        uses.iter().all(|u| self.special.iter().any(|(m, s)| s.eq_ignore_ascii_case(u) && mailbox.is_none_or(|mb| mb == m)))
    }
    fn metadata(&mut self, mailbox: Option<&str>, entry: &str) -> Option<String> {
        self.metadata.get(&(mailbox.map(str::to_string), entry.to_string())).cloned()
    }
    fn duplicate(&mut self, key: &str, seconds: u64, _last: bool) -> bool {
        self.seen.insert(key.to_string(), seconds).is_some()
    }
    fn include(&mut self, name: &str, global: bool) -> Option<Vec<u8>> {
        self.scripts.get(&(global, name.to_string())).map(|s| s.as_bytes().to_vec())
    }
    fn list_contains(&mut self, list: &str, value: &str) -> Option<bool> {
        self.lists.get(list).map(|l| l.iter().any(|x| x.eq_ignore_ascii_case(value)))
    }
}

const MSG: &str = "Return-Path: <alice@example.org>\r\n\
Received: from mx.example.org by mail.example.com\r\n\
Date: Tue, 1 Jul 2003 10:52:37 +0200\r\n\
From: Alice Example <alice@example.org>\r\n\
To: Bob <bob+lists@example.com>, carol@example.net\r\n\
Cc: \"Team\" <team@example.com>\r\n\
Subject: =?utf-8?q?R=C3=A9union?= [acme-users] budget\r\n\
Message-ID: <m1@example.org>\r\n\
X-Spam-Score: 12\r\n\
X-Priority: 1\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hello Bob,\r\nthe meeting moved to Friday.\r\n";

fn run_with(script: &str, msg: &str, host: &mut TestHost, from: &str) -> Result<Outcome, String> {
    let exts = Extensions::all();
    let s = sieve::compile(script.as_bytes(), &exts).map_err(|e| format!("compile: {e}"))?;
    let parsed = message::parse(msg.as_bytes());
    let env = [("domain", "example.com".to_string()), ("host", "mail.example.com".to_string()), ("location", "MDA".to_string()), ("phase", "during".to_string())];
    let input = Input {
        raw: msg.as_bytes(),
        parsed: &parsed,
        envelope: Envelope { from: from.into(), to: "bob@example.com".into(), auth: None },
        user: "bob",
        now: 1_796_395_876,
        environment: &env,
    };
    sieve::execute(&s, &input, host, &exts, &Limits::default()).map_err(|e| e.0)
}

fn run(script: &str) -> Vec<Action> {
    run_with(script, MSG, &mut TestHost::default(), "alice@example.org").unwrap_or_else(|e| panic!("{script}: {e}")).actions
}

fn keep() -> Action {
    Action::Keep { flags: vec![] }
}

fn into(mb: &str) -> Action {
    Action::FileInto(FileInto { mailbox: mb.into(), flags: vec![], create: false, specialuse: None, mailboxid: None })
}

/// Scripts whose outcome is "fileinto hit" when the test holds, implicit keep if not.
const TESTS: &[(&str, &str, bool)] = &[
    ("", r#"header :contains "subject" "réunion""#, true),
    ("", r#"header :is "subject" "Réunion [acme-users] budget""#, true),
    ("", r#"header :matches "subject" "*[acme-*]*""#, true),
    ("", r#"header :contains ["to", "cc"] "team@""#, true),
    ("", r#"header :is :comparator "i;octet" "subject" "réunion [acme-users] budget""#, false),
    ("comparator-i;unicode-casemap", r#"header :contains :comparator "i;unicode-casemap" "subject" "RÉUNION""#, true),
    ("", r#"address :domain "from" "EXAMPLE.org""#, true),
    ("", r#"address :localpart "to" "carol""#, true),
    ("", r#"address :all :is "to" "bob+lists@example.com""#, true),
    ("subaddress", r#"address :user "to" "bob""#, true),
    ("subaddress", r#"address :detail "to" "lists""#, true),
    ("subaddress", r#"address :detail "from" """#, false),
    ("envelope", r#"envelope :is "from" "alice@example.org""#, true),
    ("envelope", r#"envelope :domain "to" "example.com""#, true),
    ("", r#"exists ["from", "x-priority"]"#, true),
    ("", r#"exists ["from", "x-nope"]"#, false),
    ("", "size :over 100", true),
    ("", "size :under 1K", true),
    ("", "size :over 1M", false),
    ("", "not true", false),
    ("", r#"allof (exists "from", header :contains "subject" "budget")"#, true),
    ("", r#"anyof (false, header :contains "subject" "nothing")"#, false),
    ("relational comparator-i;ascii-numeric", r#"header :value "ge" :comparator "i;ascii-numeric" "x-spam-score" "10""#, true),
    ("relational comparator-i;ascii-numeric", r#"header :value "lt" :comparator "i;ascii-numeric" "x-spam-score" "9""#, false),
    ("relational comparator-i;ascii-numeric", r#"address :count "eq" :comparator "i;ascii-numeric" ["to", "cc"] "3""#, true),
    ("regex", r#"header :regex "subject" "\\[acme-[a-z]+\\]""#, true),
    ("regex", r#"header :regex "message-id" "^<m[0-9]+@""#, true),
    ("body", r#"body :contains "friday""#, true),
    ("body", r#"body :raw :contains "Friday.""#, true),
    ("body", r#"body :text :is "nothing""#, false),
    ("date relational", r#"date :value "ge" :originalzone "date" "hour" "10""#, true),
    ("date", r#"date :zone "+0000" "date" "iso8601" "2003-07-01T08:52:37+00:00""#, true),
    ("date", r#"date :originalzone "date" "zone" "+0200""#, true),
    ("date", r#"currentdate :zone "+0000" "date" "2026-12-04""#, true),
    ("date", r#"currentdate :zone "+0000" "weekday" "5""#, true),
    ("index", r#"header :index 1 :contains "received" "mx.example.org""#, true),
    ("index", r#"header :index 2 "received" "anything""#, false),
    ("index", r#"address :index 1 :last :is "to" "carol@example.net""#, true),
    ("environment", r#"environment :is "domain" "example.com""#, true),
    ("environment", r#"environment :is "location" "MTA""#, false),
    ("ihave", r#"ihave "fileinto""#, true),
    ("ihave", r#"ihave "vnd.unknown.extension""#, false),
    ("enotify", r#"valid_notify_method "mailto:a@example.com""#, true),
    ("enotify", r#"valid_notify_method "xmpp:a@example.com""#, false),
    ("enotify", r#"notify_method_capability "mailto:a@example.com" "online" "maybe""#, true),
];

#[test]
fn tests_table() {
    for (req, test, expect) in TESTS {
        let requires = if req.is_empty() { "\"fileinto\"".to_string() } else { format!("[\"fileinto\", {}]", req.split(' ').map(|r| format!("\"{r}\"")).collect::<Vec<_>>().join(", ")) };
        let script = format!("require {requires};\nif {test} {{ fileinto \"hit\"; }}\n");
        let got = run(&script);
        let want = if *expect { vec![into("hit")] } else { vec![keep()] };
        assert_eq!(got, want, "{test}");
    }
}

#[test]
fn actions() {
    assert_eq!(run("keep;"), vec![keep()]);
    assert_eq!(run("discard;"), vec![Action::Discard]);
    assert_eq!(run("require \"fileinto\"; fileinto \"a\"; fileinto \"a\";"), vec![into("a")], "one delivery per mailbox");
    assert_eq!(run("require [\"fileinto\", \"copy\"]; fileinto :copy \"a\";"), vec![into("a"), keep()]);
    assert_eq!(run("discard; stop; keep;"), vec![Action::Discard]);
    let r = run("redirect \"fred@example.com\";");
    assert!(matches!(&r[..], [Action::Redirect { address, .. }] if address == "fred@example.com"));
    let r = run("require \"copy\"; redirect :copy \"Fred <fred@example.com>\";");
    assert!(matches!(&r[..], [Action::Redirect { address, .. }, Action::Keep { .. }] if address == "fred@example.com"));
    let r = run("require [\"redirect-dsn\", \"redirect-deliverby\"]; redirect :notify \"NEVER\" :ret \"HDRS\" :bytimerelative 600 :bymode \"notify\" :bytrace \"a@b.c\";");
    assert!(matches!(&r[..], [Action::Redirect { notify: Some(n), ret: Some(rt), by_time: Some(t), by_mode: Some(m), .. }] if n == "NEVER" && rt == "HDRS" && t == "600" && m == "notify"), "{r:?}");
    assert_eq!(run("require \"reject\"; reject \"no thanks\";"), vec![Action::Reject { reason: "no thanks".into(), extended: false }]);
    assert_eq!(run("require \"ereject\"; ereject text:\r\nnot here\r\n.\r\n;"), vec![Action::Reject { reason: "not here\r\n".into(), extended: true }]);
    let e = run_with("require [\"reject\", \"fileinto\"]; fileinto \"x\"; reject \"no\";", MSG, &mut TestHost::default(), "a@b").unwrap_err();
    assert!(e.contains("reject"), "{e}");
}

#[test]
fn imap4flags_and_mailbox() {
    let s = r#"require ["imap4flags", "fileinto", "mailbox"];
        setflag "\\Seen";
        addflag ["$Work", "\\Flagged $Work"];
        removeflag "\\Seen";
        if hasflag :contains "work" { fileinto :create :flags "\\Answered" "Work"; }
        keep;"#;
    let r = run(s);
    assert_eq!(
        r,
        vec![
            Action::FileInto(FileInto { mailbox: "Work".into(), flags: vec!["\\Answered".into()], create: true, specialuse: None, mailboxid: None }),
            Action::Keep { flags: vec!["$Work".into(), "\\Flagged".into()] },
        ]
    );
    let mut h = TestHost::default();
    h.mailboxes.insert("Lists".into());
    let o = run_with("require [\"mailbox\", \"fileinto\"]; if mailboxexists \"Lists\" { fileinto \"Lists\"; } if mailboxexists \"Nope\" { discard; }", MSG, &mut h, "a@b").unwrap();
    assert_eq!(o.actions, vec![into("Lists")]);
}

#[test]
fn variables() {
    // RFC 5229 examples.
    let s = r#"require ["variables", "fileinto"];
        if header :matches "List-ID" "*<*@*" { fileinto "INBOX.lists.${2}"; stop; }
        if header :matches "Subject" "[*] *" { fileinto "INBOX.lists.${1}"; stop; }
        if header :matches "Subject" "* [*] *" { set :lower "list" "${2}"; fileinto "lists.${list}"; }"#;
    assert_eq!(run(s), vec![into("lists.acme-users")]);
    let s = r#"require ["variables", "fileinto", "subaddress"];
        set "a" "juMBlEd";
        set :upperfirst :lower "b" "${a}";
        set :length "n" "${b}";
        if string :is "${b}-${n}" "Jumbled-7" { fileinto "ok"; }"#;
    assert_eq!(run(s), vec![into("ok")]);
    let s = r#"require ["variables", "fileinto", "envelope", "subaddress"];
        if envelope :matches :localpart "to" "*" { set "who" "${1}"; }
        if address :matches :user "to" "*" { fileinto "u-${1}-${who}"; }"#;
    assert_eq!(run(s), vec![into("u-bob-bob")]);
    let s = r#"require ["variables", "fileinto", "encoded-character"]; set "x" "${hex:41 42}${unicode:263a}"; fileinto "${x}";"#;
    assert_eq!(run(s), vec![into("AB\u{263a}")]);
    // Doubling cannot grow without bound.
    let s = format!("require [\"variables\", \"fileinto\"]; set \"x\" \"0123456789\";{} fileinto \"${{x}}\";", " set \"x\" \"${x}${x}\";".repeat(40));
    let r = run(&s);
    assert!(matches!(&r[..], [Action::FileInto(f)] if f.mailbox.len() <= 64 * 1024));
}

#[test]
fn vacation() {
    let script = r#"require ["vacation", "vacation-seconds"]; vacation :days 7 :subject "Away" :addresses ["bob+lists@example.com"] "I am away.";"#;
    let mut h = TestHost::default();
    let o = run_with(script, MSG, &mut h, "alice@example.org").unwrap();
    match &o.actions[..] {
        [Action::Vacation(v), Action::Keep { .. }] => {
            assert_eq!(v.to, "alice@example.org");
            assert_eq!(v.subject, "Away");
            assert_eq!(v.from, "bob@example.com");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.seen.values().next(), Some(&(7 * 86400)));
    let o = run_with(script, MSG, &mut h, "alice@example.org").unwrap();
    assert_eq!(o.actions, vec![keep()], "once per period");
    assert_eq!(o.vacation_skipped, Some("already answered within the period"));
    // Never to lists, bulk, bounces, auto-submitted mail or the user.
    for (hdr, from) in [("List-Id: <x.example.org>\r\n", "alice@example.org"), ("Precedence: bulk\r\n", "alice@example.org"), ("Auto-Submitted: auto-replied\r\n", "alice@example.org"), ("", ""), ("", "MAILER-DAEMON@example.org"), ("", "owner-list@example.org"), ("", "bob@example.com")] {
        let msg = format!("{hdr}{MSG}");
        let o = run_with(script, &msg, &mut TestHost::default(), from).unwrap();
        assert_eq!(o.actions, vec![keep()], "{hdr} {from}");
        assert!(o.vacation_skipped.is_some());
    }
    // Not addressed to the user: no reply.
    let o = run_with(r#"require "vacation"; vacation "away";"#, MSG, &mut TestHost::default(), "alice@example.org").unwrap();
    assert_eq!(o.vacation_skipped, Some("the user is not a recipient in To, Cc or Bcc"));
    // :seconds below the minimum is raised to it.
    let mut h = TestHost::default();
    run_with(r#"require ["vacation-seconds"]; vacation :seconds 5 :addresses "team@example.com" "x";"#, MSG, &mut h, "alice@example.org").unwrap();
    assert_eq!(h.seen.values().next(), Some(&(3 * 86400)));
}

#[test]
fn include_and_global() {
    let mut h = TestHost::default();
    h.scripts.insert((false, "lists".into()), r#"require ["include", "variables", "fileinto"]; global "folder"; if header :contains "subject" "acme" { set "folder" "acme"; return; } fileinto "never";"#.into());
    h.scripts.insert((true, "spam".into()), r#"require ["fileinto", "relational", "comparator-i;ascii-numeric"]; if header :value "gt" :comparator "i;ascii-numeric" "x-spam-score" "10" { fileinto "Junk"; stop; }"#.into());
    h.scripts.insert((false, "loop".into()), r#"require "include"; include "loop";"#.into());
    let s = r#"require ["include", "variables", "fileinto"]; global "folder"; include "lists"; include :once "lists"; fileinto "${folder}"; include :global "spam"; fileinto "after";"#;
    let o = run_with(s, MSG, &mut h, "a@b").unwrap();
    assert_eq!(o.actions, vec![into("acme"), into("Junk")]);
    let e = run_with(r#"require "include"; include "loop";"#, MSG, &mut h, "a@b").unwrap_err();
    assert!(e.contains("loop"), "{e}");
    let e = run_with(r#"require "include"; include "missing";"#, MSG, &mut h, "a@b").unwrap_err();
    assert!(e.contains("not found"), "{e}");
    assert_eq!(run_with(r#"require "include"; include :optional "missing";"#, MSG, &mut h, "a@b").unwrap().actions, vec![keep()]);
}

#[test]
fn editheader_duplicate_metadata_lists() {
    let o = run_with(r#"require ["editheader", "fileinto"]; addheader "X-Filtered" "yes"; deleteheader "x-priority"; deleteheader "received"; if exists "x-filtered" { fileinto "edited"; }"#, MSG, &mut TestHost::default(), "a@b").unwrap();
    assert_eq!(o.actions, vec![into("edited")]);
    let m = String::from_utf8(o.edited.unwrap()).unwrap();
    assert!(m.starts_with("X-Filtered: yes\r\nReturn-Path:"));
    assert!(!m.contains("X-Priority") && m.contains("Received:"), "Received is protected");
    let mut h = TestHost::default();
    let s = r#"require ["duplicate", "fileinto"]; if duplicate { fileinto "dups"; }"#;
    assert_eq!(run_with(s, MSG, &mut h, "a@b").unwrap().actions, vec![keep()]);
    assert_eq!(run_with(s, MSG, &mut h, "a@b").unwrap().actions, vec![into("dups")]);
    let mut h = TestHost::default();
    h.metadata.insert((Some("INBOX".into()), "/private/comment".into()), "holiday".into());
    h.metadata.insert((None, "/shared/admin".into()), "root@example.com".into());
    let s = r#"require ["mboxmetadata", "servermetadata", "fileinto"];
        if allof (metadata :is "INBOX" "/private/comment" "holiday", metadataexists "INBOX" "/private/comment",
                  servermetadata :contains "/shared/admin" "root", not servermetadataexists "/shared/none") { fileinto "meta"; }"#;
    assert_eq!(run_with(s, MSG, &mut h, "a@b").unwrap().actions, vec![into("meta")]);
    let mut h = TestHost::default();
    h.lists.insert("friends".into(), vec!["alice@example.org".into()]);
    let s = r#"require ["extlists", "fileinto", "envelope"]; if allof (valid_ext_list "friends", envelope :list "from" "friends") { fileinto "friends"; }"#;
    assert_eq!(run_with(s, MSG, &mut h, "alice@example.org").unwrap().actions, vec![into("friends")]);
    let mut h = TestHost::default();
    h.special.push(("Junk".into(), "\\Junk".into()));
    let s = r#"require ["special-use", "fileinto", "mailboxid"]; if specialuse_exists "\\Junk" { fileinto :specialuse "\\Junk" :mailboxid "F123" "Spam"; }"#;
    let o = run_with(s, MSG, &mut h, "a@b").unwrap();
    assert_eq!(o.actions, vec![Action::FileInto(FileInto { mailbox: "Spam".into(), flags: vec![], create: false, specialuse: Some("\\Junk".into()), mailboxid: Some("F123".into()) })]);
}

#[test]
fn notify_and_fcc() {
    let s = r#"require ["enotify", "fcc", "vacation", "variables"];
        notify :importance "1" :message "New mail from ${from}" "mailto:bob@example.net?subject=mail";
        vacation :fcc "Sent" :addresses "team@example.com" "away";"#;
    let o = run_with(s, MSG, &mut TestHost::default(), "alice@example.org").unwrap();
    match &o.actions[..] {
        [Action::Notify(n), Action::Vacation(v), Action::Keep { .. }] => {
            assert_eq!(n.method, "mailto:bob@example.net?subject=mail");
            assert_eq!(n.importance, 1);
            assert_eq!(n.message, "New mail from ");
            assert_eq!(v.fcc.as_ref().unwrap().mailbox, "Sent");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn body_content() {
    let msg = "From: a@b.c\r\nTo: bob@example.com\r\nSubject: parts\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nplain words\r\n\
--XX\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<b>caf=C3=A9</b>\r\n\
--XX\r\nContent-Type: application/x-report\r\nContent-Transfer-Encoding: base64\r\n\r\nc2VjcmV0IHJlcG9ydA==\r\n--XX--\r\n";
    let s = |t: &str| format!("require [\"body\", \"fileinto\"]; if {t} {{ fileinto \"hit\"; }}");
    let mut h = TestHost::default();
    let hit = |h: &mut TestHost, t: &str| run_with(&s(t), msg, h, "a@b.c").unwrap().actions == vec![into("hit")];
    assert!(hit(&mut h, r#"body :content "text/html" :contains "café""#));
    assert!(!hit(&mut h, r#"body :content "text/html" :contains "plain words""#));
    assert!(hit(&mut h, r#"body :content "text" :contains "plain words""#));
    assert!(hit(&mut h, r#"body :content "application/x-report" :contains "secret report""#));
    assert!(hit(&mut h, r#"body :content "" :contains "secret""#));
    assert!(!hit(&mut h, r#"body :content "image" :contains "secret""#));
    assert!(hit(&mut h, r#"body :raw :contains "caf=C3=A9""#));
    assert!(hit(&mut h, r#"body :text :contains "café""#));
}

#[test]
fn limits() {
    let many: String = (0..10_000).map(|i| format!("redirect \"u{i}@example.com\";")).collect();
    let e = run_with(&many, MSG, &mut TestHost::default(), "a@b").unwrap_err();
    assert!(e.contains("too many redirects"), "{e}");
    let many: String = (0..100).map(|i| format!("fileinto \"f{i}\";")).collect();
    let e = run_with(&format!("require \"fileinto\";{many}"), MSG, &mut TestHost::default(), "a@b").unwrap_err();
    assert!(e.contains("too many actions"), "{e}");
    let headers: String = (0..10_000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let msg = format!("{headers}{MSG}");
    let o = run_with(r#"require "fileinto"; if header :contains "x-h9999" "v" { fileinto "many"; }"#, &msg, &mut TestHost::default(), "a@b").unwrap();
    assert_eq!(o.actions, vec![into("many")]);
}

#[test]
fn compile_errors() {
    let exts = Extensions::all();
    let cases: &[(&str, u32, u32, &str)] = &[
        ("keep;\nfileinto \"x\";", 2, 1, "require \"fileinto\""),
        ("require \"fileinto\";\nfileinto \"x\"\nkeep;", 3, 1, "expected ';' before 'keep'"),
        ("if true {\n  keep;\n", 3, 1, "'}'"),
        ("require \"nonesuch\";", 1, 1, "unsupported extension"),
        ("keep;\nrequire \"fileinto\";", 2, 1, "require is allowed only"),
        ("if header :frobnicate \"a\" \"b\" {}", 1, 11, "frobnicate"),
        ("redirect \"not an address\";", 1, 1, "bad address"),
        ("require \"regex\";\nif header :regex \"s\" \"(unclosed\" {}", 2, 4, "regular expression"),
        ("elsif true {}", 1, 1, "without"),
        ("if true { keep; } else { discard; } else { keep; }", 1, 37, "without"),
        ("stop \"x\";", 1, 6, "too many arguments"),
        ("if size 10 {}", 1, 4, ":over or :under"),
        ("vacation \"x\";", 1, 1, "require \"vacation\""),
        ("require \"date\";\nif date \"date\" \"fortnight\" \"x\" {}", 2, 4, "date part"),
        ("\"string\";", 1, 1, "expected a command"),
    ];
    for (src, line, col, msg) in cases {
        let e = sieve::compile(src.as_bytes(), &exts).expect_err(src);
        assert!(e.message.contains(msg), "{src}: {e}");
        assert_eq!((e.line, e.column), (*line, *col), "{src}: {e}");
    }
    // Only what the site allows may be required.
    let few = Extensions::from_config(Some("fileinto reject"));
    assert!(sieve::compile(b"require \"fileinto\";", &few).is_ok());
    assert!(sieve::compile(b"require \"vacation\";", &few).is_err());
    assert_eq!(few.capability(), "comparator-i;ascii-numeric comparator-i;unicode-casemap encoded-character fileinto reject ereject", "reject brings ereject, as in Cyrus");
    // ihave guards what the server lacks.
    assert!(sieve::compile(b"require \"ihave\"; if ihave \"x-unknown\" { frobnicate; } else { keep; }", &exts).is_ok());
    // A 100 KB script compiles quickly.
    let rule = "if header :contains \"subject\" \"word\" { fileinto \"folder\"; }\n";
    let big = format!("require \"fileinto\";\n{}", rule.repeat(100 * 1024 / rule.len()));
    let t = std::time::Instant::now();
    sieve::compile(big.as_bytes(), &exts).unwrap();
    assert!(t.elapsed().as_secs() < 5);
}
