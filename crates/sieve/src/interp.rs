//! Running a checked script against one message for one recipient: tests evaluated,
//! actions collected (RFC 5228 §2.10, with implicit keep), includes followed, limits
//! kept. Nothing is carried out here; the caller (lmtpd) gets an [`Outcome`].

use crate::ast::*;
use crate::headers::Headers;
use crate::matching;
use crate::variables::{self, Vars};
use crate::{Extensions, Script};
use std::collections::{HashMap, HashSet};

/// The SMTP envelope of the delivery.
#[derive(Clone, Debug, Default)]
pub struct Envelope {
    /// The reverse path without brackets; empty for `<>`.
    pub from: String,
    /// The recipient address as given at RCPT TO.
    pub to: String,
    /// The authenticated submitter, if any.
    pub auth: Option<String>,
}

/// What a script runs against.
pub struct Input<'a> {
    /// The message as it will be stored.
    pub raw: &'a [u8],
    pub parsed: &'a message::Message,
    pub envelope: Envelope,
    /// The userid whose script this is.
    pub user: &'a str,
    /// Now, in seconds since the epoch.
    pub now: i64,
    /// Environment items (RFC 5183), lower-case names.
    pub environment: &'a [(&'a str, String)],
}

/// What the engine asks of the store while it runs.
pub trait Host {
    fn mailbox_exists(&mut self, name: &str) -> bool;
    /// Whether a mailbox (or, with `None`, any of the user's) has every use.
    fn special_use_exists(&mut self, mailbox: Option<&str>, uses: &[String]) -> bool;
    /// A mailbox annotation (`Some(mailbox)`) or a server one, `value.shared` first.
    fn metadata(&mut self, mailbox: Option<&str>, entry: &str) -> Option<String>;
    /// Whether `key` was tracked within `seconds`; tracks it now (RFC 7352 `:last`
    /// renews the time of an existing entry).
    fn duplicate(&mut self, key: &str, seconds: u64, last: bool) -> bool;
    /// The source of an included script.
    fn include(&mut self, name: &str, global: bool) -> Option<Vec<u8>>;
    /// extlists: whether list `list` holds `value`; `None` for an unknown list.
    fn list_contains(&mut self, list: &str, value: &str) -> Option<bool>;
}

