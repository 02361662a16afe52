//! The readers of cyrus.index and cyrus.cache fed corrupt bytes: headers, records,
//! cache entries and the message cache record must be refused, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailbox::format;

fuzz_target!(|data: &[u8]| {
    let _ = format::IndexHeader::decode(data);
    let _ = format::Record::decode(data);
    if let Ok(payload) = format::decode_cache_entry(data) {
        let _ = mailbox::cache::structure(payload);
        let _ = mailbox::cache::header_block(payload);
        let _ = mailbox::cache::wire_forms(payload);
    }
    let _ = mailbox::cache::structure(data);
    let _ = mailbox::cache::wire_forms(data);
    let _ = message::Message::from_cache(data);
});
