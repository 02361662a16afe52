//! nntpd: the NNTP worker started by master.
//!
//! This first version greets (no posting), answers CAPABILITIES with what it has and
//! QUIT; every other command gets `500`.

use clap::Parser;
use service::{Conn, Flow, LineProtocol};
use std::time::Duration;

/// NNTP server worker (started by master from cyrus.conf).
#[derive(Parser, Debug)]
#[command(name = "nntpd", version)]
struct Args {
    #[command(flatten)]
    svc: service::ServiceArgs,
}

/// RFC 3977 3.1: command lines are at most 512 octets.
const MAX_LINE: usize = 512;

struct Nntp;

impl LineProtocol for Nntp {
    fn max_line(&self) -> usize {
        MAX_LINE
    }

    fn on_line(&mut self, conn: &mut Conn, line: &[u8]) -> Flow {
        let cmd = line.split(|&c| c == b' ').next().unwrap_or_default().to_ascii_uppercase();
        match cmd.as_slice() {
            b"QUIT" => {
                conn.write(b"205 Connection closing\r\n");
                return Flow::Close;
            }
            b"CAPABILITIES" => conn.write_fmt(format_args!(
                "101 Capability list:\r\nVERSION 2\r\nIMPLEMENTATION Cyrus-compatible NNTP server {}\r\n.\r\n",
                env!("CARGO_PKG_VERSION")
            )),
            _ => conn.write(b"500 Unknown command\r\n"),
        }
        Flow::Continue
    }

    fn on_too_long(&mut self, conn: &mut Conn) -> Flow {
        conn.write(b"501 Line too long\r\n");
        Flow::Continue
    }

    fn on_timeout(&mut self, conn: &mut Conn) {
        conn.write(b"400 Idle timeout\r\n");
    }
}

fn main() {
    let args = Args::parse();
    let worker = service::Worker::init("nntpd", &args.svc);
    worker.run(|w, mut conn| {
        let greeting = format!("201 {} Cyrus-compatible NNTP server ready, no posting\r\n", w.servername());
        service::serve(&mut conn, Duration::from_secs(600), &greeting, &mut Nntp);
    });
}
