//! lmtpd: the LMTP worker started by master, where mail enters the store.
//!
//! Modules: [`address`] (MAIL/RCPT arguments), [`data`] (DATA and BDAT, trace headers,
//! 8-bit policy), [`deliver`] (recipients to mailboxes, storing, duplicates, quota),
//! [`session`] (the protocol). See lmtpd(8).

mod address;
mod data;
mod deliver;
mod session;

use clap::Parser;

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
