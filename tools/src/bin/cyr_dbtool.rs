//! cyr_dbtool: reads and edits one key-value database by hand, as Cyrus's tool:
//! `cyr_dbtool DB-FILE BACKEND ACTION [KEY [VALUE]]`, actions `show [PREFIX]`, `get`,
//! `set`, `delete`, `consistency`, `repack`; a key or key and value left out are read
//! from stdin, one per line (`KEY TAB VALUE`). Output: `KEY TAB VALUE` lines.
//!
//! Backend `lmdb` is the suite's: DB-FILE is a database of the mailbox list
//! environment, named as Cyrus names its file (`CONFIGDIR/mailboxes.db`, `quotas.db`,
//! `user_deny.db`, `annotations.db`, `ptscache.db`) or as `CONFIGDIR/mailboxes.lmdb/NAME`
//! (`mailboxes`, `quota`, `subs`, `annotations`, `seen`, `meta`, `userdeny`,
//! `ptscache`), or a deliver database file (`CONFIGDIR/deliver/deliver-X.lmdb`).
//! Backends `twoskip`, `skiplist` and `flat` read Cyrus's own files (to look at a site
//! being taken over); they are never written.

use clap::Parser;
use lmdb::{Cursor, Database, DatabaseFlags, Environment, EnvironmentFlags, Transaction, WriteFlags};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// Manage a database (Cyrus-compatible arguments).
#[derive(Parser, Debug)]
#[command(name = "cyr_dbtool", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Accepted (Cyrus's improved mailbox sort; LMDB keys sort by bytes).
    #[arg(short = 'M')]
    mboxsort: bool,
    /// Create the database if it does not exist.
    #[arg(short = 'n')]
    create: bool,
    /// Accepted (output is printed as the transaction reads).
    #[arg(short = 'o')]
    buffered: bool,
    /// Accepted (every action runs in one transaction).
    #[arg(short = 'T')]
    transaction: bool,
    db: PathBuf,
    backend: String,
    action: String,
    key: Option<String>,
    value: Option<String>,
}

const PROG: &str = "cyr_dbtool";

fn fail(msg: &str) -> ! {
    eprintln!("{PROG}: {msg}");
    std::process::exit(1)
}

/// The environment, its named database (None: the unnamed one) for `path`.
fn locate(path: &Path) -> Result<(PathBuf, Option<String>), String> {
    let file = path.file_name().and_then(|f| f.to_str()).unwrap_or_default();
    let parent = path.parent().unwrap_or(Path::new("."));
    let cyrus = [("mailboxes.db", "mailboxes"), ("quotas.db", "quota"), ("user_deny.db", "userdeny"), ("annotations.db", "annotations"), ("ptscache.db", "ptscache")];
    if let Some((_, name)) = cyrus.iter().find(|(f, _)| *f == file) {
        return Ok((mboxlist::env_path(parent), Some((*name).to_string())));
    }
    if parent.file_name().and_then(|f| f.to_str()) == Some(mboxlist::DIR_NAME) {
        if !mboxlist::DATABASES.contains(&file) {
            return Err(format!("{file}: no such database (the environment has {})", mboxlist::DATABASES.join(", ")));
        }
        return Ok((parent.to_path_buf(), Some(file.to_string())));
    }
    if path.is_dir() {
        return Err(format!("{}: an environment directory; name one of its databases ({}/mailboxes ...)", path.display(), path.display()));
    }
    Ok((path.to_path_buf(), None))
}

fn open(path: &Path, create: bool) -> Result<(Environment, Database), String> {
    let (env_path, name) = locate(path)?;
    let e = |e: lmdb::Error| format!("{}: {e}", env_path.display());
    if !env_path.exists() && !create {
        return Err(format!("{}: no such database (-n creates it)", env_path.display()));
    }
    let mut flags = EnvironmentFlags::NO_TLS;
    if name.is_none() {
        flags |= EnvironmentFlags::NO_SUB_DIR;
    } else if create {
        std::fs::create_dir_all(&env_path).map_err(|x| format!("{}: {x}", env_path.display()))?;
    }
    let env = Environment::new().set_flags(flags).set_max_dbs(16).set_map_size(1 << 34).open_with_permissions(&env_path, 0o600).map_err(e)?;
    let db = match (&name, create) {
        (Some(n), true) => env.create_db(Some(n), DatabaseFlags::empty()),
        (n, _) => env.open_db(n.as_deref()),
    }
    .map_err(e)?;
    Ok((env, db))
}

