//! Authentication through the real Cyrus SASL library (libsasl2, via sasl2-sys).
//!
//! [`init`] runs once per process, after the configuration is read: every `sasl_*`
//! option of imapd.conf (a `SERVICE_sasl_*` one overriding it) reaches libsasl2
//! through its option callback without the prefix (`sasl_pwcheck_method` →
//! `pwcheck_method`), as Cyrus does, so users made with `saslpasswd2`, saslauthd or any
//! installed plugin work unchanged. libsasl2's own log lines go to syslog.
//!
//! A [`ServerConn`] is one authentication exchange: list the mechanisms, start one
//! (with an optional initial response), step until done, read the authenticated user.
//! Before TLS, call [`ServerConn::set_plaintext_allowed`]`(false)` so that PLAIN and
//! LOGIN are neither offered nor accepted (unless `allowplaintext`); after TLS tell it
//! the TLS strength with [`ServerConn::set_external_ssf`], the verified client
//! certificate's name for EXTERNAL ([`ServerConn::set_external_authid`]) and the
//! channel bindings for the SCRAM-*-PLUS mechanisms ([`ServerConn::set_channel_bindings`]).
//!
//! A password check may wait on another daemon (saslauthd, an LDAP server through the
//! ldapdb plugin), and libsasl2 2.1.28 reads saslauthd's answer with no time limit. With
//! [`ServerConn::set_deadline`], every call that may wait (start, step, checkpass, APOP)
//! runs on a helper thread and is given up after the deadline: the caller gets
//! [`SASL_UNAVAIL`] with a detail saying so, and the connection handle (with whatever
//! it points to) is left to the helper, which disposes of it if the call ever returns.
//!
//! Pitfalls met (shared/notes/crate-probe.md): the callback table must outlive the
//! library (it is leaked once); `sasl_checkpass` needs NUL-terminated strings;
//! SASL_USERNAME and SASL_SEC_PROPS are `c_uint` where the functions take `c_int`.

use conf::Config;
use sasl2_sys::prelude::*;
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_ulong, c_void};
use std::sync::OnceLock;
use std::time::Duration;

pub use sasl2_sys::prelude::SASL_UNAVAIL;

/// A failure, with libsasl2's code and its detail text (never a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslError {
    pub code: i32,
    pub detail: String,
}

impl SaslError {
    /// Whether this is a wrong password or an unknown user (as opposed to a broken
    /// setup): the client gets "authentication failed" and the failure is slowed down.
    pub fn is_auth_failure(&self) -> bool {
        matches!(self.code, SASL_BADAUTH | SASL_NOUSER | SASL_NOUSERPASS) || self.code == SASL_BADPROT
    }
}

impl SaslError {
    /// Whether the credentials could not be checked at all (a password service down,
    /// hanging or broken): the client is told to try again later rather than that
    /// its password is wrong.
    pub fn is_temporary(&self) -> bool {
        matches!(self.code, SASL_FAIL | SASL_UNAVAIL | SASL_TRYAGAIN | SASL_NOMEM)
    }
}

impl std::fmt::Display for SaslError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SASL error {}: {}", self.code, self.detail)
    }
}

impl std::error::Error for SaslError {}

static INIT: OnceLock<Result<(), SaslError>> = OnceLock::new();

unsafe extern "C" fn getopt_cb(
    ctx: *mut c_void,
    _plugin: *const c_char,
    option: *const c_char,
    result: *mut *const c_char,
    len: *mut c_uint,
) -> c_int {
    if ctx.is_null() || option.is_null() || result.is_null() {
        return SASL_FAIL;
    }
    // SAFETY: ctx is the leaked map given at init; option is a C string from libsasl2.
    let map = unsafe { &*(ctx as *const HashMap<String, CString>) };
    let name = unsafe { CStr::from_ptr(option) }.to_str().unwrap_or("");
    match map.get(name) {
        Some(v) => {
            // SAFETY: result and len point to libsasl2's out-parameters; the value
            // lives as long as the leaked map.
            unsafe {
                *result = v.as_ptr();
                if !len.is_null() {
                    *len = v.as_bytes().len() as c_uint;
                }
            }
            SASL_OK
        }
        None => SASL_FAIL,
    }
}

