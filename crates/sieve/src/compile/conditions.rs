//! The tests of the checked form, and the tags they share (comparator, match type,
//! address part, index).

use super::{Args, Checker, Common, valid_header_name};
use crate::CompileError;
use crate::ast::*;
use crate::grammar;
use crate::lexer::Pos;

impl Checker<'_> {
    /// A comparator, match type, address part or index tag; false if `t` is none.
    pub(super) fn common(&self, p: Pos, t: &str, a: &mut Args, c: &mut Common, address: bool) -> Result<bool, CompileError> {
        let mt = match t {
            "is" => Some(MatchType::Is),
            "contains" => Some(MatchType::Contains),
            "matches" => Some(MatchType::Matches),
            "regex" => {
                self.need("regex", p, ":regex")?;
                Some(MatchType::Regex)
            }
            "list" => {
                self.need("extlists", p, ":list")?;
                Some(MatchType::List)
            }
            "value" | "count" => {
                self.need("relational", p, &format!(":{t}"))?;
                let rel = match a.raw_string("a relation")?.to_ascii_lowercase().as_str() {
                    "gt" => Rel::Gt,
                    "ge" => Rel::Ge,
                    "lt" => Rel::Lt,
                    "le" => Rel::Le,
                    "eq" => Rel::Eq,
                    "ne" => Rel::Ne,
                    other => return Err(p.error(format!("unknown relation \"{other}\""))),
                };
                Some(if t == "value" { MatchType::Value(rel) } else { MatchType::Count(rel) })
            }
            _ => None,
        };
        if let Some(mt) = mt {
            if c.mt.replace(mt).is_some() {
                return Err(p.error("more than one match type"));
            }
            return Ok(true);
        }
        if address {
            let part = match t {
                "all" => Some(AddrPart::All),
                "localpart" => Some(AddrPart::Local),
                "domain" => Some(AddrPart::Domain),
                "user" | "detail" => {
                    self.need("subaddress", p, &format!(":{t}"))?;
                    Some(if t == "user" { AddrPart::User } else { AddrPart::Detail })
                }
                _ => None,
            };
            if let Some(part) = part {
                if c.part.replace(part).is_some() {
                    return Err(p.error("more than one address part"));
                }
                return Ok(true);
            }
        }
        match t {
            "comparator" => {
                let name = a.raw_string("a comparator name")?;
                let cmp = match name.to_ascii_lowercase().as_str() {
                    "i;octet" => Cmp::Octet,
                    "i;ascii-casemap" => Cmp::AsciiCasemap,
                    "i;ascii-numeric" => {
                        self.need("comparator-i;ascii-numeric", p, "i;ascii-numeric")?;
                        Cmp::AsciiNumeric
                    }
                    "i;unicode-casemap" => {
                        self.need("comparator-i;unicode-casemap", p, "i;unicode-casemap")?;
                        Cmp::UnicodeCasemap
                    }
                    _ => return Err(p.error(format!("unknown comparator \"{name}\""))),
                };
                if c.cmp.replace(cmp).is_some() {
                    return Err(p.error("more than one comparator"));
                }
            }
            "index" if c.index.is_none() => {
                self.need("index", p, ":index")?;
                let n = a.number("an index")?;
                if n == 0 {
                    return Err(p.error(":index counts from 1"));
                }
                c.index = Some(n);
            }
            "last" if !c.last => {
                self.need("index", p, ":last")?;
                c.last = true;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Constant keys are checked where their match type can fail: regular expressions
    /// compile within bounds.
    pub(super) fn check_keys(&self, pos: Pos, m: &Match, keys: &[VStr]) -> Result<(), CompileError> {
        if m.mt == MatchType::Regex {
            for k in keys.iter().filter(|k| !k.vars) {
                crate::matching::regex_for(&k.text, m.cmp).map_err(|e| pos.error(format!("bad regular expression \"{}\": {e}", k.text)))?;
            }
        }
        if matches!(m.mt, MatchType::Matches | MatchType::Contains | MatchType::Regex) && m.cmp == Cmp::AsciiNumeric {
            return Err(pos.error("i;ascii-numeric supports only :is, :value and :count"));
        }
        Ok(())
    }

    pub(super) fn test(&mut self, t: &grammar::Test) -> Result<Test, CompileError> {
        let pos = t.pos;
        let name = t.name.as_str();
        let nested = matches!(name, "not" | "allof" | "anyof");
        if !nested && !t.tests.is_empty() {
            return Err(pos.error(format!("{name} takes no nested test")));
        }
        let mut a = Args::new(&t.args, name, pos);
        let mut c = Common::default();
        let test = match name {
            "true" => Test::True,
            "false" => Test::False,
            "not" => {
                if t.tests.len() != 1 || t.test_list {
                    return Err(pos.error("not takes exactly one test"));
                }
                Test::Not(Box::new(self.test(&t.tests[0])?))
            }
            "allof" | "anyof" => {
                if !t.test_list {
                    return Err(pos.error(format!("{name} needs a test list in parentheses")));
                }
                let v = t.tests.iter().map(|x| self.test(x)).collect::<Result<Vec<_>, _>>()?;
                if name == "allof" { Test::AllOf(v) } else { Test::AnyOf(v) }
            }
            "exists" => Test::Exists(self.strings(&mut a, "header names")?),
            "size" => {
                let over = match a.tag() {
                    Some((_, "over")) => true,
                    Some((_, "under")) => false,
                    _ => return Err(pos.error("size needs :over or :under")),
                };
                Test::Size { over, limit: a.number("a size")? }
            }
            "header" | "address" | "envelope" | "string" | "hasflag" | "environment" => {
                match name {
                    "envelope" => self.need("envelope", pos, "envelope")?,
                    "string" => self.need("variables", pos, "string")?,
                    "hasflag" => self.need("imap4flags", pos, "hasflag")?,
                    "environment" => self.need("environment", pos, "environment")?,
                    _ => {}
                }
                let address = matches!(name, "address" | "envelope");
                while let Some((p, tag)) = a.tag() {
                    if !self.common(p, tag, &mut a, &mut c, address)? || (c.index.is_some() || c.last) && !matches!(name, "header" | "address") {
                        return Err(p.error(format!("{name}: unknown or misplaced tag :{tag}")));
                    }
                }
                let first = if name == "environment" { vec![self.string(&mut a, "an item name")?] } else { self.strings(&mut a, "a list")? };
                let (sources, keys) = if name == "hasflag" && !a.more() { (Vec::new(), first) } else { (first, self.strings(&mut a, "keys")?) };
                let m = c.matcher();
                self.check_keys(pos, &m, &keys)?;
                let part = c.part.unwrap_or(AddrPart::All);
                match name {
                    "header" => {
                        if let Some(bad) = sources.iter().find(|h| !h.vars && !valid_header_name(&h.text)) {
                            return Err(pos.error(format!("header: bad field name \"{}\"", bad.text)));
                        }
                        Test::Header { m, names: sources, keys, index: c.index(pos)? }
                    }
                    "address" => Test::Address { m, part, names: sources, keys, index: c.index(pos)? },
                    "envelope" => {
                        if let Some(bad) = sources.iter().find(|h| !h.vars && !matches!(h.text.to_ascii_lowercase().as_str(), "from" | "to" | "auth")) {
                            return Err(pos.error(format!("envelope: unknown envelope part \"{}\"", bad.text)));
                        }
                        Test::Envelope { m, part, names: sources, keys }
                    }
                    "string" => Test::String { m, sources, keys },
                    "hasflag" => {
                        if !sources.is_empty() {
                            self.need("variables", pos, "hasflag with variables")?;
                        }
                        Test::HasFlag { m, vars: sources, keys }
                    }
                    _ => Test::Environment { m, name: sources.into_iter().next().unwrap_or(VStr { text: String::new(), vars: false }), keys },
                }
            }
            "body" => {
                self.need("body", pos, "body")?;
                let mut transform = None;
                let mut types = Vec::new();
                while let Some((p, tag)) = a.tag() {
                    let tr = match tag {
                        "raw" => BodyTransform::Raw,
                        "text" => BodyTransform::Text,
                        "content" => {
                            types = self.strings(&mut a, "content types")?;
                            BodyTransform::Content
                        }
                        _ => {
                            if !self.common(p, tag, &mut a, &mut c, false)? || c.index.is_some() || c.last {
                                return Err(p.error(format!("body: unknown tag :{tag}")));
                            }
                            continue;
                        }
                    };
                    if transform.replace(tr).is_some() {
                        return Err(p.error("body: more than one transform"));
                    }
                }
                let keys = self.strings(&mut a, "keys")?;
                let m = c.matcher();
                self.check_keys(pos, &m, &keys)?;
                Test::Body { m, transform: transform.unwrap_or(BodyTransform::Text), types, keys }
            }
            "date" | "currentdate" => {
                self.need("date", pos, name)?;
                let mut zone = None;
                while let Some((p, tag)) = a.tag() {
                    match tag {
                        "zone" if zone.is_none() => {
                            let z = self.string(&mut a, "a zone")?;
                            if !z.vars && crate::date::parse_zone(&z.text).is_none() {
                                return Err(p.error(format!("bad zone \"{}\"", z.text)));
                            }
                            zone = Some(Zone::Fixed(z));
                        }
                        "originalzone" if zone.is_none() && name == "date" => zone = Some(Zone::Original),
                        _ => {
                            if !self.common(p, tag, &mut a, &mut c, false)? || name == "currentdate" && (c.index.is_some() || c.last) {
                                return Err(p.error(format!("{name}: unknown or repeated tag :{tag}")));
                            }
                        }
                    }
                }
                let header = if name == "date" { Some(self.string(&mut a, "a header name")?) } else { None };
                let part = self.string(&mut a, "a date part")?;
                if !part.vars && !crate::date::valid_part(&part.text) {
                    return Err(pos.error(format!("{name}: unknown date part \"{}\"", part.text)));
                }
                let keys = self.strings(&mut a, "keys")?;
                let m = c.matcher();
                self.check_keys(pos, &m, &keys)?;
                let zone = zone.unwrap_or(Zone::Local);
                match header {
                    Some(name) => Test::Date { m, zone, name, part, keys, index: c.index(pos)? },
                    None => Test::CurrentDate { m, zone, part, keys },
                }
            }
            "mailboxexists" => {
                self.need("mailbox", pos, name)?;
                Test::MailboxExists(self.strings(&mut a, "mailbox names")?)
            }
            "metadata" | "servermetadata" => {
                self.need(if name == "metadata" { "mboxmetadata" } else { "servermetadata" }, pos, name)?;
                while let Some((p, tag)) = a.tag() {
                    if !self.common(p, tag, &mut a, &mut c, false)? || c.index.is_some() || c.last {
                        return Err(p.error(format!("{name}: unknown tag :{tag}")));
                    }
                }
                let mailbox = if name == "metadata" { Some(self.string(&mut a, "a mailbox name")?) } else { None };
                let annotation = self.string(&mut a, "an annotation name")?;
                let keys = self.strings(&mut a, "keys")?;
                let m = c.matcher();
                self.check_keys(pos, &m, &keys)?;
                match mailbox {
                    Some(mailbox) => Test::Metadata { m, mailbox, annotation, keys },
                    None => Test::ServerMetadata { m, annotation, keys },
                }
            }
            "metadataexists" => {
                self.need("mboxmetadata", pos, name)?;
                let mailbox = self.string(&mut a, "a mailbox name")?;
                Test::MetadataExists { mailbox, annotations: self.strings(&mut a, "annotation names")? }
            }
            "servermetadataexists" => {
                self.need("servermetadata", pos, name)?;
                Test::ServerMetadataExists(self.strings(&mut a, "annotation names")?)
            }
            "duplicate" => {
                self.need("duplicate", pos, name)?;
                let (mut handle, mut source, mut seconds, mut last) = (None, None, None, false);
                while let Some((p, tag)) = a.tag() {
                    match tag {
                        "handle" if handle.is_none() => handle = Some(self.string(&mut a, "a handle")?),
                        "header" if source.is_none() => source = Some(DupSource::Header(self.string(&mut a, "a header name")?)),
                        "uniqueid" if source.is_none() => source = Some(DupSource::UniqueId(self.string(&mut a, "a unique id")?)),
                        "seconds" if seconds.is_none() => seconds = Some(a.number("a number of seconds")?),
                        "last" if !last => last = true,
                        _ => return Err(p.error(format!("duplicate: unknown or repeated tag :{tag}"))),
                    }
                }
                Test::Duplicate { handle, source: source.unwrap_or(DupSource::MessageId), seconds, last }
            }
            "ihave" => {
                self.need("ihave", pos, "ihave")?;
                Test::Ihave(a.raw_strings("capabilities")?.into_iter().map(|s| s.to_ascii_lowercase()).collect())
            }
            "valid_notify_method" => {
                self.need("enotify", pos, name)?;
                Test::ValidNotifyMethod(self.strings(&mut a, "URIs")?)
            }
            "notify_method_capability" => {
                self.need("enotify", pos, name)?;
                while let Some((p, tag)) = a.tag() {
                    if !self.common(p, tag, &mut a, &mut c, false)? || c.index.is_some() || c.last {
                        return Err(p.error(format!("{name}: unknown tag :{tag}")));
                    }
                }
                let uri = self.string(&mut a, "a URI")?;
                let capability = self.string(&mut a, "a capability")?;
                let keys = self.strings(&mut a, "keys")?;
                Test::NotifyMethodCapability { m: c.matcher(), uri, capability, keys }
            }
            "specialuse_exists" => {
                self.need("special-use", pos, name)?;
                let first = self.strings(&mut a, "special-use flags")?;
                if a.more() {
                    if first.len() != 1 {
                        return Err(pos.error("specialuse_exists: the mailbox must be one string"));
                    }
                    let uses = self.strings(&mut a, "special-use flags")?;
                    Test::SpecialUseExists { mailbox: first.into_iter().next(), uses }
                } else {
                    Test::SpecialUseExists { mailbox: None, uses: first }
                }
            }
            "valid_ext_list" => {
                self.need("extlists", pos, name)?;
                Test::ValidExtList(self.strings(&mut a, "list names")?)
            }
            _ => return Err(pos.error(format!("unknown test '{name}'"))),
        };
        a.end()?;
        Ok(test)
    }
}
