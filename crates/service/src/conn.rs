//! One client connection with bounded, buffered line and literal I/O.
//!
//! Every protocol reads through [`Conn::read_line`] (a line is bounded; an overlong one
//! is consumed to its end and reported as [`ReadError::TooLong`], so the session can
//! answer with its protocol's error and go on) and [`Conn::read_exact_into`] (a literal
//! of a size the protocol has already checked). Reads time out after the protocol's
//! inactivity timer. Output is buffered and goes out on [`Conn::flush`], so that one
//! response is one write (see crate-probe pitfall 2).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Size of the read buffer. Lines longer than this are still read (up to the caller's
/// bound), the buffer only sets how much one `read(2)` takes.
const READ_BUF: usize = 16 * 1024;
/// What [`Conn::read_line`] keeps of a line that was too long.
pub const TOO_LONG_KEEP: usize = 64;
/// Output queued beyond this is written at once.
const MAX_QUEUED: usize = 64 * 1024;

/// How [`Conn::start_tls`]'s error begins when the client's certificate did not
/// verify against `tls_client_ca_file`/`_dir` (a refused login, logged as one).
pub const BAD_CLIENT_CERT: &str = "client certificate refused";

/// The transport under a connection.
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    /// TLS over one of the above (STARTTLS or implicit TLS).
    Tls(Box<openssl::ssl::SslStream<Stream>>),
    /// Left behind while the stream is being wrapped in TLS.
    Closed,
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection closed")
}

impl Stream {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
            Stream::Tls(s) => s.get_ref().set_read_timeout(t),
            Stream::Closed => Err(closed()),
        }
    }

    fn set_write_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(t),
            Stream::Unix(s) => s.set_write_timeout(t),
            Stream::Tls(s) => s.get_ref().set_write_timeout(t),
            Stream::Closed => Err(closed()),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(b),
            Stream::Unix(s) => s.read(b),
            Stream::Tls(s) => s.read(b),
            Stream::Closed => Err(closed()),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(b),
            Stream::Unix(s) => s.write(b),
            Stream::Tls(s) => s.write(b),
            Stream::Closed => Err(closed()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tls(s) => s.flush(),
            _ => Ok(()),
        }
    }
}

/// One read(2) of at least a byte: the end of the stream is [`ReadError::Eof`],
/// an interrupted read is tried again.
fn read_some(stream: &mut Stream, buf: &mut [u8]) -> Result<usize, ReadError> {
    loop {
        match stream.read(buf) {
            Ok(0) => return Err(ReadError::Eof),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The address of one end of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Addr {
    Inet(std::net::SocketAddr),
    Unix,
}

impl Addr {
    /// An internet address; an IPv4 client seen through a dual-stack socket
    /// (`::ffff:a.b.c.d`) is shown as the IPv4 address it is.
    pub fn inet(a: std::net::SocketAddr) -> Addr {
        match a {
            std::net::SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
                Some(v4) => Addr::Inet(std::net::SocketAddr::from((v4, v6.port()))),
                None => Addr::Inet(a),
            },
            v4 => Addr::Inet(v4),
        }
    }

    /// `ip;port` as libsasl2 wants it, or `None` for a unix socket.
    pub fn sasl_form(&self) -> Option<String> {
        match self {
            Addr::Inet(a) => Some(format!("{};{}", a.ip(), a.port())),
            Addr::Unix => None,
        }
    }
}

impl fmt::Display for Addr {
    /// As Cyrus logs a peer: `[1.2.3.4]`, or `unix socket`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Inet(a) => write!(f, "[{}]", a.ip()),
            Addr::Unix => f.write_str("unix socket"),
        }
    }
}

/// Why a read gave no data.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection (mid-line or between lines).
    Eof,
    /// Nothing arrived within the read timeout.
    Timeout,
    /// The line was longer than the bound; it has been consumed up to its LF.
    TooLong,
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Eof => f.write_str("connection closed by peer"),
            ReadError::Timeout => f.write_str("read timeout"),
            ReadError::TooLong => f.write_str("line too long"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ReadError::Timeout,
            io::ErrorKind::UnexpectedEof => ReadError::Eof,
            _ => ReadError::Io(e),
        }
    }
}