/// The last error libsasl2 logged during the current call: its plugins and password
/// checkers often say why only there (saslauthd's "cannot connect to saslauthd server"
/// becomes the errdetail "checkpass failed"), so it is added to the error's detail.
/// One call at a time runs in a worker process.
static LAST_LOGGED: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn take_logged() -> Option<String> {
    LAST_LOGGED.lock().ok().and_then(|mut l| l.take())
}

unsafe extern "C" fn log_cb(_ctx: *mut c_void, level: c_int, message: *const c_char) -> c_int {
    if message.is_null() {
        return SASL_OK;
    }
    // SAFETY: message is a C string from libsasl2.
    let m = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    if matches!(level, SASL_LOG_ERR | SASL_LOG_FAIL) {
        if let Ok(mut l) = LAST_LOGGED.lock() {
            *l = Some(m.chars().take(200).collect());
        }
    }
    match level {
        SASL_LOG_ERR | SASL_LOG_FAIL => log::error!("SASL {m}"),
        SASL_LOG_WARN => log::warn!("SASL {m}"),
        SASL_LOG_NOTE => log::info!("SASL {m}"),
        _ => log::debug!("SASL {m}"),
    }
    SASL_OK
}

/// Who may act for another user (SASL proxy authorisation, an authzid that differs
/// from the authentication id): the `admins` and the `proxyservers` of imapd.conf, as
/// in Cyrus.
unsafe extern "C" fn proxy_cb(
    conn: *mut sasl_conn_t,
    ctx: *mut c_void,
    requested: *const c_char,
    rlen: c_uint,
    auth: *const c_char,
    alen: c_uint,
    _realm: *const c_char,
    _urlen: c_uint,
    _props: *mut c_void,
) -> c_int {
    if requested.is_null() || auth.is_null() || ctx.is_null() {
        return SASL_BADPARAM;
    }
    // SAFETY: libsasl2 passes the two ids with their lengths; ctx is the leaked list.
    let req = unsafe { std::slice::from_raw_parts(requested as *const u8, rlen as usize) };
    let who = unsafe { std::slice::from_raw_parts(auth as *const u8, alen as usize) };
    if req == who {
        return SASL_OK;
    }
    let allowed = unsafe { &*(ctx as *const Vec<String>) };
    let who_s = String::from_utf8_lossy(who);
    if allowed.iter().any(|a| *a == who_s) {
        log::info!("proxy authorisation: {who_s} acts as {}", String::from_utf8_lossy(req));
        return SASL_OK;
    }
    // SAFETY: sasl_seterror with a plain format string.
    unsafe { sasl_seterror(conn, 0, c"user is not allowed to proxy".as_ptr()) };
    SASL_NOAUTHZ
}

/// The application's rule for user names (Cyrus's `mysasl_canon_user`), set once
/// with [`set_canon_user`] before [`init`].
type CanonUser = dyn Fn(&str, Option<&str>) -> Result<String, String> + Send + Sync;
static CANON_USER: OnceLock<Box<CanonUser>> = OnceLock::new();
/// The last name the rule refused (control characters shown as `?`, at most 100),
/// for the caller's log line: libsasl2 keeps no authentication id then.
static REFUSED_NAME: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// The name [`set_canon_user`]'s rule refused during the last call, if it did.
pub fn take_refused_name() -> Option<String> {
    REFUSED_NAME.lock().ok().and_then(|mut l| l.take())
}

