//! The front door end to end: both functions under `cargo lambda watch`, every `events/*` fixture of the
//! front invoked with `cargo lambda invoke front --data-file …`, the front invoking the deployer through
//! the Lambda Invoke API, the deployer deploying into moto, Slack's follow-up caught on 127.0.0.1.
//!
//! `cargo lambda watch` (1.9) serves the Invoke API, but unlike AWS it runs `Event` invokes synchronously
//! (the caller waits for the whole run, and a function invoking itself waits for its own only instance)
//! and answers a function error with HTTP 500 instead of 200 and `X-Amz-Function-Error`. So the front's
//! `AWS_ENDPOINT_URL_LAMBDA` points at [`InvokeApi`], a small adapter that gives the emulator AWS's answers:
//! 202 at once for `Event` (the run goes on in the background), 200 with `X-Amz-Function-Error` for a
//! function error. It also records every invoke, so the tests see which were asynchronous.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use deployer_tests::{repo_root, LambdaEmulator, World, LOCK_TABLE};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// The bearer token the fixtures carry, kept in moto's Secrets Manager by the test.
const TOKEN: &str = "front-test-token-7f3a9c2e51d84b6f";
const SIGNING_SECRET: &str = "front-test-slack-signing-secret";
/// A value sent to the deployer directly, in a field it refuses: only a raw-event log line could show it.
const DEPLOYER_CANARY: &str = "deployer-raw-event-canary-41d7";
/// The Slack user and channel of `events/slack-command.json`.
const SLACK_USER: &str = "U2147483697";
const SLACK_CHANNEL: &str = "C2147483705";
/// The `response_url` of the fixture, form-encoded, which the test points at its own listener.
const FIXTURE_RESPONSE_URL: &str =
    "https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT0001%2F1234567890%2FAbCdEfGhIjKlMnOpQrStUvWx";

/// One HTTP request as read off a socket.
#[derive(Debug, Clone)]
struct HttpRequest {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn read_request(stream: &TcpStream) -> std::io::Result<HttpRequest> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let length = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(HttpRequest { method, path, headers, body })
}

fn write_response(mut stream: &TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(body));
}

/// An invoke the adapter saw.
#[derive(Debug, Clone)]
struct Invocation {
    function: String,
    event: bool,
    payload: Value,
}

/// The Lambda Invoke API with AWS's answers in front of `cargo lambda watch` (see the module comment).
struct InvokeApi {
    endpoint: String,
    upstream: Arc<OnceLock<u16>>,
    seen: Arc<Mutex<Vec<Invocation>>>,
}

impl InvokeApi {
    fn start() -> InvokeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the Invoke API adapter");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let upstream: Arc<OnceLock<u16>> = Arc::default();
        let seen: Arc<Mutex<Vec<Invocation>>> = Arc::default();
        let (up, log) = (upstream.clone(), seen.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (up, log) = (up.clone(), log.clone());
                std::thread::spawn(move || serve_invoke(client, &up, &log));
            }
        });
        InvokeApi { endpoint, upstream, seen }
    }

    /// Points the adapter at the emulator, once it runs.
    fn forward_to(&self, port: u16) {
        self.upstream.set(port).expect("set once");
    }

    fn seen(&self) -> Vec<Invocation> {
        self.seen.lock().expect("log").clone()
    }
}

fn serve_invoke(client: TcpStream, upstream: &OnceLock<u16>, seen: &Mutex<Vec<Invocation>>) {
    let Ok(request) = read_request(&client) else { return };
    // /2015-03-31/functions/{name}/invocations
    let function = request.path.split('/').nth(3).unwrap_or("").to_owned();
    let event = request.header("x-amz-invocation-type").is_some_and(|t| t.eq_ignore_ascii_case("Event"));
    let payload = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    seen.lock().expect("log").push(Invocation { function, event, payload });
    let Some(&port) = upstream.get() else {
        write_response(&client, "503 Service Unavailable", &[], b"emulator not started");
        return;
    };
    if event {
        write_response(&client, "202 Accepted", &[("x-amzn-requestid", "00000000-0000-0000-0000-000000000202")], b"");
        drop(client);
        let _ = forward(port, &request);
        return;
    }
    match forward(port, &request) {
        Ok((status, body)) => {
            let function_error =
                status >= 500 && serde_json::from_slice::<Value>(&body).is_ok_and(|v| v.get("errorType").is_some());
            let mut headers = vec![("content-type", "application/json"), ("x-amz-executed-version", "$LATEST")];
            if function_error {
                headers.push(("x-amz-function-error", "Unhandled"));
            }
            let status =
                if function_error || status == 200 { "200 OK".to_owned() } else { format!("{status} Upstream") };
            write_response(&client, &status, &headers, &body);
        }
        Err(e) => write_response(&client, "502 Bad Gateway", &[], e.to_string().as_bytes()),
    }
}

