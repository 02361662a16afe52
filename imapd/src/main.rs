//! imapd: the IMAP worker started by master. The protocol lives in the library
//! (`lib.rs`); see imapd(8).

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
    let store = mboxlist::Store::open_for_daemon(&worker.config);
    worker.run(|w, mut conn| {
        if args.tls && !w.implicit_tls(&mut conn) {
            return;
        }
        imapd::session::serve(w, store.as_ref(), &mut conn)
    });
}
