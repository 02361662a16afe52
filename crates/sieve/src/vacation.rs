//! Vacation (RFC 5230, RFC 6131 for `:seconds`): whether a message may be answered
//! at all, and the reply itself. Tracking of who was answered when is the caller's
//! ([`crate::Host::duplicate`]).

use crate::headers::{Headers, encode_value, rfc2047_encode};
use crate::interp::{Input, VacationReply};

/// Senders that are programs, never people (RFC 5230 §4.6 and common practice).
const NEVER_ANSWER_LOCAL: &[&str] = &["mailer-daemon", "postmaster", "listserv", "majordomo", "mailer", "daemon", "nobody", "root"];

fn local_part(addr: &str) -> &str {
    addr.rsplit_once('@').map_or(addr, |(l, _)| l)
}

fn same_address(a: &str, b: &str) -> bool {
    let norm = |s: &str| crate::address::parse_one(s).map(|(l, d)| format!("{l}@{d}").to_ascii_lowercase()).unwrap_or_else(|| s.trim().to_ascii_lowercase());
    norm(a) == norm(b)
}

/// Whether the message may get a vacation reply; the address to answer, or why not.
/// `own` holds the user's addresses (the recipient, `:addresses`, `:from`).
pub fn decide(input: &Input, headers: &Headers, own: &[String]) -> Result<String, &'static str> {
    let sender = input.envelope.from.trim();
    if sender.is_empty() {
        return Err("the sender is <> (a bounce)");
    }
    let local = local_part(sender).to_ascii_lowercase();
    if NEVER_ANSWER_LOCAL.contains(&local.as_str()) || local.starts_with("owner-") || local.ends_with("-request") || local.ends_with("-owner") || local.ends_with("-bounces") {
        return Err("the sender is a program or a list");
    }
    if headers.values("auto-submitted").iter().any(|v| !v.trim().to_ascii_lowercase().starts_with("no")) {
        return Err("the message is auto-submitted");
    }
    if ["list-id", "list-post", "list-unsubscribe", "list-help", "list-owner", "list-subscribe", "x-list-id"].iter().any(|h| headers.exists(h)) {
        return Err("the message comes from a mailing list");
    }
    if headers.values("precedence").iter().any(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "bulk" | "list" | "junk")) {
        return Err("the message has Precedence bulk, list or junk");
    }
    if headers.exists("x-auto-response-suppress") && headers.values("x-auto-response-suppress").iter().any(|v| {
        let v = v.to_ascii_lowercase();
        v.contains("all") || v.contains("oof")
    }) {
        return Err("the sender asked for no automatic replies");
    }
    if own.iter().any(|o| same_address(o, sender)) {
        return Err("the sender is the user");
    }
    // RFC 5230 §4.5: only when one of the user's addresses is a recipient in the header.
    let mut recipients = Vec::new();
    for h in ["to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc"] {
        for v in headers.raw_values(h) {
            recipients.extend(crate::address::from_header(v));
        }
    }
    let addressed = recipients.iter().any(|(l, d)| {
        let a = format!("{l}@{d}");
        own.iter().any(|o| same_address(o, &a))
    });
    if !addressed {
        return Err("the user is not a recipient in To, Cc or Bcc");
    }
    Ok(sender.to_string())
}

/// The handle of a vacation without `:handle` (RFC 5230 §4.2: derived from the
/// arguments, so that a changed message is sent anew).
pub fn default_handle(reason: &str, subject: Option<&str>, from: Option<&str>, mime: bool) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [reason, subject.unwrap_or(""), from.unwrap_or(""), if mime { "1" } else { "0" }] {
        for b in part.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The reply as a message, laid out as Cyrus 3.6's lmtpd writes it: `hostname` for
/// the Message-ID, `date` an RFC 5322 date, `seq` tells replies of one process apart.
pub fn build_reply(r: &VacationReply, input: &Input, headers: &Headers, hostname: &str, date: &str, seq: u64) -> Vec<u8> {
    let mut m = String::with_capacity(512 + r.reason.len());
    m.push_str(&format!("Message-ID: <cmu-sieve-{}-{}-{seq}@{hostname}>\r\n", std::process::id(), input.now));
    m.push_str(&format!("Date: {date}\r\n"));
    m.push_str("X-Sieve: CMU Sieve 3.0\r\n");
    m.push_str("X-Sieve-Action: vacation\r\n");
    let from = encode_value(&r.from);
    if from.contains('<') {
        m.push_str(&format!("From: {from}\r\n"));
    } else {
        m.push_str(&format!("From: <{from}>\r\n"));
    }
    m.push_str(&format!("To: <{}>\r\n", r.to));
    // Cut at the first control character, as Cyrus does.
    let subject: String = r.subject.chars().take_while(|c| !c.is_control()).collect();
    m.push_str(&format!("Subject: {}\r\n", encode_value(&subject)));
    if let Some(id) = headers.values("message-id").into_iter().next() {
        m.push_str(&format!("In-Reply-To: {id}\r\n"));
    }
    m.push_str("Auto-Submitted: auto-replied (vacation)\r\n");
    m.push_str("MIME-Version: 1.0\r\n");
    let reason = r.reason.replace("\r\n", "\n").replace('\n', "\r\n");
    if !r.mime {
        // With :mime the reason brings its own MIME headers.
        m.push_str("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    }
    m.push_str(&reason);
    if !reason.ends_with("\r\n") {
        m.push_str("\r\n");
    }
    m.into_bytes()
}

/// An enotify `mailto:` notification as a message.
/// Laid out as Cyrus's notifyd mailto method writes it, with the Auto-Submitted field
/// RFC 5436 §2.7 requires.
pub fn build_notification(n: &crate::interp::NotifyAction, to: &crate::notify::Mailto, from: &str, hostname: &str, date: &str, now: i64, seq: u64) -> Vec<u8> {
    let mut m = String::new();
    m.push_str(&format!("Message-ID: <cmu-sieve-{}-{now}-{seq}@{hostname}>\r\n", std::process::id()));
    m.push_str(&format!("Date: {date}\r\n"));
    m.push_str(&format!("From: {}\r\n", encode_value(from)));
    m.push_str(&format!("To: {}\r\n", to.to.join(", ")));
    let subject = to.headers.iter().find(|(k, _)| k == "subject").map_or_else(|| "[SIEVE] New mail notification".to_string(), |(_, v)| v.clone());
    m.push_str(&format!("Subject: {}\r\n", if subject.is_ascii() { subject.replace(['\r', '\n'], " ") } else { rfc2047_encode(&subject) }));
    for (k, v) in to.headers.iter().filter(|(k, _)| k != "subject") {
        m.push_str(&format!("{k}: {}\r\n", encode_value(v)));
    }
    let importance = match n.importance {
        1 => "high",
        3 => "low",
        _ => "normal",
    };
    m.push_str(&format!("Importance: {importance}\r\n"));
    m.push_str("Auto-Submitted: auto-notified\r\n");
    m.push_str("X-Sieve: CMU Sieve 3.0\r\n");
    m.push_str("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n");
    let body = to.body.clone().unwrap_or_else(|| n.message.clone());
    m.push_str(&body.replace("\r\n", "\n").replace('\n', "\r\n"));
    m.push_str("\r\n");
    m.into_bytes()
}
