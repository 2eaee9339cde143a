//! The door end to end in-process: real `lambda_http` events in, a fake Lambda and Secrets Manager behind.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use deployer::error::{AwsError, AwsErrorKind};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::auth::slack_signature;
use crate::aws::{Invoked, Secret};
use crate::config::AllowList;

const TOKEN: &str = "test-token-0123456789abcdef";
const SIGNING: &str = "test-signing-secret";
const TOKEN_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:front-token";
const SIGNING_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:slack-signing";
/// 2023-11-14T22:13:20Z, in milliseconds.
const NOW_MS: u64 = 1_700_000_000_000;
const NOW: u64 = NOW_MS / 1000;

#[derive(Default)]
struct FakeLambda {
    calls: Mutex<Vec<(String, Value, Mode)>>,
    answers: Mutex<HashMap<String, Result<Invoked, AwsError>>>,
}

impl FakeLambda {
    fn answer(self, function: &str, answer: Result<Invoked, AwsError>) -> Self {
        self.answers.lock().unwrap().insert(function.to_owned(), answer);
        self
    }

    fn calls(&self) -> Vec<(String, Value, Mode)> {
        self.calls.lock().unwrap().clone()
    }
}

impl Invoker for FakeLambda {
    async fn invoke(&self, function: &str, payload: &Value, mode: Mode) -> Result<Invoked, AwsError> {
        self.calls.lock().unwrap().push((function.to_owned(), payload.clone(), mode));
        if mode == Mode::Event {
            return Ok(Invoked::Accepted);
        }
        self.answers
            .lock()
            .unwrap()
            .get(function)
            .cloned()
            .unwrap_or(Ok(Invoked::Answer(json!({"status": "deployed"}))))
    }
}

#[derive(Default)]
struct FakeSecrets {
    reads: AtomicUsize,
}

impl SecretStore for FakeSecrets {
    async fn read(&self, arn: &str) -> Result<Secret, AwsError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        match arn {
            TOKEN_ARN => Ok(Secret::new(TOKEN)),
            SIGNING_ARN => Ok(Secret::new(SIGNING)),
            _ => Err(AwsError {
                operation: "GetSecretValue",
                kind: AwsErrorKind::Rejected,
                aws_code: Some("ResourceNotFoundException".into()),
                message: "no such secret".into(),
            }),
        }
    }
}

fn config() -> Config {
    Config {
        deployer_function: "deployer".into(),
        self_function: Some("front".into()),
        default_cluster: Some("demo".into()),
        default_service: Some("web".into()),
        allowed: AllowList::parse("demo/web,demo/api").unwrap(),
        token_secret_arn: Some(TOKEN_ARN.into()),
        slack_secret_arn: Some(SIGNING_ARN.into()),
        slack_users: vec!["U1".into()],
        slack_channels: vec![],
        response_url_prefix: "http://127.0.0.1:".into(),
        slack_wait: false,
        region: "us-east-1".into(),
    }
}

fn front(lambda: FakeLambda) -> Front<FakeLambda, FakeSecrets> {
    Front::new(config(), lambda, FakeSecrets::default()).with_clock(|| NOW_MS)
}

/// An HTTP API (v2) event, as a Function URL or API Gateway sends it.
fn v2(method: &str, path: &str, query: &str, headers: Value, body: &str) -> Request {
    let event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": headers, "body": body, "isBase64Encoded": false,
        "requestContext": {"stage": "$default", "http": {"method": method, "path": path}, "timeEpoch": 0},
    });
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn bearer(token: &str) -> Value {
    json!({"authorization": format!("Bearer {token}"), "content-type": "application/json"})
}

