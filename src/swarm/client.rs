//! One user's HTTP/1.1 connection, spoken directly on the socket inside the user's own task.
//!
//! What a user holds is what bounds how many users one process can keep, so an idle connection
//! owns nothing but its socket. Each task's request is serialized once, up front, and written
//! whole. A response is read into one scratch buffer per thread, its head parsed where it lies
//! and its body counted, never kept; only a head that arrives in pieces is copied aside.
//!
//! (hyper's client connection, used before, holds some 35 KiB a connection: 8 KiB write and
//! read buffers, and a request queue that takes a 9 KiB block when the connection opens and a
//! second one at its 32nd request, which is why memory jumped half a minute into a run.)

use std::cell::RefCell;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use hyper::header::{CONTENT_LENGTH, HOST, HeaderValue, TRANSFER_ENCODING, USER_AGENT};
use hyper::{Method, StatusCode};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use super::failure::FailureCause;
use super::scenario::Task;
use super::target::Target;

/// What came back from one request that got a response.
pub struct Response {
    pub status: StatusCode,
    pub body_bytes: u64,
}

pub struct Connection {
    stream: TcpStream,
    /// A response head received in part; empty, and unallocated, between requests.
    partial_head: Vec<u8>,
    /// False once a response ended the connection, or the peer closed it.
    open: bool,
}

const AGENT: &str = concat!("thidctl/", env!("CARGO_PKG_VERSION"));

/// The most one read takes, into the thread's scratch buffer.
const SCRATCH_SIZE: usize = 64 * 1024;
/// Limits on a response head, hyper's defaults: 100 header fields, about 400 KiB.
const MAX_HEADERS: usize = 100;
const MAX_HEAD_BYTES: usize = 8192 + 4096 * 100;

thread_local! {
    /// What every connection of the thread reads into; borrowed only within one poll.
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; SCRATCH_SIZE].into_boxed_slice());
}

impl Connection {
    pub async fn open(target: &Target) -> Result<Connection, FailureCause> {
        let addresses = tokio::net::lookup_host((target.host.as_str(), target.port))
            .await
            .map_err(|_| FailureCause::Dns)?;
        let mut last_error = FailureCause::Dns;
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    // Requests are small and sent whole; Nagle would only add delay.
                    let _ = stream.set_nodelay(true);
                    return Ok(Connection {
                        stream,
                        partial_head: Vec::new(),
                        open: true,
                    });
                }
                Err(error) => last_error = FailureCause::from_io(&error),
            }
        }
        Err(last_error)
    }

    /// Sends one request and reads its whole response. On `Err` the connection must be
    /// dropped; on `Ok` it may have ended too (`is_open`).
    pub async fn send(
        &mut self,
        template: &RequestTemplate,
        timeout: Duration,
    ) -> Result<Response, FailureCause> {
        if !self.open {
            return Err(FailureCause::ConnectionReset);
        }
        match tokio::time::timeout(timeout, self.exchange(template)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(FailureCause::Timeout),
        }
    }

    async fn exchange(&mut self, template: &RequestTemplate) -> Result<Response, FailureCause> {
        self.stream
            .write_all(&template.request)
            .await
            .map_err(|e| FailureCause::from_io(&e))?;
        let mut reader = ResponseReader::new(template.asked);
        let done = std::future::poll_fn(|cx| self.poll_response(cx, &mut reader)).await?;
        self.open = done.reusable;
        Ok(Response {
            status: done.status,
            body_bytes: done.body_bytes,
        })
    }

    /// Reads until the response is complete or the socket has nothing more for now.
    fn poll_response(
        &mut self,
        cx: &mut Context<'_>,
        reader: &mut ResponseReader,
    ) -> Poll<Result<Done, FailureCause>> {
        SCRATCH.with_borrow_mut(|scratch| {
            loop {
                let mut buf = ReadBuf::new(scratch);
                // A short read also tells tokio that the socket is drained, which saves the
                // read that would only find it empty.
                let step = match Pin::new(&mut self.stream).poll_read(cx, &mut buf) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(error)) => Err(FailureCause::from_io(&error)),
                    // Nothing read means the peer closed its side.
                    Poll::Ready(Ok(())) => reader.feed(buf.filled(), &mut self.partial_head),
                };
                match step {
                    Ok(None) => continue,
                    Ok(Some(done)) => return Poll::Ready(Ok(done)),
                    Err(cause) => return Poll::Ready(Err(cause)),
                }
            }
        })
    }

    /// Whether the last response left the connection open for another request.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Whether the connection can take another request: the last response left it open, and
    /// the peer has neither closed it nor sent anything unasked while it sat idle.
    pub fn is_reusable(&mut self) -> bool {
        if self.open {
            let mut probe = [0u8; 1];
            self.open = matches!(
                self.stream.try_read(&mut probe),
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock
            );
        }
        self.open
    }
}

