//! imapd: the IMAP worker started by master.
//!
//! This first version speaks the not-authenticated state's housekeeping only:
//! CAPABILITY, NOOP and LOGOUT. Every other command gets `BAD`; the capability list
//! names nothing that is not built (LOGINDISABLED: there is no way to log in yet).

mod session;

use clap::Parser;

/// IMAP server worker (started by master from cyrus.conf).
#[derive(Parser, Debug)]
#[command(name = "imapd", version)]
struct Args {
    #[command(flatten)]
    svc: service::ServiceArgs,
    /// Implicit TLS (imaps): the TLS handshake comes before the greeting.
    #[arg(short = 's')]
    tls: bool,
}

fn main() {
    let args = Args::parse();
    let worker = service::Worker::init("imapd", &args.svc);
    worker.run(|w, mut conn| {
        if args.tls && !w.implicit_tls(&mut conn) {
            return;
        }
        session::serve(w, &mut conn)
    });
}