/// A client connection.
pub struct Conn {
    stream: Stream,
    pub peer: Addr,
    pub local: Addr,
    rbuf: Box<[u8]>,
    rpos: usize,
    rend: usize,
    wbuf: Vec<u8>,
    /// Telemetry: everything read and written is copied here (Cyrus's
    /// `configdirectory/log/USER/` session logs).
    tee: Option<std::fs::File>,
    /// COMPRESS=DEFLATE (RFC 4978, RFC 8054): raw deflate both ways once started.
    deflate: Option<Box<Deflate>>,
}

/// The compression layer: input is inflated into the read buffer, output deflated
/// with a sync flush at each [`Conn::flush`], so that every response reaches the
/// client whole. Inflating never makes more than one read buffer at a time, so a
/// deflate bomb costs CPU in proportion to what the client sends and memory not at
/// all; the protocol's own bounds on lines and literals then refuse what it holds.
struct Deflate {
    zin: flate2::Decompress,
    zout: flate2::Compress,
    /// Compressed input read but not yet inflated.
    raw: Vec<u8>,
    raw_pos: usize,
    out: Vec<u8>,
}

impl Conn {
    pub fn new(stream: Stream, peer: Addr, local: Addr) -> Conn {
        Conn {
            stream,
            peer,
            local,
            rbuf: vec![0; READ_BUF].into_boxed_slice(),
            rpos: 0,
            rend: 0,
            wbuf: Vec::with_capacity(1024),
            tee: None,
            deflate: None,
        }
    }

    /// Copies the rest of the session to `f`, as Cyrus's telemetry logs do: input
    /// after `<TIME<`, output after `>TIME>`.
    pub fn set_telemetry(&mut self, f: std::fs::File) {
        self.tee = Some(f);
    }

    fn tee(&mut self, dir: u8, data: &[u8]) {
        if let Some(f) = self.tee.as_mut() {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            let mut rec = Vec::with_capacity(data.len() + 16);
            rec.extend_from_slice(format!("{}{t}{}", dir as char, dir as char).as_bytes());
            rec.extend_from_slice(data);
            let _ = f.write_all(&rec);
        }
    }

    /// Sets the inactivity timer for reads (`None`: wait for ever) and a matching bound
    /// on writes to a client that stops reading.
    pub fn set_timeout(&mut self, t: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(t)?;
        self.stream.set_write_timeout(t)
    }

    /// Bytes received but not yet consumed (STARTTLS must refuse when there are any).
    pub fn buffered(&self) -> usize {
        self.rend - self.rpos
    }

    /// Whether the connection is under TLS.
    pub fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// The negotiated TLS version and cipher, for log lines.
    pub fn tls_description(&self) -> Option<String> {
        match &self.stream {
            Stream::Tls(s) => Some(format!(
                "{} with cipher {}",
                s.ssl().version_str(),
                s.ssl().current_cipher().map_or("?", |c| c.name())
            )),
            _ => None,
        }
    }

    /// The strength of the TLS layer in bits (for SASL's external SSF), 0 without TLS.
    pub fn tls_bits(&self) -> u32 {
        match &self.stream {
            Stream::Tls(s) => s.ssl().current_cipher().map_or(0, |c| c.bits().secret as u32),
            _ => 0,
        }
    }

    /// The CN of the client's verified TLS certificate (SASL EXTERNAL's authid).
    pub fn tls_peer_cn(&self) -> Option<String> {
        match &self.stream {
            Stream::Tls(s) => tls::peer_cn(s.ssl()),
            _ => None,
        }
    }

    /// The TLS channel bindings (type and data) for SCRAM-*-PLUS.
    pub fn tls_channel_bindings(&self) -> Vec<(&'static str, Vec<u8>)> {
        match &self.stream {
            Stream::Tls(s) => tls::channel_bindings(s.ssl()),
            _ => Vec::new(),
        }
    }

