//! The door end to end in-process: real `lambda_http` events in, a fake Lambda and Secrets Manager behind.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use contract::aws_error::{AwsError, AwsErrorKind};
use contract::secrets::Secret;
use contract::testing::{json_body, one_shot_http};
use serde_json::{json, Value};

use super::*;
use crate::auth::slack_signature;
use crate::aws::Invoked;
use crate::config::AllowList;
use crate::continuation::Envelope;

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

/// The replay table, in memory: the keys recorded and until when, and how many writes were tried.
#[derive(Default)]
struct FakeReplay {
    seen: Mutex<HashSet<String>>,
    expiries: Mutex<Vec<u64>>,
    writes: AtomicUsize,
    fail: bool,
}

impl ReplayGuard for FakeReplay {
    async fn first_sight(&self, key: &str, expires_at: u64) -> Result<bool, AwsError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(AwsError {
                operation: "PutItem",
                kind: AwsErrorKind::AccessDenied,
                aws_code: Some("AccessDeniedException".into()),
                message: "not allowed".into(),
            });
        }
        self.expiries.lock().unwrap().push(expires_at);
        Ok(self.seen.lock().unwrap().insert(key.to_owned()))
    }
}

type TestFront = Front<FakeLambda, FakeSecrets, FakeReplay>;

/// Where the tests' function runs (its invocation ARN says so).
const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:front";

fn home() -> Home {
    Home::from_function_arn(FUNCTION_ARN).unwrap()
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
        replay_table: Some("locks".into()),
        region: "us-east-1".into(),
        home: None,
        codedeploy_callers: vec![],
    }
}

fn front(lambda: FakeLambda) -> TestFront {
    Front::new(config(), lambda, FakeSecrets::default(), Some(FakeReplay::default())).with_clock(|| NOW_MS)
}

/// `event` as the runtime hands it over, in an invocation of [`FUNCTION_ARN`].
async fn invoke(front: &TestFront, event: &Value) -> Result<Value, Diagnostic> {
    let mut context = lambda_runtime::Context::default();
    context.invoked_function_arn = FUNCTION_ARN.into();
    let raw = RawValue::from_string(event.to_string()).unwrap();
    front.handle_event(LambdaEvent::new(raw, context)).await
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

async fn call(front: &TestFront, request: Request) -> (u16, Value) {
    let response = front.handle(request, Some(&home())).await;
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
        [(
            "deployer".to_owned(),
            json!({"version": "v2", "cluster": "demo", "service": "web", "requested_by": "bearer-token", "answer_within": 25}),
            Mode::Wait
        )]
    );
}

