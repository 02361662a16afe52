//! Mailbox names: modified UTF-7 checks and the namespace conversions, both ways,
//! under every namespace setting; a name accepted is never one that leaves its tree,
//! in any spool layout (by name, hashed or not; by id).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mboxlist::spool::{self, SpoolLayout};
use mboxlist::{InternalName, Namespace};

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else { return };
    let _ = mboxlist::names::valid_mutf7(name);
    for bits in 0..8u8 {
        let ns = Namespace { unixhierarchysep: bits & 1 != 0, altnamespace: bits & 2 != 0, virtdomains: bits & 4 != 0, ..Namespace::default() };
        if let Ok(int) = ns.to_internal("fred", name) {
            for (hashimapspool, fulldirhash) in [(false, false), (true, false), (true, true)] {
                let p = SpoolLayout { hashimapspool, fulldirhash }.by_name(&int);
                assert!(p.components().all(|c| matches!(c, std::path::Component::Normal(_))), "{p:?}");
            }
            let _ = ns.to_external("fred", &int);
            let _ = ns.owner(&int);
        }
        let _ = ns.to_external("fred", &InternalName(name.to_string()));
    }
    if let Some(p) = spool::by_id(name) {
        assert!(p.components().all(|c| matches!(c, std::path::Component::Normal(_))), "{p:?}");
    }
});
