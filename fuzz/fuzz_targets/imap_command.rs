//! The IMAP command grammar: any bytes as one command (lines and literals joined).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = imapd::parse_command(data);
});