/// Issue 23, D11: a top-level `region` is forwarded as the request's (one invoke, the deployer routes it as
/// a request); the allow-list judges the service in that region, before any invoke.
#[tokio::test]
async fn a_top_level_region_is_forwarded_and_allowed_only_where_listed() {
    let f = front(FakeLambda::default());
    let body = r#"{"version":"v2","region":"us-east-1","dry_run":true}"#;
    assert_eq!(call(&f, v2("POST", "/deploy", "", bearer(TOKEN), body)).await.0, 200);
    assert_eq!(
        f.invoker.calls()[0].1,
        json!({"version": "v2", "region": "us-east-1", "dry_run": true, "cluster": "demo", "service": "web",
               "requested_by": "bearer-token", "answer_within": 25})
    );
    // demo/web is listed for the function's own region only.
    let (status, body) =
        call(&f, v2("POST", "/deploy", "", bearer(TOKEN), r#"{"version":"v2","region":"eu-west-1"}"#)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("NotAllowed")), "{body}");
    assert_eq!(f.invoker.calls().len(), 1, "a refusal invokes nothing");
}

/// Issue 23, D11, on the GET doors and the 202's status URL: `?region=` names the service's region, judged by
/// the allow-list like a body's, and a followed deploy in another region is told where to read its status.
#[tokio::test]
async fn a_region_works_on_the_get_doors_and_in_the_status_url() {
    let config = Config { allowed: AllowList::parse("demo/web,eu-west-1/demo/web").unwrap(), ..config() };
    let answer = json!({"status": "ok", "cluster": "demo", "service": "web", "history": []});
    let lambda = FakeLambda::default().answer("deployer", Ok(Invoked::Answer(answer)));
    let f = Front::new(config, lambda, FakeSecrets::default(), Some(FakeReplay::default())).with_clock(|| NOW_MS);
    assert_eq!(call(&f, v2("GET", "/status", "region=eu-west-1&service=web", bearer(TOKEN), "")).await.0, 200);
    assert_eq!(call(&f, v2("GET", "/history", "region=eu-west-1&service=web&limit=5", bearer(TOKEN), "")).await.0, 200);
    let sent: Vec<Value> = f.invoker.calls().into_iter().map(|(_, payload, _)| payload).collect();
    assert_eq!(sent[0]["action"], "status");
    assert_eq!((sent[0]["region"].as_str(), sent[0]["service"].as_str()), (Some("eu-west-1"), Some("web")));
    assert_eq!((sent[1]["action"].as_str(), sent[1]["region"].as_str()), (Some("history"), Some("eu-west-1")));
    let (status, body) = call(&f, v2("GET", "/status", "region=ap-south-1&service=web", bearer(TOKEN), "")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("NotAllowed")), "{body}");
    assert_eq!(f.invoker.calls().len(), 2, "a refusal invokes nothing");
    let (status, body) = call(
        &f,
        v2(
            "POST",
            "/deploy",
            "",
            bearer(TOKEN),
            r#"{"version":"v2","region":"eu-west-1","service":"web","wait":true}"#,
        ),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status_url"], "/status?region=eu-west-1&cluster=demo&service=web");
    let (_, body) = call(&f, v2("POST", "/deploy", "", bearer(TOKEN), r#"{"version":"v2","wait":true}"#)).await;
    assert_eq!(body["status_url"], "/status?cluster=demo&service=web", "the function's own region is not named");
}

/// Issue 23, D10: the history route shows the history of the service asked for (which the door allows) and
/// nothing else, whatever the deployer answered.
#[tokio::test]
async fn the_history_route_shows_only_the_history_of_the_service_asked_for() {
    let entry = json!({"action": "deploy", "status": "deployed", "task_definition": "web:8", "source": "tags"});
    let ours = json!({"status": "ok", "cluster": "demo", "service": "web", "history": [entry]});
    let f = front(FakeLambda::default().answer("deployer", Ok(Invoked::Answer(ours.clone()))));
    let (status, body) = call(&f, v2("GET", "/history", "service=web", bearer(TOKEN), "")).await;
    assert_eq!((status, body), (200, ours));
    let theirs = json!({"status": "ok", "cluster": "demo", "service": "canary", "history": [entry]});
    let f = front(FakeLambda::default().answer("deployer", Ok(Invoked::Answer(theirs))));
    let (status, body) = call(&f, v2("GET", "/history", "service=web", bearer(TOKEN), "")).await;
    assert_eq!(status, 500, "{body}");
    assert!(!body.to_string().contains("web:8") && !body.to_string().contains("canary"), "{body}");
    let (status, _) = call(&f, v2("GET", "/history", "service=canary", bearer(TOKEN), "")).await;
    assert_eq!(status, 403, "canary is not one this door allows");
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
    let response = f.handle(v2("GET", "/deploy", "", bearer(TOKEN), ""), Some(&home())).await;
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
        json!({"action": "rollback", "wait": true, "cluster": "demo", "service": "web", "requested_by": "bearer-token"})
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
    assert_eq!(
        f.invoker.calls()[0].1,
        json!({"action": "status", "cluster": "demo", "service": "web", "requested_by": "bearer-token", "answer_within": 25})
    );
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
    let opened = continuation::open(&Envelope::from_event(sealed).unwrap(), SIGNING.as_bytes(), NOW).unwrap();
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
    let f = Front::new(closed, FakeLambda::default(), FakeSecrets::default(), Some(FakeReplay::default()))
        .with_clock(|| NOW_MS);
    let (_, answer) = call(&f, slack_request(&slack_body("U1", "web v2", "http://127.0.0.1:9/x"), NOW, SIGNING)).await;
    assert!(answer["text"].as_str().unwrap().contains("accepts nobody yet"), "{answer}");
}

#[tokio::test]
async fn the_continuation_runs_the_job_and_posts_the_outcome() {
    let result = json!({"status": "deployed", "cluster": "demo", "service": "web", "version": "v2",
                        "image": "1.dkr.ecr.us-east-1.amazonaws.com/web:v2", "base_task_definition": "web:1",
                        "previous_task_definition": "web:1", "task_definition": "web:2", "deployment_id": "ecs-svc/1",
                        "containers_updated": [], "timings_ms": {"preflight": 100, "total": 900}});
    let f = front(FakeLambda::default().answer("deployer", Ok(Invoked::Answer(result))));
    let (url, slack) = one_shot_http(200, "/commands/T1/1/x").await;
    call(&f, slack_request(&slack_body("U1", "web v2", &url), NOW, SIGNING)).await;
    let sealed = f.invoker.calls()[0].1.clone();

    let summary = invoke(&f, &sealed).await.unwrap();
    assert_eq!(summary["status"], "deployed");
    assert_eq!(summary["posted"], true);
    let calls = f.invoker.calls();
    assert_eq!(
        calls[1],
        (
            "deployer".into(),
            json!({"version": "v2", "cluster": "demo", "service": "web", "requested_by": "slack:U1", "answer_within": 20}),
            Mode::WaitLong
        )
    );

    let message = json_body(&slack.await.unwrap());
    assert_eq!(message["response_type"], "in_channel");
    assert_eq!(message["blocks"][0]["text"]["text"], ":white_check_mark: *Deployed* to `demo/web`");
    assert_eq!(message["blocks"][1]["fields"][1]["text"], "*Revision*\nweb:1 → web:2");
}

/// Issue 23, D7: replaying the sealed continuation of `/deploy rollback web` rolled the service back a second
/// step. Each continuation is claimed in the replay table before it runs: a second invoke of the same sealed
/// payload answers that it already ran, invokes no deployer and posts nothing.
#[tokio::test]
async fn a_continuation_runs_at_most_once() {
    let result = json!({"status": "rolled_back", "cluster": "demo", "service": "web", "from": "web:4", "to": "web:3"});
    let f = front(FakeLambda::default().answer("deployer", Ok(Invoked::Answer(result))));
    let (url, slack) = one_shot_http(200, "/commands/T1/1/x").await;
    call(&f, slack_request(&slack_body("U1", "rollback web", &url), NOW, SIGNING)).await;
    let sealed = f.invoker.calls()[0].1.clone();
    let summary = invoke(&f, &sealed).await.unwrap();
    assert_eq!(summary["posted"], true, "{summary}");
    assert_ne!(summary["status"], "already_ran");
    slack.await.unwrap();
    assert_eq!(f.invoker.calls().len(), 2, "the continuation, then the deployer");

    for _ in 0..2 {
        let again = invoke(&f, &sealed).await.unwrap();
        assert_eq!((again["status"].as_str(), again["posted"].as_bool()), (Some("already_ran"), Some(false)));
    }
    assert_eq!(f.invoker.calls().len(), 2, "a replay invokes no deployer");
    let replay = f.replay.as_ref().unwrap();
    let claim = crate::replay::continuation_key(sealed["signature"].as_str().unwrap());
    assert!(replay.seen.lock().unwrap().contains(&claim));
    assert!(replay.expiries.lock().unwrap().contains(&(NOW + continuation::MAX_AGE_SECS + 60)));

    // A claim that cannot be written runs nothing (and is a function error: Lambda retries the event).
    let failing = Front::new(
        config(),
        FakeLambda::default(),
        FakeSecrets::default(),
        Some(FakeReplay { fail: true, ..FakeReplay::default() }),
    )
    .with_clock(|| NOW_MS);
    assert!(invoke(&failing, &sealed).await.is_err());
    assert!(failing.invoker.calls().is_empty());
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
        let err = invoke(&f, &event).await.unwrap_err();
        assert_eq!(err.error_type, code, "{event}");
    }
    let outside = Continuation { response_url: "https://evil.example/x".into(), ..c };
    let err = invoke(&f, &continuation::seal(&outside, SIGNING.as_bytes(), NOW)).await.unwrap_err();
    assert_eq!(err.error_type, "Forbidden");
    assert!(f.invoker.calls().is_empty());
}

#[tokio::test]
async fn versions_and_names_are_checked_before_any_invoke() {
    let f = front(FakeLambda::default());
    let cases = [
        (r#"{"version":" v2 "}"#, 400, "InvalidVersion"),
        (r#"{"version":"v2\n"}"#, 400, "InvalidVersion"),
        (r#"{"version":"\u00a0v2"}"#, 400, "InvalidVersion"),
        (r#"{"version":"v 2"}"#, 400, "InvalidVersion"),
        (r#"{"version":"v2","service":"we b"}"#, 400, "InvalidRequest"),
        (r#"{"version":"v2","repository":"Web"}"#, 400, "InvalidRequest"),
        (r#"{"version":"v2","targets":[{"cluster":"demo","service":"web","region":"moon"}]}"#, 400, "InvalidRequest"),
        // The issue's case: the allowed cluster's name, in another account.
        (r#"{"version":"v2","cluster":"arn:aws:ecs:us-east-1:999999999999:cluster/demo"}"#, 403, "NotAllowed"),
        (r#"{"version":"v2","cluster":"arn:aws:ecs:us-east-1:123456789012:cluster/demo/x"}"#, 400, "InvalidRequest"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = call(&f, v2("POST", "/deploy", "", bearer(TOKEN), body)).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{body}: {answer}");
    }
    let (status, _) = call(&f, v2("POST", "/rollback", "", bearer(TOKEN), r#"{"to":"admin-tools"}"#)).await;
    assert_eq!(status, 400);
    assert!(f.invoker.calls().is_empty(), "a refusal costs no invoke");

    // An ARN of this account and region is the name it stands for, and the deployer is sent the name.
    let own = r#"{"version":"v2","cluster":"arn:aws:ecs:us-east-1:123456789012:cluster/demo",
                  "service":"arn:aws:ecs:us-east-1:123456789012:service/demo/api"}"#;
    assert_eq!(call(&f, v2("POST", "/deploy", "", bearer(TOKEN), own)).await.0, 200);
    assert_eq!(
        f.invoker.calls()[0].1,
        json!({"version": "v2", "cluster": "demo", "service": "api", "requested_by": "bearer-token", "answer_within": 25})
    );
}

#[tokio::test]
async fn the_invocations_own_arn_says_which_account_arns_may_name() {
    let f = front(FakeLambda::default());
    let event = |cluster: &str| {
        json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/deploy", "rawQueryString": "",
            "headers": {"authorization": format!("Bearer {TOKEN}")},
            "body": json!({"version": "v2", "cluster": cluster}).to_string(), "isBase64Encoded": false,
            "requestContext": {"stage": "$default", "http": {"method": "POST", "path": "/deploy"}, "timeEpoch": 0},
        })
    };
    let ours = invoke(&f, &event("arn:aws:ecs:us-east-1:123456789012:cluster/demo")).await.unwrap();
    assert_eq!(ours["statusCode"], 200, "{ours}");
    let theirs = invoke(&f, &event("arn:aws:ecs:us-east-1:999999999999:cluster/demo")).await.unwrap();
    assert_eq!(theirs["statusCode"], 403, "{theirs}");
    assert_eq!(f.invoker.calls().len(), 1);
}

#[tokio::test]
async fn bad_slack_versions_are_refused_in_the_acknowledgement_without_any_invoke() {
    let f = front(FakeLambda::default());
    let cases = [
        ("web \u{a0}v2", "invalid version"),
        ("web v2\u{a0}", "invalid version"),
        ("web v2:latest", "invalid version"),
        ("web sha256:abc", "invalid version"),
        ("rollback web admin-tools", "family:revision"),
        ("rollback web arn:aws:ecs:us-east-1:999999999999:task-definition/web:3", "account and region"),
    ];
    for (text, expected) in cases {
        let (status, answer) =
            call(&f, slack_request(&slack_body("U1", text, "http://127.0.0.1:9/x"), NOW, SIGNING)).await;
        let shown = answer["text"].as_str().unwrap();
        assert_eq!(status, 200);
        assert!(shown.contains(expected) && !shown.contains("Deploying"), "{text:?}: {shown}");
    }
    assert!(f.invoker.calls().is_empty(), "neither the continuation nor the deployer was invoked");
}

#[tokio::test]
async fn a_replayed_slack_request_is_refused() {
    let f = front(FakeLambda::default());
    let body = slack_body("U1", "rollback web", "http://127.0.0.1:9/x");
    assert_eq!(call(&f, slack_request(&body, NOW, SIGNING)).await.0, 200);
    // The same request again, within its five minutes; and again with the signature in upper case.
    let (status, answer) = call(&f, slack_request(&body, NOW, SIGNING)).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("Forbidden")), "{answer}");
    let mut shouted = slack_request(&body, NOW, SIGNING);
    let upper = shouted.headers()["x-slack-signature"].to_str().unwrap().to_uppercase().replace("V0=", "v0=");
    shouted.headers_mut().insert("x-slack-signature", upper.parse().unwrap());
    assert_eq!(call(&f, shouted).await.0, 403);
    assert_eq!(f.invoker.calls().len(), 1, "the rollback was started once");
    let replays = f.replay.as_ref().unwrap();
    assert_eq!(*replays.expiries.lock().unwrap(), [NOW + 360, NOW + 360, NOW + 360]);
    // A new request (another timestamp, so another signature) goes through.
    assert_eq!(call(&f, slack_request(&body, NOW - 1, SIGNING)).await.0, 200);
    assert_eq!(f.invoker.calls().len(), 2);
    // Unsigned or badly signed requests are never written down.
    assert_eq!(call(&f, slack_request(&body, NOW, "another-secret")).await.0, 403);
    assert_eq!(replays.writes.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn slack_is_closed_without_a_replay_table_and_when_it_cannot_be_written() {
    let body = slack_body("U1", "web v2", "http://127.0.0.1:9/x");
    let f: TestFront = Front::new(config(), FakeLambda::default(), FakeSecrets::default(), None).with_clock(|| NOW_MS);
    let (status, answer) = call(&f, slack_request(&body, NOW, SIGNING)).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (500, Some("NotConfigured")));
    assert_eq!(f.secrets.reads.load(Ordering::SeqCst), 0);

    let failing = FakeReplay { fail: true, ..FakeReplay::default() };
    let f = Front::new(config(), FakeLambda::default(), FakeSecrets::default(), Some(failing)).with_clock(|| NOW_MS);
    let (status, answer) = call(&f, slack_request(&body, NOW, SIGNING)).await;
    assert_eq!((status, answer["error"]["code"].as_str()), (502, Some("AwsAccessDenied")));
    assert!(f.invoker.calls().is_empty());
}

#[tokio::test]
async fn malformed_and_foreign_events_are_answered_without_reading_a_secret() {
    let f = front(FakeLambda::default());
    for (name, text) in [
        ("alb host port", include_str!("../../../../events/malformed-alb-host-port.json")),
        ("alb x-forwarded-proto", include_str!("../../../../events/malformed-alb-forwarded-proto.json")),
        ("function URL query space", include_str!("../../../../events/malformed-function-url-query-space.json")),
        ("function URL query quote", include_str!("../../../../events/malformed-function-url-query-quote.json")),
        ("function URL base64 body", include_str!("../../../../events/malformed-function-url-base64-body.json")),
    ] {
        let answer = invoke(&f, &serde_json::from_str(text).unwrap()).await.unwrap();
        assert_eq!(answer["statusCode"], 400, "{name}: {answer}");
        let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "InvalidRequest", "{name}");
        assert!(!answer.to_string().contains("malformed-event-token"), "{name}: the token is echoed");
    }
    // Unreadable HTTP-shaped events are 400s; anything else a function error; a continuation with a broken
    // envelope too: none of them reads the signing secret (item 9: it used to, and answered 5xx).
    let http = json!({"httpMethod": "POST", "path": "/slack", "headers": {"a": 1}, "requestContext": {}});
    assert_eq!(invoke(&f, &http).await.unwrap()["statusCode"], 400);
    for event in [json!({"continuation": 1}), json!({"version": "v2", "service": "api"}), json!(["x"])] {
        assert_eq!(invoke(&f, &event).await.unwrap_err().error_type, "InvalidRequest", "{event}");
    }
    assert_eq!(f.secrets.reads.load(Ordering::SeqCst), 0, "no secret was read");
    assert!(f.invoker.calls().is_empty());
}

/// An invoker that panics: a stand-in for any bug on the way to an answer.
struct PanickingLambda;

impl Invoker for PanickingLambda {
    async fn invoke(&self, _: &str, _: &Value, _: Mode) -> Result<Invoked, AwsError> {
        panic!("a bug on the way to an answer")
    }
}

#[tokio::test]
async fn a_panic_while_answering_is_a_500_and_the_door_goes_on() {
    let f = Front::new(config(), PanickingLambda, FakeSecrets::default(), Some(FakeReplay::default()));
    let mut context = lambda_runtime::Context::default();
    context.invoked_function_arn = FUNCTION_ARN.into();
    let event: Value = serde_json::from_str(include_str!("../../../../events/function-url-deploy.json")).unwrap();
    let mut event = event;
    event["headers"]["authorization"] = json!(format!("Bearer {TOKEN}"));
    event["body"] = json!(r#"{"version": "v2"}"#);
    for _ in 0..2 {
        let raw = RawValue::from_string(event.to_string()).unwrap();
        let answer = f.handle_event(LambdaEvent::new(raw, context.clone())).await.unwrap();
        assert_eq!(answer["statusCode"], 500, "{answer}");
        let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "Internal");
    }
}

#[tokio::test]
async fn history_diff_cleanup_and_revision_deploys_are_sent_checked_with_who_asked() {
    let answer = json!({"status": "ok", "cluster": "demo", "service": "web", "history": []});
    let f = front(FakeLambda::default().answer("deployer", Ok(Invoked::Answer(answer.clone()))));
    let cases = [
        (
            v2("GET", "/history", "service=web&limit=5", bearer(TOKEN), ""),
            json!({"action": "history", "cluster": "demo", "service": "web", "limit": 5,
                   "requested_by": "bearer-token", "answer_within": 25}),
        ),
        (
            v2("POST", "/diff", "", bearer(TOKEN), r#"{"version":"v2","requested_by":"someone-else"}"#),
            json!({"action": "diff", "version": "v2", "cluster": "demo", "service": "web",
                   "requested_by": "bearer-token", "answer_within": 25}),
        ),
        (
            v2(
                "POST",
                "/diff",
                "",
                bearer(TOKEN),
                r#"{"task_definition":"arn:aws:ecs:us-east-1:123456789012:task-definition/web:41"}"#,
            ),
            json!({"action": "diff", "cluster": "demo", "service": "web", "task_definition": "web:41",
                   "requested_by": "bearer-token", "answer_within": 25}),
        ),
        (
            v2("POST", "/cleanup", "", bearer(TOKEN), r#"{"keep":20,"delete_inactive":true,"dry_run":true}"#),
            json!({"action": "cleanup", "cluster": "demo", "service": "web", "keep": 20, "delete_inactive": true,
                   "dry_run": true, "requested_by": "bearer-token", "answer_within": 25}),
        ),
        (
            v2("POST", "/deploy", "", bearer(TOKEN), r#"{"task_definition":"web:41"}"#),
            json!({"cluster": "demo", "service": "web", "task_definition": "web:41", "requested_by": "bearer-token", "answer_within": 25}),
        ),
    ];
    for (i, (request, sent)) in cases.into_iter().enumerate() {
        // The deployer's JSON goes back as it came, synchronously.
        assert_eq!(call(&f, request).await, (200, answer.clone()), "{sent}");
        assert_eq!(f.invoker.calls()[i], ("deployer".to_owned(), sent, Mode::Wait));
    }

    // An IAM caller is named by its ARN.
    let event = json!({
        "version": "2.0", "routeKey": "POST /cleanup", "rawPath": "/cleanup", "rawQueryString": "",
        "headers": {}, "body": "{\"keep\":3,\"requested_by\":\"forged\"}", "isBase64Encoded": false,
        "requestContext": {"stage": "$default", "http": {"method": "POST", "path": "/cleanup"},
                           "authorizer": {"iam": {"userArn": "arn:aws:iam::123456789012:user/ci",
                                                  "accessKey": "AKIAEXAMPLE"}}},
    });
    assert_eq!(call(&f, lambda_http::request::from_str(&event.to_string()).unwrap()).await.0, 200);
    assert_eq!(f.invoker.calls()[5].1["requested_by"], "arn:aws:iam::123456789012:user/ci");
}

#[tokio::test]
async fn history_diff_and_cleanup_refusals_cost_no_invoke() {
    let f = front(FakeLambda::default());
    let cases = [
        ("GET", "/history", "limit=0", "", 400, "InvalidRequest"),
        ("GET", "/history", "limit=101", "", 400, "InvalidRequest"),
        ("GET", "/history", "service=db", "", 403, "NotAllowed"),
        ("POST", "/diff", "", r#"{"version":"v2","wait":true}"#, 400, "InvalidRequest"),
        ("POST", "/diff", "", r#"{"version":"v 2"}"#, 400, "InvalidVersion"),
        ("POST", "/diff", "", r#"{"version":"v2","task_definition":"web:4"}"#, 400, "InvalidRequest"),
        ("POST", "/cleanup", "", r#"{"keep":0}"#, 400, "InvalidRequest"),
        ("POST", "/cleanup", "", r#"{"keep":5,"wait":true}"#, 400, "InvalidRequest"),
        ("POST", "/cleanup", "", r#"{"keep":5,"service":"db"}"#, 403, "NotAllowed"),
        (
            "POST",
            "/deploy",
            "",
            r#"{"task_definition":"arn:aws:ecs:us-east-1:999999999999:task-definition/web:41"}"#,
            403,
            "NotAllowed",
        ),
        ("POST", "/deploy", "", r#"{"task_definition":"web"}"#, 400, "InvalidRequest"),
        ("POST", "/deploy", "", r#"{"task_definition":"web:41","pin_digest":true}"#, 400, "InvalidRequest"),
    ];
    for (method, path, query, body, status, code) in cases {
        let (got, answer) = call(&f, v2(method, path, query, bearer(TOKEN), body)).await;
        assert_eq!((got, answer["error"]["code"].as_str()), (status, Some(code)), "{path} {query} {body}: {answer}");
    }
    assert!(f.invoker.calls().is_empty(), "a refusal costs no invoke");
}

#[tokio::test]
async fn slack_history_diff_and_cleanup_run_in_the_continuation_as_the_slack_user() {
    let history = json!({"status": "ok", "cluster": "demo", "service": "web", "history": [
        {"action": "deploy", "status": "deployed", "version": "v2", "task_definition": "web:41",
         "at": "2026-12-03T11:40:05Z", "by": "slack:U1", "source": "record"}]});
    let f = front(FakeLambda::default().answer("deployer", Ok(Invoked::Answer(history))));
    let (url, slack) = one_shot_http(200, "/commands/T1/1/x").await;
    let (status, ack) = call(&f, slack_request(&slack_body("U1", "history web 5", &url), NOW, SIGNING)).await;
    assert_eq!(status, 200);
    assert_eq!(ack["text"], ":scroll: Looking up the history of `demo/web`…");
    let sealed = f.invoker.calls()[0].1.clone();
    let summary = invoke(&f, &sealed).await.unwrap();
    assert_eq!((summary["status"].as_str(), summary["posted"].as_bool()), (Some("ok"), Some(true)));
    assert_eq!(
        f.invoker.calls()[1],
        (
            "deployer".into(),
            json!({"action": "history", "cluster": "demo", "service": "web", "limit": 5, "requested_by": "slack:U1", "answer_within": 20}),
            Mode::WaitLong
        )
    );
    let message = json_body(&slack.await.unwrap());
    assert_eq!(message["response_type"], "ephemeral");
    assert!(message["blocks"][2]["text"]["text"].as_str().unwrap().contains("by <@U1>"), "{message}");

    // A diff of a revision ARN travels as the revision it was resolved to; a cleanup as asked.
    let f = front(FakeLambda::default());
    let cases = [
        (
            "diff web arn:aws:ecs:us-east-1:123456789012:task-definition/web:41",
            Job::Diff {
                cluster: "demo".into(),
                service: "web".into(),
                version: None,
                task_definition: Some("web:41".into()),
            },
        ),
        (
            "diff web v2",
            Job::Diff {
                cluster: "demo".into(),
                service: "web".into(),
                version: Some("v2".into()),
                task_definition: None,
            },
        ),
        (
            "cleanup api keep 20 dry-run",
            Job::Cleanup { cluster: "demo".into(), service: "api".into(), keep: 20, dry_run: true },
        ),
    ];
    for (i, (text, job)) in cases.into_iter().enumerate() {
        let body = slack_body("U1", text, "http://127.0.0.1:9/x");
        assert_eq!(call(&f, slack_request(&body, NOW - i as u64, SIGNING)).await.0, 200);
        let sealed = &f.invoker.calls()[i].1;
        let opened = continuation::open(&Envelope::from_event(sealed).unwrap(), SIGNING.as_bytes(), NOW).unwrap();
        assert_eq!(opened.job, job, "{text}");
    }

    // Refused in the acknowledgement, with nothing invoked.
    let f = front(FakeLambda::default());
    let cases = [
        ("history db", "not one of the services"),
        ("history web 500", "\"limit\" takes 1 to 100"),
        ("cleanup web keep 0", "\"keep\" takes 1 to 1000"),
        ("cleanup web keep 20 please", "`cleanup` takes a service"),
        ("diff web v2:latest", "family:revision"),
        ("diff web arn:aws:ecs:us-east-1:999999999999:task-definition/web:3", "account and region"),
    ];
    for (i, (text, expected)) in cases.into_iter().enumerate() {
        let body = slack_body("U1", text, "http://127.0.0.1:9/x");
        let (_, answer) = call(&f, slack_request(&body, NOW - i as u64, SIGNING)).await;
        assert!(answer["text"].as_str().unwrap().contains(expected), "{text}: {answer}");
    }
    assert!(f.invoker.calls().is_empty());
}

#[tokio::test]
async fn codedeploy_names_and_hooks_from_a_caller_the_operator_did_not_name_cost_no_invoke() {
    // Issue 23.1/23.2 at the HTTP door: the probe's bodies, with a bearer token.
    let pay = r#""codedeploy":{"application":"AppECS-demo-pay","deployment_group":"DgpECS-demo-pay"}"#;
    let cases = [
        ("/deploy", format!(r#"{{"version":"v2",{pay}}}"#)),
        ("/continue", format!("{{{pay}}}")),
        ("/reject", format!("{{{pay}}}")),
        ("/rollback", format!("{{{pay}}}")),
        ("/diff", format!(r#"{{"version":"v3",{pay}}}"#)),
        ("/deploy", r#"{"version":"v3","codedeploy":{"hooks":{}}}"#.to_owned()),
        (
            "/deploy",
            r#"{"version":"v2","codedeploy":{"hooks":{"BeforeInstall":"arn:aws:lambda:us-east-1:999999999999:function:collector"}}}"#
                .to_owned(),
        ),
    ];
    let f = front(FakeLambda::default());
    for (path, body) in &cases {
        let (status, answer) = call(&f, v2("POST", path, "", bearer(TOKEN), body)).await;
        assert_eq!((status, answer["error"]["code"].as_str()), (403, Some("NotAllowed")), "{path} {body}: {answer}");
        assert!(answer["error"]["message"].as_str().unwrap().contains("CODEDEPLOY_OVERRIDE_CALLERS"), "{answer}");
    }
    assert!(f.invoker.calls().is_empty(), "a refusal costs no invoke");

    // The operator names the token's callers: the request is forwarded as sent; the deployer then holds the
    // group to the service's own (its tests).
    let config = Config { codedeploy_callers: vec!["bearer-token".into()], ..config() };
    let answer = json!({"status": "continued", "cluster": "demo", "service": "web"});
    let f = Front::new(
        config,
        FakeLambda::default().answer("deployer", Ok(Invoked::Answer(answer))),
        FakeSecrets::default(),
        Some(FakeReplay::default()),
    )
    .with_clock(|| NOW_MS);
    let (status, _) = call(&f, v2("POST", "/continue", "", bearer(TOKEN), &format!("{{{pay}}}"))).await;
    assert_eq!(status, 200);
    let sent = &f.invoker.calls()[0].1;
    assert_eq!(sent["codedeploy"], json!({"application": "AppECS-demo-pay", "deployment_group": "DgpECS-demo-pay"}));
}
