//! suite-bench: the project's benchmarks, run by hand (never as timed tests).
//!
//! `suite-bench store [--dir D] [--messages N]` measures the mailbox store on this
//! disk: the fsync rate (the physical limit of durable appends), appends per second
//! with 1 and 4 writer processes, single and batched, and the time to open a mailbox
//! of N messages and read every UID and FLAGS through the mmap'd index; each phase
//! runs in its own process so that its peak memory (max RSS) is its own.
//!
//! `suite-bench sieve [--kib 100]` times the parse and check of a Sieve script of that
//! size (typical rules repeated), and one run of it against a message.

mod sieve_parse;
mod store;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "suite-bench", version, about = "Benchmarks of the mail suite")]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// The mailbox store on this disk.
    Store {
        /// Scratch directory (default: a new one under /tmp, removed afterwards).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Messages in the large mailbox.
        #[arg(long, default_value_t = 100_000)]
        messages: u32,
        /// Seconds each append phase runs.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Sieve: compile time of a large script, and one run of it.
    Sieve {
        /// Size of the script in KiB.
        #[arg(long, default_value_t = 100)]
        kib: usize,
    },
    /// One phase, in a child process (internal).
    #[command(hide = true)]
    Phase { name: String, dir: PathBuf, arg: u64 },
}

fn main() {
    match Args::parse().cmd {
        Cmd::Store { dir, messages, seconds } => store::run(dir, messages, seconds),
        Cmd::Phase { name, dir, arg } => store::phase(&name, &dir, arg),
        Cmd::Sieve { kib } => sieve_parse::run(kib),
    }
}
