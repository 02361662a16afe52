//! POP3 command lines as pop3d splits them, and the message-number arguments.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let line = String::from_utf8_lossy(bytes);
    let (cmd, args) = pop3d::session::split_command(&line);
    assert!(cmd.len() <= line.len() + 8);
    for a in args {
        let _ = a.parse::<usize>();
    }
});