    /// Runs the TLS handshake on this connection (after the protocol's "go ahead" has
    /// been flushed). Refuses when the client already sent more bytes in the clear,
    /// which would otherwise be taken as if they came under TLS (the STARTTLS
    /// command-injection attack). On a failed handshake the connection is unusable.
    pub fn start_tls(&mut self, acceptor: &openssl::ssl::SslAcceptor) -> Result<(), String> {
        if self.buffered() > 0 {
            return Err("client sent data after the TLS request before the handshake".into());
        }
        if self.is_tls() {
            return Err("TLS is already active".into());
        }
        if self.deflate.is_some() {
            // RFC 4978 4: TLS goes under compression, never over it.
            return Err("TLS cannot start once compression is active".into());
        }
        let inner = std::mem::replace(&mut self.stream, Stream::Closed);
        match acceptor.accept(inner) {
            Ok(s) => {
                self.stream = Stream::Tls(Box::new(s));
                Ok(())
            }
            Err(openssl::ssl::HandshakeError::Failure(m)) | Err(openssl::ssl::HandshakeError::WouldBlock(m)) => {
                let verify = m.ssl().verify_result();
                if verify != openssl::x509::X509VerifyResult::OK {
                    return Err(format!("{BAD_CLIENT_CERT}: {}", verify.error_string()));
                }
                Err(format!("TLS handshake failed: {}", m.error()))
            }
            Err(openssl::ssl::HandshakeError::SetupFailure(e)) => Err(format!("TLS setup failed: {e}")),
        }
    }

    /// Starts COMPRESS=DEFLATE: everything after the response already queued (which
    /// goes out first, uncompressed) is compressed both ways. Refused when it is on
    /// already or the client sent bytes after the command (they would be read as if
    /// compressed).
    pub fn start_deflate(&mut self) -> Result<(), String> {
        if self.deflate.is_some() {
            return Err("compression is already active".into());
        }
        if self.buffered() > 0 {
            return Err("client sent data after COMPRESS before its answer".into());
        }
        self.flush().map_err(|e| e.to_string())?;
        self.deflate = Some(Box::new(Deflate {
            zin: flate2::Decompress::new(false),
            zout: flate2::Compress::new(flate2::Compression::new(6), false),
            raw: Vec::new(),
            raw_pos: 0,
            out: Vec::new(),
        }));
        Ok(())
    }

    pub fn is_compressed(&self) -> bool {
        self.deflate.is_some()
    }

    fn fill(&mut self) -> Result<(), ReadError> {
        if self.rpos == self.rend {
            self.rpos = 0;
            self.rend = 0;
        }
        if self.deflate.is_some() {
            return self.fill_inflated();
        }
        let n = read_some(&mut self.stream, &mut self.rbuf[self.rend..])?;
        self.took(n);
        Ok(())
    }

    /// Counts `n` new bytes at the end of the read buffer as read (and tees them).
    fn took(&mut self, n: usize) {
        if self.tee.is_some() {
            let data = self.rbuf[self.rend..self.rend + n].to_vec();
            self.tee(b'<', &data);
        }
        self.rend += n;
    }

    /// Fills the read buffer from the compressed stream: inflates what is held,
    /// reading more from the socket until at least one byte comes out.
    fn fill_inflated(&mut self) -> Result<(), ReadError> {
        if self.rend == self.rbuf.len() {
            // Unconsumed bytes fill the buffer: move them to its start.
            self.rbuf.copy_within(self.rpos..self.rend, 0);
            self.rend -= self.rpos;
            self.rpos = 0;
        }
        loop {
            let z = self.deflate.as_mut().expect("deflate on");
            if z.raw_pos < z.raw.len() {
                let (in0, out0) = (z.zin.total_in(), z.zin.total_out());
                let r = z.zin.decompress(&z.raw[z.raw_pos..], &mut self.rbuf[self.rend..], flate2::FlushDecompress::None);
                let used = (z.zin.total_in() - in0) as usize;
                let made = (z.zin.total_out() - out0) as usize;
                z.raw_pos += used;
                if z.raw_pos == z.raw.len() {
                    z.raw.clear();
                    z.raw_pos = 0;
                }
                match r {
                    Ok(flate2::Status::StreamEnd) => return Err(ReadError::Eof),
                    Ok(_) => {}
                    Err(e) => return Err(ReadError::Io(io::Error::new(io::ErrorKind::InvalidData, format!("bad compressed data: {e}")))),
                }
                if made > 0 {
                    self.took(made);
                    return Ok(());
                }
                if used > 0 {
                    continue;
                }
            }
            let mut tmp = [0u8; 8192];
            let n = read_some(&mut self.stream, &mut tmp)?;
            let z = self.deflate.as_mut().expect("deflate on");
            z.raw.extend_from_slice(&tmp[..n]);
        }
    }

