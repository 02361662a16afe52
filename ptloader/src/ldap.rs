//! A small safe face on OpenLDAP's libldap (OpenLDAP Public License, permissive),
//! linked only into ptloader so that no mail worker maps it: initialise, options,
//! StartTLS, simple bind, search, and reading DNs and values of the entries found.

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr;
use std::time::Duration;

#[repr(C)]
struct BerVal {
    len: libc::c_ulong,
    val: *mut c_char,
}

#[link(name = "ldap")]
unsafe extern "C" {
    fn ldap_initialize(ld: *mut *mut c_void, uri: *const c_char) -> c_int;
    fn ldap_set_option(ld: *mut c_void, option: c_int, invalue: *const c_void) -> c_int;
    fn ldap_start_tls_s(ld: *mut c_void, sctrls: *mut c_void, cctrls: *mut c_void) -> c_int;
    fn ldap_sasl_bind_s(
        ld: *mut c_void,
        dn: *const c_char,
        mech: *const c_char,
        cred: *const BerVal,
        sctrls: *mut c_void,
        cctrls: *mut c_void,
        servercred: *mut *mut BerVal,
    ) -> c_int;
    fn ldap_search_ext_s(
        ld: *mut c_void,
        base: *const c_char,
        scope: c_int,
        filter: *const c_char,
        attrs: *const *const c_char,
        attrsonly: c_int,
        sctrls: *mut c_void,
        cctrls: *mut c_void,
        timeout: *const libc::timeval,
        sizelimit: c_int,
        res: *mut *mut c_void,
    ) -> c_int;
    fn ldap_first_entry(ld: *mut c_void, chain: *mut c_void) -> *mut c_void;
    fn ldap_next_entry(ld: *mut c_void, entry: *mut c_void) -> *mut c_void;
    fn ldap_get_dn(ld: *mut c_void, entry: *mut c_void) -> *mut c_char;
    fn ldap_get_values_len(ld: *mut c_void, entry: *mut c_void, attr: *const c_char) -> *mut *mut BerVal;
    fn ldap_value_free_len(vals: *mut *mut BerVal);
    fn ldap_memfree(p: *mut c_void);
    fn ldap_msgfree(msg: *mut c_void) -> c_int;
    fn ldap_unbind_ext_s(ld: *mut c_void, sctrls: *mut c_void, cctrls: *mut c_void) -> c_int;
    fn ldap_err2string(err: c_int) -> *const c_char;
}

const LDAP_SUCCESS: c_int = 0;
const LDAP_SIZELIMIT_EXCEEDED: c_int = 4;
const LDAP_TIMEOUT: c_int = -5;
const OPT_DEREF: c_int = 0x0002;
const OPT_TIMELIMIT: c_int = 0x0004;
const OPT_REFERRALS: c_int = 0x0008;
const OPT_RESTART: c_int = 0x0009;
const OPT_PROTOCOL_VERSION: c_int = 0x0011;
const OPT_TIMEOUT: c_int = 0x5002;
const OPT_NETWORK_TIMEOUT: c_int = 0x5005;
const OPT_X_TLS_CACERTFILE: c_int = 0x6002;
const OPT_X_TLS_CACERTDIR: c_int = 0x6003;
const OPT_X_TLS_CERTFILE: c_int = 0x6004;
const OPT_X_TLS_KEYFILE: c_int = 0x6005;
const OPT_X_TLS_REQUIRE_CERT: c_int = 0x6006;
const OPT_X_TLS_CIPHER_SUITE: c_int = 0x6008;
const OPT_X_TLS_NEWCTX: c_int = 0x600f;

/// An LDAP error: libldap's code and its text.
#[derive(Debug)]
pub struct Error {
    pub code: i32,
    pub text: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{} ({})", self.text, self.code)
    }
}

fn check(code: c_int) -> Result<(), Error> {
    if code == LDAP_SUCCESS {
        return Ok(());
    }
    // SAFETY: ldap_err2string returns a static string for every code.
    let text = unsafe { CStr::from_ptr(ldap_err2string(code)) }.to_string_lossy().into_owned();
    Err(Error { code, text })
}

