//! pop3d: the POP3 worker started by master.
//!
//! This first version greets, answers CAPA with what it has (nothing to log in with
//! yet) and QUIT; every other command gets `-ERR`.

use clap::Parser;
use service::{Conn, Flow, LineProtocol};
use std::time::Duration;

/// POP3 server worker (started by master from cyrus.conf).
#[derive(Parser, Debug)]
#[command(name = "pop3d", version)]
struct Args {
    #[command(flatten)]
    svc: service::ServiceArgs,
    /// Implicit TLS (pop3s): the TLS handshake comes before the greeting.
    #[arg(short = 's')]
    tls: bool,
    /// Kerberos 4 kpop: long obsolete, refused (use SASL GSSAPI).
    #[arg(short = 'k')]
    kpop: bool,
}

/// RFC 2449: command lines are at most 255 octets.
const MAX_LINE: usize = 255;

struct Pop3;

impl LineProtocol for Pop3 {
    fn max_line(&self) -> usize {
        MAX_LINE
    }

    fn on_line(&mut self, conn: &mut Conn, line: &[u8]) -> Flow {
        let cmd = line.split(|&c| c == b' ').next().unwrap_or_default().to_ascii_uppercase();
        match cmd.as_slice() {
            b"QUIT" => {
                conn.write(b"+OK\r\n");
                return Flow::Close;
            }
            b"CAPA" => conn.write_fmt(format_args!(
                "+OK List of capabilities follows\r\nIMPLEMENTATION Cyrus-compatible POP3 server {}\r\n.\r\n",
                env!("CARGO_PKG_VERSION")
            )),
            _ => conn.write(b"-ERR Unrecognized command\r\n"),
        }
        Flow::Continue
    }

    fn on_too_long(&mut self, conn: &mut Conn) -> Flow {
        conn.write(b"-ERR Line too long\r\n");
        Flow::Continue
    }

    fn on_timeout(&mut self, conn: &mut Conn) {
        conn.write(b"-ERR Autologout; idle for too long\r\n");
    }
}

fn main() {
    let args = Args::parse();
    let worker = service::Worker::init("pop3d", &args.svc);
    if args.kpop {
        service::worker::fatal("pop3d", service::exit::CONFIG, "-k (Kerberos 4 kpop) is not supported: Kerberos 4 is long obsolete; use SASL GSSAPI through libsasl2 instead");
    }
    worker.run(|w, mut conn| {
        if args.tls && !w.implicit_tls(&mut conn) {
            return;
        }
        let greeting = format!("+OK {} Cyrus-compatible POP3 server ready\r\n", w.servername());
        service::serve(&mut conn, Duration::from_secs(600), &greeting, &mut Pop3);
    });
}
