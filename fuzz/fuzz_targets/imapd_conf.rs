//! imapd.conf: any text is a configuration or a located error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = conf::Config::parse_str(std::path::Path::new("fuzz.conf"), text) {
            let _ = c.get_duration("timeout");
            let _ = c.get_list("admins");
            let _ = c.prefixed("partition-");
        }
    }
});
