//! timsieved: the ManageSieve (RFC 5804) worker started by master.
//!
//! This first version greets with its capabilities and answers CAPABILITY, NOOP and
//! LOGOUT; every other command gets `NO`. It offers no SASL mechanism and no SIEVE
//! extensions yet, so clients cannot log in.

use clap::Parser;
use service::{Conn, Flow, LineProtocol};
use std::time::Duration;

/// ManageSieve server worker (started by master from cyrus.conf).
#[derive(Parser, Debug)]
#[command(name = "timsieved", version)]
struct Args {
    #[command(flatten)]
    svc: service::ServiceArgs,
}

const MAX_LINE: usize = 8192;

fn capabilities() -> String {
    format!("\"IMPLEMENTATION\" \"Cyrus-compatible timsieved {}\"\r\n\"VERSION\" \"1.0\"\r\n", env!("CARGO_PKG_VERSION"))
}

struct Sieve;

impl LineProtocol for Sieve {
    fn max_line(&self) -> usize {
        MAX_LINE
    }

    fn on_line(&mut self, conn: &mut Conn, line: &[u8]) -> Flow {
        let cmd = line.split(|&c| c == b' ').next().unwrap_or_default().to_ascii_uppercase();
        match cmd.as_slice() {
            b"CAPABILITY" => {
                conn.write(capabilities().as_bytes());
                conn.write(b"OK\r\n");
            }
            b"NOOP" => conn.write(b"OK \"NOOP completed\"\r\n"),
            b"LOGOUT" => {
                conn.write(b"OK \"Logout Complete\"\r\n");
                return Flow::Close;
            }
            _ => conn.write(b"NO \"Unrecognized command\"\r\n"),
        }
        Flow::Continue
    }

    fn on_too_long(&mut self, conn: &mut Conn) -> Flow {
        conn.write(b"NO \"Line too long\"\r\n");
        Flow::Continue
    }

    fn on_timeout(&mut self, conn: &mut Conn) {
        conn.write(b"BYE \"Idle timeout\"\r\n");
    }
}

fn main() {
    let args = Args::parse();
    let worker = service::Worker::init("timsieved", &args.svc);
    worker.run(|_w, mut conn| {
        let greeting = format!("{}OK\r\n", capabilities());
        service::serve(&mut conn, Duration::from_secs(600), &greeting, &mut Sieve);
    });
}
