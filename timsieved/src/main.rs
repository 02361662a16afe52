//! timsieved: the ManageSieve (RFC 5804) worker started by master. The protocol lives
//! in the library (`lib.rs`); see timsieved(8).

use clap::Parser;

/// ManageSieve server worker (started by master from cyrus.conf).
#[derive(Parser, Debug)]
#[command(name = "timsieved", version)]
struct Args {
    #[command(flatten)]
    svc: service::ServiceArgs,
}

fn main() {
    let args = Args::parse();
    let worker = service::Worker::init("timsieved", &args.svc);
    // The mailbox list says whose scripts may be managed (a user needs an INBOX).
    let store = mboxlist::Store::open_for_daemon(&worker.config);
    worker.run(|w, mut conn| {
        timsieved::session::Session::new(w, store.as_ref()).run(&mut conn);
    });
}