/// Limits of one run (from imapd.conf).
#[derive(Clone, Debug)]
pub struct Limits {
    pub max_actions: usize,
    pub max_redirects: usize,
    pub max_include_depth: usize,
    /// Vacation periods are clamped into [min, max] seconds.
    pub vacation_min: u64,
    pub vacation_max: u64,
    /// Longest duplicate tracking period, seconds.
    pub duplicate_max: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits { max_actions: 32, max_redirects: 5, max_include_depth: 5, vacation_min: 3 * 86_400, vacation_max: 90 * 86_400, duplicate_max: 90 * 86_400 }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInto {
    pub mailbox: String,
    pub flags: Vec<String>,
    pub create: bool,
    pub specialuse: Option<String>,
    pub mailboxid: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VacationReply {
    /// Where the reply goes (the envelope sender).
    pub to: String,
    /// The From of the reply.
    pub from: String,
    pub subject: String,
    pub reason: String,
    pub mime: bool,
    pub fcc: Option<FileInto>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyAction {
    pub method: String,
    pub from: Option<String>,
    pub importance: u8,
    pub options: Vec<String>,
    pub message: String,
    pub fcc: Option<FileInto>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Keep { flags: Vec<String> },
    FileInto(FileInto),
    Redirect { address: String, list: bool, notify: Option<String>, ret: Option<String>, by_time: Option<String>, by_mode: Option<String> },
    Reject { reason: String, extended: bool },
    Vacation(VacationReply),
    Notify(NotifyAction),
    Discard,
}

/// The result of a run.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// In order; an implicit keep is the last action when it applies.
    pub actions: Vec<Action>,
    /// The message with editheader's changes, when there were any.
    pub edited: Option<Vec<u8>>,
    /// Vacation was asked for but not sent, and why (for the log).
    pub vacation_skipped: Option<&'static str>,
}

/// A run-time error: the caller keeps the message (files it into INBOX) and logs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeError(pub String);

impl std::fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

enum Flow {
    Next,
    Stop,
    Return,
}

struct Frame {
    vars: Vars,
    globals_declared: HashSet<String>,
    captures: bool,
}

struct Run<'a, 'h> {
    input: &'a Input<'a>,
    host: &'h mut dyn Host,
    limits: &'a Limits,
    exts: &'a Extensions,
    headers: Headers<'a>,
    actions: Vec<Action>,
    implicit_keep: bool,
    flags: Vec<String>,
    globals: HashMap<String, String>,
    included: HashSet<(bool, String)>,
    stack: Vec<(bool, String)>,
    redirects: usize,
    vacation_skipped: Option<&'static str>,
}

type R<T> = Result<T, RuntimeError>;

fn err<T>(msg: impl Into<String>) -> R<T> {
    Err(RuntimeError(msg.into()))
}

/// Runs `script` (see the module doc).
pub fn execute(script: &Script, input: &Input, host: &mut dyn Host, exts: &Extensions, limits: &Limits) -> Result<Outcome, RuntimeError> {
    let mut run = Run {
        input,
        host,
        limits,
        exts,
        headers: Headers::new(input.raw),
        actions: Vec::new(),
        implicit_keep: true,
        flags: Vec::new(),
        globals: HashMap::new(),
        included: HashSet::new(),
        stack: Vec::new(),
        redirects: 0,
        vacation_skipped: None,
    };
    let mut frame = Frame { vars: Vars::default(), globals_declared: HashSet::new(), captures: script.requires.iter().any(|r| r == "variables") };
    run.block(&script.commands, &mut frame)?;
    run.finish()
}

/// Splits flag strings into single flags, without repeats (compared without case).
fn flag_list(values: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in values {
        for f in v.split_ascii_whitespace() {
            if !out.iter().any(|x| x.eq_ignore_ascii_case(f)) {
                out.push(f.to_string());
            }
        }
    }
    out
}

impl Run<'_, '_> {
    fn finish(mut self) -> R<Outcome> {
        let delivering = self.actions.iter().any(|a| matches!(a, Action::Keep { .. } | Action::FileInto(_) | Action::Redirect { .. }));
        let reject = self.actions.iter().any(|a| matches!(a, Action::Reject { .. }));
        if reject && (delivering || self.actions.iter().any(|a| matches!(a, Action::Vacation(_)))) {
            return err("reject cannot be used with keep, fileinto, redirect or vacation");
        }
        if self.implicit_keep && !reject {
            let flags = self.flags.clone();
            self.push(Action::Keep { flags })?;
        }
        let edited = self.headers.edited.then(|| self.headers.message());
        Ok(Outcome { actions: self.actions, edited, vacation_skipped: self.vacation_skipped })
    }

    fn push(&mut self, a: Action) -> R<()> {
        // The same delivery twice is one delivery (RFC 5228 §2.10.3).
        let same = |b: &Action| match (&a, b) {
            (Action::Keep { .. }, Action::Keep { .. }) => true,
            (Action::FileInto(x), Action::FileInto(y)) => x.mailbox == y.mailbox,
            (Action::Redirect { address: x, .. }, Action::Redirect { address: y, .. }) => x.eq_ignore_ascii_case(y),
            (Action::Discard, Action::Discard) => true,
            _ => false,
        };
        if let Some(i) = self.actions.iter().position(same) {
            // Flags of a repeated keep/fileinto: the later one's win.
            self.actions[i] = a;
            return Ok(());
        }
        if self.actions.len() >= self.limits.max_actions {
            return err(format!("too many actions (more than {})", self.limits.max_actions));
        }
        self.actions.push(a);
        Ok(())
    }

    fn expand(&self, s: &VStr, frame: &Frame) -> String {
        if !s.vars {
            return s.text.clone();
        }
        let globals = &self.globals;
        let declared = &frame.globals_declared;
        let lookup = |name: &str| -> Option<String> {
            if let Some(g) = name.strip_prefix("global.") {
                return globals.get(g).cloned();
            }
            if declared.contains(name) {
                return globals.get(name).cloned();
            }
            None
        };
        variables::expand(&s.text, &frame.vars, &lookup)
    }

    fn expand_all(&self, v: &[VStr], frame: &Frame) -> Vec<String> {
        v.iter().map(|s| self.expand(s, frame)).collect()
    }

    fn set_var(&mut self, frame: &mut Frame, name: &str, value: String) -> R<()> {
        let (global, key) = match name.strip_prefix("global.") {
            Some(g) => (true, g.to_string()),
            None => (frame.globals_declared.contains(name), name.to_string()),
        };
        let map = if global { &mut self.globals } else { &mut frame.vars.local };
        if map.len() >= variables::MAX_VARIABLES && !map.contains_key(&key) {
            return err("too many variables");
        }
        map.insert(key, value);
        Ok(())
    }

    fn block(&mut self, cmds: &[Cmd], frame: &mut Frame) -> R<Flow> {
        for c in cmds {
            match self.command(c, frame)? {
                Flow::Next => {}
                other => return Ok(other),
            }
        }
        Ok(Flow::Next)
    }

    fn target(&self, t: &Target, frame: &Frame) -> FileInto {
        FileInto {
            mailbox: self.expand(&t.mailbox, frame),
            flags: match &t.flags {
                Some(f) => flag_list(self.expand_all(f, frame)),
                None => self.flags.clone(),
            },
            create: t.create,
            specialuse: t.specialuse.as_ref().map(|s| self.expand(s, frame)),
            mailboxid: t.mailboxid.as_ref().map(|s| self.expand(s, frame)),
        }
    }

    fn command(&mut self, c: &Cmd, frame: &mut Frame) -> R<Flow> {
        match c {
            Cmd::If { branches, otherwise } => {
                for (t, b) in branches {
                    if self.test(t, frame)? {
                        return self.block(b, frame);
                    }
                }
                if let Some(b) = otherwise {
                    return self.block(b, frame);
                }
            }
            Cmd::Stop => return Ok(Flow::Stop),
            Cmd::Return => return Ok(Flow::Return),
            Cmd::Keep { flags } => {
                let flags = match flags {
                    Some(f) => flag_list(self.expand_all(f, frame)),
                    None => self.flags.clone(),
                };
                self.push(Action::Keep { flags })?;
                self.implicit_keep = false;
            }
            Cmd::Discard => {
                self.push(Action::Discard)?;
                self.implicit_keep = false;
            }
            Cmd::FileInto { target, copy } => {
                let f = self.target(target, frame);
                if f.mailbox.is_empty() {
                    return err("fileinto: empty mailbox name");
                }
                self.push(Action::FileInto(f))?;
                if !copy {
                    self.implicit_keep = false;
                }
            }
            Cmd::Redirect(r) => {
                let address = self.expand(&r.address, frame);
                if !r.list && !crate::address::valid_redirect(&address) {
                    return err(format!("redirect: bad address \"{address}\""));
                }
                self.redirects += 1;
                if self.redirects > self.limits.max_redirects {
                    return err(format!("too many redirects (more than {})", self.limits.max_redirects));
                }
                let address = crate::address::parse_one(&address).map_or(address, |(l, d)| format!("{l}@{d}"));
                self.push(Action::Redirect {
                    address,
                    list: r.list,
                    notify: r.notify.as_ref().map(|s| self.expand(s, frame)),
                    ret: r.ret.as_ref().map(|s| self.expand(s, frame)),
                    by_time: r.by_time.as_ref().map(|s| self.expand(s, frame)),
                    by_mode: r.by_mode.as_ref().map(|s| self.expand(s, frame)),
                })?;
                if !r.copy {
                    self.implicit_keep = false;
                }
            }
            Cmd::Reject { reason, extended } => {
                let reason = self.expand(reason, frame);
                self.push(Action::Reject { reason, extended: *extended })?;
                self.implicit_keep = false;
            }
            Cmd::Vacation(v) => self.vacation(v, frame)?,
            Cmd::Flags { op, var, flags } => {
                let new = flag_list(self.expand_all(flags, frame));
                let current = match var {
                    Some(v) => {
                        let name = self.expand(v, frame).to_ascii_lowercase();
                        flag_list(frame.vars.local.get(&name).cloned())
                    }
                    None => self.flags.clone(),
                };
                let result = match op {
                    FlagOp::Set => new,
                    FlagOp::Add => flag_list(current.into_iter().chain(new)),
                    FlagOp::Remove => current.into_iter().filter(|f| !new.iter().any(|n| n.eq_ignore_ascii_case(f))).collect(),
                };
                match var {
                    Some(v) => {
                        let name = self.expand(v, frame).to_ascii_lowercase();
                        self.set_var(frame, &name, result.join(" "))?;
                    }
                    None => self.flags = result,
                }
            }
            Cmd::Set { name, value, mods } => {
                let v = variables::apply_modifiers(self.expand(value, frame), mods);
                self.set_var(frame, name, v)?;
            }
            Cmd::Global(names) => {
                for n in names {
                    frame.globals_declared.insert(n.to_ascii_lowercase());
                }
            }
            Cmd::Include { name, global, once, optional } => return self.include(&self.expand(name, frame), *global, *once, *optional),
            Cmd::Notify(n) => {
                let method = self.expand(&n.method, frame);
                if !crate::notify::valid_method(&method) {
                    return err(format!("notify: bad method \"{method}\""));
                }
                let subject = self.headers.values("subject").into_iter().next().unwrap_or_default();
                let from = self.headers.values("from").into_iter().next().unwrap_or_default();
                let message = match &n.message {
                    Some(m) => self.expand(m, frame),
                    None => format!("{from}: {subject}"),
                };
                let importance = n.importance.as_ref().and_then(|i| self.expand(i, frame).parse().ok()).filter(|i| (1..=3).contains(i)).unwrap_or(2);
                let fcc = n.fcc.as_ref().map(|t| self.target(t, frame));
                self.push(Action::Notify(NotifyAction {
                    method,
                    from: n.from.as_ref().map(|s| self.expand(s, frame)),
                    importance,
                    options: self.expand_all(&n.options, frame),
                    message,
                    fcc,
                }))?;
            }
            Cmd::AddHeader { last, name, value } => {
                let name = self.expand(name, frame);
                let value = self.expand(value, frame);
                if !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
                    self.headers.add(&name, &value, *last);
                }
            }
            Cmd::DeleteHeader { index, m, name, values } => {
                let name = self.expand(name, frame);
                let keys = self.expand_all(values, frame);
                let mut failure = None;
                let (n, from_end) = index.map_or((0, false), |i| (i.n as usize, i.last));
                self.headers.delete(&name, from_end, |occurrence, value| {
                    if n != 0 && occurrence != n {
                        return false;
                    }
                    keys.is_empty()
                        || keys.iter().any(|k| match matching::matches(m, value, k, false) {
                            Ok((hit, _)) => hit,
                            Err(e) => {
                                failure = Some(e);
                                false
                            }
                        })
                });
                if let Some(e) = failure {
                    return err(format!("deleteheader: {e}"));
                }
            }
            Cmd::Error(msg) => return err(format!("script error: {}", self.expand(msg, frame))),
        }
        Ok(Flow::Next)
    }

    fn include(&mut self, name: &str, global: bool, once: bool, optional: bool) -> R<Flow> {
        let key = (global, name.to_string());
        if self.stack.contains(&key) {
            return err(format!("include loop: script \"{name}\" includes itself"));
        }
        if once && self.included.contains(&key) {
            return Ok(Flow::Next);
        }
        if self.stack.len() >= self.limits.max_include_depth {
            return err(format!("includes nested more than {} deep", self.limits.max_include_depth));
        }
        if !crate::store::valid_name(name) {
            return err(format!("include: bad script name \"{name}\""));
        }
        let Some(src) = self.host.include(name, global) else {
            if optional {
                return Ok(Flow::Next);
            }
            return err(format!("include: {} script \"{name}\" not found", if global { "global" } else { "personal" }));
        };
        let script = crate::compile(&src, self.exts).map_err(|e| RuntimeError(format!("include \"{name}\": {e}")))?;
        self.included.insert(key.clone());
        self.stack.push(key);
        let mut frame = Frame { vars: Vars::default(), globals_declared: HashSet::new(), captures: script.requires.iter().any(|r| r == "variables") };
        let flow = self.block(&script.commands, &mut frame);
        self.stack.pop();
        Ok(match flow? {
            Flow::Stop => Flow::Stop,
            _ => Flow::Next,
        })
    }

    fn vacation(&mut self, v: &Vacation, frame: &Frame) -> R<()> {
        let reason = self.expand(&v.reason, frame);
        let from = v.from.as_ref().map(|s| self.expand(s, frame));
        let subject = v.subject.as_ref().map(|s| self.expand(s, frame));
        let handle = v.handle.as_ref().map(|s| self.expand(s, frame));
        let mut own: Vec<String> = self.expand_all(&v.addresses, frame);
        own.push(self.input.envelope.to.clone());
        if let Some(f) = &from {
            own.push(f.clone());
        }
        let fcc = v.fcc.as_ref().map(|t| self.target(t, frame));
        match crate::vacation::decide(self.input, &self.headers, &own) {
            Err(why) => self.vacation_skipped = Some(why),
            Ok(to) => {
                let period = v.period.unwrap_or(7 * 86_400).clamp(self.limits.vacation_min, self.limits.vacation_max.max(self.limits.vacation_min));
                let handle = handle.unwrap_or_else(|| crate::vacation::default_handle(&reason, subject.as_deref(), from.as_deref(), v.mime));
                let key = format!("vacation:{}:{}:{}", self.input.user, handle, to.to_ascii_lowercase());
                if self.host.duplicate(&key, period, false) {
                    self.vacation_skipped = Some("already answered within the period");
                } else {
                    let orig_subject = self.headers.values("subject").into_iter().next().unwrap_or_default();
                    let reply_from = from.unwrap_or_else(|| self.input.envelope.to.clone());
                    self.push(Action::Vacation(VacationReply {
                        to,
                        from: reply_from,
                        subject: subject.unwrap_or_else(|| if orig_subject.is_empty() { "Automated reply".to_string() } else { format!("Auto: {orig_subject}") }),
                        reason,
                        mime: v.mime,
                        fcc,
                    }))?;
                }
            }
        }
        Ok(())
    }

    /// Compares `values` with `keys` under `m` (RFC 5228 §2.7: true if any pair
    /// matches; `:count` compares how many values there are).
    fn compare(&mut self, frame: &mut Frame, m: &Match, values: &[String], keys: &[VStr]) -> R<bool> {
        let keys = self.expand_all(keys, frame);
        match m.mt {
            MatchType::Count(rel) => {
                let n = values.len().to_string();
                Ok(keys.iter().any(|k| matching::rel_holds(rel, matching::order(m.cmp, &n, k))))
            }
            MatchType::List => {
                for v in values {
                    for k in &keys {
                        if self.host.list_contains(k, v) == Some(true) {
                            return Ok(true);
                        }
                    }
                }
                Ok(false)
            }
            _ => {
                let want = frame.captures && matches!(m.mt, MatchType::Matches | MatchType::Regex);
                for v in values {
                    for k in &keys {
                        let (hit, caps) = matching::matches(m, v, k, want).map_err(|e| RuntimeError(format!("bad pattern \"{k}\": {e}")))?;
                        if hit {
                            if let Some(c) = caps {
                                frame.vars.matched = c;
                            }
                            return Ok(true);
                        }
                    }
                }
                Ok(false)
            }
        }
    }

    fn pick_index(values: Vec<String>, index: &Option<Index>) -> Vec<String> {
        match index {
            None => values,
            Some(i) => {
                let n = i.n as usize;
                let pos = if i.last { values.len().checked_sub(n) } else { Some(n - 1) };
                pos.and_then(|p| values.into_iter().nth(p)).into_iter().collect()
            }
        }
    }

    fn test(&mut self, t: &Test, frame: &mut Frame) -> R<bool> {
        Ok(match t {
            Test::True => true,
            Test::False => false,
            Test::Not(t) => !self.test(t, frame)?,
            Test::AllOf(v) => {
                for t in v {
                    if !self.test(t, frame)? {
                        return Ok(false);
                    }
                }
                true
            }
            Test::AnyOf(v) => {
                for t in v {
                    if self.test(t, frame)? {
                        return Ok(true);
                    }
                }
                false
            }
            Test::Exists(names) => self.expand_all(names, frame).iter().all(|n| self.headers.exists(n)),
            Test::Size { over, limit } => {
                let size = self.input.raw.len() as u64;
                if *over { size > *limit } else { size < *limit }
            }
            Test::Header { m, names, keys, index } => {
                let mut values = Vec::new();
                for n in self.expand_all(names, frame) {
                    values.extend(Self::pick_index(self.headers.values(&n), index));
                }
                self.compare(frame, m, &values, keys)?
            }
            Test::Address { m, part, names, keys, index } => {
                let mut values = Vec::new();
                for n in self.expand_all(names, frame) {
                    let raws: Vec<Vec<u8>> = self.headers.raw_values(&n).map(<[u8]>::to_vec).collect();
                    let mut addrs = Vec::new();
                    for r in raws {
                        addrs.extend(crate::address::from_header(&r));
                    }
                    let parts: Vec<String> = addrs.iter().filter_map(|(l, d)| crate::address::part(l, d, *part)).collect();
                    values.extend(Self::pick_index(parts, index));
                }
                self.compare(frame, m, &values, keys)?
            }
            Test::Envelope { m, part, names, keys } => {
                let mut values = Vec::new();
                for n in self.expand_all(names, frame) {
                    let addr = match n.to_ascii_lowercase().as_str() {
                        "from" => Some(self.input.envelope.from.clone()),
                        "to" => Some(self.input.envelope.to.clone()),
                        "auth" => self.input.envelope.auth.clone(),
                        _ => None,
                    };
                    let Some(addr) = addr else { continue };
                    if addr.is_empty() {
                        // The null reverse path: every part is empty (RFC 5228 §5.4).
                        if *part != AddrPart::Detail {
                            values.push(String::new());
                        }
                        continue;
                    }
                    let (l, d) = crate::address::split(&addr);
                    values.extend(crate::address::part(&l, &d, *part));
                }
                self.compare(frame, m, &values, keys)?
            }
            Test::Body { m, transform, types, keys } => {
                let texts: Vec<String> = match transform {
                    BodyTransform::Raw => vec![String::from_utf8_lossy(self.headers.body()).into_owned()],
                    BodyTransform::Text => vec![self.input.parsed.search_text(self.input.raw)],
                    BodyTransform::Content => {
                        // RFC 5173 §5.2: "" matches every part, "text" every text/*
                        // part, "text/html" that type; each part decoded.
                        let types: Vec<String> = self.expand_all(types, frame).into_iter().map(|t| t.to_ascii_lowercase()).collect();
                        let wanted = |media: &str| {
                            types.iter().any(|t| t.is_empty() || (t.contains('/') && media == t) || (!t.contains('/') && media.split('/').next() == Some(t.as_str())))
                        };
                        self.input.parsed.leaf_parts(self.input.raw).into_iter().filter(|(media, _)| wanted(media)).map(|(_, c)| c.into_owned()).collect()
                    }
                };
                let texts: Vec<String> = texts.into_iter().filter(|t| !t.is_empty()).collect();
                !texts.is_empty() && self.compare(frame, m, &texts, keys)?
            }
            Test::String { m, sources, keys } => {
                let values: Vec<String> = self.expand_all(sources, frame);
                // :count counts the non-empty strings (RFC 5229 §5).
                let values = if matches!(m.mt, MatchType::Count(_)) { values.into_iter().filter(|v| !v.is_empty()).collect() } else { values };
                self.compare(frame, m, &values, keys)?
            }
            Test::Date { m, zone, name, part, keys, index } => {
                let name = self.expand(name, frame);
                let part = self.expand(part, frame);
                let raws: Vec<String> = self.headers.values(&name);
                let mut values = Vec::new();
                for v in Self::pick_index(raws, index) {
                    let Some(t) = message::parse_date(v.as_bytes()) else { continue };
                    let z = self.zone(zone, frame, Some(&v), t);
                    values.extend(crate::date::part(t, z, &part));
                }
                self.compare(frame, m, &values, keys)?
            }
            Test::CurrentDate { m, zone, part, keys } => {
                let part = self.expand(part, frame);
                let t = self.input.now;
                let z = self.zone(zone, frame, None, t);
                let values: Vec<String> = crate::date::part(t, z, &part).into_iter().collect();
                self.compare(frame, m, &values, keys)?
            }
            Test::HasFlag { m, vars, keys } => {
                let flags = if vars.is_empty() {
                    self.flags.clone()
                } else {
                    let names = self.expand_all(vars, frame);
                    flag_list(names.iter().filter_map(|n| frame.vars.local.get(&n.to_ascii_lowercase()).cloned()))
                };
                let keys_split: Vec<VStr> = flag_list(self.expand_all(keys, frame)).into_iter().map(|text| VStr { text, vars: false }).collect();
                self.compare(frame, m, &flags, &keys_split)?
            }
            Test::MailboxExists(names) => self.expand_all(names, frame).iter().all(|n| self.host.mailbox_exists(n)),
            Test::Metadata { m, mailbox, annotation, keys } => {
                let mb = self.expand(mailbox, frame);
                let a = self.expand(annotation, frame);
                let values: Vec<String> = self.host.metadata(Some(&mb), &a).into_iter().collect();
                self.compare(frame, m, &values, keys)?
            }
            Test::MetadataExists { mailbox, annotations } => {
                let mb = self.expand(mailbox, frame);
                self.expand_all(annotations, frame).iter().all(|a| self.host.metadata(Some(&mb), a).is_some())
            }
            Test::ServerMetadata { m, annotation, keys } => {
                let a = self.expand(annotation, frame);
                let values: Vec<String> = self.host.metadata(None, &a).into_iter().collect();
                self.compare(frame, m, &values, keys)?
            }
            Test::ServerMetadataExists(annotations) => self.expand_all(annotations, frame).iter().all(|a| self.host.metadata(None, a).is_some()),
            Test::Duplicate { handle, source, seconds, last } => {
                let value = match source {
                    DupSource::MessageId => self.headers.values("message-id").into_iter().next(),
                    DupSource::Header(h) => {
                        let h = self.expand(h, frame);
                        self.headers.values(&h).into_iter().next()
                    }
                    DupSource::UniqueId(u) => Some(self.expand(u, frame)),
                };
                // A message without the value is never a duplicate (RFC 7352 §3.1).
                let Some(value) = value.filter(|v| !v.is_empty()) else { return Ok(false) };
                let handle = handle.as_ref().map(|h| self.expand(h, frame)).unwrap_or_default();
                let secs = seconds.unwrap_or(7 * 86_400).min(self.limits.duplicate_max);
                let key = format!("duplicate:{}:{handle}:{value}", self.input.user);
                self.host.duplicate(&key, secs, *last)
            }
            Test::Environment { m, name, keys } => {
                let name = self.expand(name, frame).to_ascii_lowercase();
                let values: Vec<String> = self.input.environment.iter().filter(|(n, _)| *n == name).map(|(_, v)| v.clone()).collect();
                !values.is_empty() && self.compare(frame, m, &values, keys)?
            }
            Test::Ihave(caps) => caps.iter().all(|c| self.exts.allows(c)),
            Test::ValidNotifyMethod(uris) => {
                let uris = self.expand_all(uris, frame);
                !uris.is_empty() && uris.iter().all(|u| crate::notify::valid_method(u))
            }
            Test::NotifyMethodCapability { m, uri, capability, keys } => {
                let uri = self.expand(uri, frame);
                let cap = self.expand(capability, frame);
                // mailto cannot tell whether the recipient is online: "maybe".
                if !crate::notify::valid_method(&uri) || !cap.eq_ignore_ascii_case("online") {
                    return Ok(false);
                }
                self.compare(frame, m, &["maybe".to_string()], keys)?
            }
            Test::SpecialUseExists { mailbox, uses } => {
                let mb = mailbox.as_ref().map(|s| self.expand(s, frame));
                let uses = self.expand_all(uses, frame);
                self.host.special_use_exists(mb.as_deref(), &uses)
            }
            Test::ValidExtList(lists) => self.expand_all(lists, frame).iter().all(|l| self.host.list_contains(l, "").is_some()),
        })
    }

    fn zone(&self, zone: &Zone, frame: &Frame, header: Option<&str>, t: i64) -> i32 {
        match zone {
            Zone::Fixed(z) => crate::date::parse_zone(&self.expand(z, frame)).unwrap_or(0),
            Zone::Original => header.map_or(0, crate::date::zone_of),
            Zone::Local => crate::date::local_zone(t),
        }
    }
}
