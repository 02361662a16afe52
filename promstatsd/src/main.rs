//! promstatsd: serves the suite's Prometheus figures, as Cyrus 3.6's promstatsd and
//! its `/metrics` endpoint do. A master SERVICE (`prometheus cmd="promstatsd"
//! listen="127.0.0.1:9101"`, or a unix socket path) like every other daemon; each
//! request reads the stats files of `prometheus_stats_dir` afresh (see the metrics
//! crate), so there is no aggregation process and nothing to get stale.

mod http;

use clap::Parser;

/// Prometheus exporter of the suite (started by master from cyrus.conf).
#[derive(Parser, Debug)]
#[command(name = "promstatsd", version)]
struct Args {
    #[command(flatten)]
    svc: service::ServiceArgs,
}

fn main() {
    let args = Args::parse();
    let worker = service::Worker::init("promstatsd", &args.svc);
    let Some(dir) = service::stats::dir(&worker.config) else {
        service::worker::fatal("promstatsd", service::exit::CONFIG, "configdirectory is not set (the stats files are under it unless prometheus_stats_dir says)");
    };
    if !worker.config.get_bool("prometheus_enabled") {
        log::warn!("prometheus_enabled is off: no process counts, /metrics shows what earlier runs left in {}", dir.display());
    }
    worker.run(|_w, mut conn| http::serve(&mut conn, &dir));
}