/// Sets how every name a mechanism reads (authentication and authorisation ids) is
/// made canonical before libsasl2 looks it up or checks its password, as Cyrus's
/// `mysasl_canon_user`: an `Err` refuses the login there (SASL_BADAUTH, the text as
/// the error's detail), so a name that is no valid userid never reaches saslauthd,
/// LDAP or the sasldb. The rule gets the name and the connection's local domain
/// (given to [`ServerConn::new`]; Cyrus's domain from the server's address under
/// `virtdomains: on`). The first call wins.
pub fn set_canon_user(f: impl Fn(&str, Option<&str>) -> Result<String, String> + Send + Sync + 'static) {
    let _ = CANON_USER.set(Box::new(f));
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn canon_cb(
    conn: *mut sasl_conn_t,
    ctx: *mut c_void,
    input: *const c_char,
    inlen: c_uint,
    _flags: c_uint,
    _realm: *const c_char,
    out: *mut c_char,
    out_max: c_uint,
    out_len: *mut c_uint,
) -> c_int {
    if input.is_null() || out.is_null() || out_len.is_null() {
        return SASL_BADPARAM;
    }
    // SAFETY: libsasl2 passes the name with its length.
    let raw = unsafe { std::slice::from_raw_parts(input as *const u8, inlen as usize) };
    let name = String::from_utf8_lossy(raw);
    // SAFETY: a non-null context is the connection's Kept::domain, alive as long as
    // the connection.
    let domain = if ctx.is_null() { None } else { unsafe { &*(ctx as *const Option<String>) }.as_deref() };
    let canon = match CANON_USER.get() {
        Some(f) => f(&name, domain),
        None => Ok(name.to_string()),
    };
    match canon {
        Ok(c) if c.len() < out_max as usize && !c.contains('\0') => {
            // SAFETY: out holds out_max bytes (it may be input itself: copy handles it).
            unsafe {
                std::ptr::copy(c.as_ptr(), out as *mut u8, c.len());
                *out.add(c.len()) = 0;
                *out_len = c.len() as c_uint;
            }
            SASL_OK
        }
        Ok(_) => SASL_BUFOVER,
        Err(why) => {
            if let Ok(mut l) = REFUSED_NAME.lock() {
                *l = Some(name.chars().take(100).map(|c| if c.is_control() { '?' } else { c }).collect());
            }
            let msg = CString::new(why).unwrap_or_default();
            // SAFETY: a "%s" format with one C string argument.
            unsafe { sasl_seterror(conn, 0, c"%s".as_ptr(), msg.as_ptr()) };
            SASL_BADAUTH
        }
    }
}

/// The libsasl2 options from a configuration: every `sasl_*` entry without its prefix.
pub fn options(cfg: &Config) -> HashMap<String, String> {
    cfg.prefixed_for_service("sasl_").into_iter().collect()
}

/// Initialises libsasl2 for this process (the first call wins; later calls return its
/// result). `app` names the application to libsasl2 (for its own config lookups).
pub fn init(app: &str, cfg: &Config) -> Result<(), SaslError> {
    INIT.get_or_init(|| {
        let mut map: HashMap<String, CString> = HashMap::new();
        for (k, v) in options(cfg) {
            if let Ok(c) = CString::new(v) {
                map.insert(k, c);
            }
        }
        map.entry("log_level".into()).or_insert_with(|| c"3".to_owned());
        let ctx = Box::into_raw(Box::new(map)) as *mut c_void;
        let mut proxiers = cfg.get_list("admins");
        proxiers.extend(cfg.get_list("proxyservers"));
        let proxy_ctx = Box::into_raw(Box::new(proxiers)) as *mut c_void;
        // SAFETY: the callbacks take the C signatures libsasl2 expects; sasl2-sys types
        // them as fn() -> c_int, hence the transmutes. The table is leaked: libsasl2
        // keeps the pointer for the life of the process.
        let cbs: &'static [sasl_callback_t] = Box::leak(Box::new([
            sasl_callback_t {
                id: SASL_CB_GETOPT,
                proc_: Some(unsafe { std::mem::transmute::<*const (), unsafe extern "C" fn() -> c_int>(getopt_cb as *const ()) }),
                context: ctx,
            },
            sasl_callback_t {
                id: SASL_CB_LOG,
                proc_: Some(unsafe { std::mem::transmute::<*const (), unsafe extern "C" fn() -> c_int>(log_cb as *const ()) }),
                context: std::ptr::null_mut(),
            },
            sasl_callback_t {
                id: SASL_CB_CANON_USER,
                proc_: Some(unsafe { std::mem::transmute::<*const (), unsafe extern "C" fn() -> c_int>(canon_cb as *const ()) }),
                context: std::ptr::null_mut(),
            },
            sasl_callback_t {
                id: SASL_CB_PROXY_POLICY,
                proc_: Some(unsafe { std::mem::transmute::<*const (), unsafe extern "C" fn() -> c_int>(proxy_cb as *const ()) }),
                context: proxy_ctx,
            },
            sasl_callback_t { id: SASL_CB_LIST_END, proc_: None, context: std::ptr::null_mut() },
        ]));
        let app = CString::new(app).unwrap_or_else(|_| c"mail-suite".to_owned());
        let app: &'static CStr = Box::leak(app.into_boxed_c_str());
        // SAFETY: both pointers live for the rest of the process.
        let r = unsafe { sasl_server_init(cbs.as_ptr(), app.as_ptr()) };
        if r == SASL_OK { Ok(()) } else { Err(SaslError { code: r, detail: errstring(r) }) }
    })
    .clone()
}

