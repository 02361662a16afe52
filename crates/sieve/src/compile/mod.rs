//! From the generic tree to the checked form ([`crate::ast`]): every command and test
//! known, its tags and positional arguments of the right kinds, every extension it
//! uses named in `require` and allowed by the site, constant regular expressions
//! compiled once to prove them valid and within bounds. The commands are checked
//! here, the tests (and the comparator, match-type and address-part tags they share)
//! in [`conditions`].

mod conditions;

use crate::ast::*;
use crate::grammar::{self, Arg};
use crate::lexer::Pos;
use crate::{CompileError, Extensions};
use std::collections::HashSet;

/// A checked script.
#[derive(Clone, Debug)]
pub struct Script {
    pub(crate) commands: Vec<Cmd>,
    pub(crate) requires: Vec<String>,
}

impl Script {
    /// The extensions the script requires.
    pub fn requires(&self) -> &[String] {
        &self.requires
    }
}

/// Compiles a script (see the crate doc).
pub fn compile(src: &[u8], exts: &Extensions) -> Result<Script, CompileError> {
    let tree = grammar::parse(src)?;
    let mut c = Checker { exts, required: HashSet::new(), lenient: 0 };
    let mut requires = Vec::new();
    let mut i = 0;
    while i < tree.len() && tree[i].name == "require" {
        let cmd = &tree[i];
        let mut a = Args::new(&cmd.args, "require", cmd.pos);
        for name in a.raw_strings("a list of extensions")? {
            let lower = name.to_ascii_lowercase();
            if !exts.allows(&lower) {
                return Err(cmd.pos.error(format!("unsupported extension \"{name}\"")));
            }
            // RFC 6131: vacation-seconds extends vacation and brings it along.
            if lower == "vacation-seconds" {
                c.required.insert("vacation".into());
            }
            c.required.insert(lower.clone());
            requires.push(lower);
        }
        a.end()?;
        no_block(cmd)?;
        i += 1;
    }
    let commands = c.block(&tree[i..])?;
    Ok(Script { commands, requires })
}

struct Checker<'e> {
    exts: &'e Extensions,
    required: HashSet<String>,
    /// Inside an `ihave` block whose capabilities are missing: unknown commands pass.
    lenient: usize,
}

fn no_block(cmd: &grammar::Command) -> Result<(), CompileError> {
    if cmd.block.is_some() {
        return Err(cmd.pos.error(format!("{} takes no block", cmd.name)));
    }
    if let Some(t) = cmd.tests.first() {
        // Most often a forgotten ';': the next command was read as a test.
        return Err(t.pos.error(format!("expected ';' before '{}' ({} takes no test)", t.name, cmd.name)));
    }
    Ok(())
}

/// Reads a command's or test's arguments in order.
struct Args<'a> {
    args: &'a [Arg],
    i: usize,
    name: &'a str,
    pos: Pos,
}

impl<'a> Args<'a> {
    fn new(args: &'a [Arg], name: &'a str, pos: Pos) -> Args<'a> {
        Args { args, i: 0, name, pos }
    }

    fn tag(&mut self) -> Option<(Pos, &'a str)> {
        match self.args.get(self.i) {
            Some(Arg::Tag(p, t)) => {
                self.i += 1;
                Some((*p, t.as_str()))
            }
            _ => None,
        }
    }

    fn missing(&self, what: &str) -> CompileError {
        let pos = self.args.get(self.i).map_or(self.pos, |a| a.pos());
        pos.error(format!("{}: expected {what}", self.name))
    }

    fn raw_strings(&mut self, what: &str) -> Result<Vec<String>, CompileError> {
        match self.args.get(self.i) {
            Some(Arg::Strings { list, .. }) => {
                self.i += 1;
                Ok(list.clone())
            }
            _ => Err(self.missing(what)),
        }
    }

    fn raw_string(&mut self, what: &str) -> Result<String, CompileError> {
        match self.args.get(self.i) {
            Some(Arg::Strings { list, single: true, .. }) => {
                self.i += 1;
                Ok(list[0].clone())
            }
            _ => Err(self.missing(what)),
        }
    }

    fn number(&mut self, what: &str) -> Result<u64, CompileError> {
        match self.args.get(self.i) {
            Some(Arg::Number(_, n)) => {
                self.i += 1;
                Ok(*n)
            }
            _ => Err(self.missing(what)),
        }
    }

    fn more(&self) -> bool {
        self.i < self.args.len()
    }

    fn end(&self) -> Result<(), CompileError> {
        match self.args.get(self.i) {
            None => Ok(()),
            Some(Arg::Tag(p, t)) => Err(p.error(format!("{}: unknown or misplaced tag :{t}", self.name))),
            Some(a) => Err(a.pos().error(format!("{}: too many arguments", self.name))),
        }
    }
}

