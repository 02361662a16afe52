//! lmtpd: the LMTP worker started by master.
//!
//! This first version greets, answers LHLO (no extensions yet), NOOP, RSET and QUIT.
//! Mail transactions are not built yet: MAIL, RCPT and DATA get the temporary
//! `451 4.3.2`, so an MTA keeps the mail queued rather than bouncing it.

use clap::Parser;
use service::{Conn, Flow, LineProtocol};
use std::time::Duration;

/// LMTP server worker (started by master from cyrus.conf).
#[derive(Parser, Debug)]
#[command(name = "lmtpd", version)]
struct Args {
    #[command(flatten)]
    svc: service::ServiceArgs,
    /// Preauthorize connections on internet sockets (no AUTH needed), as Cyrus's -a.
    #[arg(short = 'a')]
    preauth: bool,
}

/// RFC 5321 4.5.3.1.4: command lines are at most 512 octets.
const MAX_LINE: usize = 512;

struct Lmtp {
    host: String,
}

impl LineProtocol for Lmtp {
    fn max_line(&self) -> usize {
        MAX_LINE
    }

    fn on_line(&mut self, conn: &mut Conn, line: &[u8]) -> Flow {
        let cmd = line.split(|&c| c == b' ').next().unwrap_or_default().to_ascii_uppercase();
        match cmd.as_slice() {
            b"LHLO" => conn.write_fmt(format_args!("250 {}\r\n", self.host)),
            b"NOOP" | b"RSET" => conn.write(b"250 2.0.0 ok\r\n"),
            b"QUIT" => {
                conn.write_fmt(format_args!("221 2.0.0 {} closing connection\r\n", self.host));
                return Flow::Close;
            }
            b"MAIL" | b"RCPT" | b"DATA" | b"BDAT" | b"VRFY" => {
                // Temporary, so that an MTA keeps the mail queued.
                conn.write(b"451 4.3.2 Not implemented yet: this lmtpd does not deliver mail\r\n")
            }
            _ => conn.write(b"500 5.5.2 Unrecognized command\r\n"),
        }
        Flow::Continue
    }

    fn on_too_long(&mut self, conn: &mut Conn) -> Flow {
        conn.write(b"500 5.5.2 Line too long\r\n");
        Flow::Continue
    }

    fn on_timeout(&mut self, conn: &mut Conn) {
        conn.write_fmt(format_args!("421 4.4.2 {} Connection timed out\r\n", self.host));
    }
}

fn main() {
    let args = Args::parse();
    let worker = service::Worker::init("lmtpd", &args.svc);
    let _ = args.preauth; // no AUTH exists yet, so every connection is treated alike
    worker.run(|w, mut conn| {
        let host = w.servername();
        let greeting = format!("220 {host} LMTP Cyrus-compatible server ready\r\n");
        service::serve(&mut conn, Duration::from_secs(300), &greeting, &mut Lmtp { host });
    });
}