fn cstring(s: &str) -> Result<CString, Error> {
    CString::new(s).map_err(|_| Error { code: -9, text: format!("NUL in {s:?}") })
}

/// Search scope, as imapd.conf's `sub`, `one`, `base`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Base = 0,
    One = 1,
    Sub = 2,
}

impl Scope {
    pub fn parse(s: &str) -> Scope {
        match s.to_ascii_lowercase().as_str() {
            "one" => Scope::One,
            "base" => Scope::Base,
            _ => Scope::Sub,
        }
    }
}

/// How ptloader reaches the directory (the `ldap_*` options).
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub uri: String,
    pub start_tls: bool,
    pub bind_dn: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
    pub time_limit: Duration,
    pub deref: i32,
    pub referrals: bool,
    pub restart: bool,
    pub ca_file: Option<String>,
    pub ca_dir: Option<String>,
    pub client_cert: Option<String>,
    pub client_key: Option<String>,
    pub ciphers: Option<String>,
    pub verify_peer: bool,
}

/// One entry found: its DN and the values of the attributes asked for.
#[derive(Debug, Default)]
pub struct Entry {
    pub dn: String,
    pub values: Vec<(String, Vec<String>)>,
}

impl Entry {
    pub fn get(&self, attr: &str) -> &[String] {
        self.values.iter().find(|(a, _)| a.eq_ignore_ascii_case(attr)).map(|(_, v)| v.as_slice()).unwrap_or(&[])
    }
}

/// A bound connection.
pub struct Ldap {
    ld: *mut c_void,
    timeout: Duration,
}

fn timeval(d: Duration) -> libc::timeval {
    libc::timeval { tv_sec: d.as_secs() as libc::time_t, tv_usec: d.subsec_micros() as libc::suseconds_t }
}

impl Ldap {
    /// Connects (lazily, as libldap does) and binds: simple bind with `bind_dn` and
    /// `password`, or anonymously without them.
    pub fn connect(s: &Settings) -> Result<Ldap, Error> {
        let uri = cstring(&s.uri)?;
        let mut ld = ptr::null_mut();
        // SAFETY: ldap_initialize fills `ld` on success; the handle is owned by Ldap.
        check(unsafe { ldap_initialize(&mut ld, uri.as_ptr()) })?;
        let l = Ldap { ld, timeout: s.timeout };
        let version: c_int = 3;
        let net = timeval(s.timeout);
        let off: *const c_void = ptr::null();
        let on: *const c_void = 1usize as *const c_void; // LDAP_OPT_ON is any non-null pointer
        l.set(OPT_PROTOCOL_VERSION, &version as *const c_int as *const c_void)?;
        l.set(OPT_NETWORK_TIMEOUT, &net as *const libc::timeval as *const c_void)?;
        l.set(OPT_TIMEOUT, &net as *const libc::timeval as *const c_void)?;
        l.set(OPT_REFERRALS, if s.referrals { on } else { off })?;
        l.set(OPT_RESTART, if s.restart { on } else { off })?;
        l.set(OPT_DEREF, &s.deref as *const c_int as *const c_void)?;
        let tl = s.time_limit.as_secs() as c_int;
        l.set(OPT_TIMELIMIT, &tl as *const c_int as *const c_void)?;
        let mut tls = false;
        for (opt, v) in [
            (OPT_X_TLS_CACERTFILE, &s.ca_file),
            (OPT_X_TLS_CACERTDIR, &s.ca_dir),
            (OPT_X_TLS_CERTFILE, &s.client_cert),
            (OPT_X_TLS_KEYFILE, &s.client_key),
            (OPT_X_TLS_CIPHER_SUITE, &s.ciphers),
        ] {
            if let Some(v) = v {
                let c = cstring(v)?;
                l.set(opt, c.as_ptr() as *const c_void)?;
                tls = true;
            }
        }
        // LDAP_OPT_X_TLS_NEVER (0) unless ldap_verify_peer, then DEMAND (2).
        let require: c_int = if s.verify_peer { 2 } else { 0 };
        l.set(OPT_X_TLS_REQUIRE_CERT, &require as *const c_int as *const c_void)?;
        if tls || s.verify_peer {
            let zero: c_int = 0;
            l.set(OPT_X_TLS_NEWCTX, &zero as *const c_int as *const c_void)?;
        }
        if s.start_tls {
            // SAFETY: a valid handle; no controls.
            check(unsafe { ldap_start_tls_s(l.ld, ptr::null_mut(), ptr::null_mut()) })?;
        }
        let dn = s.bind_dn.as_deref().map(cstring).transpose()?;
        let pw = s.password.clone().unwrap_or_default();
        let cred = BerVal { len: pw.len() as libc::c_ulong, val: pw.as_ptr() as *mut c_char };
        // SAFETY: simple bind (mech NULL) with the password as a berval that outlives the call.
        check(unsafe {
            ldap_sasl_bind_s(
                l.ld,
                dn.as_ref().map_or(ptr::null(), |d| d.as_ptr()),
                ptr::null(),
                &cred,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
            )
        })?;
        Ok(l)
    }

