//! The message body of a transaction: DATA (dot-unstuffed, RFC 5321 4.5.2) or BDAT
//! chunks (RFC 3030), line ends normalised to CRLF, bounded in size; and what lmtpd
//! does to the header before storing (Return-Path, Received, 8-bit bytes).

use service::{Conn, ReadError};

/// Longest line read in DATA; a longer one is kept whole up to the size bound (lines
/// are read in pieces of this size).
const LINE_PIECE: usize = 64 * 1024;

/// How a DATA read ended.
pub enum DataEnd {
    /// The final dot was read; the message is complete.
    Complete,
    /// Complete, but larger than the limit: refused, nothing kept.
    TooBig,
    /// The client went away or stopped sending: nothing is delivered.
    Lost(ReadError),
}

/// Reads DATA up to the lone dot into `out` (normalised, unstuffed). Beyond `max`
/// bytes the rest is read and dropped, so the session stays in step.
pub fn read_data(conn: &mut Conn, out: &mut Vec<u8>, max: usize) -> DataEnd {
    let mut line = Vec::with_capacity(1024);
    let mut too_big = false;
    let mut continuing = false; // the previous piece had no line end yet
    loop {
        match conn.read_line_piece(&mut line, LINE_PIECE) {
            Ok(ended) => {
                if !continuing && ended && line == b"." {
                    return if too_big { DataEnd::TooBig } else { DataEnd::Complete };
                }
                let body: &[u8] = if !continuing && line.first() == Some(&b'.') { &line[1..] } else { &line };
                if !too_big {
                    if out.len() + body.len() + 2 > max {
                        too_big = true;
                        out.clear();
                    } else {
                        out.extend_from_slice(body);
                        if ended {
                            out.extend_from_slice(b"\r\n");
                        }
                    }
                }
                continuing = !ended;
            }
            Err(e) => return DataEnd::Lost(e),
        }
    }
}

/// Appends one BDAT chunk of `size` bytes (or drops it when over `max`); true if the
/// message is still within the limit.
pub fn read_chunk(conn: &mut Conn, out: &mut Vec<u8>, size: usize, max: usize, over: &mut bool) -> Result<(), ReadError> {
    if *over || size > max.saturating_sub(out.len()) {
        *over = true;
        out.clear();
        return conn.skip(size);
    }
    conn.read_exact_into(out, size)
}

/// Bare LF to CRLF (BDAT content is taken as sent; stored messages are CRLF).
pub fn normalise_crlf(raw: Vec<u8>) -> Vec<u8> {
    if !raw.windows(2).enumerate().any(|(i, w)| w[1] == b'\n' && w[0] != b'\r' || i == 0 && w[0] == b'\n') {
        return raw;
    }
    let mut v = Vec::with_capacity(raw.len() + raw.len() / 40);
    let mut prev = 0u8;
    for &b in &raw {
        if b == b'\n' && prev != b'\r' {
            v.push(b'\r');
        }
        v.push(b);
        prev = b;
    }
    v
}

/// Length of the header block (up to and including the empty line).
pub fn header_len(raw: &[u8]) -> usize {
    mailbox::cache::header_len(raw)
}

/// What to do with 8-bit bytes in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EightBit {
    Keep,
    Munge,
    Reject,
}

/// Applies the 8-bit policy to the header of `raw`. With `utf8` (SMTPUTF8) valid
/// UTF-8 is allowed and only bytes that are not part of it count. Returns false when
/// the message must be refused.
pub fn eight_bit_headers(raw: &mut [u8], policy: EightBit, utf8: bool) -> bool {
    let hl = header_len(raw);
    let header = &mut raw[..hl];
    let bad: Vec<usize> = if utf8 {
        invalid_utf8_positions(header)
    } else {
        header.iter().enumerate().filter(|(_, b)| **b >= 0x80).map(|(i, _)| i).collect()
    };
    if bad.is_empty() {
        return true;
    }
    match policy {
        EightBit::Reject => false,
        EightBit::Keep => true,
        EightBit::Munge => {
            for i in bad {
                header[i] = b'X';
            }
            true
        }
    }
}