/// What the request was, as far as reading its response goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    /// A HEAD request: the response has no body whatever its headers say.
    Head,
    /// A CONNECT request: a 2xx response turns the connection into a tunnel.
    Connect,
    Other,
}

/// A response read to its end.
#[derive(Debug, PartialEq, Eq)]
struct Done {
    status: StatusCode,
    body_bytes: u64,
    /// The connection can carry the next request.
    reusable: bool,
}

/// How the end of a response body is found (RFC 9112, section 6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
}

/// Where a chunked body's decoder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size {
        size: u64,
        digits: u8,
    },
    /// Chunk extensions, up to the end of the size line.
    Extension {
        size: u64,
    },
    SizeLf {
        size: u64,
    },
    Data(u64),
    DataCr,
    DataLf,
    /// After the last chunk: trailer fields, up to an empty line.
    Trailer {
        line_start: bool,
    },
    TrailerLf,
    End,
}

/// Reads one response from the bytes as they arrive: heads until the final one (informational
/// responses are passed over), then the body, counted.
struct ResponseReader {
    asked: Asked,
    body: Option<Body>,
}

struct Body {
    status: StatusCode,
    framing: Framing,
    keep_alive: bool,
    bytes: u64,
}

/// A complete response head: how long it is and what it says.
struct Head {
    length: usize,
    status: u16,
    framing: Framing,
    keep_alive: bool,
}

fn invalid(what: &str) -> FailureCause {
    FailureCause::Other(format!("invalid HTTP response: {what}"))
}

impl ResponseReader {
    fn new(asked: Asked) -> Self {
        ResponseReader { asked, body: None }
    }

    /// Takes the next bytes read; empty `data` means the peer closed. `Some` once the
    /// response is complete.
    fn feed(
        &mut self,
        data: &[u8],
        partial_head: &mut Vec<u8>,
    ) -> Result<Option<Done>, FailureCause> {
        if data.is_empty() {
            *partial_head = Vec::new();
            return self.end_of_stream();
        }
        if self.body.is_some() {
            return self.feed_body(data);
        }
        if partial_head.is_empty() {
            return match self.feed_head(data)? {
                HeadStep::Incomplete(start) => {
                    partial_head.extend_from_slice(&data[start..]);
                    Ok(None)
                }
                HeadStep::Read(done) => Ok(done),
            };
        }
        partial_head.extend_from_slice(data);
        // The head is taken out of the buffer only once it is whole.
        match self.feed_head(partial_head)? {
            HeadStep::Incomplete(start) => {
                partial_head.drain(..start);
                Ok(None)
            }
            HeadStep::Read(done) => {
                *partial_head = Vec::new();
                Ok(done)
            }
        }
    }

    /// Parses heads at the start of `data` until the final one, then reads on into the body.
    fn feed_head(&mut self, data: &[u8]) -> Result<HeadStep, FailureCause> {
        let mut start = 0;
        loop {
            let Some(head) = parse_head(&data[start..], self.asked)? else {
                if data.len() - start > MAX_HEAD_BYTES {
                    return Err(invalid("message head is too large"));
                }
                return Ok(HeadStep::Incomplete(start));
            };
            start += head.length;
            if (100..200).contains(&head.status) && head.status != 101 {
                // 100 Continue, 103 Early Hints: the response proper follows.
                continue;
            }
            let status =
                StatusCode::from_u16(head.status).map_err(|_| invalid("invalid status code"))?;
            self.body = Some(Body {
                status,
                framing: head.framing,
                keep_alive: head.keep_alive,
                bytes: 0,
            });
            return self.feed_body(&data[start..]).map(HeadStep::Read);
        }
    }

