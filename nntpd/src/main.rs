//! nntpd: the NNTP worker started by master. The protocol lives in the library
//! (`lib.rs`); see nntpd(8).

use clap::Parser;
use nntpd::session::{Mode, Session};

/// NNTP server worker (started by master from cyrus.conf).
#[derive(Parser, Debug)]
#[command(name = "nntpd", version)]
struct Args {
    #[command(flatten)]
    svc: service::ServiceArgs,
    /// Implicit TLS (nntps): the TLS handshake comes before the greeting.
    #[arg(short = 's')]
    tls: bool,
    /// Reader commands only (no IHAVE, CHECK, TAKETHIS).
    #[arg(short = 'r')]
    reader: bool,
    /// Feeder commands only (IHAVE, CHECK, TAKETHIS; no reading or POST).
    #[arg(short = 'f')]
    feeder: bool,
    /// Security strength of an external protection layer (above 1: passwords may be
    /// sent in the clear over it).
    #[arg(short = 'p', value_name = "ssf")]
    ssf: Option<u32>,
}

fn main() {
    let args = Args::parse();
    let worker = service::Worker::init("nntpd", &args.svc);
    if args.reader && args.feeder {
        service::worker::fatal("nntpd", service::exit::USAGE, "-r (reader only) and -f (feeder only) exclude each other");
    }
    if args.tls && !worker.tls_configured() {
        service::worker::fatal("nntpd", service::exit::CONFIG, "nntps: required TLS options (tls_server_cert, tls_server_key) not present");
    }
    let store = mboxlist::Store::open_for_daemon(&worker.config);
    let mode = Mode { read: !args.feeder, feed: !args.reader };
    worker.run(|w, mut conn| {
        if args.tls && !w.implicit_tls(&mut conn) {
            return;
        }
        Session::new(w, store.as_ref(), mode, args.ssf.unwrap_or(0)).run(&mut conn);
    });
}
