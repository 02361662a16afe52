//! The cache record: a round trip gives back the same message, and damaged or
//! foreign bytes are rejected with an error (never a panic).

mod common;

use common::{CORPUS, Rng, corpus};
use message::{CacheError, Cached, Message, SectionKind};

#[test]
fn round_trip_answers_like_the_parse() {
    for name in CORPUS {
        let raw = corpus(name);
        let m = message::parse(&raw);
        let c: Cached = Message::from_cache(&m.to_cache()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(c, m, "{name}");
        assert_eq!(c.envelope(), m.envelope());
        assert_eq!(c.bodystructure(), m.bodystructure());
        assert_eq!(c.body(), m.body());
        assert_eq!(c.section(&[1], SectionKind::Body), m.section(&[1], SectionKind::Body));
        assert_eq!(c.search_text(&raw), m.search_text(&raw));
        assert_eq!(c.fields(), m.fields());
    }
}

#[test]
fn every_damaged_byte_is_rejected() {
    let m = message::parse(&corpus("rfc822-nested.eml"));
    let bytes = m.to_cache();
    for i in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[i] ^= flip;
            assert!(Message::from_cache(&bad).is_err(), "byte {i} ^ {flip:#x} accepted");
        }
    }
}

#[test]
fn every_truncation_and_extension_is_rejected() {
    let bytes = message::parse(&corpus("mixed-attachment.eml")).to_cache();
    for n in 0..bytes.len() {
        assert!(Message::from_cache(&bytes[..n]).is_err(), "prefix {n} accepted");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Message::from_cache(&longer).is_err());
}

#[test]
fn foreign_bytes() {
    assert_eq!(Message::from_cache(b""), Err(CacheError::BadMagic));
    assert_eq!(Message::from_cache(b"BODYSTRUCTURE"), Err(CacheError::BadMagic));
    let mut newer = message::parse(b"\r\n").to_cache();
    newer[4] = 2;
    assert_eq!(Message::from_cache(&newer), Err(CacheError::Version(2)));
    let mut rng = Rng(7);
    for _ in 0..5000 {
        let mut junk = b"MSGC\x01".to_vec();
        junk.extend((0..rng.below(64)).map(|_| rng.next() as u8));
        assert!(Message::from_cache(&junk).is_err());
    }
}

/// Records the parser before Cyrus's splitting rules wrote (tests/cache-v1, made by
/// that version's `to_cache`): the layout is unchanged, so they still read, and
/// answer what that parser said until reconstruct rewrites them.
#[test]
fn records_of_the_earlier_parser_still_read() {
    let old = |name: &str| {
        let path = format!("{}/tests/cache-v1/{name}.hex", env!("CARGO_MANIFEST_DIR"));
        let hex = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let hex = hex.trim();
        let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0)).collect();
        Message::from_cache(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    let m = old("boundary-never");
    assert!(m.bodystructure().starts_with(br#"("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 62 5"#));
    let raw = corpus("boundary-never.eml");
    assert!(m.section(&[1], SectionKind::Body).is_some_and(|r| raw[r].starts_with(b"--elsewhere")));
    assert_ne!(m, message::parse(&raw));
    for name in ["headerless-part", "lenient-params"] {
        let m = old(name);
        let raw = corpus(&format!("{name}.eml"));
        assert_eq!(m.envelope(), message::parse(&raw).envelope(), "{name}");
        assert!(m.section(&[1], SectionKind::Mime).is_some(), "{name}");
    }
}
