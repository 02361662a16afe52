//! Helpers shared by the integration tests: the corpus and readable comparisons.

#![allow(dead_code)]

use std::path::PathBuf;

/// Every file of tests/corpus, by name.
pub const CORPUS: &[&str] = &[
    "plain.eml",
    "alternative.eml",
    "mixed-attachment.eml",
    "rfc822-nested.eml",
    "smime-signed.eml",
    "8bit.eml",
    "groups.eml",
    "rfc2047.eml",
    "digest.eml",
    "missing-final-boundary.eml",
    "no-blank-line.eml",
    "boundary-never.eml",
    "bare-lf.eml",
    "nul.eml",
    "addresses.eml",
    "params.eml",
    "nested-alternative.eml",
    "rfc2231-mixed.eml",
    "empty-fields.eml",
    "bad-fields.eml",
    "boundary-padding.eml",
    "headerless-part.eml",
    "rfc2231-boundary.eml",
    "lenient-params.eml",
    "param-edges.eml",
    "boundary-reuse.eml",
    "outer-delimiter-inside.eml",
    "header-cut.eml",
    "zero-part.eml",
    "delimiter-forms.eml",
    "digest-mixed.eml",
    "close-at-eof.eml",
    "field-names.eml",
];

pub fn corpus(name: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "corpus", name].iter().collect();
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Asserts byte equality, showing both sides as text on failure.
#[track_caller]
pub fn same(got: &[u8], want: &str) {
    assert!(
        got == want.as_bytes(),
        "\n got: {}\nwant: {}",
        String::from_utf8_lossy(got),
        want
    );
}

/// The three addresses From/Sender/Reply-To all equal to one address.
pub fn thrice(addr: &str) -> String {
    format!("({addr}) ({addr}) ({addr})")
}

/// A tiny deterministic generator for the fuzz loops (xorshift64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}
