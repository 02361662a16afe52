//! Cyrus's LDAP pts module (ptclient/ldap.c), read from its source: a user's entry
//! found with `ldap_filter` under `ldap_base` (or its domain's base DN), then its
//! groups either from a multi-valued attribute of that entry (`ldap_member_method:
//! attribute`, each value a group DN named by its first RDN's value) or from a search
//! for group entries (`filter`, each named by `ldap_member_attribute`), lowercased and
//! prefixed `group:`.

use crate::ldap::{Error, Ldap, Scope, Settings};
use conf::Config;

/// The `ldap_*` options ptloader works from.
pub struct Pts {
    pub settings: Settings,
    sasl: bool,
    base: String,
    filter: String,
    scope: Scope,
    /// Entries a member search may return (0: no limit).
    member_limit: i32,
    by_filter: bool,
    member_attribute: Option<String>,
    member_filter: String,
    group_base: String,
    group_filter: String,
    group_scope: Scope,
    domain_base_dn: String,
    domain_filter: String,
    domain_name_attribute: String,
    domain_result_attribute: String,
    domain_scope: Scope,
}

fn opt(cfg: &Config, name: &str) -> Option<String> {
    cfg.get_str(name).filter(|s| !s.is_empty()).map(str::to_string)
}

fn text(cfg: &Config, name: &str) -> String {
    cfg.get_str(name).unwrap_or("").to_string()
}

impl Pts {
    pub fn from_config(cfg: &Config) -> Pts {
        let settings = Settings {
            uri: opt(cfg, "ldap_uri").unwrap_or_else(|| "ldap://localhost/".into()),
            start_tls: cfg.get_bool("ldap_start_tls"),
            bind_dn: opt(cfg, "ldap_bind_dn"),
            password: opt(cfg, "ldap_password"),
            timeout: cfg.get_duration("ldap_timeout"),
            time_limit: cfg.get_duration("ldap_time_limit"),
            deref: match cfg.get_str("ldap_deref").unwrap_or("never") {
                "search" => 1,
                "find" => 2,
                "always" => 3,
                _ => 0,
            },
            referrals: cfg.get_bool("ldap_referrals"),
            restart: cfg.get_bool("ldap_restart"),
            ca_file: opt(cfg, "ldap_ca_file"),
            ca_dir: opt(cfg, "ldap_ca_dir"),
            client_cert: opt(cfg, "ldap_client_cert"),
            client_key: opt(cfg, "ldap_client_key"),
            ciphers: opt(cfg, "ldap_ciphers"),
            verify_peer: cfg.get_bool("ldap_verify_peer"),
        };
        let group_base = opt(cfg, "ldap_group_base").or_else(|| opt(cfg, "ldap_member_base")).unwrap_or_default();
        Pts {
            settings,
            sasl: cfg.get_bool("ldap_sasl"),
            base: text(cfg, "ldap_base"),
            filter: text(cfg, "ldap_filter"),
            scope: Scope::parse(cfg.get_str("ldap_scope").unwrap_or("sub")),
            // Cyrus 3.6 applies ldap_size_limit (default 1) to member searches too, so
            // a user in two groups found by filter fails there; here 1 means no limit.
            member_limit: match cfg.get_int("ldap_size_limit") {
                n if n > 1 => n.min(i32::MAX as i64) as i32,
                _ => 0,
            },
            by_filter: cfg.get_str("ldap_member_method") == Some("filter"),
            member_attribute: opt(cfg, "ldap_member_attribute"),
            member_filter: text(cfg, "ldap_member_filter"),
            group_base,
            group_filter: text(cfg, "ldap_group_filter"),
            group_scope: Scope::parse(cfg.get_str("ldap_group_scope").unwrap_or("sub")),
            domain_base_dn: text(cfg, "ldap_domain_base_dn"),
            domain_filter: text(cfg, "ldap_domain_filter"),
            domain_name_attribute: text(cfg, "ldap_domain_name_attribute"),
            domain_result_attribute: text(cfg, "ldap_domain_result_attribute"),
            domain_scope: Scope::parse(cfg.get_str("ldap_domain_scope").unwrap_or("sub")),
        }
    }