    fn feed_body(&mut self, data: &[u8]) -> Result<Option<Done>, FailureCause> {
        let body = self.body.as_mut().expect("the head was read");
        let (used, ended) = match &mut body.framing {
            Framing::Length(remaining) => {
                let take = (*remaining).min(data.len() as u64);
                *remaining -= take;
                body.bytes += take;
                (take as usize, *remaining == 0)
            }
            Framing::Chunked(chunk) => {
                let (used, content) = decode_chunked(chunk, data)?;
                body.bytes += content;
                (used, *chunk == Chunk::End)
            }
            Framing::UntilClose => {
                body.bytes += data.len() as u64;
                (data.len(), false)
            }
        };
        Ok(ended.then_some(Done {
            status: body.status,
            body_bytes: body.bytes,
            // Bytes beyond the response were never asked for: the connection is out of step.
            reusable: body.keep_alive && used == data.len(),
        }))
    }

    fn end_of_stream(&mut self) -> Result<Option<Done>, FailureCause> {
        match &self.body {
            Some(body) if body.framing == Framing::UntilClose => Ok(Some(Done {
                status: body.status,
                body_bytes: body.bytes,
                reusable: false,
            })),
            // Closed before the response was complete, or before it began.
            _ => Err(FailureCause::ConnectionReset),
        }
    }
}

enum HeadStep {
    /// The final head is still incomplete; it starts at this offset.
    Incomplete(usize),
    /// The final head was read, and the body as far as the bytes went.
    Read(Option<Done>),
}

/// Parses the response head at the start of `data`; `None` while it is incomplete.
fn parse_head(data: &[u8], asked: Asked) -> Result<Option<Head>, FailureCause> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let length = match response.parse(data) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => return Err(invalid(&error.to_string())),
    };
    let status = response.code.unwrap_or_default();
    let http10 = response.version == Some(0);
    let mut content_length: Option<u64> = None;
    let mut chunked = None;
    let (mut close, mut keep_alive) = (false, false);
    for header in response.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            for value in header.value.split(|&b| b == b',') {
                let length = parse_length(value.trim_ascii())
                    .filter(|&length| content_length.is_none_or(|earlier| earlier == length))
                    .ok_or_else(|| invalid("invalid content-length"))?;
                content_length = Some(length);
            }
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked only as the final coding of the last such field.
            chunked = Some(last_token_is_chunked(header.value));
        } else if header.name.eq_ignore_ascii_case("connection") {
            for token in header.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    let keep_alive = !close && (!http10 || keep_alive);
    let (framing, keep_alive) = match status {
        // Switching protocols, or a tunnel: nothing this client speaks follows.
        101 => (Framing::Length(0), false),
        200..=299 if asked == Asked::Connect => (Framing::Length(0), false),
        100..=199 | 204 | 304 => (Framing::Length(0), keep_alive),
        _ if asked == Asked::Head => (Framing::Length(0), keep_alive),
        _ => match (chunked, content_length) {
            (Some(_), _) if http10 => return Err(invalid("transfer-encoding in HTTP/1.0")),
            (Some(true), _) => {
                let start = Chunk::Size { size: 0, digits: 0 };
                (Framing::Chunked(start), keep_alive)
            }
            (Some(false), _) | (None, None) => (Framing::UntilClose, false),
            (None, Some(length)) => (Framing::Length(length), keep_alive),
        },
    };
    Ok(Some(Head {
        length,
        status,
        framing,
        keep_alive,
    }))
}

fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn last_token_is_chunked(value: &[u8]) -> bool {
    let last = value.rsplit(|&b| b == b',').next().unwrap_or_default();
    last.trim_ascii().eq_ignore_ascii_case(b"chunked")
}