fn errstring(code: c_int) -> String {
    // SAFETY: sasl_errstring returns a static string.
    let p = unsafe { sasl_errstring(code, std::ptr::null(), std::ptr::null_mut()) };
    if p.is_null() { format!("error {code}") } else { unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned() }
}

/// One step of an exchange.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this challenge and read the client's answer.
    Continue(Vec<u8>),
    /// Authenticated; some mechanisms (SCRAM) end with data for the client.
    Done(Option<Vec<u8>>),
}

/// One server-side SASL connection.
pub struct ServerConn {
    conn: *mut sasl_conn_t,
    /// What libsasl2 keeps pointers to (the channel binding): it lives as long as the
    /// handle, and goes with it to a helper thread that was given up on.
    kept: Box<Kept>,
    deadline: Option<Duration>,
}

/// Data libsasl2 points to rather than copies.
#[derive(Default)]
struct Kept {
    /// The channel bindings the connection has (type name, data), and the one given
    /// to libsasl2 (pointing into `bindings`).
    bindings: Vec<(CString, Vec<u8>)>,
    cb: Option<sasl_channel_binding_t>,
    /// The local domain for the name rule, and the connection's own callback list
    /// pointing at it.
    domain: Box<Option<String>>,
    callbacks: Vec<sasl_callback_t>,
}

/// A handle and what it points to, moved to a helper thread. libsasl2 connections are
/// not tied to a thread; this one is used by one thread at a time (the caller waits
/// for the helper, or forgets the handle).
struct Moved(*mut sasl_conn_t, Box<Kept>);
// SAFETY: see above; the raw pointers in Kept point into Kept itself.
unsafe impl Send for Moved {}

impl Moved {
    fn conn(&self) -> *mut sasl_conn_t {
        self.0
    }
}

/// What a call that may wait returns from the helper thread (pointers copied out).
struct Answer {
    code: c_int,
    data: Vec<u8>,
    detail: Option<String>,
}

