//! The store as a daemon uses it: names, partitions, ACL inheritance, quota.

use conf::Config;
use mailbox::{NewMessage, Uid};
use mboxlist::{InternalName, MboxList, Store, StoreError};
use std::path::{Path, PathBuf};

fn instance(name: &str, extra: &str) -> (PathBuf, Store) {
    let d = std::env::temp_dir().join(format!("store-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("config")).unwrap();
    let text = format!(
        "configdirectory: {0}/config\npartition-default: {0}/spool\npartition-other: {0}/other\nmetapartition-other: {0}/meta\nmetapartition_files: header index cache\nadmins: cyrus\n{extra}",
        d.display()
    );
    let cfg = Config::parse_str(&d.join("imapd.conf"), &text).unwrap();
    MboxList::open(&d.join("config"), true).unwrap();
    (d.clone(), Store::open(&cfg).unwrap())
}

fn msg(n: usize) -> Vec<u8> {
    format!("Subject: {n}\r\n\r\n{}\r\n", "y".repeat(n * 37 % 900)).into_bytes()
}

fn new(raw: &[u8]) -> NewMessage<'_> {
    NewMessage { raw, flags: 0, keywords: &[], internaldate: 0, parsed: None, link_from: None }
}

#[test]
fn create_paths_and_acl_inheritance() {
    let (d, s) = instance("create", "");
    let inbox = s.ns.inbox("fred");
    let e = s.create(&inbox, None, None).unwrap();
    assert_eq!(e.acl, "fred\tlrswipkxtecdan\t");
    let paths = s.paths(&inbox, &e).unwrap();
    assert_eq!(paths.data, d.join("spool/user/fred"));
    assert!(paths.index().exists());
    assert!(matches!(s.create(&inbox, None, None), Err(StoreError::Exists(_))));
    let sent = s.ns.to_internal("fred", "Sent").unwrap();
    assert_eq!(sent.0, "user.fred.Sent", "altnamespace and unixhierarchysep default on, as in Cyrus 3");
    let e2 = s.create(&sent, Some("other"), None).unwrap();
    assert_eq!(e2.acl, e.acl, "inherits the parent's ACL");
    let p2 = s.paths(&sent, &e2).unwrap();
    assert_eq!(p2.data, d.join("other/user/fred/Sent"));
    assert_eq!(p2.meta, d.join("meta/user/fred/Sent"));
    assert!(p2.meta.join("cyrus.index").exists() && !p2.data.join("cyrus.index").exists());
    // Rights: owner, stranger, admin.
    assert_eq!(s.rights("fred", &sent, &e2).to_string(), "lrswipkxtecdan");
    assert!(s.rights("barney", &sent, &e2).is_empty());
    assert_eq!(s.rights("cyrus", &sent, &e2).to_string(), "la", "an admin: l and a besides the ACL, as in Cyrus");
    // Hostile and missing.
    assert!(matches!(s.create(&InternalName("user.fred..x".into()), None, None), Err(StoreError::BadName(_))));
    // Without hashimapspool, `uuid` would be the top of the by-id directories.
    for n in ["uuid", "uuid.a"] {
        assert!(matches!(s.create(&InternalName(n.into()), None, None), Err(StoreError::BadName(_))), "{n}");
        assert!(matches!(s.rename(&sent, &InternalName(n.into())), Err(StoreError::BadName(_))), "{n}");
    }
    assert!(matches!(s.create(&InternalName("user.x".into()), Some("nosuch"), None), Err(StoreError::Internal(_))));
    assert!(matches!(s.open_mailbox(&InternalName("user.nobody".into())), Err(StoreError::NotFound(_))));
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn quota_usage_equals_sum_of_sizes_after_any_sequence() {
    let (d, s) = instance("quota", "");
    let names = [s.ns.inbox("fred"), InternalName("user.fred.Sent".into()), InternalName("user.fred.Sent.Old".into())];
    for n in &names {
        s.create(n, None, None).unwrap();
    }
    s.list.set_quota_limits("user.fred", Some(1_000_000), None).unwrap();
    let mut live: Vec<Vec<(Uid, usize)>> = vec![vec![]; 3];
    let mut seed: u64 = 12345;
    for step in 0..300 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let which = (seed >> 33) as usize % 3;
        let (_, mut mb) = s.open_mailbox(&names[which]).unwrap();
        match (seed >> 40) % 4 {
            0 | 1 => {
                let raws: Vec<Vec<u8>> = (0..1 + (seed >> 50) as usize % 3).map(|k| msg(step * 3 + k)).collect();
                let batch: Vec<NewMessage> = raws.iter().map(|r| new(r)).collect();
                let uids = s.append(&names[which], &mut mb, &batch, false).unwrap();
                live[which].extend(uids.into_iter().zip(raws.iter().map(|r| r.len())));
            }
            2 if !live[which].is_empty() => {
                let k = (seed >> 20) as usize % live[which].len();
                let (uid, _) = live[which].remove(k);
                assert_eq!(s.expunge(&names[which], &mut mb, &[uid, uid]).unwrap(), vec![uid]);
            }
            _ => {
                // COPY: the same bytes into another mailbox of the root.
                if let Some(&(uid, size)) = live[which].first() {
                    let raw = mb.read_message(uid).unwrap();
                    let to = (which + 1) % 3;
                    let (_, mut dst) = s.open_mailbox(&names[to]).unwrap();
                    let uids = s.append(&names[to], &mut dst, &[new(&raw)], false).unwrap();
                    live[to].push((uids[0], size));
                }
            }
        }
        let want: usize = live.iter().flatten().map(|(_, sz)| sz).sum();
        let count: usize = live.iter().map(Vec::len).sum();
        let q = s.list.quota("user.fred").unwrap().unwrap();
        assert_eq!((q.storage_used as usize, q.message_used as usize), (want, count), "step {step}");
        assert_eq!(s.usage_of_root("user.fred").unwrap(), (want as u64, count as u64), "step {step}");
    }
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn over_quota_refuses_growth_but_never_deletion() {
    let (d, s) = instance("overquota", "");
    let inbox = s.ns.inbox("wilma");
    s.create(&inbox, None, None).unwrap();
    s.list.set_quota_limits("user.wilma", Some(1), Some(2)).unwrap();
    let (_, mut mb) = s.open_mailbox(&inbox).unwrap();
    let small = b"Subject: a\r\n\r\nhi\r\n".to_vec();
    let uids = s.append(&inbox, &mut mb, &[new(&small), new(&small)], false).unwrap();
    let e = s.append(&inbox, &mut mb, &[new(&small)], false).unwrap_err();
    assert!(matches!(e, StoreError::OverQuota(ref r) if r == "user.wilma"), "{e}");
    assert_eq!(mb.header().exists, 2, "nothing written on refusal");
    let big = vec![b'x'; 2000];
    s.list.set_quota_limits("user.wilma", Some(1), None).unwrap();
    assert!(matches!(s.append(&inbox, &mut mb, &[new(&big)], false), Err(StoreError::OverQuota(_))));
    // Forced (IGNOREQUOTA) goes through; deletion always works.
    s.append(&inbox, &mut mb, &[new(&big)], true).unwrap();
    s.expunge(&inbox, &mut mb, &uids).unwrap();
    let q = s.list.quota("user.wilma").unwrap().unwrap();
    assert_eq!((q.storage_used, q.message_used), (2000, 1));
    let _ = Path::new("");
    std::fs::remove_dir_all(d).unwrap();
}

/// Appends one message to `name`; returns its UID.
fn put(s: &Store, name: &str) -> Uid {
    let name = InternalName(name.into());
    let (_, mut mb) = s.open_mailbox(&name).unwrap();
    s.append(&name, &mut mb, &[new(&msg(3))], false).unwrap()[0]
}

/// `name` is in the list, its files are in `dir` (and `meta`), and they say its name.
fn files_at(s: &Store, name: &str, dir: &Path, meta: &Path, uid: Uid) {
    let int = InternalName(name.into());
    let (e, mb) = s.open_mailbox(&int).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(s.paths(&int, &e).unwrap(), mailbox::Paths { data: dir.to_path_buf(), meta: meta.to_path_buf() }, "{name}");
    assert!(dir.join(format!("{}.", uid.0)).is_file(), "{name}: {}", dir.display());
    assert!(meta.join("cyrus.index").is_file(), "{name}: {}", meta.display());
    assert_eq!(mb.header().exists, 1, "{name}");
    assert_eq!(mailbox::header::MailboxHeader::read(&meta.join("cyrus.header")).unwrap().name, name);
}

#[test]
fn hashed_spool_create_rename_delete() {
    let (d, s) = instance("hashed", "hashimapspool: yes\n");
    let sp = d.join("spool");
    let mut uid = std::collections::HashMap::new();
    for n in ["user.fred", "user.fred.Sent", "shared", "shared.box", "shared.sub", "shared.sub.deep", "shared.ox"] {
        s.create(&InternalName(n.into()), None, None).unwrap();
        uid.insert(n, put(&s, n));
    }
    s.create(&InternalName("user.fred.Archive".into()), Some("other"), None).unwrap();
    uid.insert("user.fred.Archive", put(&s, "user.fred.Archive"));
    let at = |n: &str, rel: &str, u: &str| files_at(&s, n, &sp.join(rel), &sp.join(rel), uid[u]);
    at("user.fred", "f/user/fred", "user.fred");
    at("user.fred.Sent", "f/user/fred/Sent", "user.fred.Sent");
    at("shared", "s/shared", "shared");
    at("shared.box", "b/shared/box", "shared.box");
    at("shared.sub", "s/shared/sub", "shared.sub");
    at("shared.sub.deep", "s/shared/sub/deep", "shared.sub.deep");
    at("shared.ox", "o/shared/ox", "shared.ox");
    files_at(&s, "user.fred.Archive", &d.join("other/f/user/fred/Archive"), &d.join("meta/f/user/fred/Archive"), uid["user.fred.Archive"]);

    // A one-level name's children are hashed apart from it: s/shared goes to o/other
    // whole, carrying s/shared/sub, which must go on to s/other/sub.
    s.rename(&InternalName("shared".into()), &InternalName("other".into())).unwrap();
    at("other", "o/other", "shared");
    at("other.box", "b/other/box", "shared.box");
    at("other.sub", "s/other/sub", "shared.sub");
    at("other.sub.deep", "s/other/sub/deep", "shared.sub.deep");
    at("other.ox", "o/other/ox", "shared.ox");
    for gone in ["s/shared", "b/shared/box", "o/shared/ox", "o/other/sub"] {
        assert!(!sp.join(gone).exists(), "{gone}");
    }
    assert!(s.lookup(&InternalName("shared.box".into())).is_err());

    // A user's tree changes hash directory; the metapartition follows.
    s.rename(&InternalName("user.fred".into()), &InternalName("user.barney".into())).unwrap();
    at("user.barney", "b/user/barney", "user.fred");
    at("user.barney.Sent", "b/user/barney/Sent", "user.fred.Sent");
    files_at(&s, "user.barney.Archive", &d.join("other/b/user/barney/Archive"), &d.join("meta/b/user/barney/Archive"), uid["user.fred.Archive"]);
    assert!(!sp.join("f/user/fred").exists() && !d.join("other/f/user/fred/Archive").exists() && !d.join("meta/f/user/fred/Archive").exists());

    // Onto a directory that exists on the way to a deeper mailbox: files move one by one.
    s.create(&InternalName("other.y.z".into()), None, None).unwrap();
    assert!(sp.join("y/other/y").is_dir());
    s.rename(&InternalName("other.box".into()), &InternalName("other.y".into())).unwrap();
    at("other.y", "y/other/y", "shared.box");
    assert!(!sp.join("b/other/box").exists());

    // A directory of files the list does not know stops a rename before anything moves.
    std::fs::create_dir_all(sp.join("n/user/nobody")).unwrap();
    std::fs::write(sp.join("n/user/nobody/1."), "x").unwrap();
    assert!(s.rename(&InternalName("user.barney".into()), &InternalName("user.nobody".into())).is_err());
    at("user.barney", "b/user/barney", "user.fred");

    // Deleting removes the mailbox's own files; its directory goes once empty.
    s.delete(&InternalName("other.y".into())).unwrap();
    assert!(!sp.join("y/other/y/cyrus.index").exists() && sp.join("y/other/y/z/cyrus.index").exists());
    s.delete(&InternalName("other.ox".into())).unwrap();
    s.delete(&InternalName("other".into())).unwrap();
    assert!(!sp.join("o/other").exists());
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn fulldirhash_and_virtdomains() {
    let (d, s) = instance("fullhash", "hashimapspool: yes\nfulldirhash: yes\nvirtdomains: userid\n");
    let h = |x: &str| conf::dir_hash(x, true);
    let (hd, hf, hw) = (h("example"), h("fred"), h("wilma"));
    for n in ["example.com!user.fred", "example.com!user.fred.Sent", "example.com!shared"] {
        s.create(&InternalName(n.into()), None, None).unwrap();
    }
    let u = put(&s, "example.com!user.fred.Sent");
    let sent = d.join(format!("spool/domain/{hd}/example.com/{hf}/user/fred/Sent"));
    files_at(&s, "example.com!user.fred.Sent", &sent, &sent, u);
    assert!(d.join(format!("spool/domain/{hd}/example.com/{}/shared/cyrus.index", h("shared"))).is_file());
    s.rename(&InternalName("example.com!user.fred".into()), &InternalName("example.com!user.wilma".into())).unwrap();
    let sent = d.join(format!("spool/domain/{hd}/example.com/{hw}/user/wilma/Sent"));
    files_at(&s, "example.com!user.wilma.Sent", &sent, &sent, u);
    std::fs::remove_dir_all(d).unwrap();
}

#[test]
fn by_id_directories_stay_on_rename_and_go_on_delete() {
    use mboxlist::list::{Entry, mbtype};
    let (d, s) = instance("byid", "hashimapspool: yes\n");
    // Taken over from Cyrus 3.6: an INBOX and a folder by id, and a folder by name.
    let taken = |name: &str, id: &str| {
        let e = Entry { mbtype: mbtype::NORMAL | mbtype::BY_ID, partition: "default".into(), uniqueid: id.into(), uidvalidity: 7, acl: "fred\tlrswipkxtecdan\t".into() };
        let p = s.register(&InternalName(name.into()), &e).unwrap();
        assert_eq!(p.data, d.join(format!("spool/uuid/{}/{}/{id}", &id[..1], &id[1..2])));
        mailbox::create(&p, name, id, 7).unwrap();
        put(&s, name)
    };
    let u_inbox = taken("user.fred", "t904ma1mbajzel1p0lumls0w");
    let u_old = taken("user.fred.Old", "xtbcz3811ht2q5ijm3o2bmhv");
    s.create(&InternalName("user.fred.Sent".into()), None, None).unwrap();
    let u_sent = put(&s, "user.fred.Sent");
    let inbox_dir = d.join("spool/uuid/t/9/t904ma1mbajzel1p0lumls0w");
    let old_dir = d.join("spool/uuid/x/t/xtbcz3811ht2q5ijm3o2bmhv");
    files_at(&s, "user.fred", &inbox_dir, &inbox_dir, u_inbox);
    files_at(&s, "user.fred.Sent", &d.join("spool/f/user/fred/Sent"), &d.join("spool/f/user/fred/Sent"), u_sent);

    // Refused: a bad name, an id that is no directory name, a name taken.
    let e = Entry { mbtype: mbtype::NORMAL | mbtype::BY_ID, partition: "default".into(), uniqueid: "../x".into(), ..Default::default() };
    assert!(matches!(s.register(&InternalName("user.x".into()), &e), Err(StoreError::Internal(_))));
    assert!(matches!(s.register(&InternalName("user..x".into()), &e), Err(StoreError::BadName(_))));
    let e = Entry { uniqueid: "abcdef".into(), ..e };
    assert!(matches!(s.register(&InternalName("user.fred".into()), &e), Err(StoreError::Exists(_))));
    assert!(matches!(s.register(&InternalName("user.y".into()), &Entry { partition: "nosuch".into(), ..e }), Err(StoreError::Internal(_))));

    // A rename moves only the by-name folder; by-id directories stay, headers follow.
    s.rename(&InternalName("user.fred".into()), &InternalName("user.wilma".into())).unwrap();
    files_at(&s, "user.wilma", &inbox_dir, &inbox_dir, u_inbox);
    files_at(&s, "user.wilma.Old", &old_dir, &old_dir, u_old);
    files_at(&s, "user.wilma.Sent", &d.join("spool/w/user/wilma/Sent"), &d.join("spool/w/user/wilma/Sent"), u_sent);
    assert!(s.lookup(&InternalName("user.wilma.Old".into())).unwrap().is_by_id());
    assert!(!s.lookup(&InternalName("user.wilma.Sent".into())).unwrap().is_by_id());

    s.delete(&InternalName("user.wilma.Old".into())).unwrap();
    assert!(!old_dir.exists());
    s.delete(&InternalName("user.wilma".into())).unwrap();
    assert!(!inbox_dir.exists());
    assert!(d.join("spool/w/user/wilma/Sent/cyrus.index").is_file());
    std::fs::remove_dir_all(d).unwrap();
}