    fn set(&self, opt: c_int, v: *const c_void) -> Result<(), Error> {
        // SAFETY: each option is given the type libldap documents for it.
        check(unsafe { ldap_set_option(self.ld, opt, v) })
    }

    /// Searches `base` with `filter`, returning at most `limit` entries (0: no limit)
    /// with the values of `attrs` (none: no attributes, "1.1"). A size limit reached
    /// keeps the entries found.
    pub fn search(&self, base: &str, scope: Scope, filter: &str, attrs: &[&str], limit: i32) -> Result<Vec<Entry>, Error> {
        let base = cstring(base)?;
        let filter = cstring(filter)?;
        let names: Vec<CString> =
            if attrs.is_empty() { vec![cstring("1.1")?] } else { attrs.iter().map(|a| cstring(a)).collect::<Result<_, _>>()? };
        let mut ptrs: Vec<*const c_char> = names.iter().map(|c| c.as_ptr()).collect();
        ptrs.push(ptr::null());
        let tv = timeval(self.timeout);
        let mut res = ptr::null_mut();
        // SAFETY: every pointer is valid for the call; `res` is freed below.
        let rc = unsafe {
            ldap_search_ext_s(self.ld, base.as_ptr(), scope as c_int, filter.as_ptr(), ptrs.as_ptr(), 0, ptr::null_mut(), ptr::null_mut(), &tv, limit, &mut res)
        };
        let out = if rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED { Ok(self.entries(res, attrs)) } else { check(rc).map(|_| Vec::new()) };
        if !res.is_null() {
            // SAFETY: the result chain came from ldap_search_ext_s.
            unsafe { ldap_msgfree(res) };
        }
        if rc == LDAP_TIMEOUT {
            return Err(Error { code: rc, text: "timed out".into() });
        }
        out
    }

    fn entries(&self, res: *mut c_void, attrs: &[&str]) -> Vec<Entry> {
        let mut out = Vec::new();
        // SAFETY: walking a live result chain; each DN and value set is copied and freed.
        unsafe {
            let mut e = ldap_first_entry(self.ld, res);
            while !e.is_null() {
                let mut entry = Entry::default();
                let dn = ldap_get_dn(self.ld, e);
                if !dn.is_null() {
                    entry.dn = CStr::from_ptr(dn).to_string_lossy().into_owned();
                    ldap_memfree(dn as *mut c_void);
                }
                for a in attrs {
                    let Ok(ca) = CString::new(*a) else { continue };
                    let vals = ldap_get_values_len(self.ld, e, ca.as_ptr());
                    let mut vs = Vec::new();
                    if !vals.is_null() {
                        let mut p = vals;
                        while !(*p).is_null() {
                            let b = &**p;
                            vs.push(String::from_utf8_lossy(std::slice::from_raw_parts(b.val as *const u8, b.len as usize)).into_owned());
                            p = p.add(1);
                        }
                        ldap_value_free_len(vals);
                    }
                    entry.values.push((a.to_string(), vs));
                }
                out.push(entry);
                e = ldap_next_entry(self.ld, e);
            }
        }
        out
    }
}

impl Drop for Ldap {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and is not used after this.
        unsafe { ldap_unbind_ext_s(self.ld, ptr::null_mut(), ptr::null_mut()) };
    }
}
