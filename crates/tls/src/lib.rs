//! TLS for the daemons: an OpenSSL server context per service, from imapd.conf.
//!
//! [`server_acceptor`] reads, through the configuration's service prefix
//! (`imaps_tls_server_cert` beats `tls_server_cert`; the old alias names were mapped
//! when the file was loaded):
//! - `tls_server_cert` (PEM chain) and `tls_server_key` (defaults to the cert file);
//!   unset or `disabled` means no TLS for the service;
//! - `tls_versions`: the versions allowed, TLS 1.2 and 1.3 by default (Cyrus allows all
//!   four; 1.0 and 1.1 are broken, so they must be asked for);
//! - `tls_ciphers` for TLS 1.2 and below;
//! - `tls_client_ca_file` / `tls_client_ca_dir` and `tls_client_certs` (Cyrus's
//!   `off`, `optional`, `require`): with a CA set and not `off`, clients are asked for a
//!   certificate, verified against the CA; one that does not verify fails the handshake
//!   (as in Cyrus 3.6), and `require` fails it when the client sends none. The CN of a
//!   verified certificate is what SASL EXTERNAL authenticates ([`peer_cn`]).
//!
//! Errors name the option and the file, so an administrator knows what to fix.

use conf::Config;
use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod, SslOptions, SslVerifyMode, SslVersion};

pub use openssl::ssl::{SslAcceptor as Acceptor, SslStream};

const VERSIONS: [(&str, SslVersion, SslOptions); 4] = [
    ("tls1_0", SslVersion::TLS1, SslOptions::NO_TLSV1),
    ("tls1_1", SslVersion::TLS1_1, SslOptions::NO_TLSV1_1),
    ("tls1_2", SslVersion::TLS1_2, SslOptions::NO_TLSV1_2),
    ("tls1_3", SslVersion::TLS1_3, SslOptions::NO_TLSV1_3),
];

/// The certificate file of the configuration's service, or `None` when TLS is not
/// configured (or `disabled`) for it.
pub fn server_cert(cfg: &Config) -> Option<&str> {
    cfg.get_str("tls_server_cert").filter(|c| !c.is_empty() && *c != "disabled")
}

/// The server context of the configuration's service, or `None` when TLS is not
/// configured (or `disabled`) for it.
pub fn server_acceptor(cfg: &Config) -> Result<Option<SslAcceptor>, String> {
    let Some(cert) = server_cert(cfg) else {
        return Ok(None);
    };
    let key = cfg.get_str("tls_server_key").filter(|k| !k.is_empty() && *k != "disabled").unwrap_or(cert);
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server()).map_err(|e| e.to_string())?;
    b.set_certificate_chain_file(cert).map_err(|e| format!("tls_server_cert {cert}: {e}"))?;
    b.set_private_key_file(key, SslFiletype::PEM).map_err(|e| format!("tls_server_key {key}: {e}"))?;
    b.check_private_key().map_err(|e| format!("tls_server_key {key} does not match tls_server_cert {cert}: {e}"))?;

    let allowed = cfg.get_list("tls_versions");
    let on: Vec<bool> = VERSIONS.iter().map(|(n, _, _)| allowed.iter().any(|a| a.eq_ignore_ascii_case(n))).collect();
    let lo = on.iter().position(|&x| x).ok_or("tls_versions allows no TLS version")?;
    let hi = on.iter().rposition(|&x| x).unwrap_or(lo);
    b.set_min_proto_version(Some(VERSIONS[lo].1)).map_err(|e| e.to_string())?;
    b.set_max_proto_version(Some(VERSIONS[hi].1)).map_err(|e| e.to_string())?;
    // mozilla_intermediate_v5 turns 1.0 and 1.1 off; turn on what is asked for, and off
    // a version left out between two allowed ones.
    b.clear_options(SslOptions::NO_TLSV1 | SslOptions::NO_TLSV1_1);
    for (i, (_, _, opt)) in VERSIONS.iter().enumerate() {
        if !on[i] {
            b.set_options(*opt);
        }
    }
    if on[0] || on[1] {
        // OpenSSL 3 refuses the old versions at security level 1 and above.
        let ciphers = format!("{}:@SECLEVEL=0", cfg.get_str("tls_ciphers").unwrap_or("DEFAULT"));
        b.set_cipher_list(&ciphers).map_err(|e| format!("tls_ciphers: {e}"))?;
    } else if let Some(c) = cfg.get_str("tls_ciphers") {
        b.set_cipher_list(c).map_err(|e| format!("tls_ciphers {c}: {e}"))?;
    }
    let ca_file = cfg.get_str("tls_client_ca_file");
    let ca_dir = cfg.get_str("tls_client_ca_dir");
    let mode = cfg.get_str("tls_client_certs").unwrap_or("optional");
    if mode == "require" && ca_file.is_none() && ca_dir.is_none() {
        return Err("tls_client_certs: require needs tls_client_ca_file or tls_client_ca_dir".into());
    }
    if mode != "off" && (ca_file.is_some() || ca_dir.is_some()) {
        if let Some(f) = ca_file {
            b.set_ca_file(f).map_err(|e| format!("tls_client_ca_file {f}: {e}"))?;
        }
        if let Some(d) = ca_dir {
            b.cert_store_mut()
                .add_lookup(openssl::x509::store::X509Lookup::hash_dir())
                .and_then(|l| l.add_dir(d, SslFiletype::PEM))
                .map_err(|e| format!("tls_client_ca_dir {d}: {e}"))?;
        }
        if let Some(f) = ca_file {
            // The CA names sent in the certificate request, so a client with several
            // certificates picks one of this CA.
            let names = openssl::x509::X509Name::load_client_ca_file(f).map_err(|e| format!("tls_client_ca_file {f}: {e}"))?;
            b.set_client_ca_list(names);
        }
        let mut verify = SslVerifyMode::PEER | SslVerifyMode::CLIENT_ONCE;
        if mode == "require" {
            verify |= SslVerifyMode::FAIL_IF_NO_PEER_CERT;
        }
        b.set_verify(verify);
        // With peer verification OpenSSL refuses to resume a session (a ticket, which
        // every worker of a template can decrypt) whose context is unset, failing the
        // handshake: name the context.
        b.set_session_id_context(b"cyrus-suite").map_err(|e| format!("TLS session id context: {e}"))?;
    }
    Ok(Some(b.build()))
}

