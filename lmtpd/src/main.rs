//! lmtpd: the LMTP worker started by master, where mail enters the store. The
//! protocol lives in the library (`lib.rs`); see lmtpd(8).

use clap::Parser;
use lmtpd::{deliver, session};

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

fn main() {
    let args = Args::parse();
    let worker = service::Worker::init("lmtpd", &args.svc);
    // The store is opened once per process, after exec (never across a fork).
    let mut deliverer = match mboxlist::Store::open(&worker.config) {
        Ok(s) => Some(deliver::Deliverer::new(s)),
        Err(e) => {
            log::error!("mail store unavailable, every recipient gets 451: {e}");
            None
        }
    };
    worker.run(|w, mut conn| {
        let mut s = session::Session::new(w, deliverer.as_mut(), &conn, args.preauth);
        s.run(&mut conn);
    });
}