/// Advances a chunked body's decoder over `data`: how many bytes it used (it stops at the
/// body's end) and how many of those were content.
fn decode_chunked(chunk: &mut Chunk, data: &[u8]) -> Result<(usize, u64), FailureCause> {
    let mut used = 0;
    let mut content = 0;
    while used < data.len() && *chunk != Chunk::End {
        if let Chunk::Data(remaining) = chunk {
            let take = (*remaining).min((data.len() - used) as u64);
            *remaining -= take;
            used += take as usize;
            content += take;
            if *remaining == 0 {
                *chunk = Chunk::DataCr;
            }
            continue;
        }
        let byte = data[used];
        used += 1;
        let size_line_end = |size: u64| match size {
            0 => Chunk::Trailer { line_start: true },
            size => Chunk::Data(size),
        };
        *chunk = match (*chunk, byte) {
            (Chunk::Size { size, digits }, _) if byte.is_ascii_hexdigit() && digits < 16 => {
                let digit = (byte as char).to_digit(16).expect("a hex digit");
                Chunk::Size {
                    size: size << 4 | u64::from(digit),
                    digits: digits + 1,
                }
            }
            (Chunk::Size { size, digits: 1.. }, b'\r') => Chunk::SizeLf { size },
            (Chunk::Size { size, digits: 1.. }, b'\n') => size_line_end(size),
            (Chunk::Size { size, digits: 1.. }, b';' | b' ' | b'\t') => Chunk::Extension { size },
            (Chunk::Extension { size }, b'\n') | (Chunk::SizeLf { size }, b'\n') => {
                size_line_end(size)
            }
            (Chunk::Extension { size }, _) => Chunk::Extension { size },
            (Chunk::DataCr, b'\r') => Chunk::DataLf,
            (Chunk::DataCr | Chunk::DataLf, b'\n') => Chunk::Size { size: 0, digits: 0 },
            (Chunk::Trailer { line_start: true }, b'\r') => Chunk::TrailerLf,
            (Chunk::Trailer { line_start: true } | Chunk::TrailerLf, b'\n') => Chunk::End,
            (Chunk::Trailer { .. }, _) => Chunk::Trailer {
                line_start: byte == b'\n',
            },
            _ => return Err(invalid("invalid chunked body")),
        };
    }
    Ok((used, content))
}

/// A task's request, serialized once so that each send only writes it.
#[derive(Debug, Clone)]
pub struct RequestTemplate {
    request: Bytes,
    asked: Asked,
}

impl RequestTemplate {
    pub fn new(target: &Target, task: &Task) -> RequestTemplate {
        let mut headers = hyper::HeaderMap::with_capacity(task.headers.len() + 3);
        if let Ok(host) = HeaderValue::from_str(&target.authority) {
            headers.insert(HOST, host);
        }
        headers.insert(USER_AGENT, HeaderValue::from_static(AGENT));
        if !task.body.is_empty() {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(task.body.len()));
        }
        for (name, value) in &task.headers {
            headers.insert(name, value.clone());
        }
        // Framed as hyper frames a request: without a body there is nothing to encode; a
        // transfer-encoding the task sets wins over the length and is made to end in chunked.
        let chunked = !task.body.is_empty() && headers.contains_key(TRANSFER_ENCODING);
        if task.body.is_empty() {
            headers.remove(TRANSFER_ENCODING);
        } else if chunked {
            headers.remove(CONTENT_LENGTH);
            let coding = headers[TRANSFER_ENCODING].as_bytes();
            if !last_token_is_chunked(coding) {
                let value = format!("{}, chunked", String::from_utf8_lossy(coding));
                if let Ok(value) = HeaderValue::from_str(&value) {
                    headers.insert(TRANSFER_ENCODING, value);
                }
            }
        }
        let uri: hyper::Uri = target
            .request_path(&task.path)
            .parse()
            .expect("paths are validated when the scenario is read");

