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
    assert_eq!(s.rights("cyrus", &sent, &e2).to_string(), "lrswipkxtecdan");
    // Hostile and missing.
    assert!(matches!(s.create(&InternalName("user.fred..x".into()), None, None), Err(StoreError::BadName(_))));
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