fn answer(conn: *mut sasl_conn_t, code: c_int, out: *const c_char, len: c_uint) -> Answer {
    // SAFETY: out/len come from libsasl2 and stay valid until the next call on conn.
    let data = if out.is_null() { Vec::new() } else { unsafe { std::slice::from_raw_parts(out as *const u8, len as usize) }.to_vec() };
    let logged = take_logged();
    let detail = (code != SASL_OK && code != SASL_CONTINUE).then(|| {
        // SAFETY: errdetail returns a string owned by the connection.
        let p = unsafe { sasl_errdetail(conn) };
        let d = if p.is_null() { errstring(code) } else { unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned() };
        match logged {
            Some(l) if !d.contains(&l) => format!("{d} ({l})"),
            _ => d,
        }
    });
    Answer { code, data, detail }
}

fn opt_c(s: Option<&str>) -> Result<Option<CString>, SaslError> {
    s.map(|v| CString::new(v).map_err(|_| SaslError { code: SASL_BADPARAM, detail: "NUL in parameter".into() })).transpose()
}

fn ptr(c: &Option<CString>) -> *const c_char {
    c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
}

impl ServerConn {
    /// `service` is the SASL service name (imap, pop, lmtp, sieve, nntp); `local` and
    /// `remote` are `ip;port` (None for unix sockets); `user_realm` None means the
    /// server's FQDN; `local_domain` goes to the [`set_canon_user`] rule.
    pub fn new(service: &str, fqdn: &str, user_realm: Option<&str>, local: Option<&str>, remote: Option<&str>, local_domain: Option<&str>) -> Result<ServerConn, SaslError> {
        let (service, fqdn) = (opt_c(Some(service))?, opt_c(Some(fqdn))?);
        let (realm, local, remote) = (opt_c(user_realm)?, opt_c(local)?, opt_c(remote)?);
        let mut kept = Box::new(Kept { domain: Box::new(local_domain.map(str::to_string)), ..Default::default() });
        let ctx = &*kept.domain as *const Option<String> as *mut c_void;
        kept.callbacks = vec![
            sasl_callback_t {
                id: SASL_CB_CANON_USER,
                // SAFETY: the C signature libsasl2 expects, typed fn() -> c_int by sasl2-sys.
                proc_: Some(unsafe { std::mem::transmute::<*const (), unsafe extern "C" fn() -> c_int>(canon_cb as *const ()) }),
                context: ctx,
            },
            sasl_callback_t { id: SASL_CB_LIST_END, proc_: None, context: std::ptr::null_mut() },
        ];
        let mut conn = std::ptr::null_mut();
        // SAFETY: all strings live across the call; the callback list and its context
        // live in `kept`, as long as the handle; conn receives a new handle.
        let r = unsafe {
            sasl_server_new(ptr(&service), ptr(&fqdn), ptr(&realm), ptr(&local), ptr(&remote), kept.callbacks.as_ptr(), SASL_SUCCESS_DATA, &mut conn)
        };
        if r != SASL_OK {
            return Err(SaslError { code: r, detail: errstring(r) });
        }
        Ok(ServerConn { conn, kept, deadline: None })
    }

    /// Gives up any call that may wait on a password service after `limit` (see the
    /// module doc); `None` waits as long as libsasl2 does.
    pub fn set_deadline(&mut self, limit: Option<Duration>) {
        self.deadline = limit;
    }