/// Sends the invoke to the emulator and reads its whole answer.
fn forward(port: u16, request: &HttpRequest) -> std::io::Result<(u16, Vec<u8>)> {
    let mut upstream = TcpStream::connect(("127.0.0.1", port))?;
    upstream.set_read_timeout(Some(Duration::from_secs(900)))?;
    let head = format!(
        concat!(
            "{} {} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\ncontent-type: application/json\r\n",
            "content-length: {}\r\nconnection: close\r\n\r\n"
        ),
        request.method,
        request.path,
        port,
        request.body.len()
    );
    upstream.write_all(head.as_bytes())?;
    upstream.write_all(&request.body)?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer)?;
    let split =
        answer.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| std::io::Error::other("no HTTP head"))?;
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut body = answer[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Ok((status, body))
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..eol]).split(';').next().unwrap_or("").trim(), 16)
                .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    out
}

/// Slack's side of `response_url`: a listener on 127.0.0.1 that answers 200 and hands over each request.
fn slack_listener() -> (String, mpsc::Receiver<HttpRequest>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the Slack listener");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            if let Ok(request) = read_request(&client) {
                write_response(&client, "200 OK", &[("content-type", "text/plain")], b"ok");
                let _ = tx.send(request);
            }
        }
    });
    (base, rx)
}

/// What `cargo lambda invoke front` printed: the Lambda's HTTP answer, as status and JSON body.
fn http_answer(out: &Output) -> (u16, Value) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "invoke failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let answer: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("invoke printed no JSON ({e}): {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    let status = answer["statusCode"].as_u64().unwrap_or_else(|| panic!("no statusCode: {answer}")) as u16;
    let body = match &answer["body"] {
        Value::String(text) => serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone())),
        other => other.clone(),
    };
    (status, body)
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `events/slack-command.json` as Slack would send it now: its `response_url` on `listener`, a fresh
/// timestamp, and a signature computed here (independently of the front's own code) with the secret. Returns
/// the file and the signature.
fn signed_slack_fixture(listener: &str, dir: &Path) -> (PathBuf, String) {
    let fixture = repo_root().join("events/slack-command.json");
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(&fixture).expect("read fixture")).expect("JSON");
    let body = aws_smithy_types::base64::decode(event["body"].as_str().expect("body")).expect("base64 body");
    let body = String::from_utf8(body).expect("form body");
    assert!(body.contains(FIXTURE_RESPONSE_URL), "the fixture's response_url changed: {body}");
    let local: String = format!("{listener}/commands/T0001/1234567890/AbCdEfGhIjKlMnOpQrStUvWx")
        .bytes()
        .map(|b| match b {
            b':' => "%3A".to_owned(),
            b'/' => "%2F".to_owned(),
            other => (other as char).to_string(),
        })
        .collect();
    let body = body.replace(FIXTURE_RESPONSE_URL, &local);
    let timestamp = now_secs().to_string();
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SIGNING_SECRET.as_bytes()).expect("HMAC key");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let signature = format!("v0={}", hex(&mac.finalize().into_bytes()));
    event["body"] = json!(aws_smithy_types::base64::encode(body.as_bytes()));
    event["headers"]["content-length"] = json!(body.len().to_string());
    event["headers"]["x-slack-request-timestamp"] = json!(timestamp);
    event["headers"]["x-slack-signature"] = json!(signature);
    let path = dir.join("slack-command.signed.json");
    std::fs::write(&path, event.to_string()).expect("write the signed fixture");
    (path, signature)
}