        let mut request = BytesMut::with_capacity(256 + task.body.len());
        request.put_slice(task.method.as_str().as_bytes());
        request.put_slice(b" ");
        request.put_slice(uri.to_string().as_bytes());
        request.put_slice(b" HTTP/1.1\r\n");
        for (name, value) in &headers {
            request.put_slice(name.as_str().as_bytes());
            request.put_slice(b": ");
            request.put_slice(value.as_bytes());
            request.put_slice(b"\r\n");
        }
        request.put_slice(b"\r\n");
        if chunked {
            request.put_slice(format!("{:x}\r\n", task.body.len()).as_bytes());
            request.put_slice(&task.body);
            request.put_slice(b"\r\n0\r\n\r\n");
        } else {
            request.put_slice(&task.body);
        }
        let asked = match task.method {
            Method::HEAD => Asked::Head,
            Method::CONNECT => Asked::Connect,
            _ => Asked::Other,
        };
        RequestTemplate {
            request: request.freeze(),
            asked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `response` to a reader in pieces of `piece` bytes, then, if `close`, closes.
    fn read(
        response: &[u8],
        piece: usize,
        asked: Asked,
        close: bool,
    ) -> Result<Option<Done>, FailureCause> {
        let mut reader = ResponseReader::new(asked);
        let mut partial = Vec::new();
        for part in response.chunks(piece.max(1)) {
            if let Some(done) = reader.feed(part, &mut partial)? {
                return Ok(Some(done));
            }
        }
        if close {
            return reader.feed(&[], &mut partial);
        }
        Ok(None)
    }

    /// The outcome of reading `response`, checked to be the same however it is split.
    fn read_split(
        response: &[u8],
        asked: Asked,
        close: bool,
    ) -> Result<Option<Done>, FailureCause> {
        let whole = read(response, response.len(), asked, close);
        for piece in 1..response.len() {
            let pieces = read(response, piece, asked, close);
            assert_eq!(pieces, whole, "in pieces of {piece}");
        }
        whole
    }

    fn done(status: u16, body_bytes: u64, reusable: bool) -> Option<Done> {
        Some(Done {
            status: StatusCode::from_u16(status).unwrap(),
            body_bytes,
            reusable,
        })
    }

    #[test]
    fn sized_bodies_are_counted() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: x\r\n\r\nhello";
        assert_eq!(read_split(ok, Asked::Other, false), Ok(done(200, 5, true)));
        let close = b"HTTP/1.1 503 Busy\r\nConnection: close\r\ncontent-length: 2, 2\r\n\r\nno";
        assert_eq!(
            read_split(close, Asked::Other, false),
            Ok(done(503, 2, false))
        );
        let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel";
        let reset = Err(FailureCause::ConnectionReset);
        assert_eq!(read_split(cut, Asked::Other, true), reset);
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        let ok = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
            5\r\nhello\r\n1A;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\n";
        assert_eq!(read_split(ok, Asked::Other, false), Ok(done(200, 31, true)));
        let empty = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        assert_eq!(
            read_split(empty, Asked::Other, false),
            Ok(done(200, 0, true))
        );
        let cut = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel";
        let reset = Err(FailureCause::ConnectionReset);
        assert_eq!(read_split(cut, Asked::Other, true), reset);
        for bad in [
            &b"5\r\nhelloX\r\n"[..],
            b"x\r\n",
            b"\r\n",
            b"11111111111111111\r\n",
        ] {
            let mut response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            response.extend_from_slice(bad);
            let outcome = read(&response, response.len(), Asked::Other, false);
            assert!(
                matches!(outcome, Err(FailureCause::Other(_))),
                "{outcome:?}"
            );
        }
    }

    #[test]
    fn bodies_without_length_run_to_the_close() {
        let old = b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil the end";
        assert_eq!(read_split(old, Asked::Other, false), Ok(None));
        assert_eq!(
            read_split(old, Asked::Other, true),
            Ok(done(200, 13, false))
        );
        let not_chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxyz";
        assert_eq!(
            read_split(not_chunked, Asked::Other, true),
            Ok(done(200, 3, false))
        );
    }

