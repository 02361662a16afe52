//! cyrus.conf: any text is a service table or a located error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = conf::cyrus::CyrusConf::parse_str(std::path::Path::new("fuzz.conf"), text);
    }
});