/// `events/function-url-deploy.json` with another body, written into `dir`.
fn function_url_deploy(dir: &Path, name: &str, body: &Value) -> PathBuf {
    let fixture = repo_root().join("events/function-url-deploy.json");
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(&fixture).expect("read fixture")).expect("JSON");
    event["body"] = json!(body.to_string());
    let path = dir.join(name);
    std::fs::write(&path, event.to_string()).expect("write the fixture");
    path
}

/// Every item of the world's lock table, as `lock_id` → `expires_at`.
async fn lock_table_items(world: &World) -> Vec<(String, String)> {
    let out = aws_sdk_dynamodb::Client::new(&world.config)
        .scan()
        .table_name(LOCK_TABLE)
        .send()
        .await
        .expect("scan the lock table");
    let text = |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, key: &str| {
        item.get(key).and_then(|v| v.as_s().or_else(|_| v.as_n()).ok()).cloned().unwrap_or_default()
    };
    out.items().iter().map(|item| (text(item, "lock_id"), text(item, "expires_at"))).collect()
}

/// Waits until `check` holds, for up to `limit`.
async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "{what} did not happen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `family:revision` and the app container's image of what `service` runs.
async fn running(world: &World, service: &str) -> (String, String) {
    let (td, _) = world.running_in(service).await;
    let image = td
        .container_definitions()
        .iter()
        .find(|c| c.name() == Some("app"))
        .and_then(|c| c.image())
        .unwrap_or_default()
        .to_owned();
    (deployer::plan::describe_name(&td), image)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_front_door_deploys_through_the_deployer() {
    let world = World::start().await;
    for service in ["api", "worker", "jobs"] {
        world.add_service(service, service).await;
    }
    let secrets = aws_sdk_secretsmanager::Client::new(&world.config);
    let mut arns = Vec::new();
    for (name, value) in [("front/token", TOKEN), ("front/slack-signing", SIGNING_SECRET)] {
        let out = secrets.create_secret().name(name).secret_string(value).send().await.expect("create secret");
        arns.push(out.arn.expect("secret ARN"));
    }
    let invoke_api = InvokeApi::start();
    let (slack, slack_requests) = slack_listener();
    let allowed = "demo/web,demo/api,demo/worker,demo/jobs";
    let mut env = world.function_env();
    env.extend(
        [
            ("AWS_ENDPOINT_URL_LAMBDA", invoke_api.endpoint.as_str()),
            ("DEPLOYER_FUNCTION", "deployer"),
            ("FRONT_FUNCTION", "front"),
            ("ALLOWED_TARGETS", allowed),
            ("DEPLOY_ALLOWED_TARGETS", allowed),
            ("AUTH_TOKEN_SECRET_ARN", arns[0].as_str()),
            ("SLACK_SIGNING_SECRET_ARN", arns[1].as_str()),
            ("SLACK_ALLOWED_USERS", SLACK_USER),
            ("SLACK_ALLOWED_CHANNELS", SLACK_CHANNEL),
            ("SLACK_RESPONSE_URL_PREFIX", "http://127.0.0.1:"),
            ("SLACK_DEPLOY_WAIT", "false"),
            ("SLACK_REPLAY_TABLE", LOCK_TABLE),
            // Both functions at TRACE: no token, secret or signature may reach the log even so.
            ("RUST_LOG", "trace"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let lambda = LambdaEmulator::start_all(&env);
    invoke_api.forward_to(lambda.port);
    let events = repo_root().join("events");
    let front = |fixture: &str| http_answer(&lambda.invoke_function("front", &events.join(fixture)));

    // A wrong token changes nothing (and starts the front, which the first invoke builds).
    let (status, body) = front("function-url-front-wrong-token.json");
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("Forbidden")), "{body}");
    assert!(!body.to_string().contains(TOKEN));
    // HTTP events that panic lambda_http's conversion are answered 400 by the running function.
    for fixture in [
        "malformed-alb-host-port.json",
        "malformed-alb-forwarded-proto.json",
        "malformed-function-url-query-space.json",
        "malformed-function-url-query-quote.json",
        "malformed-function-url-base64-body.json",
    ] {
        let (status, body) = front(fixture);
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("InvalidRequest")), "{fixture}: {body}");
    }
    assert!(invoke_api.seen().is_empty(), "a refused request invokes nothing");
    // Start the deployer too, so that the first deploy through the front is not also its build.
    let warm = lambda.invoke(&events.join("deploy-dry-run.json"));
    assert!(warm.status.success(), "the deployer did not start: {}", String::from_utf8_lossy(&warm.stderr));
    // The deployer's raw event stays out of its log at TRACE too (the value below shows only there).
    let dir = std::env::temp_dir().join(format!("front-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let raw = dir.join("deployer-canary.json");
    std::fs::write(&raw, json!({"version": "v2", "dry_run": true, "note": DEPLOYER_CANARY}).to_string())
        .expect("write");
    assert!(!lambda.invoke(&raw).status.success(), "an unknown field is refused");

    // REST API with IAM authorization: the identity API Gateway verified is enough, no token.
    let (status, body) = front("apigw-v1-deploy.json");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["status"].as_str(), body["task_definition"].as_str()),
        (Some("deployed"), Some("web:2")),
        "{body}"
    );
    let (td, image) = running(&world, "web").await;
    assert_eq!((td.as_str(), image.ends_with("/web:v2")), ("web:2", true), "{image}");

    // HTTP API on a named stage, with the bearer token.
    let (status, body) = front("apigw-v2-deploy.json");
    assert_eq!((status, body["task_definition"].as_str()), (200, Some("api:2")), "{body}");
    assert_eq!(running(&world, "api").await.0, "api:2");

    // Function URL (the HTTP API v2 shape), with the bearer token.
    let (status, body) = front("function-url-deploy.json");
    assert_eq!((status, body["task_definition"].as_str()), (200, Some("jobs:2")), "{body}");
    assert_eq!(running(&world, "jobs").await.0, "jobs:2");
    let sync: Vec<_> = invoke_api.seen().iter().map(|i| (i.function.clone(), i.event)).collect();
    assert_eq!(sync, vec![("deployer".to_owned(), false); 3], "HTTP deploys invoke the deployer synchronously");

    // A cluster ARN of another account, with the allowed cluster's name: refused before any invoke.
    let foreign = json!({"version": "v2", "service": "jobs",
                         "cluster": "arn:aws:ecs:us-east-1:999999999999:cluster/demo"});
    let (status, body) =
        http_answer(&lambda.invoke_function("front", &function_url_deploy(&dir, "foreign-cluster.json", &foreign)));
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("NotAllowed")), "{body}");
    // A version the deployer would refuse costs no invoke either.
    let padded = json!({"version": " v2 ", "service": "jobs"});
    let (status, body) =
        http_answer(&lambda.invoke_function("front", &function_url_deploy(&dir, "padded-version.json", &padded)));
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("InvalidVersion")), "{body}");
    assert_eq!(invoke_api.seen().len(), 3, "refusals invoke nothing");

    // Status through the HTTP API.
    let (status, body) = front("apigw-v2-status.json");
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["status"].as_str(), body["task_definition"].as_str()), (Some("ok"), Some("web:2")), "{body}");

    // Slack: a signed command is acknowledged at once; the outcome follows on response_url.
    let (signed, slack_signature) = signed_slack_fixture(&slack, &dir);
    let (status, body) = http_answer(&lambda.invoke_function("front", &signed));
    assert_eq!((status, body["response_type"].as_str()), (200, Some("ephemeral")), "{body}");
    assert!(body["text"].as_str().unwrap_or("").contains("Deploying `v1` to `demo/web`"), "{body}");
    let followup = tokio::task::spawn_blocking(move || slack_requests.recv_timeout(Duration::from_secs(300)))
        .await
        .expect("join")
        .expect("Slack's response_url got no follow-up");
    assert_eq!(
        (followup.method.as_str(), followup.path.as_str()),
        ("POST", "/commands/T0001/1234567890/AbCdEfGhIjKlMnOpQrStUvWx")
    );
    assert_eq!(followup.header("content-type"), Some("application/json"));
    let message: Value = serde_json::from_slice(&followup.body).expect("JSON follow-up");
    assert_eq!(message["response_type"], "in_channel", "{message}");
    let text = message["blocks"].to_string();
    for expected in [
        "*Deployed* to `demo/web`",
        "web:2 → web:3",
        "`deployed`",
        "<@U2147483697>",
        "https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/demo/services/web",
    ] {
        assert!(text.contains(expected), "the follow-up lacks {expected:?}: {message}");
    }
    let (td, image) = running(&world, "web").await;
    assert_eq!((td.as_str(), image.ends_with("/web:v1")), ("web:3", true), "{image}");
    let continuation = invoke_api.seen().into_iter().find(|i| i.function == "front").expect("a self-invoke");
    assert!(continuation.event && continuation.payload["signature"].is_string(), "{continuation:?}");

    // The same signed request again, within its five minutes: refused, and nothing is started.
    let invokes = invoke_api.seen().len();
    let (status, body) = http_answer(&lambda.invoke_function("front", &signed));
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("Forbidden")), "{body}");
    assert_eq!(invoke_api.seen().len(), invokes, "a replay invokes nothing");
    // What remembers it: one item in the lock table, keyed by a hash (not the signature), with a TTL; the
    // deploy's own lock was taken and released beside it.
    let items = lock_table_items(&world).await;
    // Two: the command (for its five minutes) and the continuation it started (claimed once, for its 30
    // minutes and one more).
    let replays: Vec<_> = items.iter().filter(|(k, _)| k.starts_with("slack-replay#")).collect();
    assert_eq!(replays.len(), 2, "{items:?}");
    let mut expiries: Vec<u64> = replays.iter().map(|(_, e)| e.parse().expect("expires_at is a number")).collect();
    expiries.sort_unstable();
    let (now, expires) = (now_secs(), expiries[0]);
    assert!(now < expires && expires <= now + 360, "expires_at {expires} is not the window's end (now {now})");
    let continuation = expiries[1];
    assert!(
        continuation > now + 360 && continuation <= now + 31 * 60 + 5,
        "the continuation's expires_at {continuation}"
    );
    assert!(items.iter().all(|(k, _)| !k.contains(&slack_signature[3..])), "{items:?}");
    assert!(!items.iter().any(|(k, _)| k.ends_with("/demo/web")), "the deploy's lock was not released: {items:?}");

    // ALB with "wait": the deployer is started asynchronously and the caller gets 202 with a status URL.
    let (status, body) = front("alb-deploy.json");
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status_url"], "/status?cluster=demo&service=worker", "{body}");
    assert!(
        invoke_api.seen().iter().any(|i| i.function == "deployer" && i.event && i.payload["wait"] == true),
        "the waiting deploy was not an Event invoke"
    );
    // The deploy goes on after the answer: worker:2 appears with the new image (what the followed rollout
    // then does in moto is the deployer's business, not the door's).
    eventually(Duration::from_secs(120), "worker:2 registered by the asynchronous deploy", || async {
        world.ecs.describe_task_definition().task_definition("worker:2").send().await.is_ok()
    })
    .await;
    let (worker, _) = world.task_definition("worker:2").await;
    let image = worker.container_definitions().iter().find_map(|c| c.image()).unwrap_or_default();
    assert!(image.ends_with("/web:v2"), "{image}");

    // Both functions ran at TRACE (the dependencies' DEBUG lines show it), and no bearer token, signing
    // secret or Slack signature reached their log.
    let log = std::fs::read_to_string(&lambda.log).unwrap_or_default();
    assert!(log.contains("ack_ms"), "the acknowledgement time is not logged");
    assert!(log.contains("DEBUG"), "the functions did not log at TRACE/DEBUG: {}", lambda.log.display());
    for secret in
        [TOKEN, SIGNING_SECRET, &slack_signature, &slack_signature[3..], "malformed-event-token", DEPLOYER_CANARY]
    {
        assert!(!log.contains(secret), "{secret:?} reached the log ({})", lambda.log.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
