//! deliver: the local delivery program an MTA runs (`deliver -a AUTHID -m FOLDER
//! USER...` with the message on stdin), as Cyrus's: it speaks LMTP to lmtpd's unix
//! socket (`lmtpsocket`, default `{configdirectory}/socket/lmtp`), so every rule of
//! lmtpd (Sieve, quota, duplicates, ACLs) applies. `-l` relays an LMTP session on
//! stdin/stdout to lmtpd. Exit status as Cyrus: 0 all delivered, 75 (EX_TEMPFAIL) if
//! any recipient failed for now, 65 (EX_DATAERR) if one failed for good (its reply on
//! stdout).

use clap::Parser;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

/// Deliver a message from stdin into mailboxes through lmtpd (Cyrus-compatible flags).
#[derive(Parser, Debug)]
#[command(name = "deliver", version)]
struct Args {
    #[arg(short = 'C', value_name = "imapd.conf")]
    config: Option<PathBuf>,
    /// Ignored (/bin/mail compatibility).
    #[arg(short = 'd')]
    ignored_d: bool,
    /// Debug logging (accepted; the suite logs at its configured level).
    #[arg(short = 'D')]
    debug: bool,
    /// Return-Path address.
    #[arg(short = 'r', value_name = "address")]
    return_path: Option<String>,
    /// Return-Path address (as -r).
    #[arg(short = 'f', value_name = "address")]
    from: Option<String>,
    /// Folder: user+folder for each user, or the shared folder without users.
    #[arg(short = 'm', value_name = "mailbox")]
    mailbox: Option<String>,
    /// Authorization id of the sender (whose `p` right the folder needs).
    #[arg(short = 'a', value_name = "auth-id")]
    auth: Option<String>,
    /// Deliver even over quota.
    #[arg(short = 'q')]
    ignore_quota: bool,
    /// Ignored (duplicate suppression follows `duplicatesuppression`).
    #[arg(short = 'e')]
    ignored_e: bool,
    /// Relay an LMTP session on stdin/stdout to lmtpd.
    #[arg(short = 'l')]
    lmtp: bool,
    users: Vec<String>,
}

const PROG: &str = "deliver";
const EX_DATAERR: i32 = 65;
const EX_TEMPFAIL: i32 = 75;

fn die(code: i32, msg: &str) -> ! {
    eprintln!("{PROG}: {msg}");
    log::error!("deliver: {msg}");
    std::process::exit(code)
}

/// RFC 3461 xtext.
fn xtext(s: &str) -> String {
    s.bytes().map(|b| if (33..=126).contains(&b) && b != b'+' && b != b'=' { (b as char).to_string() } else { format!("+{b:02X}") }).collect()
}

struct Lmtp {
    r: BufReader<UnixStream>,
    w: UnixStream,
}

impl Lmtp {
    /// One reply (its last line), or an I/O error.
    fn reply(&mut self) -> std::io::Result<String> {
        let mut line = String::new();
        loop {
            line.clear();
            if self.r.read_line(&mut line)? == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "lmtpd closed the connection"));
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(line.trim_end().to_string());
            }
        }
    }

    fn command(&mut self, c: &str) -> std::io::Result<String> {
        self.w.write_all(format!("{c}\r\n").as_bytes())?;
        self.reply()
    }
}

