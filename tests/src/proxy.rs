//! A latency-injecting HTTP/1.1 proxy in front of the moto endpoint, for the benchmark.
//!
//! Every request waits a fixed delay (a stand-in for the network round trip to AWS), is forwarded to moto,
//! and moto's answer is returned. Each call is recorded: its operation (from `X-Amz-Target`), when it
//! arrived and when its answer was written. Optionally every k-th call is answered with an awsJson1.1
//! `ThrottlingException` instead of being forwarded, so the SDK's retries can be measured.
//!
//! The proxy speaks just enough HTTP/1.1 for the AWS SDK and moto (Content-Length and chunked bodies,
//! keep-alive towards the client, one connection per call towards moto) and needs no dependency beyond
//! tokio. The same small HTTP helpers serve the Lambda Runtime API emulation in [`crate::runtime_api`].

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// How long moto gets to answer one forwarded call.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// One AWS call as the proxy saw it.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// `RegisterTaskDefinition`, `DescribeImages`, … (the part of `X-Amz-Target` after the last `.`), or
    /// `METHOD /path` when the header is missing.
    pub operation: String,
    /// When the whole request had arrived.
    pub start: Instant,
    /// When the whole answer had been written back.
    pub end: Instant,
    /// The HTTP status returned to the caller.
    pub status: u16,
    /// Answered with a ThrottlingException instead of being forwarded.
    pub throttled: bool,
    /// How long moto took (zero for throttled calls).
    pub upstream: Duration,
}

impl CallRecord {
    pub fn duration(&self) -> Duration {
        self.end.duration_since(self.start)
    }
}

struct Shared {
    upstream: String,
    delay: Duration,
    throttle_every: Option<u32>,
    counter: AtomicU32,
    in_flight: AtomicU32,
    calls: Mutex<Vec<CallRecord>>,
}

/// The running proxy. It stops (listener and every open connection) when dropped.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`: give it to the SDK as `AWS_ENDPOINT_URL`.
    pub endpoint: String,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy on a free 127.0.0.1 port in front of `upstream` (`http://host:port`). Every call waits
    /// `delay` first; with `throttle_every = Some(k)`, calls number k, 2k, 3k, … (counted from the start or
    /// the last [`Proxy::reset`]) get a ThrottlingException instead of moto's answer.
    pub async fn start(upstream: &str, delay: Duration, throttle_every: Option<u32>) -> Proxy {
        let authority = upstream.trim_start_matches("http://").trim_end_matches('/').to_owned();
        assert!(!authority.contains('/'), "the proxy forwards to an http://host:port endpoint, not {upstream}");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let shared = Arc::new(Shared {
            upstream: authority,
            delay,
            throttle_every: throttle_every.filter(|k| *k > 0),
            counter: AtomicU32::new(0),
            in_flight: AtomicU32::new(0),
            calls: Mutex::new(Vec::new()),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone(), serve));
        Proxy { endpoint: format!("http://127.0.0.1:{port}"), shared, accept }
    }

    /// Every call since the start or the last [`Proxy::reset`], in the order they finished.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.shared.calls.lock().expect("calls lock").clone()
    }

    /// Forgets the recorded calls and restarts the throttling count.
    pub fn reset(&self) {
        self.shared.calls.lock().expect("calls lock").clear();
        self.shared.counter.store(0, Ordering::SeqCst);
    }

    /// Waits until no call is in progress (every answered call is recorded), or `timeout` passes; says
    /// whether the proxy is idle.
    pub async fn idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.shared.in_flight.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        true
    }

    pub fn delay(&self) -> Duration {
        self.shared.delay
    }

    pub fn throttle_every(&self) -> Option<u32> {
        self.shared.throttle_every
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // The accept task owns the connection tasks (a JoinSet): aborting it aborts them all.
        self.accept.abort();
    }
}

/// Accepts connections for ever, serving each on its own task; the tasks end with the loop's task.
pub(crate) async fn accept_loop<S, F, Fut>(listener: TcpListener, state: Arc<S>, serve: F)
where
    S: Send + Sync + 'static,
    F: Fn(tokio::net::TcpStream, Arc<S>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(serve(stream, state.clone()));
    }
}