/// Tags shared by the match tests: comparator, match type, address part, index.
#[derive(Default)]
struct Common {
    cmp: Option<Cmp>,
    mt: Option<MatchType>,
    part: Option<AddrPart>,
    index: Option<u64>,
    last: bool,
}

impl Common {
    fn matcher(&self) -> Match {
        Match { cmp: self.cmp.unwrap_or(Cmp::AsciiCasemap), mt: self.mt.unwrap_or(MatchType::Is) }
    }

    fn index(&self, pos: Pos) -> Result<Option<Index>, CompileError> {
        match (self.index, self.last) {
            (Some(n), last) => Ok(Some(Index { n, last })),
            (None, true) => Err(pos.error(":last needs :index")),
            (None, false) => Ok(None),
        }
    }
}

const HEADER_NAME_MAX: usize = 997;

fn valid_header_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= HEADER_NAME_MAX && s.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

fn valid_variable_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|p| {
            let mut c = p.chars();
            matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_') && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        })
}

impl Checker<'_> {
    fn has(&self, ext: &str) -> bool {
        self.required.contains(ext)
    }

    fn need(&self, ext: &str, pos: Pos, what: &str) -> Result<(), CompileError> {
        if self.has(ext) { Ok(()) } else { Err(pos.error(format!("{what} needs require \"{ext}\""))) }
    }

    fn vstr(&self, s: String) -> VStr {
        let text = if self.has("encoded-character") { crate::variables::decode_encoded_characters(&s) } else { s };
        let vars = self.has("variables") && text.contains("${");
        VStr { text, vars }
    }

    fn vstrs(&self, v: Vec<String>) -> Vec<VStr> {
        v.into_iter().map(|s| self.vstr(s)).collect()
    }

    fn string(&self, a: &mut Args, what: &str) -> Result<VStr, CompileError> {
        Ok(self.vstr(a.raw_string(what)?))
    }

    fn strings(&self, a: &mut Args, what: &str) -> Result<Vec<VStr>, CompileError> {
        Ok(self.vstrs(a.raw_strings(what)?))
    }

    fn block(&mut self, cmds: &[grammar::Command]) -> Result<Vec<Cmd>, CompileError> {
        let mut out = Vec::with_capacity(cmds.len());
        let mut i = 0;
        while i < cmds.len() {
            let cmd = &cmds[i];
            if cmd.name == "if" {
                let mut branches = vec![self.branch(cmd)?];
                let mut otherwise = None;
                while let Some(next) = cmds.get(i + 1) {
                    match next.name.as_str() {
                        "elsif" => branches.push(self.branch(next)?),
                        "else" => {
                            Args::new(&next.args, "else", next.pos).end()?;
                            if !next.tests.is_empty() {
                                return Err(next.pos.error("else takes no test"));
                            }
                            let Some(b) = &next.block else { return Err(next.pos.error("else needs a block")) };
                            otherwise = Some(self.block(b)?);
                            i += 1;
                            break;
                        }
                        _ => break,
                    }
                    i += 1;
                }
                out.push(Cmd::If { branches, otherwise });
            } else if let Some(c) = self.command(cmd)? {
                out.push(c);
            }
            i += 1;
        }
        Ok(out)
    }

    fn branch(&mut self, cmd: &grammar::Command) -> Result<(Test, Vec<Cmd>), CompileError> {
        Args::new(&cmd.args, &cmd.name, cmd.pos).end()?;
        if cmd.tests.len() != 1 || cmd.test_list {
            return Err(cmd.pos.error(format!("{} needs exactly one test", cmd.name)));
        }
        let Some(block) = &cmd.block else { return Err(cmd.pos.error(format!("{} needs a block", cmd.name))) };
        let test = self.test(&cmd.tests[0])?;
        // RFC 5463: inside `if ihave [...]`, the named extensions count as required when
        // the site has them; when it does not, the block is never run and may use
        // commands this server does not know.
        if let Test::Ihave(caps) = &test {
            if caps.iter().all(|c| self.exts.allows(c)) {
                let added: Vec<String> = caps.iter().filter(|c| self.required.insert((*c).clone())).cloned().collect();
                let b = self.block(block);
                for c in added {
                    self.required.remove(&c);
                }
                return Ok((test, b?));
            }
            self.lenient += 1;
            let b = self.block(block);
            self.lenient -= 1;
            return Ok((test, b.unwrap_or_default()));
        }
        Ok((test, self.block(block)?))
    }

    fn command(&mut self, cmd: &grammar::Command) -> Result<Option<Cmd>, CompileError> {
        let pos = cmd.pos;
        let name = cmd.name.as_str();
        if !matches!(name, "if" | "elsif" | "else") {
            if name == "elsif" || name == "else" {
                return Err(pos.error(format!("{name} without if")));
            }
            no_block(cmd)?;
        }
        let mut a = Args::new(&cmd.args, name, pos);
        let c = match name {
            "elsif" | "else" => return Err(pos.error(format!("{name} without a preceding if"))),
            "require" => return Err(pos.error("require is allowed only at the start of the script")),
            "stop" => Cmd::Stop,
            "keep" => {
                let flags = self.flags_tag(&mut a)?;
                Cmd::Keep { flags }
            }
            "discard" => Cmd::Discard,
            "fileinto" => {
                self.need("fileinto", pos, "fileinto")?;
                let (target, copy) = self.target(&mut a, true)?;
                Cmd::FileInto { target, copy }
            }
            "redirect" => self.redirect(&mut a)?,
            "reject" | "ereject" => {
                self.need(name, pos, name)?;
                Cmd::Reject { reason: self.string(&mut a, "a reason")?, extended: name == "ereject" }
            }
            "vacation" => self.vacation(&mut a)?,
            "setflag" | "addflag" | "removeflag" => {
                self.need("imap4flags", pos, name)?;
                let op = match name {
                    "setflag" => FlagOp::Set,
                    "addflag" => FlagOp::Add,
                    _ => FlagOp::Remove,
                };
                let first = self.strings(&mut a, "flags")?;
                if a.more() {
                    if first.len() != 1 {
                        return Err(pos.error(format!("{name}: the variable name must be one string")));
                    }
                    self.need("variables", pos, "a flag variable")?;
                    let flags = self.strings(&mut a, "flags")?;
                    Cmd::Flags { op, var: first.into_iter().next(), flags }
                } else {
                    Cmd::Flags { op, var: None, flags: first }
                }
            }
            "set" => self.set(&mut a)?,
            "include" => {
                self.need("include", pos, "include")?;
                let (mut global, mut once, mut optional, mut located) = (false, false, false, false);
                while let Some((p, t)) = a.tag() {
                    match t {
                        "personal" | "global" if !located => {
                            located = true;
                            global = t == "global";
                        }
                        "once" => once = true,
                        "optional" => optional = true,
                        _ => return Err(p.error(format!("include: unknown or repeated tag :{t}"))),
                    }
                }
                let name = self.string(&mut a, "a script name")?;
                if !name.vars && !crate::store::valid_name(&name.text) {
                    return Err(pos.error(format!("include: bad script name \"{}\"", name.text)));
                }
                Cmd::Include { name, global, once, optional }
            }
            "return" => {
                self.need("include", pos, "return")?;
                Cmd::Return
            }
            "global" => {
                self.need("include", pos, "global")?;
                self.need("variables", pos, "global")?;
                let names = a.raw_strings("variable names")?;
                if let Some(bad) = names.iter().find(|n| !valid_variable_name(n)) {
                    return Err(pos.error(format!("global: bad variable name \"{bad}\"")));
                }
                Cmd::Global(names)
            }
            "notify" => self.notify(&mut a)?,
            "addheader" => {
                self.need("editheader", pos, "addheader")?;
                let mut last = false;
                while let Some((p, t)) = a.tag() {
                    match t {
                        "last" => last = true,
                        _ => return Err(p.error(format!("addheader: unknown tag :{t}"))),
                    }
                }
                let name = self.string(&mut a, "a field name")?;
                let value = self.string(&mut a, "a value")?;
                if !name.vars && !valid_header_name(&name.text) {
                    return Err(pos.error(format!("addheader: bad field name \"{}\"", name.text)));
                }
                Cmd::AddHeader { last, name, value }
            }
            "deleteheader" => {
                self.need("editheader", pos, "deleteheader")?;
                let mut c = Common::default();
                while let Some((p, t)) = a.tag() {
                    if !self.common(p, t, &mut a, &mut c, false)? {
                        return Err(p.error(format!("deleteheader: unknown tag :{t}")));
                    }
                }
                let name = self.string(&mut a, "a field name")?;
                if !name.vars && !valid_header_name(&name.text) {
                    return Err(pos.error(format!("deleteheader: bad field name \"{}\"", name.text)));
                }
                let values = if a.more() { self.strings(&mut a, "values")? } else { Vec::new() };
                self.check_keys(pos, &c.matcher(), &values)?;
                Cmd::DeleteHeader { index: c.index(pos)?, m: c.matcher(), name, values }
            }
            "error" => {
                self.need("ihave", pos, "error")?;
                Cmd::Error(self.string(&mut a, "a message")?)
            }
            _ if self.lenient > 0 => return Ok(None),
            _ => return Err(pos.error(format!("unknown command '{name}'"))),
        };
        a.end()?;
        Ok(Some(c))
    }

    fn flags_tag(&self, a: &mut Args) -> Result<Option<Vec<VStr>>, CompileError> {
        let mut flags = None;
        while let Some((p, t)) = a.tag() {
            match t {
                "flags" if flags.is_none() => {
                    self.need("imap4flags", p, ":flags")?;
                    flags = Some(self.strings(a, "flags")?);
                }
                _ => return Err(p.error(format!("{}: unknown or repeated tag :{t}", a.name))),
            }
        }
        Ok(flags)
    }

    /// fileinto's arguments (`copy` allowed) or an `:fcc` target's tags (the mailbox
    /// already read).
    fn target(&self, a: &mut Args, fileinto: bool) -> Result<(Target, bool), CompileError> {
        let mut t = Target { mailbox: VStr { text: String::new(), vars: false }, create: false, flags: None, specialuse: None, mailboxid: None };
        let mut copy = false;
        while let Some((p, tag)) = a.tag() {
            if !self.target_tag(p, tag, a, &mut t)? {
                match tag {
                    "copy" if fileinto && !copy => {
                        self.need("copy", p, ":copy")?;
                        copy = true;
                    }
                    _ => return Err(p.error(format!("{}: unknown or repeated tag :{tag}", a.name))),
                }
            }
        }
        if fileinto {
            t.mailbox = self.string(a, "a mailbox name")?;
        }
        Ok((t, copy))
    }

    fn target_tag(&self, p: Pos, tag: &str, a: &mut Args, t: &mut Target) -> Result<bool, CompileError> {
        match tag {
            "create" if !t.create => {
                self.need("mailbox", p, ":create")?;
                t.create = true;
            }
            "flags" if t.flags.is_none() => {
                self.need("imap4flags", p, ":flags")?;
                t.flags = Some(self.strings(a, "flags")?);
            }
            "specialuse" if t.specialuse.is_none() => {
                self.need("special-use", p, ":specialuse")?;
                t.specialuse = Some(self.string(a, "a special-use flag")?);
            }
            "mailboxid" if t.mailboxid.is_none() => {
                self.need("mailboxid", p, ":mailboxid")?;
                t.mailboxid = Some(self.string(a, "a mailbox id")?);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn fcc(&self, p: Pos, a: &mut Args, fcc: &mut Option<Target>) -> Result<(), CompileError> {
        self.need("fcc", p, ":fcc")?;
        if fcc.is_some() {
            return Err(p.error(":fcc given twice"));
        }
        let mailbox = self.string(a, "a mailbox name after :fcc")?;
        *fcc = Some(Target { mailbox, create: false, flags: None, specialuse: None, mailboxid: None });
        Ok(())
    }

    fn redirect(&self, a: &mut Args) -> Result<Cmd, CompileError> {
        let mut r = Redirect {
            address: VStr { text: String::new(), vars: false },
            copy: false,
            list: false,
            notify: None,
            ret: None,
            by_time: None,
            by_relative: false,
            by_mode: None,
            by_trace: false,
        };
        while let Some((p, t)) = a.tag() {
            match t {
                "copy" if !r.copy => {
                    self.need("copy", p, ":copy")?;
                    r.copy = true;
                }
                "list" if !r.list => {
                    self.need("extlists", p, ":list")?;
                    r.list = true;
                }
                "notify" if r.notify.is_none() => {
                    self.need("redirect-dsn", p, ":notify")?;
                    r.notify = Some(self.string(a, "DSN notify values")?);
                }
                "ret" if r.ret.is_none() => {
                    self.need("redirect-dsn", p, ":ret")?;
                    r.ret = Some(self.string(a, "\"full\" or \"hdrs\"")?);
                }
                "bytimerelative" | "bytimeabsolute" if r.by_time.is_none() => {
                    self.need("redirect-deliverby", p, t)?;
                    r.by_relative = t == "bytimerelative";
                    r.by_time = Some(if r.by_relative {
                        VStr { text: a.number("a number of seconds")?.to_string(), vars: false }
                    } else {
                        self.string(a, "a date-time")?
                    });
                }
                "bymode" if r.by_mode.is_none() => {
                    self.need("redirect-deliverby", p, ":bymode")?;
                    r.by_mode = Some(self.string(a, "\"notify\" or \"return\"")?);
                }
                "bytrace" => {
                    self.need("redirect-deliverby", p, ":bytrace")?;
                    r.by_trace = true;
                }
                _ => return Err(p.error(format!("redirect: unknown or repeated tag :{t}"))),
            }
        }
        r.address = self.string(a, "an address")?;
        if !r.address.vars && !r.list && !crate::address::valid_redirect(&r.address.text) {
            return Err(a.pos.error(format!("redirect: bad address \"{}\"", r.address.text)));
        }
        Ok(Cmd::Redirect(Box::new(r)))
    }

    fn vacation(&self, a: &mut Args) -> Result<Cmd, CompileError> {
        self.need("vacation", a.pos, "vacation")?;
        let mut v = Vacation {
            period: None,
            subject: None,
            from: None,
            addresses: Vec::new(),
            mime: false,
            handle: None,
            reason: VStr { text: String::new(), vars: false },
            fcc: None,
        };
        let mut seen_addresses = false;
        while let Some((p, t)) = a.tag() {
            match t {
                "days" if v.period.is_none() => v.period = Some(a.number("a number of days")?.saturating_mul(86400)),
                "seconds" if v.period.is_none() => {
                    self.need("vacation-seconds", p, ":seconds")?;
                    v.period = Some(a.number("a number of seconds")?);
                }
                "subject" if v.subject.is_none() => v.subject = Some(self.string(a, "a subject")?),
                "from" if v.from.is_none() => v.from = Some(self.string(a, "an address")?),
                "addresses" if !seen_addresses => {
                    seen_addresses = true;
                    v.addresses = self.strings(a, "addresses")?;
                }
                "mime" if !v.mime => v.mime = true,
                "handle" if v.handle.is_none() => v.handle = Some(self.string(a, "a handle")?),
                "fcc" => self.fcc(p, a, &mut v.fcc)?,
                _ => {
                    if let Some(f) = v.fcc.as_mut() {
                        if self.target_tag(p, t, a, f)? {
                            continue;
                        }
                    }
                    return Err(p.error(format!("vacation: unknown or repeated tag :{t}")));
                }
            }
        }
        if let Some(from) = &v.from {
            if !from.vars && crate::address::parse_one(&from.text).is_none() {
                return Err(a.pos.error(format!("vacation: bad :from address \"{}\"", from.text)));
            }
        }
        v.reason = self.string(a, "a reason")?;
        Ok(Cmd::Vacation(Box::new(v)))
    }

    fn notify(&self, a: &mut Args) -> Result<Cmd, CompileError> {
        self.need("enotify", a.pos, "notify")?;
        let mut n = Notify { method: VStr { text: String::new(), vars: false }, from: None, importance: None, options: Vec::new(), message: None, fcc: None };
        let mut seen_options = false;
        while let Some((p, t)) = a.tag() {
            match t {
                "from" if n.from.is_none() => n.from = Some(self.string(a, "an address")?),
                "importance" if n.importance.is_none() => {
                    let imp = self.string(a, "\"1\", \"2\" or \"3\"")?;
                    if !imp.vars && !matches!(imp.text.as_str(), "1" | "2" | "3") {
                        return Err(p.error("notify: :importance must be \"1\", \"2\" or \"3\""));
                    }
                    n.importance = Some(imp);
                }
                "options" if !seen_options => {
                    seen_options = true;
                    n.options = self.strings(a, "options")?;
                }
                "message" if n.message.is_none() => n.message = Some(self.string(a, "a message")?),
                "fcc" => self.fcc(p, a, &mut n.fcc)?,
                _ => {
                    if let Some(f) = n.fcc.as_mut() {
                        if self.target_tag(p, t, a, f)? {
                            continue;
                        }
                    }
                    return Err(p.error(format!("notify: unknown or repeated tag :{t}")));
                }
            }
        }
        n.method = self.string(a, "a notification method URI")?;
        if !n.method.vars && !crate::notify::valid_method(&n.method.text) {
            return Err(a.pos.error(format!("notify: unsupported or bad method \"{}\"", n.method.text)));
        }
        Ok(Cmd::Notify(Box::new(n)))
    }

    fn set(&self, a: &mut Args) -> Result<Cmd, CompileError> {
        self.need("variables", a.pos, "set")?;
        let mut mods: Vec<Modifier> = Vec::new();
        while let Some((p, t)) = a.tag() {
            let m = match t {
                "lower" => Modifier::Lower,
                "upper" => Modifier::Upper,
                "lowerfirst" => Modifier::LowerFirst,
                "upperfirst" => Modifier::UpperFirst,
                "quotewildcard" => Modifier::QuoteWildcard,
                "quoteregex" => {
                    self.need("regex", p, ":quoteregex")?;
                    Modifier::QuoteRegex
                }
                "encodeurl" => {
                    self.need("enotify", p, ":encodeurl")?;
                    Modifier::EncodeUrl
                }
                "length" => Modifier::Length,
                _ => return Err(p.error(format!("set: unknown modifier :{t}"))),
            };
            if mods.iter().any(|x| x.precedence() == m.precedence()) {
                return Err(p.error(format!("set: two modifiers of the same precedence (:{t})")));
            }
            mods.push(m);
        }
        mods.sort_by_key(|m| std::cmp::Reverse(m.precedence()));
        let name = a.raw_string("a variable name")?;
        if !valid_variable_name(&name) || name.contains('.') && !name.to_ascii_lowercase().starts_with("global.") {
            return Err(a.pos.error(format!("set: bad variable name \"{name}\"")));
        }
        let value = self.string(a, "a value")?;
        Ok(Cmd::Set { name: name.to_ascii_lowercase(), value, mods })
    }
}