    /// Runs `f` on the handle, on a helper thread when a deadline is set.
    fn call(&mut self, what: &str, f: impl FnOnce(*mut sasl_conn_t) -> Answer + Send + 'static) -> Answer {
        if self.conn.is_null() {
            return Answer { code: SASL_FAIL, data: Vec::new(), detail: Some("an earlier call was given up".into()) };
        }
        take_logged();
        take_refused_name();
        let Some(limit) = self.deadline else { return f(self.conn) };
        let moved = Moved(self.conn, std::mem::take(&mut self.kept));
        let (tx, rx) = std::sync::mpsc::channel::<(Answer, Moved)>();
        let spawned = std::thread::Builder::new().name("sasl".into()).spawn(move || {
            let a = f(moved.conn());
            if let Err(std::sync::mpsc::SendError((_, mut m))) = tx.send((a, moved)) {
                // Given up on: nobody else holds the handle now.
                // SAFETY: the handle is ours alone.
                unsafe { sasl_dispose(&mut m.0) };
            }
        });
        if spawned.is_err() {
            // The closure, and the handle's Kept with it, is gone: never touch the
            // handle again (it is leaked).
            self.conn = std::ptr::null_mut();
            return Answer { code: SASL_NOMEM, data: Vec::new(), detail: Some("cannot start a thread".into()) };
        }
        match rx.recv_timeout(limit) {
            Ok((a, m)) => {
                self.kept = m.1;
                a
            }
            Err(_) => {
                // The helper keeps the handle (and disposes of it if the call returns).
                self.conn = std::ptr::null_mut();
                let detail = format!("{what} gave no answer within {} s (is the password service, e.g. saslauthd, hanging?)", limit.as_secs_f32());
                Answer { code: SASL_UNAVAIL, data: Vec::new(), detail: Some(detail) }
            }
        }
    }

    fn err(&self, code: c_int) -> SaslError {
        if self.conn.is_null() {
            return SaslError { code, detail: errstring(code) };
        }
        // SAFETY: errdetail returns a string owned by the connection.
        let p = unsafe { sasl_errdetail(self.conn) };
        let detail = if p.is_null() { errstring(code) } else { unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned() };
        SaslError { code, detail }
    }

    /// Allows or forbids mechanisms that send passwords in the clear (PLAIN, LOGIN),
    /// and anonymous login.
    pub fn set_plaintext_allowed(&mut self, allowed: bool) -> Result<(), SaslError> {
        let props = sasl_security_properties_t {
            min_ssf: 0,
            // No SASL security layer: nothing encodes or decodes one (TLS is the layer).
            max_ssf: 0,
            maxbufsize: 4096,
            security_flags: if allowed { SASL_SEC_NOANONYMOUS } else { SASL_SEC_NOPLAINTEXT | SASL_SEC_NOANONYMOUS },
            property_names: std::ptr::null_mut(),
            property_values: std::ptr::null_mut(),
        };
        // SAFETY: the struct is copied by libsasl2 during the call.
        let r = unsafe { sasl_setprop(self.conn, SASL_SEC_PROPS as c_int, &props as *const _ as *const c_void) };
        if r == SASL_OK { Ok(()) } else { Err(self.err(r)) }
    }

    /// Tells libsasl2 the strength of the TLS layer (after STARTTLS).
    pub fn set_external_ssf(&mut self, ssf: u32) -> Result<(), SaslError> {
        let v: sasl_ssf_t = ssf;
        // SAFETY: the value is copied during the call.
        let r = unsafe { sasl_setprop(self.conn, SASL_SSF_EXTERNAL as c_int, &v as *const _ as *const c_void) };
        if r == SASL_OK { Ok(()) } else { Err(self.err(r)) }
    }

    /// The authentication id an external layer established (the CN of a verified TLS
    /// client certificate, as Cyrus takes it): offers and answers EXTERNAL.
    pub fn set_external_authid(&mut self, authid: &str) -> Result<(), SaslError> {
        let id = opt_c(Some(authid))?;
        // SAFETY: libsasl2 copies the string.
        let r = unsafe { sasl_setprop(self.conn, SASL_AUTH_EXTERNAL as c_int, ptr(&id) as *const c_void) };
        if r == SASL_OK { Ok(()) } else { Err(self.err(r)) }
    }

    /// The TLS channel bindings of the connection (type and bytes), which make
    /// libsasl2 offer the SCRAM-*-PLUS mechanisms; the first is libsasl2's unless the
    /// client's GS2 header (`p=TYPE,`) asks for another of them ([`start`](Self::start)
    /// and [`step`](Self::step) look): SCRAM has no negotiation of the type, and
    /// clients differ. Not critical: clients may still use the mechanisms unbound.
    pub fn set_channel_bindings(&mut self, bindings: &[(&str, Vec<u8>)]) -> Result<(), SaslError> {
        let mut list = Vec::new();
        for (name, data) in bindings {
            list.push((opt_c(Some(name))?.unwrap_or_default(), data.clone()));
        }
        self.kept.bindings = list;
        if self.kept.bindings.is_empty() { Ok(()) } else { self.use_binding(0) }
    }