async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    while let Ok(Some(request)) = read_request(&mut read).await {
        let start = Instant::now();
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let operation = operation_of(&request);
        tokio::time::sleep(shared.delay).await;
        let n = shared.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let throttled = shared.throttle_every.is_some_and(|k| n % k == 0);
        let (response, upstream) = if throttled {
            (throttling_response(), Duration::ZERO)
        } else {
            let sent = Instant::now();
            let answer = match tokio::time::timeout(UPSTREAM_TIMEOUT, forward(&shared.upstream, &request)).await {
                Ok(Ok(answer)) => answer,
                Ok(Err(e)) => Response::text(502, format!("proxy: upstream failed: {e}")),
                Err(_) => Response::text(504, "proxy: upstream timed out".into()),
            };
            (answer, sent.elapsed())
        };
        let keep_alive = request.keep_alive();
        let written = write_response(&mut write, &response, keep_alive).await;
        shared.calls.lock().expect("calls lock").push(CallRecord {
            operation,
            start,
            end: Instant::now(),
            status: response.status,
            throttled,
            upstream,
        });
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        if written.is_err() || !keep_alive {
            return;
        }
    }
}

/// `AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition` → `RegisterTaskDefinition`.
fn operation_of(request: &Request) -> String {
    match request.header("x-amz-target") {
        Some(target) => target.rsplit('.').next().unwrap_or(target).to_owned(),
        None => format!("{} {}", request.method, request.target),
    }
}

/// What an awsJson1.1 service (ECS, ECR) answers when it throttles. smithy-rs takes the error code from
/// the `X-Amzn-ErrorType` header, else from `__type` (or `code`) in the body, so both say
/// `ThrottlingException`, which the SDK's retry classifier treats as a throttling error and retries.
fn throttling_response() -> Response {
    Response {
        status: 400,
        reason: "Bad Request".into(),
        headers: vec![
            ("Content-Type".into(), "application/x-amz-json-1.1".into()),
            ("x-amzn-ErrorType".into(), "ThrottlingException".into()),
            ("x-amzn-RequestId".into(), "00000000-0000-4000-8000-000000000000".into()),
        ],
        body: br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_vec(),
    }
}

/// Sends `request` to `upstream` (`host:port`) on a fresh connection and reads the whole answer.
async fn forward(upstream: &str, request: &Request) -> io::Result<Response> {
    let stream = TcpStream::connect(upstream).await?;
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (name, value) in request.headers.iter().filter(|(n, _)| !is_hop_header(n)) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", request.body.len()));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&request.body);
    write.write_all(&bytes).await?;
    write.flush().await?;
    let mut read = BufReader::new(read);
    let lines = read_head(&mut read)
        .await?
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "upstream closed before answering"))?;
    let mut status_line = lines[0].splitn(3, ' ');
    let _version = status_line.next();
    let status = status_line
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad_data(format!("bad status line {:?}", lines[0])))?;
    let reason = status_line.next().unwrap_or("").to_owned();
    let headers = parse_headers(&lines[1..]);
    let body = read_body(&mut read, &headers, true).await?;
    Ok(Response { status, reason, headers, body })
}

/// The number of sequential rounds among `calls`: the length of the longest chain of calls in which each
/// starts after the previous one ended. Calls that overlap belong to the same round.
pub fn rounds(calls: &[CallRecord]) -> usize {
    round_levels(calls).into_iter().max().unwrap_or(0)
}

/// For each call (in the order given), the round it belongs to, from 1: the length of the longest chain of
/// calls, each starting after the previous one ended, that ends with it.
pub fn round_levels(calls: &[CallRecord]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..calls.len()).collect();
    order.sort_by_key(|&i| calls[i].start);
    let mut level = vec![1usize; calls.len()];
    for (k, &i) in order.iter().enumerate() {
        for &j in &order[..k] {
            if calls[j].end <= calls[i].start {
                level[i] = level[i].max(level[j] + 1);
            }
        }
    }
    level
}

// ---------------------------------------------------------------------------------------------------------
// Minimal HTTP/1.1, shared with the Runtime API emulation.

/// An HTTP/1.1 request with its whole body.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// HTTP/1.1 keeps the connection unless asked not to; HTTP/1.0 closes it unless asked to keep it.
    pub fn keep_alive(&self) -> bool {
        let connection = self.header("connection").map(str::to_ascii_lowercase);
        if self.version == "HTTP/1.0" {
            connection.as_deref() == Some("keep-alive")
        } else {
            connection.as_deref() != Some("close")
        }
    }
}

/// An HTTP/1.1 response with its whole body.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(status: u16, text: String) -> Response {
        Response {
            status,
            reason: reason(status).into(),
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: text.into_bytes(),
        }
    }

    pub fn json(status: u16, body: &serde_json::Value, headers: Vec<(String, String)>) -> Response {
        let mut all = vec![("Content-Type".to_owned(), "application/json".to_owned())];
        all.extend(headers);
        Response { status, reason: reason(status).into(), headers: all, body: body.to_string().into_bytes() }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        504 => "Gateway Timeout",
        _ => "",
    }
}