/// Keys (and values) from the command line, else from stdin lines.
fn pairs(args: &Args, want_value: bool) -> Vec<(String, String)> {
    if let Some(k) = &args.key {
        if want_value && args.value.is_none() {
            fail("set needs a key and a value");
        }
        return vec![(k.clone(), args.value.clone().unwrap_or_default())];
    }
    std::io::stdin()
        .lock()
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once('\t') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l, String::new()),
        })
        .collect()
}

fn print(out: &mut impl Write, k: &[u8], v: &[u8]) {
    let _ = out.write_all(k);
    let _ = out.write_all(b"\t");
    let _ = out.write_all(v);
    let _ = out.write_all(b"\n");
}

fn main() {
    let args = Args::parse();
    let _ = (args.mboxsort, args.buffered, args.transaction);
    let _cfg = tools::load_config(PROG, args.config.as_ref());
    let mut out = std::io::stdout().lock();
    match args.backend.as_str() {
        "lmdb" => lmdb_action(&args, &mut out),
        "twoskip" | "skiplist" | "flat" => cyrus_action(&args, &mut out),
        other => fail(&format!("unknown backend '{other}' (lmdb; twoskip, skiplist, flat read-only)")),
    }
    let _ = out.flush();
}

fn cyrus_action(args: &Args, out: &mut impl Write) {
    let data = cyrusdb::kv::read_file(&args.db).unwrap_or_else(|e| fail(&e.to_string()));
    match args.action.as_str() {
        "show" => {
            let prefix = args.key.as_deref().unwrap_or("").as_bytes();
            for (k, v) in data.range(prefix.to_vec()..).take_while(|(k, _)| k.starts_with(prefix)) {
                print(out, k, v);
            }
        }
        "get" => {
            for (k, _) in pairs(args, false) {
                if let Some(v) = data.get(k.as_bytes()) {
                    print(out, k.as_bytes(), v);
                }
            }
        }
        "consistency" => println!("No problems found"),
        "set" | "delete" | "repack" => fail(&format!("{}: Cyrus's {} files are read, never written, by the suite", args.action, args.backend)),
        other => fail(&format!("unknown action '{other}'")),
    }
}

fn lmdb_action(args: &Args, out: &mut impl Write) {
    let (env, db) = open(&args.db, args.create).unwrap_or_else(|e| fail(&e));
    let e = |x: lmdb::Error| -> ! { fail(&format!("{}: {x}", args.db.display())) };
    match args.action.as_str() {
        "show" => {
            let prefix = args.key.as_deref().unwrap_or("").as_bytes();
            let txn = env.begin_ro_txn().unwrap_or_else(|x| e(x));
            let mut cur = txn.open_ro_cursor(db).unwrap_or_else(|x| e(x));
            let iter = if prefix.is_empty() { cur.iter_start() } else { cur.iter_from(prefix) };
            for item in iter {
                let (k, v) = item.unwrap_or_else(|x| e(x));
                if !k.starts_with(prefix) {
                    break;
                }
                print(out, k, v);
            }
        }
        "get" => {
            let txn = env.begin_ro_txn().unwrap_or_else(|x| e(x));
            for (k, _) in pairs(args, false) {
                match txn.get(db, &k) {
                    Ok(v) => print(out, k.as_bytes(), v),
                    Err(lmdb::Error::NotFound) => {}
                    Err(x) => e(x),
                }
            }
        }
        "set" | "delete" => {
            let set = args.action == "set";
            let items = pairs(args, set);
            let mut txn = env.begin_rw_txn().unwrap_or_else(|x| e(x));
            for (k, v) in &items {
                let r = if set { txn.put(db, k, v, WriteFlags::empty()) } else { txn.del(db, k, None) };
                match r {
                    Ok(()) | Err(lmdb::Error::NotFound) => {}
                    Err(x) => e(x),
                }
            }
            txn.commit().unwrap_or_else(|x| e(x));
            env.sync(true).unwrap_or_else(|x| e(x));
            log::info!("cyr_dbtool: {} {} keys of {}", args.action, items.len(), args.db.display());
        }
        "consistency" => {
            // Every page is read: a damaged one fails the walk.
            let txn = env.begin_ro_txn().unwrap_or_else(|x| e(x));
            let mut cur = txn.open_ro_cursor(db).unwrap_or_else(|x| e(x));
            let n = cur.iter_start().map(|i| i.unwrap_or_else(|x| e(x))).count();
            println!("No problems found ({n} records)");
        }
        "repack" => println!("LMDB reuses freed pages; nothing to repack"),
        other => fail(&format!("unknown action '{other}' (show, get, set, delete, consistency, repack)")),
    }
}
