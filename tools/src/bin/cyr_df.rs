//! cyr_df: disk usage of the spool partitions (`partition-NAME`), or of the metadata
//! partitions (`metapartition-NAME`) with `-m`, in Cyrus's table.

use clap::Parser;
use std::path::PathBuf;

/// Report the spool partitions' disk usage (Cyrus-compatible flags and output).
#[derive(Parser, Debug)]
#[command(name = "cyr_df", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// The metadata partitions instead of the message partitions.
    #[arg(short = 'm')]
    meta: bool,
}

const PROG: &str = "cyr_df";

fn main() {
    let args = Args::parse();
    let cfg = tools::load_config(PROG, args.config.as_ref());
    println!("{:<12} {:>12} {:>12} {:>12} {:>3} {}", "Partition", "1k-blocks", "Used", "Available", "Use%", "Location");
    let mut failed = false;
    for (name, path) in cfg.prefixed(if args.meta { "metapartition-" } else { "partition-" }) {
        let s = match nix::sys::statvfs::statvfs(path.as_str()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{PROG}: partition {name}: {path}: {e}");
                failed = true;
                continue;
            }
        };
        let kib = |blocks: u64| (blocks as f64 * (s.fragment_size() as f64 / 1024.0)) as u64;
        let used = s.blocks() - s.blocks_free();
        let pct = (used as f64 * 100.0 / (used + s.blocks_available()).max(1) as f64 + 0.5) as u64;
        println!("{:<12} {:>12} {:>12} {:>12} {:>3}% {}", name, kib(s.blocks()), kib(used), kib(s.blocks_available()), pct, path);
    }
    std::process::exit(i32::from(failed));
}
