//! A minimal AWS Lambda Runtime API on 127.0.0.1, enough to drive the real release `bootstrap` without
//! cargo-lambda: set `AWS_LAMBDA_RUNTIME_API` to [`RuntimeApi::addr`], start the binary, and call
//! [`RuntimeApi::invoke`].
//!
//! Endpoints (as the `lambda_runtime` crate uses them):
//! - `GET  /2018-06-01/runtime/invocation/next`: blocks until an event is queued, then answers the event
//!   JSON with `Lambda-Runtime-Aws-Request-Id` and `Lambda-Runtime-Deadline-Ms` (both required by
//!   `lambda_runtime`), `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id`;
//! - `POST /2018-06-01/runtime/invocation/{id}/response`: the function's result;
//! - `POST /2018-06-01/runtime/invocation/{id}/error`: a function error (`{"errorType", "errorMessage"}`);
//! - `POST /2018-06-01/runtime/init/error`: the function failed to start.
//!
//! It stops (listener and every open connection) when dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::proxy::{read_request, write_response, Response};

pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:deployer";
const PREFIX: &str = "/2018-06-01/runtime/";
/// What the Lambda service would allow an invocation: the deadline the function is told.
const DEADLINE: Duration = Duration::from_secs(900);

type Outcome = Result<Value, Value>;

#[derive(Default)]
struct Inner {
    waiting: HashMap<String, oneshot::Sender<Outcome>>,
    first_next: Option<Instant>,
    nexts: usize,
    init_error: Option<Value>,
}

struct State {
    events: mpsc::UnboundedSender<(String, Value)>,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Value)>>,
    inner: Mutex<Inner>,
    ids: AtomicU64,
}

