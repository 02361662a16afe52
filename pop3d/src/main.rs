//! pop3d: the POP3 worker started by master. The protocol lives in the library
//! (`lib.rs`); see pop3d(8).

use pop3d::session;

use clap::Parser;

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

fn main() {
    let args = Args::parse();
    let worker = service::Worker::init("pop3d", &args.svc);
    if args.kpop {
        service::worker::fatal("pop3d", service::exit::CONFIG, "-k (Kerberos 4 kpop) is not supported: Kerberos 4 is long obsolete; use SASL GSSAPI through libsasl2 instead");
    }
    let store = mboxlist::Store::open_for_daemon(&worker.config);
    worker.run(|w, mut conn| {
        if args.tls && !w.implicit_tls(&mut conn) {
            return;
        }
        session::Session::new(w, store.as_ref()).run(&mut conn);
    });
}