    fn use_binding(&mut self, i: usize) -> Result<(), SaslError> {
        let k = &mut *self.kept;
        let (name, data) = &k.bindings[i];
        k.cb = Some(sasl_channel_binding_t { name: name.as_ptr(), critical: 0, len: data.len() as c_ulong, data: data.as_ptr() });
        let cb = k.cb.as_ref().map_or(std::ptr::null(), |c| c as *const sasl_channel_binding_t);
        // SAFETY: libsasl2 keeps the pointer; the struct and its data live in `kept`,
        // which lives as long as the handle (and moves with it).
        let r = unsafe { sasl_setprop(self.conn, SASL_CHANNEL_BINDING as c_int, cb as *const c_void) };
        if r == SASL_OK { Ok(()) } else { Err(self.err(r)) }
    }

    /// Gives libsasl2 the binding a GS2 header (`p=TYPE,...`) names, when there is one.
    fn follow_gs2(&mut self, data: &[u8]) {
        let Some(rest) = data.strip_prefix(b"p=") else { return };
        let name = rest.split(|&b| b == b',').next().unwrap_or_default();
        if let Some(i) = self.kept.bindings.iter().position(|(n, _)| n.as_bytes() == name) {
            let _ = self.use_binding(i);
        }
    }

    /// The mechanisms offered now, in libsasl2's order.
    pub fn mechanisms(&self) -> Result<Vec<String>, SaslError> {
        let mut out: *const c_char = std::ptr::null();
        let (mut len, mut count) = (0 as c_uint, 0 as c_int);
        // SAFETY: the result string is owned by the connection and copied at once.
        let r = unsafe { sasl_listmech(self.conn, std::ptr::null(), c"".as_ptr(), c" ".as_ptr(), c"".as_ptr(), &mut out, &mut len, &mut count) };
        if r != SASL_OK {
            return Err(self.err(r));
        }
        if out.is_null() {
            return Ok(vec![]);
        }
        let s = unsafe { CStr::from_ptr(out) }.to_string_lossy().into_owned();
        Ok(s.split_whitespace().map(str::to_string).collect())
    }

    fn outcome(a: Answer) -> Result<Step, SaslError> {
        match a.code {
            SASL_CONTINUE => Ok(Step::Continue(a.data)),
            SASL_OK => Ok(Step::Done((!a.data.is_empty()).then_some(a.data))),
            code => Err(SaslError { code, detail: a.detail.unwrap_or_else(|| errstring(code)) }),
        }
    }

    fn result(a: Answer) -> Result<(), SaslError> {
        Self::outcome(a).map(|_| ())
    }

    /// Starts `mech`, with the client's initial response if it sent one (SASL-IR).
    pub fn start(&mut self, mech: &str, initial: Option<&[u8]>) -> Result<Step, SaslError> {
        let m = opt_c(Some(mech))?.unwrap_or_default();
        if let Some(i) = initial {
            self.follow_gs2(i);
        }
        let initial = initial.map(<[u8]>::to_vec);
        let a = self.call("the SASL exchange", move |conn| {
            let (mut out, mut len) = (std::ptr::null(), 0 as c_uint);
            let (ip, il) = match &initial {
                Some(i) => (i.as_ptr() as *const c_char, i.len() as c_uint),
                None => (std::ptr::null(), 0),
            };
            // SAFETY: inputs live across the call.
            let r = unsafe { sasl_server_start(conn, m.as_ptr(), ip, il, &mut out, &mut len) };
            answer(conn, r, out, len)
        });
        Self::outcome(a)
    }