pub(crate) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Headers that describe one hop's connection or framing: the proxy sets its own.
fn is_hop_header(name: &str) -> bool {
    ["connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "te", "trailer", "upgrade"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

fn bad_data(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Reads one request; `Ok(None)` when the peer closed the connection between requests.
pub(crate) async fn read_request<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Option<Request>> {
    let Some(lines) = read_head(r).await? else {
        return Ok(None);
    };
    let mut parts = lines[0].split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad_data(format!("bad request line {:?}", lines[0])));
    };
    let headers = parse_headers(&lines[1..]);
    let body = read_body(r, &headers, false).await?;
    Ok(Some(Request {
        method: method.to_owned(),
        target: target.to_owned(),
        version: version.to_owned(),
        headers,
        body,
    }))
}

/// Writes `response` with a Content-Length body; says `Connection: close` unless `keep_alive`.
pub(crate) async fn write_response<W: AsyncWrite + Unpin>(
    w: &mut W,
    response: &Response,
    keep_alive: bool,
) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, response.reason);
    for (name, value) in response.headers.iter().filter(|(n, _)| !is_hop_header(n)) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&response.body);
    w.write_all(&bytes).await?;
    w.flush().await
}

/// The start line and header lines up to the blank line; `Ok(None)` on a clean end of stream.
async fn read_head<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Option<Vec<String>>> {
    let mut lines = Vec::new();
    let mut total = 0usize;
    loop {
        let mut line = Vec::new();
        let n = r.read_until(b'\n', &mut line).await?;
        if n == 0 {
            return if lines.is_empty() {
                Ok(None)
            } else {
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed in a header"))
            };
        }
        total += n;
        if total > 1 << 20 {
            return Err(bad_data("header section over 1 MiB".into()));
        }
        let line = String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            if lines.is_empty() {
                continue; // tolerate stray CRLFs between messages
            }
            return Ok(Some(lines));
        }
        lines.push(line);
    }
}

fn parse_headers(lines: &[String]) -> Vec<(String, String)> {
    lines.iter().filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned())).collect()
}

/// The message body: chunked, Content-Length, or (for a response on a closing connection) up to the end.
async fn read_body<R: AsyncBufRead + Unpin>(
    r: &mut R,
    headers: &[(String, String)],
    until_eof: bool,
) -> io::Result<Vec<u8>> {
    if header(headers, "transfer-encoding").is_some_and(|te| te.to_ascii_lowercase().contains("chunked")) {
        return read_chunked(r).await;
    }
    if let Some(length) = header(headers, "content-length") {
        let length: usize = length.parse().map_err(|_| bad_data(format!("bad Content-Length {length:?}")))?;
        let mut body = vec![0; length];
        r.read_exact(&mut body).await?;
        return Ok(body);
    }
    let mut body = Vec::new();
    if until_eof {
        r.read_to_end(&mut body).await?;
    }
    Ok(body)
}

async fn read_chunked<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed in a chunk"));
        }
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| bad_data(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers, up to the blank line.
            loop {
                let mut trailer = String::new();
                if r.read_line(&mut trailer).await? == 0 || trailer.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let at = body.len();
        body.resize(at + size, 0);
        r.read_exact(&mut body[at..]).await?;
        let mut crlf = [0u8; 2];
        r.read_exact(&mut crlf).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(start_ms: u64, end_ms: u64, base: Instant) -> CallRecord {
        CallRecord {
            operation: "X".into(),
            start: base + Duration::from_millis(start_ms),
            end: base + Duration::from_millis(end_ms),
            status: 200,
            throttled: false,
            upstream: Duration::ZERO,
        }
    }

    #[test]
    fn overlapping_calls_are_one_round() {
        let t = Instant::now();
        assert_eq!(rounds(&[]), 0);
        assert_eq!(rounds(&[call(0, 40, t), call(1, 41, t), call(2, 60, t)]), 1);
        // preflight (3 parallel), then a describe chained on one of them, then register, then update.
        let calls =
            [call(0, 40, t), call(0, 42, t), call(1, 41, t), call(41, 82, t), call(83, 125, t), call(126, 170, t)];
        assert_eq!(rounds(&calls), 4);
    }

    #[tokio::test]
    async fn requests_parse_with_both_body_framings() {
        let raw = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcPOST /r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n1;x=y\r\n!\r\n0\r\n\r\n";
        let mut r = BufReader::new(&raw[..]);
        let a = read_request(&mut r).await.unwrap().unwrap();
        assert_eq!((a.method.as_str(), a.body.as_slice()), ("POST", &b"abc"[..]));
        let b = read_request(&mut r).await.unwrap().unwrap();
        assert_eq!((b.target.as_str(), b.body.as_slice()), ("/r", &b"hi!"[..]));
        assert!(read_request(&mut r).await.unwrap().is_none());
    }
}