/// The running Runtime API.
pub struct RuntimeApi {
    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub addr: String,
    /// How long [`RuntimeApi::invoke`] waits for the function's answer.
    pub timeout: Duration,
    state: Arc<State>,
    accept: JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the runtime API");
        let addr = listener.local_addr().expect("runtime API address").to_string();
        let (events, queue) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            events,
            queue: tokio::sync::Mutex::new(queue),
            inner: Mutex::new(Inner::default()),
            ids: AtomicU64::new(0),
        });
        let accept = tokio::spawn(crate::proxy::accept_loop(listener, state.clone(), serve));
        RuntimeApi { addr, timeout: Duration::from_secs(120), state, accept }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.state.inner.lock().expect("runtime API state")
    }

    /// When the function first asked for an event: the end of its cold start.
    pub fn time_of_first_next(&self) -> Option<Instant> {
        self.inner().first_next
    }

    /// How many times the function has asked for an event.
    pub fn nexts(&self) -> usize {
        self.inner().nexts
    }

    /// What the function reported through `/runtime/init/error`, if it did.
    pub fn init_error(&self) -> Option<Value> {
        self.inner().init_error.clone()
    }

    /// Waits until the function first asks for an event, it reports an init error, or `timeout` passes.
    pub async fn wait_first_next(&self, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(at) = self.time_of_first_next() {
                return Some(at);
            }
            if self.init_error().is_some() || Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Invokes the function with `event` and waits (up to [`RuntimeApi::timeout`]) for its answer: `Ok` with
    /// the result, or `Err` with the function error (`{"errorType", "errorMessage"}`); the duration runs from
    /// queueing the event to receiving the answer.
    pub async fn invoke(&self, event: Value) -> (Outcome, Duration) {
        self.invoke_within(event, self.timeout).await
    }

    pub async fn invoke_within(&self, event: Value, timeout: Duration) -> (Outcome, Duration) {
        let n = self.state.ids.fetch_add(1, Ordering::SeqCst) + 1;
        let id = format!("00000000-0000-4000-8000-{n:012}");
        let (tx, rx) = oneshot::channel();
        self.inner().waiting.insert(id.clone(), tx);
        let started = Instant::now();
        if self.state.events.send((id.clone(), event)).is_err() {
            return (Err(bench_error("Bench.RuntimeApiStopped", "the runtime API stopped")), started.elapsed());
        }
        let init_failed = async {
            loop {
                if let Some(e) = self.init_error() {
                    return e;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        };
        let outcome = tokio::select! {
            answer = rx => answer.unwrap_or_else(|_| Err(bench_error("Bench.Dropped", "the invocation was dropped"))),
            e = init_failed => Err(e),
            () = tokio::time::sleep(timeout) => Err(bench_error(
                "Bench.Timeout",
                &format!("no answer within {} s", timeout.as_secs_f64()),
            )),
        };
        self.inner().waiting.remove(&id);
        (outcome, started.elapsed())
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

fn bench_error(kind: &str, message: &str) -> Value {
    json!({"errorType": kind, "errorMessage": message})
}

/// Resolves when the peer closes the connection (or it fails); pending forever if it sends data instead.
async fn closed<R: AsyncBufRead + Unpin>(r: &mut R) {
    match r.fill_buf().await {
        Ok(buf) if !buf.is_empty() => std::future::pending().await,
        _ => {}
    }
}

fn epoch_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
}

fn accepted() -> Response {
    Response::json(202, &json!({"status": "OK"}), Vec::new())
}

async fn serve(stream: TcpStream, state: Arc<State>) {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    while let Ok(Some(request)) = read_request(&mut read).await {
        let keep_alive = request.keep_alive();
        let path = request.target.split('?').next().unwrap_or("").to_owned();
        let route = path.strip_prefix(PREFIX).unwrap_or("");
        let response = match (request.method.as_str(), route) {
            ("GET", "invocation/next") => {
                {
                    let mut inner = state.inner.lock().expect("runtime API state");
                    inner.first_next.get_or_insert_with(Instant::now);
                    inner.nexts += 1;
                }
                let event = {
                    let mut queue = state.queue.lock().await;
                    tokio::select! {
                        event = queue.recv() => event,
                        () = closed(&mut read) => None,
                    }
                };
                let Some((id, payload)) = event else {
                    return;
                };
                let n = state.ids.load(Ordering::SeqCst);
                let deadline = epoch_ms() + DEADLINE.as_millis();
                Response::json(
                    200,
                    &payload,
                    vec![
                        ("Lambda-Runtime-Aws-Request-Id".into(), id),
                        ("Lambda-Runtime-Deadline-Ms".into(), deadline.to_string()),
                        ("Lambda-Runtime-Invoked-Function-Arn".into(), FUNCTION_ARN.into()),
                        (
                            "Lambda-Runtime-Trace-Id".into(),
                            format!("Root=1-{:08x}-{n:024x};Parent={n:016x};Sampled=0", epoch_ms() / 1000),
                        ),
                    ],
                )
            }
            ("POST", "init/error") => {
                state.inner.lock().expect("runtime API state").init_error = Some(body_json(&request.body));
                accepted()
            }
            ("POST", r) if r.starts_with("invocation/") => {
                let rest = &r["invocation/".len()..];
                let outcome = if let Some(id) = rest.strip_suffix("/response") {
                    Some((id, Ok(body_json(&request.body))))
                } else {
                    rest.strip_suffix("/error").map(|id| (id, Err(body_json(&request.body))))
                };
                match outcome {
                    Some((id, outcome)) => {
                        let waiter = state.inner.lock().expect("runtime API state").waiting.remove(id);
                        match waiter {
                            Some(tx) => {
                                let _ = tx.send(outcome);
                                accepted()
                            }
                            None => Response::json(
                                400,
                                &json!({"errorType": "InvalidRequestID", "errorMessage": format!("unknown request id {id}")}),
                                Vec::new(),
                            ),
                        }
                    }
                    None => not_found(&request.method, &path),
                }
            }
            _ => not_found(&request.method, &path),
        };
        if write_response(&mut write, &response, keep_alive).await.is_err() || !keep_alive {
            return;
        }
    }
}

fn not_found(method: &str, path: &str) -> Response {
    Response::json(
        404,
        &json!({"errorType": "NotFound", "errorMessage": format!("no route {method} {path}")}),
        Vec::new(),
    )
}

fn body_json(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}