    /// Feeds the client's answer to the last challenge.
    pub fn step(&mut self, response: &[u8]) -> Result<Step, SaslError> {
        self.follow_gs2(response);
        let response = response.to_vec();
        let a = self.call("the SASL exchange", move |conn| {
            let (mut out, mut len) = (std::ptr::null(), 0 as c_uint);
            // SAFETY: input lives across the call.
            let r = unsafe { sasl_server_step(conn, response.as_ptr() as *const c_char, response.len() as c_uint, &mut out, &mut len) };
            answer(conn, r, out, len)
        });
        Self::outcome(a)
    }

    /// Checks a user name and password (LOGIN, USER/PASS, AUTHINFO USER).
    pub fn checkpass(&mut self, user: &str, pass: &[u8]) -> Result<(), SaslError> {
        let u = opt_c(Some(user))?.unwrap_or_default();
        let p = CString::new(pass).map_err(|_| SaslError { code: SASL_BADPARAM, detail: "NUL in password".into() })?;
        let a = self.call("the password check", move |conn| {
            // SAFETY: both are NUL-terminated (libsasl2's verifier reads them as C strings).
            let r = unsafe { sasl_checkpass(conn, u.as_ptr(), u.as_bytes().len() as c_uint, p.as_ptr(), p.as_bytes().len() as c_uint) };
            answer(conn, r, std::ptr::null(), 0)
        });
        Self::result(a)
    }

    /// Whether libsasl2 can check APOP (it was built with it, and an auxprop plugin
    /// can give the plaintext secret).
    pub fn apop_available(&self) -> bool {
        // SAFETY: a NULL challenge asks only whether APOP is supported.
        !self.conn.is_null() && unsafe { sasl_checkapop(self.conn, std::ptr::null(), 0, std::ptr::null(), 0) == SASL_OK }
    }

    /// Checks a POP3 APOP answer: `response` is `user digest`, the digest being
    /// MD5(challenge + secret) in hex.
    pub fn checkapop(&mut self, challenge: &str, response: &str) -> Result<(), SaslError> {
        let c = opt_c(Some(challenge))?.unwrap_or_default();
        let r = opt_c(Some(response))?.unwrap_or_default();
        let a = self.call("the APOP check", move |conn| {
            // SAFETY: both are NUL-terminated and live across the call.
            let code = unsafe { sasl_checkapop(conn, c.as_ptr(), c.as_bytes().len() as c_uint, r.as_ptr(), r.as_bytes().len() as c_uint) };
            answer(conn, code, std::ptr::null(), 0)
        });
        Self::result(a)
    }

    fn string_prop(&self, prop: c_uint) -> Option<String> {
        if self.conn.is_null() {
            return None;
        }
        let mut p: *const c_void = std::ptr::null();
        // SAFETY: getprop gives a string owned by the connection, copied at once.
        let r = unsafe { sasl_getprop(self.conn, prop as c_int, &mut p) };
        (r == SASL_OK && !p.is_null()).then(|| unsafe { CStr::from_ptr(p as *const c_char) }.to_string_lossy().into_owned())
    }

    /// The authenticated user (`user@realm` as libsasl2 canonicalises it): the
    /// authorisation identity, which differs from [`authuser`](Self::authuser) when an
    /// admin or proxy server acts for someone else.
    pub fn username(&self) -> Option<String> {
        self.string_prop(SASL_USERNAME)
    }

    /// The identity whose credentials were checked (the authentication identity).
    pub fn authuser(&self) -> Option<String> {
        self.string_prop(SASL_AUTHUSER)
    }
}

impl Drop for ServerConn {
    fn drop(&mut self) {
        if self.conn.is_null() {
            return; // given to a helper thread, which disposes of it
        }
        // SAFETY: disposing our own handle once.
        unsafe { sasl_dispose(&mut self.conn) };
    }
}