    #[test]
    fn responses_without_bodies() {
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
        assert_eq!(read_split(head, Asked::Head, false), Ok(done(200, 0, true)));
        let no_content = b"HTTP/1.1 204 No Content\r\n\r\n";
        assert_eq!(
            read_split(no_content, Asked::Other, false),
            Ok(done(204, 0, true))
        );
        let old_kept = b"HTTP/1.0 304 Not Modified\r\nConnection: Keep-Alive\r\n\r\n";
        assert_eq!(
            read_split(old_kept, Asked::Other, false),
            Ok(done(304, 0, true))
        );
        let old = b"HTTP/1.0 204 No Content\r\n\r\n";
        assert_eq!(
            read_split(old, Asked::Other, false),
            Ok(done(204, 0, false))
        );
        let tunnel = b"HTTP/1.1 200 Connection established\r\n\r\n";
        assert_eq!(
            read_split(tunnel, Asked::Connect, false),
            Ok(done(200, 0, false))
        );
        let switching = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n";
        assert_eq!(
            read_split(switching, Asked::Other, false),
            Ok(done(101, 0, false))
        );
    }

    #[test]
    fn informational_responses_are_passed_over() {
        let response = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n\
            HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(
            read_split(response, Asked::Other, false),
            Ok(done(201, 2, true))
        );
    }

    #[test]
    fn bytes_beyond_the_response_end_the_connection() {
        let response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1";
        let outcome = read(response, response.len(), Asked::Other, false);
        assert_eq!(outcome, Ok(done(200, 2, false)));
    }

    #[test]
    fn malformed_responses_fail() {
        let reset = Err(FailureCause::ConnectionReset);
        assert_eq!(read(b"", 1, Asked::Other, true), reset);
        let cut_head = b"HTTP/1.1 200 OK\r\nContent-Le";
        assert_eq!(read_split(cut_head, Asked::Other, true), reset);
        for bad in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTTP/1.1 200 OK\r\n\r\n",
        ] {
            let outcome = read(bad, bad.len(), Asked::Other, false);
            assert!(
                matches!(outcome, Err(FailureCause::Other(_))),
                "{outcome:?}"
            );
        }
        let mut huge = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        huge.resize(huge.len() + MAX_HEAD_BYTES, b'x');
        let outcome = read(&huge, 4096, Asked::Other, false);
        assert!(
            matches!(outcome, Err(FailureCause::Other(_))),
            "{outcome:?}"
        );
    }

    #[test]
    fn a_head_in_pieces_is_kept_only_until_complete() {
        let mut reader = ResponseReader::new(Asked::Other);
        let mut partial = Vec::new();
        let first = reader.feed(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 2", &mut partial);
        assert_eq!(first, Ok(None));
        assert_eq!(partial, b"HTTP/1.1 2", "the passed-over head is let go");
        let rest = reader.feed(b"00 OK\r\nContent-Length: 0\r\n\r\n", &mut partial);
        assert_eq!(rest, Ok(done(200, 0, true)));
        assert_eq!(partial.capacity(), 0);
    }

    fn serialized(task_yaml: &str) -> String {
        let target = Target::parse("http://127.0.0.1:8080/base").unwrap();
        let yaml = format!("requests:\n  - {task_yaml}\n");
        let scenario = super::super::scenario::Scenario::from_yaml(&yaml).unwrap();
        let template = RequestTemplate::new(&target, &scenario.tasks[0]);
        String::from_utf8(template.request.to_vec()).unwrap()
    }

    #[test]
    fn requests_are_framed_as_hyper_frames_them() {
        let start = format!("host: 127.0.0.1:8080\r\nuser-agent: {AGENT}\r\n");
        assert_eq!(
            serialized("path: /hello?x=1"),
            format!("GET /base/hello?x=1 HTTP/1.1\r\n{start}\r\n")
        );
        assert_eq!(
            serialized("{ path: /p, method: post, body: abc, headers: { X-Test: \"1\" } }"),
            format!("POST /base/p HTTP/1.1\r\n{start}content-length: 3\r\nx-test: 1\r\n\r\nabc")
        );
        assert_eq!(
            serialized(
                "{ path: /p, method: put, body: abc, headers: { Transfer-Encoding: gzip } }"
            ),
            format!(
                "PUT /base/p HTTP/1.1\r\n{start}transfer-encoding: gzip, chunked\r\n\r\n\
                 3\r\nabc\r\n0\r\n\r\n"
            )
        );
        assert_eq!(
            serialized("{ path: /p, method: delete, headers: { Transfer-Encoding: chunked } }"),
            format!("DELETE /base/p HTTP/1.1\r\n{start}\r\n")
        );
    }
}
