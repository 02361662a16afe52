//! The MIME parser and everything built from it: ENVELOPE, BODYSTRUCTURE, sections,
//! search text, and the cache record round trip.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let m = message::parse(data);
    let _ = m.envelope();
    let _ = m.bodystructure();
    let _ = m.section(&[1], message::SectionKind::Mime);
    let _ = m.section(&[1, 2], message::SectionKind::Text);
    let _ = m.body_search_text(data);
    let back = message::Message::from_cache(&m.to_cache()).expect("a record we wrote reads back");
    assert_eq!(back, m);
});