async fn call(front: &Front<FakeLambda, FakeSecrets>, request: Request) -> (u16, Value) {
    let response = front.handle(request).await.unwrap();
    let status = response.status().as_u16();
    let body = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn a_bearer_deploy_invokes_the_deployer_and_answers_its_result() {
    let result = json!({"status": "deployed", "cluster": "demo", "service": "web", "task_definition": "web:2"});
    let f = front(FakeLambda::default().answer("deployer", Ok(Invoked::Answer(result.clone()))));
    let (status, body) = call(&f, v2("POST", "/deploy", "", bearer(TOKEN), r#"{"version":"v2"}"#)).await;
    assert_eq!((status, body), (200, result));
    assert_eq!(
        f.invoker.calls(),
        [("deployer".to_owned(), json!({"version": "v2", "cluster": "demo", "service": "web"}), Mode::Wait)]
    );
}

#[tokio::test]
async fn tokens_are_required_checked_and_read_once() {
    let f = front(FakeLambda::default());
    let cases = [
        (json!({}), 401, "Unauthorized"),
        (json!({"authorization": "Basic dXNlcjpwYXNz"}), 401, "Unauthorized"),
        (bearer("not-the-token"), 403, "Forbidden"),
    ];
    for (headers, status, code) in cases {
        let (got, body) = call(&f, v2("POST", "/deploy", "", headers.clone(), r#"{"version":"v2"}"#)).await;
        assert_eq!((got, body["error"]["code"].as_str().unwrap()), (status, code), "{headers}");
        assert!(!body.to_string().contains("not-the-token") && !body.to_string().contains(TOKEN));
    }
    for _ in 0..3 {
        assert_eq!(call(&f, v2("POST", "/deploy", "", bearer(TOKEN), r#"{"version":"v2"}"#)).await.0, 200);
    }
    assert_eq!(f.secrets.reads.load(Ordering::SeqCst), 1, "the token is read once and kept");
    assert_eq!(f.invoker.calls().len(), 3, "refused requests invoke nothing");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_refused_after_authentication() {
    let f = front(FakeLambda::default());
    assert_eq!(call(&f, v2("GET", "/nowhere", "", json!({}), "")).await.0, 401);
    let (status, body) = call(&f, v2("GET", "/nowhere", "", bearer(TOKEN), "")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("NotFound")));
    let response = f.handle(v2("GET", "/deploy", "", bearer(TOKEN), "")).await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let (status, body) = call(&f, v2("POST", "/deploy", "", bearer(TOKEN), "{\"version\": ")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("InvalidRequest")));
    assert!(f.invoker.calls().is_empty());
}

#[tokio::test]
async fn the_allow_list_refuses_before_any_invoke() {
    let f = front(FakeLambda::default());
    let cases = [
        r#"{"version":"v2","service":"db"}"#,
        r#"{"version":"v2","cluster":"prod","service":"web"}"#,
        r#"{"version":"v2","targets":[{"cluster":"demo","service":"web"},{"cluster":"demo","service":"db"}]}"#,
    ];
    for body in cases {
        let (status, answer) = call(&f, v2("POST", "/deploy", "", bearer(TOKEN), body)).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("NotAllowed")), "{body}");
    }
    let (status, answer) = call(&f, v2("GET", "/status", "cluster=demo&service=db", bearer(TOKEN), "")).await;
    assert_eq!((status, answer["error"]["details"]["service"].as_str()), (403, Some("db")));
    assert!(f.invoker.calls().is_empty());

    let ok = r#"{"version":"v2","targets":[{"cluster":"demo","service":"web"},{"cluster":"demo","service":"api"}]}"#;
    assert_eq!(call(&f, v2("POST", "/deploy", "", bearer(TOKEN), ok)).await.0, 200);
    assert!(f.invoker.calls()[0].1.get("cluster").is_none(), "targets requests get no default cluster");
}

#[tokio::test]
async fn waiting_deploys_are_started_asynchronously_and_answer_202() {
    let f = front(FakeLambda::default());
    let (status, body) =
        call(&f, v2("POST", "/deploy", "", bearer(TOKEN), r#"{"version":"v2","service":"api","wait":true}"#)).await;
    assert_eq!(status, 202);
    assert_eq!(
        body,
        json!({"status": "accepted", "action": "deploy", "cluster": "demo", "service": "api",
               "status_url": "/status?cluster=demo&service=api"})
    );
    let (_, payload, mode) = &f.invoker.calls()[0];
    assert_eq!((payload["wait"].as_bool(), *mode), (Some(true), Mode::Event));

    let (status, body) = call(&f, v2("POST", "/rollback", "", bearer(TOKEN), r#"{"wait":true}"#)).await;
    assert_eq!((status, body["action"].as_str()), (202, Some("rollback")));
    assert_eq!(
        f.invoker.calls()[1].1,
        json!({"action": "rollback", "wait": true, "cluster": "demo", "service": "web"})
    );
}

#[tokio::test]
async fn deployer_errors_keep_their_code_body_and_status() {
    let body = json!({"error": {"code": "ImageNotFound", "message": "image v9 not found in ECR repository web",
                                "details": {"repository": "web", "version": "v9"}}});
    let error = Invoked::FunctionError(json!({"errorType": "ImageNotFound", "errorMessage": body.to_string()}));
    let f = front(FakeLambda::default().answer("deployer", Ok(error)));
    assert_eq!(call(&f, v2("POST", "/deploy", "", bearer(TOKEN), r#"{"version":"v9"}"#)).await, (422, body));

    let throttled = AwsError {
        operation: "Invoke",
        kind: AwsErrorKind::Throttled,
        aws_code: Some("TooManyRequestsException".into()),
        message: "Rate exceeded".into(),
    };
    let f = front(FakeLambda::default().answer("deployer", Err(throttled)));
    let (status, body) = call(&f, v2("POST", "/deploy", "", bearer(TOKEN), r#"{"version":"v2"}"#)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (502, Some("AwsThrottled")));
}

#[tokio::test]
async fn status_asks_the_deployer_with_the_defaults() {
    let f = front(FakeLambda::default().answer("deployer", Ok(Invoked::Answer(json!({"status": "ok"})))));
    assert_eq!(call(&f, v2("GET", "/status", "", bearer(TOKEN), "")).await, (200, json!({"status": "ok"})));
    assert_eq!(f.invoker.calls()[0].1, json!({"action": "status", "cluster": "demo", "service": "web"}));
}

#[tokio::test]
async fn iam_callers_need_no_token_and_stages_are_not_part_of_the_route() {
    let f = front(FakeLambda::default());
    let event = json!({
        "resource": "/deploy", "path": "/deploy", "httpMethod": "POST", "headers": {"content-type": "application/json"},
        "body": "{\"version\":\"v2\"}", "isBase64Encoded": false,
        "requestContext": {"httpMethod": "POST", "stage": "prod", "path": "/prod/deploy",
                           "identity": {"userArn": "arn:aws:iam::123456789012:user/ci", "accessKey": "AKIAEXAMPLE"}},
    });
    let (status, _) = call(&f, lambda_http::request::from_str(&event.to_string()).unwrap()).await;
    assert_eq!(status, 200);

    let event = json!({
        "version": "2.0", "routeKey": "POST /deploy", "rawPath": "/prod/deploy", "rawQueryString": "",
        "headers": {}, "body": "{\"version\":\"v2\"}", "isBase64Encoded": false,
        "requestContext": {"stage": "prod", "http": {"method": "POST", "path": "/prod/deploy"},
                           "authorizer": {"iam": {"userArn": "arn:aws:iam::123456789012:user/ci",
                                                  "accessKey": "AKIAEXAMPLE"}}},
    });
    let (status, _) = call(&f, lambda_http::request::from_str(&event.to_string()).unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(f.secrets.reads.load(Ordering::SeqCst), 0, "IAM callers never need the token");
}

fn slack_body(user: &str, text: &str, response_url: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("token", "legacy-ignored")
        .append_pair("team_id", "T1")
        .append_pair("channel_id", "C1")
        .append_pair("user_id", user)
        .append_pair("user_name", "ana")
        .append_pair("command", "/deploy")
        .append_pair("text", text)
        .append_pair("response_url", response_url)
        .finish()
}

fn slack_request(body: &str, timestamp: u64, secret: &str) -> Request {
    let ts = timestamp.to_string();
    let headers = json!({
        "content-type": "application/x-www-form-urlencoded",
        "x-slack-request-timestamp": ts,
        "x-slack-signature": slack_signature(secret.as_bytes(), &ts, body.as_bytes()),
    });
    v2("POST", "/slack", "", headers, body)
}

#[tokio::test]
async fn slack_commands_are_verified_acknowledged_and_continued() {
    let f = front(FakeLambda::default());
    let body = slack_body("U1", "web v2", "http://127.0.0.1:9/commands/T1/1/x");
    let (status, answer) = call(&f, slack_request(&body, NOW, SIGNING)).await;
    assert_eq!(status, 200);
    assert_eq!(answer["response_type"], "ephemeral");
    assert!(answer["text"].as_str().unwrap().contains("Deploying `v2` to `demo/web`"), "{answer}");
    let calls = f.invoker.calls();
    assert_eq!(calls.len(), 1);
    let (function, sealed, mode) = &calls[0];
    assert_eq!((function.as_str(), *mode), ("front", Mode::Event));
    let opened = continuation::open(sealed.to_string().as_bytes(), SIGNING.as_bytes(), NOW).unwrap();
    assert_eq!(opened.job, Job::Deploy { cluster: "demo".into(), service: "web".into(), version: "v2".into() });
    assert_eq!(opened.response_url, "http://127.0.0.1:9/commands/T1/1/x");
}

#[tokio::test]
async fn bad_slack_requests_are_refused_and_start_nothing() {
    let f = front(FakeLambda::default());
    let body = slack_body("U1", "web v2", "http://127.0.0.1:9/x");
    let code = |(status, answer): (u16, Value)| (status, answer["error"]["code"].as_str().unwrap_or("").to_owned());
    assert_eq!(code(call(&f, v2("POST", "/slack", "", json!({}), &body)).await), (401, "Unauthorized".into()));
    assert_eq!(code(call(&f, slack_request(&body, NOW - 301, SIGNING)).await), (403, "Forbidden".into()));
    assert_eq!(code(call(&f, slack_request(&body, NOW, "another-secret")).await), (403, "Forbidden".into()));
    // A captured body replayed with a fresh timestamp but the old signature.
    let old = slack_request(&body, NOW - 400, SIGNING);
    let mut replay = slack_request(&body, NOW, SIGNING);
    replay.headers_mut().insert("x-slack-signature", old.headers()["x-slack-signature"].clone());
    assert_eq!(code(call(&f, replay).await), (403, "Forbidden".into()));
    // A bearer token is no way into /slack.
    assert_eq!(code(call(&f, v2("POST", "/slack", "", bearer(TOKEN), &body)).await), (401, "Unauthorized".into()));
    assert_eq!(code(call(&f, v2("GET", "/slack", "", json!({}), "")).await), (405, "MethodNotAllowed".into()));
    assert!(f.invoker.calls().is_empty());
}

#[tokio::test]
async fn slack_refusals_and_help_are_told_to_the_caller_only() {
    let f = front(FakeLambda::default());
    let cases = [
        ("U2", "web v2", "http://127.0.0.1:9/x", "may not deploy"),
        ("U1", "prod/web v2", "http://127.0.0.1:9/x", "not one of the services"),
        ("U1", "db v2", "http://127.0.0.1:9/x", "not one of the services"),
        ("U1", "web v2", "https://evil.example/x", "cannot answer there"),
        ("U1", "web", "http://127.0.0.1:9/x", "name a service and a version"),
        ("U1", "help", "http://127.0.0.1:9/x", "*Usage*"),
        ("U1", "", "http://127.0.0.1:9/x", "*Usage*"),
    ];
    for (user, text, url, expected) in cases {
        let (status, answer) = call(&f, slack_request(&slack_body(user, text, url), NOW, SIGNING)).await;
        assert_eq!((status, answer["response_type"].as_str()), (200, Some("ephemeral")), "{text}");
        assert!(answer["text"].as_str().unwrap().contains(expected), "{text}: {answer}");
    }
    assert!(f.invoker.calls().is_empty());
    let (status, answer) = call(&f, slack_request("ssl_check=1&token=legacy", NOW, SIGNING)).await;
    assert_eq!((status, answer), (200, json!({})));

    let mut closed = config();
    closed.slack_users.clear();
    let f = Front::new(closed, FakeLambda::default(), FakeSecrets::default()).with_clock(|| NOW_MS);
    let (_, answer) = call(&f, slack_request(&slack_body("U1", "web v2", "http://127.0.0.1:9/x"), NOW, SIGNING)).await;
    assert!(answer["text"].as_str().unwrap().contains("accepts nobody yet"), "{answer}");
}

/// A one-shot HTTP server on 127.0.0.1 that hands over the body it was sent.
async fn response_url() -> (String, tokio::task::JoinHandle<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/commands/T1/1/x", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = socket.read(&mut buf).await.unwrap();
            seen.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&seen).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if seen.len() >= end + 4 + length {
                    socket
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                        .await
                        .unwrap();
                    return serde_json::from_str(&text[end + 4..]).unwrap();
                }
            }
            assert!(n > 0, "connection closed early");
        }
    });
    (url, task)
}

#[tokio::test]
async fn the_continuation_runs_the_job_and_posts_the_outcome() {
    let result = json!({"status": "deployed", "cluster": "demo", "service": "web", "version": "v2",
                        "previous_task_definition": "web:1", "task_definition": "web:2", "timings_ms": {"total": 900}});
    let f = front(FakeLambda::default().answer("deployer", Ok(Invoked::Answer(result))));
    let (url, slack) = response_url().await;
    call(&f, slack_request(&slack_body("U1", "web v2", &url), NOW, SIGNING)).await;
    let sealed = f.invoker.calls()[0].1.clone();

    let direct: Request = lambda_http::request::from_str(&sealed.to_string()).unwrap();
    let response = f.handle(direct).await.unwrap();
    let summary: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(summary["status"], "deployed");
    assert_eq!(summary["posted"], true);
    let calls = f.invoker.calls();
    assert_eq!(
        calls[1],
        ("deployer".into(), json!({"version": "v2", "cluster": "demo", "service": "web"}), Mode::WaitLong)
    );

    let message = slack.await.unwrap();
    assert_eq!(message["response_type"], "in_channel");
    assert_eq!(message["blocks"][0]["text"]["text"], ":white_check_mark: *Deployed* to `demo/web`");
    assert_eq!(message["blocks"][1]["fields"][1]["text"], "*Revision*\nweb:1 → web:2");
}

#[tokio::test]
async fn forged_or_stale_continuations_are_function_errors() {
    let f = front(FakeLambda::default());
    let c = Continuation {
        job: Job::Deploy { cluster: "prod".into(), service: "db".into(), version: "v9".into() },
        user_id: "U1".into(),
        channel_id: "C1".into(),
        response_url: "http://127.0.0.1:9/x".into(),
        received_ms: NOW_MS,
    };
    let cases = [
        (continuation::seal(&c, b"guessed-secret", NOW), "Forbidden"),
        (continuation::seal(&c, SIGNING.as_bytes(), NOW - continuation::MAX_AGE_SECS - 1), "Forbidden"),
        (json!({"version": "v2"}), "InvalidRequest"),
    ];
    for (event, code) in cases {
        let err = f.handle(lambda_http::request::from_str(&event.to_string()).unwrap()).await.unwrap_err();
        assert_eq!(err.error_type, code, "{event}");
    }
    let outside = Continuation { response_url: "https://evil.example/x".into(), ..c };
    let err = f
        .handle(
            lambda_http::request::from_str(&continuation::seal(&outside, SIGNING.as_bytes(), NOW).to_string()).unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.error_type, "Forbidden");
    assert!(f.invoker.calls().is_empty());
}
