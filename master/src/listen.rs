//! The listening sockets of services.
//!
//! [`bind`] turns a cyrus.conf `listen=` value and `proto=` into a bound, listening,
//! non-blocking socket: a service name from /etc/services, a port, `host:port`,
//! `[v6addr]:port`, or an absolute unix socket path (a stale socket there is removed;
//! the new one is made world-connectable, as Cyrus does, so an MTA can reach lmtp).
//!
//! The socket is non-blocking because all the idle workers of a service poll it and
//! race to accept: the losers must get EAGAIN, not block. Its descriptor is kept at
//! or above [`crate::spawn::FIRST_FREE_FD`] and close-on-exec, so that a child gets
//! only its own listener, on the fixed descriptor.

use conf::cyrus::Proto;
use socket2::{Domain, SockAddr, Socket, Type};
use std::ffi::CString;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

/// Where a service listens, once parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Where {
    Unix(String),
    /// Host (None: all interfaces) and port.
    Inet(Option<String>, u16),
}

/// Parses a `listen=` value.
pub fn parse(listen: &str, proto: Proto) -> Result<Where, String> {
    if listen.starts_with('/') {
        return Ok(Where::Unix(listen.to_string()));
    }
    let (host, port) = if let Some(rest) = listen.strip_prefix('[') {
        let (h, p) = rest
            .split_once("]:")
            .ok_or_else(|| format!("listen=\"{listen}\": expected [address]:port"))?;
        (Some(h.to_string()), p)
    } else if let Some((h, p)) = listen.rsplit_once(':') {
        (Some(h.to_string()), p)
    } else {
        (None, listen)
    };
    let port = match port.parse::<u16>() {
        Ok(p) => p,
        Err(_) => service_port(port, proto)
            .ok_or_else(|| format!("listen=\"{listen}\": '{port}' is neither a port number nor a service in /etc/services"))?,
    };
    Ok(Where::Inet(host.filter(|h| !h.is_empty() && h != "*"), port))
}

/// getservbyname(3) for the service's protocol.
fn service_port(name: &str, proto: Proto) -> Option<u16> {
    let n = CString::new(name).ok()?;
    let p = if proto.is_udp() { c"udp" } else { c"tcp" };
    // SAFETY: getservbyname returns a pointer into static storage, read at once.
    let ent = unsafe { libc::getservbyname(n.as_ptr(), p.as_ptr()) };
    if ent.is_null() {
        return None;
    }
    // SAFETY: non-null servent from libc; s_port is in network byte order.
    Some(u16::from_be(unsafe { (*ent).s_port } as u16))
}

/// Whether a bind error (from [`bind`]) says the address is in use.
pub fn address_in_use(err: &str) -> bool {
    err.contains(&io::Error::from_raw_os_error(libc::EADDRINUSE).to_string())
}

/// Binds and listens (or, for UDP, just binds).
pub fn bind(listen: &str, proto: Proto, backlog: i32) -> Result<OwnedFd, String> {
    let ty = if proto.is_udp() { Type::DGRAM } else { Type::STREAM };
    let sock = match parse(listen, proto)? {
        Where::Unix(path) => bind_unix(&path, ty).map_err(|e| format!("unix socket {path}: {e}"))?,
        Where::Inet(host, port) => bind_inet(host.as_deref(), port, proto, ty)?,
    };
    if ty == Type::STREAM {
        sock.listen(backlog).map_err(|e| format!("listen on {listen}: {e}"))?;
    }
    sock.set_nonblocking(true).map_err(|e| format!("{listen}: {e}"))?;
    crate::spawn::high_fd(sock.into()).map_err(|e| format!("{listen}: {e}"))
}

fn bind_unix(path: &str, ty: Type) -> io::Result<Socket> {
    let p = Path::new(path);
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(p)?,
        Ok(_) => {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "exists and is not a socket; not removing it"));
        }
        Err(_) => {}
    }
    let sock = Socket::new(Domain::UNIX, ty, None)?;
    sock.bind(&SockAddr::unix(p)?)?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777))?;
    Ok(sock)
}

fn bind_inet(host: Option<&str>, port: u16, proto: Proto, ty: Type) -> Result<Socket, String> {
    let want4 = !matches!(proto, Proto::Tcp6 | Proto::Udp6);
    let want6 = !matches!(proto, Proto::Tcp4 | Proto::Udp4);
    let candidates: Vec<(SocketAddr, bool)> = match host {
        None => {
            // All interfaces: one dual-stack socket where IPv6 exists, else IPv4.
            let mut v = Vec::new();
            if want6 {
                v.push((SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)), !want4));
            }
            if want4 {
                v.push((SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), false));
            }
            v
        }
        Some(h) => {
            // One socket per service: of a name's addresses, IPv4 first, as most
            // clients (and MTAs) try it (Cyrus binds every address).
            let mut v: Vec<(SocketAddr, bool)> = (h, port)
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve {h}: {e}"))?
                .filter(|a| (a.is_ipv4() && want4) || (a.is_ipv6() && want6))
                .map(|a| (a, true))
                .collect();
            v.sort_by_key(|(a, _)| a.is_ipv6());
            v
        }
    };
    let mut last = format!("no address of the right family for port {port}");
    for (addr, v6only) in candidates {
        let domain = if addr.is_ipv6() { Domain::IPV6 } else { Domain::IPV4 };
        let r = (|| -> io::Result<Socket> {
            let s = Socket::new(domain, ty, None)?;
            s.set_reuse_address(true)?;
            if addr.is_ipv6() {
                s.set_only_v6(v6only)?;
            }
            s.bind(&addr.into())?;
            Ok(s)
        })();
        match r {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("bind {addr}: {e}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        assert_eq!(parse("1143", Proto::Tcp), Ok(Where::Inet(None, 1143)));
        assert_eq!(parse("127.0.0.1:24", Proto::Tcp), Ok(Where::Inet(Some("127.0.0.1".into()), 24)));
        assert_eq!(parse("[::1]:993", Proto::Tcp), Ok(Where::Inet(Some("::1".into()), 993)));
        assert_eq!(parse("/run/lmtp", Proto::Tcp), Ok(Where::Unix("/run/lmtp".into())));
        assert!(parse("[::1]993", Proto::Tcp).is_err());
        assert!(parse("no-such-service-name", Proto::Tcp).is_err());
    }

    #[test]
    fn service_names_from_etc_services() {
        if std::fs::read_to_string("/etc/services").is_ok_and(|s| s.contains("imap2") || s.contains("\nimap")) {
            assert_eq!(parse("imap", Proto::Tcp), Ok(Where::Inet(None, 143)));
        }
    }

    #[test]
    fn bind_loopback_and_unix() {
        let fd = bind("127.0.0.1:0", Proto::Tcp, 8).unwrap();
        let s = Socket::from(fd);
        assert!(s.local_addr().unwrap().as_socket().unwrap().ip().is_loopback());
        let dir = std::env::temp_dir().join(format!("listen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sock");
        let p = path.to_str().unwrap();
        drop(bind(p, Proto::Tcp, 8).unwrap());
        // The old socket file is stale now: binding again removes it.
        drop(bind(p, Proto::Tcp, 8).unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o777);
        std::fs::write(dir.join("plain"), b"x").unwrap();
        assert!(bind(dir.join("plain").to_str().unwrap(), Proto::Tcp, 8).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
