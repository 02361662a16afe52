//! Hostile input: deep nesting, many parts, huge header lines, truncations and
//! random damage. Each must parse without panicking, within the documented limits,
//! and quickly (the whole file runs in well under a second in release builds).

mod common;

use std::time::{Duration, Instant};

use common::{CORPUS, Rng, corpus};
use message::SectionKind::{self, Body};
use message::{MAX_DEPTH, MAX_PARTS};

/// Parses, then exercises everything that reads the result.
fn exercise(raw: &[u8]) -> message::Message {
    let m = message::parse(raw);
    let back = message::Message::from_cache(&m.to_cache());
    assert_eq!(back.as_ref(), Ok(&m));
    for part in [&[][..], &[1], &[1, 1], &[2], &[1, 2, 1], &[3, 1, 1, 1]] {
        for kind in [Body, SectionKind::Header, SectionKind::Text, SectionKind::Mime] {
            if let Some(r) = m.section(part, kind) {
                assert!(r.start <= r.end && r.end <= raw.len(), "{part:?} {kind:?} {r:?}");
            }
        }
    }
    let _ = m.search_text(raw);
    m
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

#[track_caller]
fn quick(start: Instant) {
    // Generous: debug builds on a loaded 2-core machine.
    assert!(start.elapsed() < Duration::from_secs(20), "took {:?}", start.elapsed());
}

#[test]
fn thousand_nested_multiparts_stop_at_the_depth_limit() {
    let mut raw = b"From: a@example.com\r\nSubject: deep\r\n".to_vec();
    for i in 0..1000 {
        raw.extend_from_slice(format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"Content-Type: text/plain\r\n\r\ndeep\r\n");
    for i in (0..1000).rev() {
        raw.extend_from_slice(format!("--b{i}--\r\n").as_bytes());
    }
    let start = Instant::now();
    let m = exercise(&raw);
    quick(start);
    assert_eq!(count(m.bodystructure(), b"\"MIXED\""), MAX_DEPTH);
    assert_eq!(count(m.bodystructure(), b"\"APPLICATION\" \"OCTET-STREAM\""), 1);
    let path = vec![1u32; MAX_DEPTH];
    assert!(m.section(&path, Body).is_some());
    assert!(m.section(&vec![1u32; MAX_DEPTH + 1], Body).is_none());
}

#[test]
fn thousand_nested_messages_stop_at_the_depth_limit() {
    let mut raw = Vec::new();
    for i in 0..1000 {
        raw.extend_from_slice(format!("Subject: level {i}\r\nContent-Type: message/rfc822\r\n\r\n").as_bytes());
    }
    raw.extend_from_slice(b"Subject: bottom\r\n\r\ntext\r\n");
    let start = Instant::now();
    let m = exercise(&raw);
    quick(start);
    assert_eq!(count(m.bodystructure(), b"\"RFC822\""), MAX_DEPTH);
    assert_eq!(count(m.bodystructure(), b"\"OCTET-STREAM\""), 1);
}

#[test]
fn twenty_thousand_parts_stop_at_the_part_limit() {
    let mut raw = b"Content-Type: multipart/mixed; boundary=p\r\n\r\n".to_vec();
    for i in 0..20_000 {
        raw.extend_from_slice(format!("--p\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"--p--\r\n");
    let start = Instant::now();
    let m = exercise(&raw);
    quick(start);
    let parts = MAX_PARTS as u32 - 1; // the message itself is one
    assert_eq!(count(m.bodystructure(), b"(\"TEXT\""), parts as usize - 1);
    assert_eq!(count(m.bodystructure(), b"\"OCTET-STREAM\""), 1);
    let last = m.section(&[parts], Body).unwrap_or_default();
    assert!(raw[last.clone()].starts_with(format!("part {}\r\n--p\r\n", parts - 1).as_bytes()));
    assert_eq!(last.end, raw.len());
    assert_eq!(m.section(&[parts + 1], Body), None);
}

#[test]
fn many_small_nested_multiparts_share_the_part_limit() {
    // 3000 multiparts of 5 parts each: the budget runs out inside a sibling.
    let mut raw = b"Content-Type: multipart/mixed; boundary=top\r\n\r\n".to_vec();
    for i in 0..3000 {
        raw.extend_from_slice(format!("--top\r\nContent-Type: multipart/mixed; boundary=in{i}\r\n\r\n").as_bytes());
        for _ in 0..5 {
            raw.extend_from_slice(format!("--in{i}\r\n\r\nx\r\n").as_bytes());
        }
        raw.extend_from_slice(format!("--in{i}--\r\n").as_bytes());
    }
    raw.extend_from_slice(b"--top--\r\n");
    let m = exercise(&raw);
    let leaves = count(m.bodystructure(), b"(\"TEXT\"") + count(m.bodystructure(), b"(\"APPLICATION\"");
    let multiparts = count(m.bodystructure(), b"\"MIXED\"");
    assert!(leaves + multiparts <= MAX_PARTS, "{leaves} + {multiparts}");
}

#[test]
fn megabyte_header_lines() {
    let mut raw = b"Subject: ".to_vec();
    raw.extend(std::iter::repeat_n(b'a', 1 << 20));
    raw.extend_from_slice(b"\r\nTo: ");
    for i in 0..100_000 {
        raw.extend_from_slice(format!("u{i}@h, ").as_bytes());
    }
    raw.extend_from_slice(b"\r\nX-Words: ");
    for _ in 0..200_000 {
        raw.extend_from_slice(b"=?x?q?");
    }
    raw.extend_from_slice(b"\r\nCc: ");
    raw.extend(std::iter::repeat_n(b'(', 1 << 20));
    raw.extend_from_slice(b"\r\n\r\nbody\r\n");
    let start = Instant::now();
    let m = exercise(&raw);
    quick(start);
    let env = m.envelope();
    assert!(env.starts_with(b"(NIL {1048576}\r\naaaa"));
    assert_eq!(count(env, b"\"h\")"), 100_000);
    assert_eq!(m.fields().subject.as_ref().map(String::len), Some(1 << 20));
    let words = message::decode_header(&raw[raw.len() / 2..]);
    assert!(!words.is_empty());
}

#[test]
fn lines_that_look_like_boundaries() {
    let mut raw = b"Content-Type: multipart/mixed; boundary=abc\r\n\r\n".to_vec();
    for _ in 0..100_000 {
        raw.extend_from_slice(b"--abcd\r\n--ab\r\n--\r\n");
    }
    raw.extend_from_slice(b"--abc\r\n\r\nonly part\r\n--abc--\r\n");
    let m = exercise(&raw);
    assert_eq!(m.section(&[1], Body).map(|r| &raw[r]), Some(&b"only part"[..]));
}

#[test]
fn every_prefix_of_the_corpus() {
    for name in CORPUS {
        let raw = corpus(name);
        for n in 0..=raw.len() {
            exercise(&raw[..n]);
        }
    }
}

#[test]
fn random_damage_to_the_corpus() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let pieces: [&[u8]; 10] = [b"\r\n", b"\n", b"--", b":", b"=?", b"?=", b"\"", b"(", b";", b"\0"];
    for round in 0..3000 {
        let mut raw = corpus(CORPUS[round % CORPUS.len()]);
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(raw.len() + 1);
            match rng.below(3) {
                0 => {
                    let piece = pieces[rng.below(pieces.len())];
                    raw.splice(at..at, piece.iter().copied());
                }
                1 if at < raw.len() => raw[at] = rng.next() as u8,
                _ => {
                    let end = (at + rng.below(40)).min(raw.len());
                    raw.drain(at..end);
                }
            }
        }
        exercise(&raw);
    }
}

#[test]
fn random_bytes() {
    let mut rng = Rng(42);
    for _ in 0..2000 {
        let len = rng.below(400);
        let alphabet = b"ab:-\r\n =?\"(<@>,;";
        let raw: Vec<u8> = (0..len).map(|_| alphabet[rng.below(alphabet.len())]).collect();
        exercise(&raw);
        let _ = message::decode_header(&raw);
        let _ = message::parse_date(&raw);
    }
}
