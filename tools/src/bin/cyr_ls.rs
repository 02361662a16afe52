//! cyr_ls: lists the child mailboxes of a mailbox as Cyrus's tool does: a heading
//! `NAME:`, then the children's names four to a line (one per line with -1, -l or
//! -i), `-l` with `ls -l`'s columns for each child's directory, `-i` with its unique
//! id, `-R` recursing. Without a name, the mailbox whose directory is the current
//! one (or the path given with -p).

use clap::Parser;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;

/// List mailboxes (Cyrus-compatible flags and output).
#[derive(Parser, Debug)]
#[command(name = "cyr_ls", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Recurse into the children.
    #[arg(short = 'R')]
    recurse: bool,
    /// Print each mailbox's unique id.
    #[arg(short = 'i')]
    ids: bool,
    /// Long listing of each child's directory.
    #[arg(short = 'l')]
    long: bool,
    /// The metadata directory rather than the data directory.
    #[arg(short = 'm')]
    meta: bool,
    /// One name per line.
    #[arg(short = '1')]
    one: bool,
    /// Names in modified UTF-7, as stored, not UTF-8.
    #[arg(short = '7')]
    utf7: bool,
    /// The argument is a directory, not a mailbox name.
    #[arg(short = 'p')]
    path: bool,
    mailbox: Option<String>,
}

const PROG: &str = "cyr_ls";

struct Lister<'a> {
    store: &'a mboxlist::Store,
    args: &'a Args,
    all: Vec<(String, mboxlist::list::Entry)>,
    columns: usize,
    out: std::io::StdoutLock<'static>,
}

impl Lister<'_> {
    fn external(&self, int: &str) -> String {
        let ext = tools::external(self.store, int);
        if self.args.utf7 { ext } else { mboxlist::names::decode_mutf7(&ext) }
    }

    fn name(&mut self, name: &str) -> usize {
        const SPECIALS: &[char] = &[' ', '\t', '\'', '"', '\\', '(', ')', '{', '*', '%', '[', ']'];
        let s = if !name.contains(SPECIALS) {
            format!(" {name}")
        } else if name.contains('\'') && name.contains('"') {
            format!("'{}'", name.replace('\'', "\\'"))
        } else if name.contains('\'') {
            format!("\"{name}\"")
        } else {
            format!("'{name}'")
        };
        let _ = write!(self.out, "{s}");
        s.chars().count()
    }

    fn long(&mut self, dir: &std::path::Path) {
        let m = std::fs::metadata(dir);
        let (mode, nlink, uid, gid, size, ctime) = m.as_ref().map_or((0, 0, 0, 0, 0, 0), |m| (m.permissions().mode(), m.nlink(), m.uid(), m.gid(), m.size(), m.ctime()));
        let bit = |b: u32, c: char| if mode & b != 0 { c } else { '-' };
        let perms: String = [bit(0o40000, 'd'), bit(0o400, 'r'), bit(0o200, 'w'), bit(0o100, 'x'), bit(0o40, 'r'), bit(0o20, 'w'), bit(0o10, 'x'), bit(0o4, 'r'), bit(0o2, 'w'), bit(0o1, 'x')].iter().collect();
        let user = nix::unistd::User::from_uid(uid.into()).ok().flatten().map_or(uid.to_string(), |u| u.name);
        let group = nix::unistd::Group::from_gid(gid.into()).ok().flatten().map_or(gid.to_string(), |g| g.name);
        let date = tools::ctime(ctime);
        // ctime: "Thu Dec  3 14:05:09 2026\n" -> "Dec  3 14:05" (or "Dec  3  2026" when older than a year).
        let date = if tools::now() - ctime > 365 * 86_400 { format!("{}  {}", &date[4..10], &date[20..24]) } else { date[4..16].to_string() };
        let _ = write!(self.out, "{perms} {nlink} {user:<8} {group:<8} {size:>10} {date} ");
    }

    fn list(&mut self, int: &str) -> bool {
        if !self.all.iter().any(|(n, _)| n == int) {
            eprintln!("Invalid mailbox name: '{}'", self.external(int));
            return false;
        }
        let _ = write!(self.out, "\n{}:\n", self.external(int));
        let prefix = format!("{int}.");
        let children: Vec<(String, mboxlist::list::Entry)> =
            self.all.iter().filter(|(n, e)| e.is_normal() && n.strip_prefix(&prefix).is_some_and(|r| !r.contains('.'))).cloned().collect();
        let column = if self.columns > 1 { 76 / self.columns } else { 0 };
        for (count, (child, e)) in children.iter().enumerate() {
            let _ = write!(self.out, "{}", if count % self.columns == 0 { "\n" } else { "    " });
            if self.args.ids {
                let _ = write!(self.out, "{:<40} ", e.uniqueid);
            }
            if self.args.long {
                let dir = self.store.paths(&mboxlist::InternalName(child.clone()), e).map(|p| if self.args.meta { p.meta } else { p.data });
                match dir {
                    Ok(d) => self.long(&d),
                    Err(_) => self.long(std::path::Path::new("")),
                }
            }
            let leaf = self.external(child).rsplit(self.store.ns.sep()).next().unwrap_or_default().to_string();
            let n = self.name(&leaf);
            if column > n {
                let _ = write!(self.out, "{:1$}", "", column - n);
            }
        }
        let _ = writeln!(self.out);
        let mut ok = true;
        if self.args.recurse {
            for (child, _) in children {
                ok &= self.list(&child);
            }
        }
        ok
    }
}

fn main() {
    let args = Args::parse();
    let cfg = tools::load_config(PROG, args.config.as_ref());
    let store = tools::open_store(PROG, &cfg);
    let all = store.list.list("").unwrap_or_else(|e| service::worker::fatal(PROG, 1, &e));
    let by_path = |dir: PathBuf| -> Option<String> {
        let dir = dir.canonicalize().ok()?;
        all.iter().find(|(n, e)| store.paths(&mboxlist::InternalName(n.clone()), e).is_ok_and(|p| p.data.canonicalize().ok().as_ref() == Some(&dir))).map(|(n, _)| n.clone())
    };
    let name = match (&args.mailbox, args.path) {
        (Some(m), false) => match tools::mailbox_arg(&store, m) {
            Ok(n) if all.iter().any(|(x, _)| *x == n.0) => Some(n.0),
            _ => by_path(PathBuf::from(m)),
        },
        (Some(m), true) => by_path(PathBuf::from(m)),
        (None, _) => by_path(PathBuf::from(".")),
    };
    let Some(name) = name else {
        eprintln!("{PROG}: {}: no such mailbox", args.mailbox.as_deref().unwrap_or("."));
        std::process::exit(1);
    };
    let columns = if args.one || args.long || args.ids { 1 } else { 4 };
    let mut l = Lister { store: &store, args: &args, all, columns, out: std::io::stdout().lock() };
    let ok = l.list(&name);
    let _ = l.out.flush();
    std::process::exit(i32::from(!ok));
}