    /// Waits until the client sent something (or TLS holds decrypted bytes), `other`
    /// is readable, or `timeout` passes: returns (client readable, other readable).
    /// For IDLE, which waits on the client and a change notification at once.
    pub fn wait_readable(&self, other: Option<std::os::fd::BorrowedFd<'_>>, timeout: Duration) -> io::Result<(bool, bool)> {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        let (fd, pending) = match &self.stream {
            Stream::Tcp(s) => (s.as_fd(), 0),
            Stream::Unix(s) => (s.as_fd(), 0),
            Stream::Tls(s) => (
                match s.get_ref() {
                    Stream::Tcp(t) => t.as_fd(),
                    Stream::Unix(u) => u.as_fd(),
                    _ => return Err(closed()),
                },
                s.ssl().pending(),
            ),
            Stream::Closed => return Err(closed()),
        };
        let held = self.deflate.as_ref().is_some_and(|z| z.raw_pos < z.raw.len());
        if self.buffered() > 0 || pending > 0 || held {
            return Ok((true, false));
        }
        let mut fds = [PollFd::new(fd, PollFlags::POLLIN), PollFd::new(other.unwrap_or(fd), PollFlags::POLLIN)];
        let n = if other.is_some() { 2 } else { 1 };
        match poll(&mut fds[..n], PollTimeout::try_from(timeout.as_millis()).unwrap_or(PollTimeout::MAX)) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => return Ok((false, false)),
            Err(e) => return Err(e.into()),
        }
        // Any event on the client (a hang-up too) ends the wait; unknown bits count.
        let other_in = other.is_some() && fds[1].revents().is_some_and(|r| r.contains(PollFlags::POLLIN));
        Ok((fds[0].any().unwrap_or(true), other_in))
    }

    /// Reads one line into `line` (cleared first), without its CRLF or bare LF.
    /// At most `max` bytes are kept; a longer line is read to its end, dropped (only
    /// its first [`TOO_LONG_KEEP`] bytes stay in `line`, for a protocol that answers
    /// with the line's tag), and reported as [`ReadError::TooLong`].
    pub fn read_line(&mut self, line: &mut Vec<u8>, max: usize) -> Result<(), ReadError> {
        line.clear();
        let mut too_long = false;
        loop {
            if self.rpos == self.rend {
                self.fill()?;
            }
            let avail = &self.rbuf[self.rpos..self.rend];
            let (chunk, done) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (&avail[..i], Some(i + 1)),
                None => (avail, None),
            };
            if !too_long {
                if line.len() + chunk.len() > max + 1 {
                    // Keep the start (a protocol may want the tag) and drop the rest.
                    too_long = true;
                    let keep = TOO_LONG_KEEP.saturating_sub(line.len()).min(chunk.len());
                    line.extend_from_slice(&chunk[..keep]);
                    line.truncate(TOO_LONG_KEEP);
                } else {
                    line.extend_from_slice(chunk);
                }
            }
            match done {
                Some(n) => {
                    self.rpos += n;
                    if too_long {
                        return Err(ReadError::TooLong);
                    }
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    if line.len() > max {
                        line.truncate(TOO_LONG_KEEP);
                        return Err(ReadError::TooLong);
                    }
                    return Ok(());
                }
                None => {
                    self.rpos = self.rend;
                }
            }
        }
    }

    /// Reads a line in pieces: up to `max` bytes into `line` (cleared first). Returns
    /// true when the line ended here (its LF consumed, a CR before it dropped), false
    /// when `max` bytes were taken and the line goes on (a CR at the cut is left for
    /// the next piece, so a CRLF is never split). For DATA, where lines are not
    /// bounded but the message is.
    pub fn read_line_piece(&mut self, line: &mut Vec<u8>, max: usize) -> Result<bool, ReadError> {
        line.clear();
        let max = max.max(2);
        loop {
            if self.rpos == self.rend {
                self.fill()?;
            }
            let avail = &self.rbuf[self.rpos..self.rend];
            let room = max - line.len();
            if let Some(i) = avail.iter().position(|&b| b == b'\n') {
                if i <= room {
                    line.extend_from_slice(&avail[..i]);
                    self.rpos += i + 1;
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    return Ok(true);
                }
            }
            if avail.len() < room {
                line.extend_from_slice(avail);
                self.rpos = self.rend;
                continue;
            }
            let mut take = room;
            if avail[take - 1] == b'\r' {
                // Keep a CR at the cut for the next piece; with nothing else to give,
                // end this piece empty-handed rather than split a CRLF.
                take -= 1;
            }
            line.extend_from_slice(&avail[..take]);
            self.rpos += take;
            return Ok(false);
        }
    }

    /// Appends exactly `n` bytes to `out` (a literal whose size the caller has bounded).
    pub fn read_exact_into(&mut self, out: &mut Vec<u8>, mut n: usize) -> Result<(), ReadError> {
        while n > 0 {
            if self.rpos == self.rend {
                self.fill()?;
            }
            let take = n.min(self.rend - self.rpos);
            out.extend_from_slice(&self.rbuf[self.rpos..self.rpos + take]);
            self.rpos += take;
            n -= take;
        }
        Ok(())
    }

    /// Reads and drops exactly `n` bytes (a literal being refused).
    pub fn skip(&mut self, mut n: usize) -> Result<(), ReadError> {
        while n > 0 {
            if self.rpos == self.rend {
                self.fill()?;
            }
            let take = n.min(self.rend - self.rpos);
            self.rpos += take;
            n -= take;
        }
        Ok(())
    }

    /// Queues bytes for the client (sent at once when the queue grows past a bound,
    /// so a client that never lets the session flush cannot make it grow for ever).
    pub fn write(&mut self, b: &[u8]) {
        self.wbuf.extend_from_slice(b);
        self.flush_if_large();
    }

    /// Queues formatted text: `conn.write_fmt(format_args!(...))`.
    pub fn write_fmt(&mut self, args: fmt::Arguments<'_>) {
        let _ = io::Write::write_fmt(&mut self.wbuf, args);
        self.flush_if_large();
    }

    fn flush_if_large(&mut self) {
        if self.wbuf.len() > MAX_QUEUED {
            // An error shows again at the session's own flush.
            let _ = self.flush();
        }
    }

    /// Sends everything queued, in as few writes as the kernel allows.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.tee.is_some() && !self.wbuf.is_empty() {
            let data = std::mem::take(&mut self.wbuf);
            self.tee(b'>', &data);
            self.wbuf = data;
        }
        let r = match self.deflate.as_mut() {
            None => self.stream.write_all(&self.wbuf).and_then(|()| self.stream.flush()),
            Some(_) if self.wbuf.is_empty() => Ok(()),
            Some(z) => {
                z.out.clear();
                z.out.reserve(self.wbuf.len() / 2 + 64);
                let mut pos = 0;
                let mut result = Ok(());
                loop {
                    if z.out.capacity() - z.out.len() < 64 {
                        z.out.reserve(z.out.capacity().max(4096));
                    }
                    let before = z.zout.total_in();
                    let st = z.zout.compress_vec(&self.wbuf[pos..], &mut z.out, flate2::FlushCompress::Sync);
                    pos += (z.zout.total_in() - before) as usize;
                    if let Err(e) = st {
                        result = Err(io::Error::other(e));
                        break;
                    }
                    // Done when all input is taken and the sync flush had room to end.
                    if pos == self.wbuf.len() && z.out.len() < z.out.capacity() {
                        break;
                    }
                }
                result.and_then(|()| self.stream.write_all(&z.out)).and_then(|()| self.stream.flush())
            }
        };
        self.wbuf.clear();
        if let Some(z) = self.deflate.as_mut() {
            if z.out.capacity() > 2 * MAX_QUEUED {
                z.out = Vec::new();
            }
        }
        // A large response (a big message) must not leave its buffer behind for the
        // rest of a long session.
        if self.wbuf.capacity() > 2 * MAX_QUEUED {
            self.wbuf.shrink_to(16 * 1024);
            crate::release_free_memory();
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Conn, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        (Conn::new(Stream::Unix(a), Addr::Unix, Addr::Unix), b)
    }

    #[test]
    fn lines_crlf_and_bare_lf() {
        let (mut c, mut peer) = pair();
        peer.write_all(b"a1 NOOP\r\nb2 LOGOUT\nlast").unwrap();
        drop(peer);
        let mut l = Vec::new();
        c.read_line(&mut l, 100).unwrap();
        assert_eq!(l, b"a1 NOOP");
        c.read_line(&mut l, 100).unwrap();
        assert_eq!(l, b"b2 LOGOUT");
        assert!(matches!(c.read_line(&mut l, 100), Err(ReadError::Eof)));
    }

    #[test]
    fn overlong_line_is_consumed_and_session_goes_on() {
        let (mut c, mut peer) = pair();
        let long = vec![b'x'; 100_000];
        let writer = std::thread::spawn(move || {
            peer.write_all(&long).unwrap();
            peer.write_all(b"\r\nok\r\n").unwrap();
            peer
        });
        let mut l = Vec::new();
        assert!(matches!(c.read_line(&mut l, 1000), Err(ReadError::TooLong)));
        c.read_line(&mut l, 1000).unwrap();
        assert_eq!(l, b"ok");
        drop(writer.join().unwrap());
        // Exactly at the bound is fine; one over is not.
        let (mut c, mut peer) = pair();
        peer.write_all(b"12345\r\n123456\r\n").unwrap();
        c.read_line(&mut l, 5).unwrap();
        assert_eq!(l, b"12345");
        assert!(matches!(c.read_line(&mut l, 5), Err(ReadError::TooLong)));
    }

    #[test]
    fn line_pieces_never_split_crlf() {
        let (mut c, mut peer) = pair();
        let mut l = Vec::new();
        peer.write_all(b"abcd\r").unwrap();
        assert!(!c.read_line_piece(&mut l, 5).unwrap());
        assert_eq!(l, b"abcd", "the CR at the cut waits for the next piece");
        peer.write_all(b"\nabcdefg\r\nxy\n").unwrap();
        assert!(c.read_line_piece(&mut l, 5).unwrap());
        assert_eq!(l, b"", "the line ended: CRLF whole");
        assert!(!c.read_line_piece(&mut l, 5).unwrap());
        assert_eq!(l, b"abcde");
        assert!(c.read_line_piece(&mut l, 5).unwrap());
        assert_eq!(l, b"fg");
        assert!(c.read_line_piece(&mut l, 5).unwrap());
        assert_eq!(l, b"xy");
    }

    #[test]
    fn literals_and_timeout() {
        let (mut c, mut peer) = pair();
        peer.write_all(b"{5}\r\nhello tail\r\n").unwrap();
        let mut l = Vec::new();
        c.read_line(&mut l, 100).unwrap();
        let mut lit = Vec::new();
        c.read_exact_into(&mut lit, 5).unwrap();
        assert_eq!(lit, b"hello");
        c.read_line(&mut l, 100).unwrap();
        assert_eq!(l, b" tail");
        c.set_timeout(Some(Duration::from_millis(50))).unwrap();
        assert!(matches!(c.read_line(&mut l, 100), Err(ReadError::Timeout)));
        peer.write_all(b"abc").unwrap();
        drop(peer);
        assert!(matches!(c.read_exact_into(&mut lit, 10), Err(ReadError::Eof)));
    }
}