    /// What keeps ptloader from answering at all, said once at start.
    pub fn unsupported(&self) -> Option<&'static str> {
        if self.sasl {
            return Some("ldap_sasl: 1 (SASL binds to the directory) is not built; set ldap_sasl: 0 with ldap_bind_dn and ldap_password");
        }
        if self.member_attribute.is_none() {
            return Some("ldap_member_attribute is not set: no group can be found");
        }
        None
    }

    /// The `group:` identifiers of `userid` (a canonical userid, user@domain under
    /// virtdomains).
    pub fn groups(&self, ld: &Ldap, userid: &str) -> Result<Vec<String>, String> {
        let dn = self.user_dn(ld, userid)?;
        let attr = self.member_attribute.as_deref().unwrap_or("memberOf");
        let mut out = Vec::new();
        if self.by_filter {
            let filter = expand(&self.member_filter, userid, Some(&dn));
            let base = expand(&self.group_base, userid, Some(&dn));
            for e in ld.search(&base, self.group_scope, &filter, &[attr], self.member_limit).map_err(|e| format!("member search: {e}"))? {
                match e.get(attr) {
                    [one] => out.push(format!("group:{}", one.to_lowercase())),
                    [] => log::error!("no values for attribute '{attr}' on entry '{}'", e.dn),
                    _ => return Err(format!("too many values for attribute '{attr}' on entry '{}'", e.dn)),
                }
            }
        } else {
            for e in ld.search(&dn, Scope::Base, "(objectclass=*)", &[attr], 1).map_err(|e| format!("ldap_search(attribute): {e}"))? {
                for v in e.get(attr) {
                    if let Some(name) = first_rdn_value(v) {
                        out.push(format!("group:{}", name.to_lowercase()));
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Whether the group an ACL names exists: the one entry `ldap_group_filter` (%u the
    /// name) finds under `ldap_group_base`. Its identifier, lowercased as Cyrus does.
    pub fn group(&self, ld: &Ldap, name: &str) -> Result<String, String> {
        let filter = expand(&self.group_filter, name, None);
        let base = expand(&self.group_base, name, None);
        let found = ld.search(&base, self.group_scope, &filter, &[], 2).map_err(|e| format!("searching {base} with {filter}: {e}"))?;
        match found.len() {
            1 => Ok(format!("group:{}", name.to_lowercase())),
            0 => Err("identifier not found".into()),
            n => Err(format!("multiple entries found: {n}")),
        }
    }

    /// The DN of `userid`'s entry: exactly one entry must match.
    fn user_dn(&self, ld: &Ldap, userid: &str) -> Result<String, String> {
        let filter = expand(&self.filter, userid, None);
        let base = match userid.rsplit_once('@') {
            Some((_, domain)) if !self.domain_base_dn.is_empty() && !domain.is_empty() => self.domain_base(ld, domain)?,
            _ => expand(&self.base, userid, None),
        };
        // Two entries are enough to know the userid is not one person's.
        let found = ld.search(&base, self.scope, &filter, &[], 2).map_err(|e| format!("searching {base} with {filter}: {e}"))?;
        match found.as_slice() {
            [one] => Ok(one.dn.clone()),
            [] => Err("identifier not found".into()),
            many => Err(format!("multiple entries found: {}", many.len())),
        }
    }

    /// The base DN of a domain's users, found under `ldap_domain_base_dn`.
    fn domain_base(&self, ld: &Ldap, domain: &str) -> Result<String, String> {
        let filter = self.domain_filter.replace("%s", &escape(domain));
        let attrs = [self.domain_result_attribute.as_str(), self.domain_name_attribute.as_str()];
        let found = ld.search(&self.domain_base_dn, self.domain_scope, &filter, &attrs, 2).map_err(|e| format!("LDAP search for domain failed: {e}"))?;
        let [e] = found.as_slice() else {
            return Err(if found.is_empty() { format!("no domain {domain} found") } else { format!("multiple domains {domain} found") });
        };
        if let Some(dn) = e.get(&self.domain_result_attribute).first() {
            return Ok(dn.clone());
        }
        Ok(root_dn(e.get(&self.domain_name_attribute).first().map_or(domain, |s| s.as_str())))
    }
}

/// Connects with the settings (a reconnection is tried once by the caller on a
/// connection gone away).
pub fn connect(p: &Pts) -> Result<Ldap, Error> {
    Ldap::connect(&p.settings)
}

/// RFC 4515 escaping of a value put in a filter, as Cyrus's ptsmodule_escape.
pub fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// `example.org` → `dc=example,dc=org`.
fn root_dn(domain: &str) -> String {
    domain.split('.').filter(|p| !p.is_empty()).map(|p| format!("dc={p}")).collect::<Vec<_>>().join(",")
}

/// Cyrus's token expansion of ldap_filter and its kin (see imapd.conf(5)); every
/// value is escaped.
pub fn expand(pattern: &str, userid: &str, dn: Option<&str>) -> String {
    let (user, domain) = match userid.split_once('@') {
        Some((u, d)) => (u, Some(d).filter(|d| !d.is_empty())),
        None => (userid, None),
    };
    let mut out = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some('u') => out.push_str(&escape(userid)),
            Some('U') => out.push_str(&escape(user)),
            Some('d') => out.push_str(&domain.map(escape).unwrap_or_default()),
            Some('R') => {
                if let Some(d) = domain {
                    out.push('@');
                    out.push_str(&escape(d));
                }
            }
            Some('D') => out.push_str(&dn.map(escape).unwrap_or_default()),
            Some(n @ '1'..='9') => {
                let labels: Vec<&str> = domain.map(|d| d.split('.').collect()).unwrap_or_default();
                let i = n as usize - '0' as usize;
                if i <= labels.len() {
                    out.push_str(&escape(labels[labels.len() - i]));
                }
            }
            _ => {}
        }
    }
    out
}

/// The value of a DN's first RDN (`cn=Staff\2c Inc,ou=groups` → `Staff, Inc`).
pub fn first_rdn_value(dn: &str) -> Option<String> {
    let (_, rest) = dn.split_once('=')?;
    let mut out = Vec::new();
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b',' | b'+' => break,
            b'\\' if i + 1 < b.len() => {
                let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b[i + 1]);
                        i += 2;
                    }
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    let s = String::from_utf8_lossy(&out).trim().to_string();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert_eq!(expand("(uid=%u)", "fred", None), "(uid=fred)");
        assert_eq!(expand("(&(uid=%U)(dc=%d)(x=%R)(t=%1)(s=%2)(z=%3))", "fred@mail.example.org", None), "(&(uid=fred)(dc=mail.example.org)(x=@mail.example.org)(t=org)(s=example)(z=mail))");
        assert_eq!(expand("(member=%D)%%", "fred", Some("uid=fred,ou=people")), "(member=uid=fred,ou=people)%");
        // A userid cannot change the filter.
        assert_eq!(expand("(uid=%u)", "*)(uid=*", None), "(uid=\\2a\\29\\28uid=\\2a)");
        assert_eq!(expand("(uid=%u)(d=%d)", "fred", None), "(uid=fred)(d=)");
    }

    #[test]
    fn rdn() {
        assert_eq!(first_rdn_value("cn=Staff,ou=groups,dc=x").as_deref(), Some("Staff"));
        assert_eq!(first_rdn_value("cn=A\\2c B,ou=g").as_deref(), Some("A, B"));
        assert_eq!(first_rdn_value("cn=A\\,B+uid=x,ou=g").as_deref(), Some("A,B"));
        assert_eq!(first_rdn_value("nothing"), None);
        assert_eq!(root_dn("example.org"), "dc=example,dc=org");
    }
}
