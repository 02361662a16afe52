//! The little HTTP/1.0 and 1.1 the exporter speaks: one request per connection
//! (the answer says `Connection: close`), `GET` or `HEAD` of `/metrics` (a query
//! string is ignored). Anything else gets its status: 404 for another path, 405 for
//! another method, 400 for what is not an HTTP/1.x request, 431 for headers beyond
//! the bounds, 408 when the request does not arrive in time. Bad input never ends the
//! process: the worker goes back to accepting.

use service::{Conn, ReadError};
use std::path::Path;
use std::time::Duration;

/// Longest request line or header line.
const MAX_LINE: usize = 8192;
/// Most header lines read.
const MAX_HEADERS: usize = 100;
/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The content type of Prometheus's text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What a request line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Request {
    Metrics { head: bool },
    NotFound,
    BadMethod,
    Bad,
}

fn parse_request_line(line: &[u8]) -> Request {
    let Ok(line) = std::str::from_utf8(line) else { return Request::Bad };
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Request::Bad;
    };
    if !matches!(version, "HTTP/1.0" | "HTTP/1.1") || method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Request::Bad;
    }
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    // Absolute form (a proxy's), as HTTP/1.1 servers must take it.
    let path = match path.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => path,
    };
    if !path.starts_with('/') {
        return Request::Bad;
    }
    let head = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return Request::BadMethod,
    };
    if path == "/metrics" { Request::Metrics { head } } else { Request::NotFound }
}

/// Serves one connection.
pub fn serve(conn: &mut Conn, dir: &Path) {
    let _ = conn.set_timeout(Some(REQUEST_TIMEOUT));
    let mut line = Vec::new();
    let req = match conn.read_line(&mut line, MAX_LINE) {
        Ok(()) => parse_request_line(&line),
        Err(ReadError::TooLong) => return answer(conn, 414, "URI Too Long", "", None, false),
        Err(ReadError::Timeout) => return answer(conn, 408, "Request Timeout", "", None, false),
        Err(_) => return,
    };
    // The headers: read and bounded, not used.
    let mut n = 0;
    loop {
        match conn.read_line(&mut line, MAX_LINE) {
            Ok(()) if line.is_empty() => break,
            Ok(()) if n < MAX_HEADERS => n += 1,
            Ok(()) | Err(ReadError::TooLong) => return answer(conn, 431, "Request Header Fields Too Large", "", None, false),
            Err(ReadError::Timeout) => return answer(conn, 408, "Request Timeout", "", None, false),
            Err(_) => return,
        }
    }
    match req {
        Request::Metrics { head } => {
            let body = metrics::expose::render(&metrics::expose::read_dir(dir));
            answer(conn, 200, "OK", &body, None, head)
        }
        Request::NotFound => answer(conn, 404, "Not Found", "Not Found: try /metrics\n", None, false),
        Request::BadMethod => answer(conn, 405, "Method Not Allowed", "Method Not Allowed\n", Some("Allow: GET, HEAD\r\n"), false),
        Request::Bad => answer(conn, 400, "Bad Request", "Bad Request\n", None, false),
    }
}

fn answer(conn: &mut Conn, code: u16, reason: &str, body: &str, extra: Option<&str>, head: bool) {
    let ty = if code == 200 { CONTENT_TYPE } else { "text/plain; charset=utf-8" };
    conn.write(
        format!("HTTP/1.1 {code} {reason}\r\nContent-Type: {ty}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n", body.len(), extra.unwrap_or(""))
            .as_bytes(),
    );
    if !head {
        conn.write(body.as_bytes());
    }
    if conn.flush().is_err() {
        log::debug!("client left before the answer");
    }
    if code >= 400 {
        log::info!("{}: HTTP {code}", conn.peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert_eq!(parse_request_line(b"GET /metrics HTTP/1.1"), Request::Metrics { head: false });
        assert_eq!(parse_request_line(b"HEAD /metrics?x=1 HTTP/1.0"), Request::Metrics { head: true });
        assert_eq!(parse_request_line(b"GET http://h:9101/metrics HTTP/1.1"), Request::Metrics { head: false });
        assert_eq!(parse_request_line(b"GET / HTTP/1.1"), Request::NotFound);
        assert_eq!(parse_request_line(b"POST /metrics HTTP/1.1"), Request::BadMethod);
        assert_eq!(parse_request_line(b"GET /metrics"), Request::Bad);
        assert_eq!(parse_request_line(b"GET /metrics HTTP/2.0"), Request::Bad);
        assert_eq!(parse_request_line(b"get /metrics HTTP/1.1"), Request::Bad);
        assert_eq!(parse_request_line(b"GET  /metrics HTTP/1.1"), Request::Bad);
        assert_eq!(parse_request_line(b"\xff\xfe"), Request::Bad);
        assert_eq!(parse_request_line(b""), Request::Bad);
    }
}