fn invalid_utf8_positions(b: &[u8]) -> Vec<usize> {
    let mut bad = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match std::str::from_utf8(&b[i..]) {
            Ok(_) => break,
            Err(e) => {
                let at = i + e.valid_up_to();
                let n = e.error_len().unwrap_or(b.len() - at);
                bad.extend(at..at + n);
                i = at + n;
            }
        }
    }
    bad
}

/// Whether the message holds a NUL byte (refused, as Cyrus does).
pub fn has_nul(raw: &[u8]) -> bool {
    raw.contains(&0)
}

/// The message as stored: `Return-Path` and `Received` first, any Return-Path the
/// message brought removed (RFC 5321 4.4).
pub fn with_trace(raw: &[u8], sender: &str, received: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(raw.len() + received.len() + sender.len() + 32);
    v.extend_from_slice(format!("Return-Path: <{sender}>\r\n").as_bytes());
    v.extend_from_slice(received.as_bytes());
    let hl = header_len(raw);
    let mut skipping = false;
    for line in raw[..hl].split_inclusive(|&b| b == b'\n') {
        let continuation = matches!(line.first(), Some(b' ') | Some(b'\t'));
        if !continuation {
            skipping = line.len() >= 12 && line[..12].eq_ignore_ascii_case(b"return-path:");
        }
        if !skipping {
            v.extend_from_slice(line);
        }
    }
    v.extend_from_slice(&raw[hl..]);
    v
}

/// RFC 5322 date of now, in local time.
pub fn rfc5322_now() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as libc::time_t).unwrap_or(0);
    let mut buf = [0u8; 64];
    // SAFETY: localtime_r and strftime into local buffers.
    let n = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        libc::localtime_r(&t, &mut tm);
        libc::strftime(buf.as_mut_ptr().cast(), buf.len(), c"%a, %d %b %Y %H:%M:%S %z".as_ptr(), &tm)
    };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_trace() {
        assert_eq!(normalise_crlf(b"a\nb\r\nc\n".to_vec()), b"a\r\nb\r\nc\r\n");
        assert_eq!(normalise_crlf(b"\nx".to_vec()), b"\r\nx");
        assert_eq!(normalise_crlf(b"a\r\n".to_vec()), b"a\r\n");
        let out = with_trace(b"Return-Path: <old@x>\r\n\tcontinued\r\nSubject: s\r\n\r\nReturn-Path: body\r\n", "new@y", "Received: r\r\n");
        assert_eq!(out, b"Return-Path: <new@y>\r\nReceived: r\r\nSubject: s\r\n\r\nReturn-Path: body\r\n");
    }

    #[test]
    fn eight_bit_policies() {
        let msg = "Subject: caf\u{e9}\r\n\r\nbody \u{e9}\r\n".as_bytes().to_vec();
        let mut m = msg.clone();
        assert!(eight_bit_headers(&mut m, EightBit::Munge, false));
        assert_eq!(&m[..14], b"Subject: cafXX", "each 8-bit byte becomes X");
        assert!(String::from_utf8_lossy(&m).ends_with("body \u{e9}\r\n"), "the body is untouched");
        let mut m = msg.clone();
        assert!(!eight_bit_headers(&mut m, EightBit::Reject, false));
        let mut m = msg.clone();
        assert!(eight_bit_headers(&mut m, EightBit::Munge, true), "valid UTF-8 under SMTPUTF8");
        assert_eq!(m, msg);
        let mut bad = b"Subject: caf\xe9 ok\r\n\r\n".to_vec();
        assert!(eight_bit_headers(&mut bad, EightBit::Munge, true));
        assert_eq!(&bad[..16], b"Subject: cafX ok");
        let mut bad = b"Subject: caf\xe9\r\n\r\n".to_vec();
        assert!(!eight_bit_headers(&mut bad, EightBit::Reject, true));
    }
}