fn main() {
    let args = Args::parse();
    let _ = (args.ignored_d, args.ignored_e, args.debug);
    let cfg = tools::load_config(PROG, args.config.as_ref());
    let socket = cfg.get_str("lmtpsocket").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(cfg.get_str("configdirectory").unwrap_or("/var/lib/imap")).join("socket/lmtp"));
    if !args.lmtp && args.users.is_empty() && args.mailbox.is_none() {
        eprintln!("{PROG}: give users, or -m mailbox, or -l");
        std::process::exit(service::exit::USAGE);
    }
    let sock = UnixStream::connect(&socket).unwrap_or_else(|e| die(EX_TEMPFAIL, &format!("couldn't connect to lmtpd at {}: {e}", socket.display())));
    if args.lmtp {
        relay(sock);
        return;
    }
    let mut raw = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut raw) {
        die(EX_TEMPFAIL, &format!("reading the message: {e}"));
    }
    let return_path = args.return_path.or(args.from).unwrap_or_else(|| nix::unistd::User::from_uid(nix::unistd::getuid()).ok().flatten().map_or("postmaster".into(), |u| u.name));
    let rcpts: Vec<String> = if args.users.is_empty() {
        vec![format!("{}+{}", cfg.get_str("postuser").unwrap_or(""), args.mailbox.clone().unwrap_or_default())]
    } else {
        args.users
            .iter()
            .map(|u| match &args.mailbox {
                Some(m) => match u.split_once('@') {
                    Some((l, d)) => format!("{l}+{m}@{d}"),
                    None => format!("{u}+{m}"),
                },
                None => u.clone(),
            })
            .collect()
    };
    let w = sock.try_clone().unwrap_or_else(|e| die(EX_TEMPFAIL, &e.to_string()));
    let mut c = Lmtp { r: BufReader::new(sock), w };
    match transaction(&mut c, &return_path, args.auth.as_deref(), &rcpts, args.ignore_quota, &raw) {
        Ok(results) => {
            let mut code = 0;
            for (rcpt, reply) in rcpts.iter().zip(results) {
                match reply.as_bytes().first() {
                    Some(b'2') => {}
                    Some(b'5') => {
                        println!("{rcpt}: {reply}");
                        if code != EX_TEMPFAIL {
                            code = EX_DATAERR;
                        }
                    }
                    _ => {
                        eprintln!("{PROG}: {rcpt}: {reply}");
                        code = EX_TEMPFAIL;
                    }
                }
            }
            let _ = c.command("QUIT");
            std::process::exit(code);
        }
        Err(e) => die(EX_TEMPFAIL, &e),
    }
}

/// LHLO, MAIL, RCPTs, DATA; the reply for each recipient (its RCPT's refusal, or its
/// reply after the data).
fn transaction(c: &mut Lmtp, from: &str, auth: Option<&str>, rcpts: &[String], ignore_quota: bool, raw: &[u8]) -> Result<Vec<String>, String> {
    let io = |e: std::io::Error| format!("lmtpd: {e}");
    let greeting = c.reply().map_err(io)?;
    if !greeting.starts_with("220") {
        return Err(format!("lmtpd greeted with {greeting}"));
    }
    let host = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| "localhost".into());
    let r = c.command(&format!("LHLO {host}")).map_err(io)?;
    if !r.starts_with('2') {
        return Err(format!("LHLO: {r}"));
    }
    let auth = auth.map(|a| format!(" AUTH={}", xtext(a))).unwrap_or_default();
    let r = c.command(&format!("MAIL FROM:<{from}>{auth}")).map_err(io)?;
    if !r.starts_with('2') {
        return Err(format!("MAIL FROM: {r}"));
    }
    let mut results: Vec<Option<String>> = Vec::new();
    for rcpt in rcpts {
        let r = c.command(&format!("RCPT TO:<{rcpt}>{}", if ignore_quota { " IGNOREQUOTA" } else { "" })).map_err(io)?;
        results.push((!r.starts_with('2')).then_some(r));
    }
    if results.iter().all(Option::is_some) {
        return Ok(results.into_iter().flatten().collect());
    }
    let r = c.command("DATA").map_err(io)?;
    if !r.starts_with("354") {
        return Err(format!("DATA: {r}"));
    }
    c.w.write_all(&dot_stuffed(raw)).map_err(io)?;
    let mut out = Vec::new();
    for r in results {
        out.push(match r {
            Some(refused) => refused,
            None => c.reply().map_err(io)?,
        });
    }
    Ok(out)
}

/// The message with CRLF line ends, leading dots doubled, and the final `.` line.
fn dot_stuffed(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32 + 5);
    message::dot_stuff(&mut out, raw);
    out.extend_from_slice(b".\r\n");
    out
}

/// Copies stdin to lmtpd and lmtpd to stdout until either side closes.
fn relay(sock: UnixStream) {
    let mut to = sock.try_clone().unwrap_or_else(|e| die(EX_TEMPFAIL, &e.to_string()));
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut to);
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
    let mut from = sock;
    let _ = std::io::copy(&mut from, &mut std::io::stdout().lock());
    drop(up);
}
