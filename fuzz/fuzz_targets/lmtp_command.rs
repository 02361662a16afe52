//! LMTP: MAIL/RCPT arguments, recipient splitting, and what lmtpd does to a message's
//! bytes (CRLF normalising, header length, the 8-bit policies, trace headers).
#![no_main]
use libfuzzer_sys::fuzz_target;
use lmtpd::{address, data};

fuzz_target!(|bytes: &[u8]| {
    let text = String::from_utf8_lossy(bytes);
    for prefix in ["FROM:", "TO:"] {
        if let Ok(p) = address::parse(&text, prefix) {
            let _ = p.param("SIZE");
            let _ = address::split_recipient(&p.addr, true);
        }
    }
    let raw = data::normalise_crlf(bytes.to_vec());
    let hl = data::header_len(&raw);
    assert!(hl <= raw.len());
    for policy in [data::EightBit::Keep, data::EightBit::Munge, data::EightBit::Reject] {
        let mut r = raw.clone();
        let _ = data::eight_bit_headers(&mut r, policy, false);
        let mut r = raw.clone();
        let _ = data::eight_bit_headers(&mut r, policy, true);
    }
    let _ = data::has_nul(&raw);
    let _ = data::with_trace(&raw, "a@b", "from x");
});
