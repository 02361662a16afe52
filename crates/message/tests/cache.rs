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