/// The common name of the client's certificate, once verified (what Cyrus 3.6 gives
/// SASL as the EXTERNAL authentication id). `None` without a verified certificate.
pub fn peer_cn(ssl: &openssl::ssl::SslRef) -> Option<String> {
    if ssl.verify_result() != openssl::x509::X509VerifyResult::OK {
        return None;
    }
    let cert = ssl.peer_certificate()?;
    let cn = cert.subject_name().entries_by_nid(openssl::nid::Nid::COMMONNAME).next()?;
    // A CN with a NUL byte (`admin\0.evil.test`) names nobody.
    // The raw bytes, as Cyrus's X509_NAME_get_text_by_NID gives them (UTF8String and
    // PrintableString alike).
    let s = std::str::from_utf8(cn.data().as_slice()).ok()?;
    (!s.is_empty() && !s.contains('\0')).then(|| s.to_string())
}

/// The TLS channel bindings of a server connection (RFC 5929, RFC 9266), the first
/// the default: `tls-unique`, the first Finished message (the client's on a new
/// session), as Cyrus 3.6 takes it under every version; under TLS 1.3, where
/// tls-unique is not defined, also `tls-exporter`, which RFC 9266 clients use there.
pub fn channel_bindings(ssl: &openssl::ssl::SslRef) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64];
    let n = if ssl.session_reused() { ssl.finished(&mut buf) } else { ssl.peer_finished(&mut buf) };
    if n > 0 && n <= buf.len() {
        buf.truncate(n);
        out.push(("tls-unique", buf));
    }
    if ssl.version2() == Some(SslVersion::TLS1_3) {
        let mut ekm = vec![0u8; 32];
        if ssl.export_keying_material(&mut ekm, "EXPORTER-Channel-Binding", Some(&[])).is_ok() {
            out.push(("tls-exporter", ekm));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ssl::{SslConnector, SslVerifyMode};
    use std::os::unix::net::UnixStream;
    use std::path::{Path, PathBuf};

    fn certdir() -> PathBuf {
        // Made once: tests run on parallel threads, and two making it at once left a
        // key of one run beside the certificate of the other.
        static MADE: std::sync::Once = std::sync::Once::new();
        let d = std::env::temp_dir().join(format!("tls-test-{}", std::process::id()));
        MADE.call_once(|| {
            std::fs::create_dir_all(&d).unwrap();
            let ok = std::process::Command::new("openssl")
                .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"])
                .arg("-keyout")
                .arg(d.join("key.pem"))
                .arg("-out")
                .arg(d.join("cert.pem"))
                .stderr(std::process::Stdio::null())
                .status()
                .unwrap()
                .success();
            assert!(ok);
        });
        d
    }

    fn config(dir: &Path, extra: &str) -> Config {
        let text = format!(
            "tls_server_cert: {0}/cert.pem\ntls_server_key: {0}/key.pem\n{extra}",
            dir.display()
        );
        Config::parse_str(Path::new("/test/imapd.conf"), &text).unwrap()
    }

    /// Handshake with a client limited to `min..=max`; the negotiated version or the error.
    fn handshake(acc: SslAcceptor, min: SslVersion, max: SslVersion) -> Result<String, String> {
        let (a, b) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || acc.accept(a).map(|s| s.ssl().version_str().to_string()).map_err(|e| e.to_string()));
        let mut c = SslConnector::builder(SslMethod::tls_client()).unwrap();
        c.set_verify(SslVerifyMode::NONE);
        c.set_min_proto_version(Some(min)).unwrap();
        c.set_max_proto_version(Some(max)).unwrap();
        let _ = c.set_cipher_list("DEFAULT:@SECLEVEL=0");
        let client = c.build().configure().unwrap().connect("localhost", b);
        let server = server.join().unwrap();
        match (client, server) {
            (Ok(_), Ok(v)) => Ok(v),
            (c, s) => Err(format!("client {:?} / server {:?}", c.err().map(|e| e.to_string()), s.err())),
        }
    }

    #[test]
    fn defaults_allow_1_2_and_1_3_only() {
        let d = certdir();
        let acc = || server_acceptor(&config(&d, "")).unwrap().unwrap();
        assert_eq!(handshake(acc(), SslVersion::TLS1_2, SslVersion::TLS1_3).unwrap(), "TLSv1.3");
        assert_eq!(handshake(acc(), SslVersion::TLS1_2, SslVersion::TLS1_2).unwrap(), "TLSv1.2");
        assert!(handshake(acc(), SslVersion::TLS1, SslVersion::TLS1_1).is_err());
        assert!(handshake(acc(), SslVersion::TLS1_1, SslVersion::TLS1_1).is_err());
    }

    #[test]
    fn old_versions_only_when_asked_for() {
        let d = certdir();
        let acc = server_acceptor(&config(&d, "tls_versions: tls1_1 tls1_3\n")).unwrap().unwrap();
        assert_eq!(handshake(acc.clone(), SslVersion::TLS1_1, SslVersion::TLS1_1).unwrap(), "TLSv1.1");
        // 1.2 sits between two allowed versions but was left out.
        assert!(handshake(acc, SslVersion::TLS1_2, SslVersion::TLS1_2).is_err());
    }

    #[test]
    fn tls_versions_narrows_and_service_prefix_applies() {
        let d = certdir();
        let cfg = config(&d, "imaps_tls_versions: tls1_2\n").for_service("imaps");
        let acc = server_acceptor(&cfg).unwrap().unwrap();
        assert_eq!(handshake(acc, SslVersion::TLS1_2, SslVersion::TLS1_3).unwrap(), "TLSv1.2");
        let cfg = config(&d, "imaps_tls_server_cert: disabled\n");
        assert!(server_acceptor(&cfg.clone().for_service("imaps")).unwrap().is_none());
        assert!(server_acceptor(&cfg.for_service("imap")).unwrap().is_some());
    }

    #[test]
    fn client_certificates_require_a_ca() {
        let d = certdir();
        let e = server_acceptor(&config(&d, "tls_client_certs: require\n")).err().unwrap();
        assert!(e.starts_with("tls_client_certs"), "{e}");
        let ca = format!("tls_client_ca_file: {}/cert.pem\n", d.display());
        for mode in ["off", "optional", "require"] {
            let cfg = config(&d, &format!("{ca}tls_client_certs: {mode}\n"));
            assert!(server_acceptor(&cfg).unwrap().is_some(), "{mode}");
        }
    }

    #[test]
    fn errors_name_the_option_and_file() {
        let d = certdir();
        let cfg = Config::parse_str(Path::new("/t"), "tls_cert_file: /nonexistent/cert.pem\n").unwrap();
        let e = server_acceptor(&cfg).err().unwrap();
        assert!(e.starts_with("tls_server_cert /nonexistent/cert.pem"), "{e}");
        let cfg = config(&d, "tls_ciphers: NOSUCHCIPHER\n");
        assert!(server_acceptor(&cfg).err().unwrap().contains("tls_ciphers"));
        let cfg = Config::parse_str(Path::new("/t"), "").unwrap();
        assert!(server_acceptor(&cfg).unwrap().is_none());
    }
}
