//! The handler over fake ports: both payloads, every stage's documented example, rollbacks, the checks'
//! failures and the one report CodeDeploy must get.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use contract::aws_error::AwsError;
use contract::AwsErrorKind;
use serde_json::{json, Value};

use crate::check::Observed;
use crate::config::tests::config;
use crate::hook::{Hook, STATE_KEY};
use crate::ports::{Aws, LifecycleStatus, Probe, ProbeRequest, Reported};

/// Answers requests from a script (the last answer repeats) and counts them.
struct FakeProbe {
    answers: Mutex<VecDeque<Result<Observed, String>>>,
    seen: Mutex<Vec<String>>,
}

impl FakeProbe {
    fn new(answers: Vec<Result<Observed, String>>) -> Self {
        FakeProbe { answers: Mutex::new(answers.into()), seen: Mutex::default() }
    }
    fn status(code: u16) -> Self {
        FakeProbe::new(vec![ok(code, "{\"status\": \"up\"}")])
    }
    fn calls(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn ok(status: u16, body: &str) -> Result<Observed, String> {
    Ok(Observed { status, body: body.as_bytes().to_vec(), latency: Duration::from_millis(5) })
}

impl Probe for FakeProbe {
    async fn request(&self, r: ProbeRequest<'_>) -> Result<Observed, String> {
        self.seen.lock().unwrap().push(format!("{} {}", r.check.method, r.check.url));
        let mut answers = self.answers.lock().unwrap();
        if answers.len() > 1 {
            answers.pop_front().unwrap()
        } else {
            answers.front().cloned().unwrap_or_else(|| Err("no answer scripted".into()))
        }
    }
}

#[derive(Default)]
struct FakeAws {
    alarms: Vec<(String, String)>,
    report_answer: Option<Result<Reported, AwsError>>,
    reports: Mutex<Vec<(String, String, LifecycleStatus)>>,
    published: Mutex<Vec<(String, String, Value)>>,
}

impl FakeAws {
    fn reports(&self) -> Vec<(String, String, LifecycleStatus)> {
        self.reports.lock().unwrap().clone()
    }
    fn published(&self) -> Vec<(String, String, Value)> {
        self.published.lock().unwrap().clone()
    }
}

impl Aws for FakeAws {
    async fn alarm_states(&self, _names: &[String]) -> Result<Vec<(String, String)>, AwsError> {
        Ok(self.alarms.clone())
    }
    async fn publish(&self, topic: &str, subject: &str, message: &str) -> Result<(), AwsError> {
        let message = serde_json::from_str(message).expect("a JSON message");
        self.published.lock().unwrap().push((topic.into(), subject.into(), message));
        Ok(())
    }
    async fn report(
        &self,
        deployment_id: &str,
        execution_id: &str,
        status: LifecycleStatus,
    ) -> Result<Reported, AwsError> {
        self.reports.lock().unwrap().push((deployment_id.into(), execution_id.into(), status));
        self.report_answer.clone().unwrap_or(Ok(Reported::Recorded))
    }
}

const URL: &str = "http://test.internal:8080/health";

fn hook(pairs: &[(&str, &str)], aws: FakeAws, probe: FakeProbe) -> Hook<FakeAws, FakeProbe> {
    Hook::new(config(pairs), aws, probe)
}

fn fast(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    // The first of two same-named entries wins: `extra` goes first.
    let mut v = extra.to_vec();
    v.extend_from_slice(&[("HOOK_HTTP_URL", URL), ("HOOK_HTTP_REQUESTS", "3"), ("HOOK_HTTP_INTERVAL_SECONDS", "0")]);
    v
}

fn codedeploy_event() -> Value {
    json!({"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "exec-1"})
}

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

// ---- CodeDeploy ----

#[tokio::test]
async fn codedeploy_reports_succeeded_once_after_every_request_passed() {
    let h = hook(&fast(&[]), FakeAws::default(), FakeProbe::status(200));
    let out = h.handle(fixture("hook-codedeploy.json"), None, 0).await.unwrap();
    assert_eq!((out["status"].as_str(), out["reported"].as_str()), (Some("Succeeded"), Some("recorded")), "{out}");
    assert_eq!(out["outcomes"].as_array().unwrap().len(), 3);
    let reports = h.aws.reports();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].2, LifecycleStatus::Succeeded);
    assert_eq!(reports[0].0, fixture("hook-codedeploy.json")["DeploymentId"].as_str().unwrap());
    assert_eq!(h.probe.calls().len(), 3);
}

#[tokio::test]
async fn codedeploy_reports_failed_at_the_first_failed_check_saying_what_it_saw() {
    let h = hook(&fast(&[]), FakeAws::default(), FakeProbe::new(vec![ok(200, ""), ok(500, "boom"), ok(200, "")]));
    let out = h.handle(codedeploy_event(), None, 0).await.unwrap();
    assert_eq!(out["status"], "Failed");
    assert_eq!(
        out["summary"],
        "failed: http GET http://test.internal:8080/health #2: HTTP 500 (expected 200) in 5 ms: \"boom\""
    );
    assert_eq!(h.probe.calls().len(), 2, "no request after a failure");
    assert_eq!(h.aws.reports().iter().map(|r| r.2).collect::<Vec<_>>(), [LifecycleStatus::Failed]);
}

#[tokio::test]
async fn codedeploy_reports_failed_for_alarms_and_for_a_bad_configuration() {
    let aws = FakeAws { alarms: vec![("web-5xx".into(), "ALARM".into())], ..FakeAws::default() };
    let h = hook(&fast(&[("HOOK_ALARMS", "web-5xx")]), aws, FakeProbe::status(200));
    let out = h.handle(codedeploy_event(), None, 0).await.unwrap();
    assert_eq!(
        (out["status"].as_str(), out["summary"].as_str()),
        (Some("Failed"), Some("failed: alarm web-5xx: ALARM"))
    );

    let h = hook(&[("HOOK_HTTP_URL", "ftp://nope/")], FakeAws::default(), FakeProbe::status(200));
    let out = h.handle(codedeploy_event(), None, 0).await.unwrap();
    assert_eq!(out["status"], "Failed");
    assert!(out["summary"].as_str().unwrap().contains("HOOK_HTTP_URL"), "{out}");
    assert_eq!(h.aws.reports().len(), 1, "a hook that cannot check still reports");
    assert!(h.probe.calls().is_empty());
}

#[tokio::test]
async fn codedeploy_already_completed_is_done_and_other_failures_are_errors() {
    let aws = FakeAws { report_answer: Some(Ok(Reported::AlreadyCompleted)), ..FakeAws::default() };
    let h = hook(&fast(&[]), aws, FakeProbe::status(200));
    let out = h.handle(codedeploy_event(), None, 0).await.unwrap();
    assert_eq!(out["reported"], "already_completed");

    let denied = AwsError {
        operation: "PutLifecycleEventHookExecutionStatus",
        kind: AwsErrorKind::AccessDenied,
        aws_code: Some("AccessDeniedException".into()),
        message: "no".into(),
    };
    let aws = FakeAws { report_answer: Some(Err(denied)), ..FakeAws::default() };
    let h = hook(&fast(&[]), aws, FakeProbe::status(200));
    let err = h.handle(codedeploy_event(), None, 0).await.unwrap_err();
    assert_eq!(err.code().as_str(), "AwsAccessDenied");
    assert_eq!(h.aws.reports().len(), 1);
}

#[tokio::test]
async fn codedeploy_checks_stop_at_the_time_budget_and_still_report() {
    let pairs = [("HOOK_HTTP_URL", URL), ("HOOK_HTTP_REQUESTS", "5"), ("HOOK_HTTP_INTERVAL_SECONDS", "2")];
    let h = hook(&pairs, FakeAws::default(), FakeProbe::status(200));
    // 4 s left, 3 kept back: one request, then no time for the interval.
    let out = h.handle(codedeploy_event(), Some(Duration::from_secs(4)), 0).await.unwrap();
    assert_eq!(out["status"], "Failed");
    assert!(out["summary"].as_str().unwrap().contains("1 of 5 rounds done"), "{out}");
    assert_eq!(h.aws.reports().len(), 1);
}

#[tokio::test]
async fn strangers_are_refused_without_a_report() {
    let h = hook(&fast(&[]), FakeAws::default(), FakeProbe::status(200));
    let err = h.handle(json!({"version": "v2"}), None, 0).await.unwrap_err();
    assert_eq!(err.code().as_str(), "InvalidRequest");
    assert!(h.aws.reports().is_empty() && h.probe.calls().is_empty());
}

/// `{"a":{"a":…}}`, `depth` levels, as text: deeper than serde_json reads as a value (128).
fn nested(depth: usize) -> String {
    format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
}

/// Issue 23, D8: a payload too deep (or too broken) to read is answered through the normal path, never with
/// an error: CodeDeploy gets its one `Failed` report, ECS a `FAILED` `hookStatus` with the reason; no check
/// runs.
#[tokio::test]
async fn an_unreadable_event_is_answered_failed_with_the_reason() {
    let ecs = format!(
        r#"{{"executionId":"e-1","lifecycleStage":"POST_TEST_TRAFFIC_SHIFT","resourceArn":"{GREEN}","hookDetails":{}}}"#,
        nested(300)
    );
    assert!(serde_json::from_str::<Value>(&ecs).is_err(), "deeper than serde_json's limit");
    let h = hook(&fast(&[]), FakeAws::default(), FakeProbe::status(200));
    let out = h.handle_raw(&ecs, None, 0).await.unwrap();
    assert_eq!(out["hookStatus"], "FAILED", "{out}");
    let saw = out["hookDetails"][STATE_KEY]["outcomes"][0]["saw"].as_str().unwrap();
    assert!(saw.contains("the event could not be read") && saw.contains("recursion limit"), "{saw}");
    assert!(h.probe.calls().is_empty() && h.aws.reports().is_empty());

    let codedeploy =
        format!(r#"{{"DeploymentId":"d-ABCDEF123","LifecycleEventHookExecutionId":"exec-1","x":{}}}"#, nested(300));
    let h = hook(&fast(&[]), FakeAws::default(), FakeProbe::status(200));
    let out = h.handle_raw(&codedeploy, None, 0).await.unwrap();
    assert_eq!((out["status"].as_str(), out["reported"].as_str()), (Some("Failed"), Some("recorded")), "{out}");
    assert!(out["summary"].as_str().unwrap().contains("recursion limit"), "{out}");
    assert_eq!(h.aws.reports(), [("d-ABCDEF123".to_owned(), "exec-1".to_owned(), LifecycleStatus::Failed)]);
    assert!(h.probe.calls().is_empty());

    for broken in ["{\"lifecycleStage\": ", "not json", ""] {
        let h = hook(&fast(&[]), FakeAws::default(), FakeProbe::status(200));
        let out = h.handle_raw(broken, None, 0).await.unwrap();
        assert_eq!(out["hookStatus"], "FAILED", "{broken:?}");
        assert!(h.probe.calls().is_empty() && h.aws.reports().is_empty());
    }
    // A readable payload goes the usual way.
    let h = hook(&fast(&[]), FakeAws::default(), FakeProbe::status(200));
    let out = h.handle_raw(&codedeploy_event().to_string(), None, 0).await.unwrap();
    assert_eq!(out["status"], "Succeeded");
    assert!(h.handle_raw(r#"{"version":"v2"}"#, None, 0).await.is_err(), "a stranger is still refused");
}

// ---- ECS ----

const GREEN: &str = "arn:aws:ecs:us-west-2:1234567890:service-revision/my-cluster/my-service/9313423515462893900";
const BLUE: &str = "arn:aws:ecs:us-west-2:1234567890:service-revision/my-cluster/my-service/1920498462936580504";

fn ecs_event(stage: &str, production: Value, details: Value) -> Value {
    let test = if stage == "TEST_TRAFFIC_SHIFT" { json!({GREEN: 100, BLUE: 0}) } else { json!({}) };
    json!({
        "executionId": "f4fcae0f-8b8e-4a1e-a3a1-0cc9e5aa7d3b",
        "lifecycleStage": stage,
        "resourceArn": "arn:aws:ecs:us-west-2:1234567890:service-deployment/my-cluster/my-service/EZe5RNVLH6PPzHXINuP28",
        "executionDetails": {
            "serviceArn": "arn:aws:ecs:us-west-2:1234567890:service/my-cluster/my-service",
            "targetServiceRevisionArn": GREEN,
            "testTrafficWeights": test,
            "productionTrafficWeights": production
        },
        "hookDetails": details
    })
}

/// ECS merges the returned hookDetails into the next event's.
fn merge(details: &Value, answer: &Value) -> Value {
    let mut d = details.clone();
    for (k, v) in answer["hookDetails"].as_object().unwrap() {
        d[k] = v.clone();
    }
    d
}

#[tokio::test]
async fn ecs_documented_example_of_every_stage_goes_in_progress_then_succeeds() {
    for stage in [
        "RECONCILE_SERVICE",
        "PRE_SCALE_UP",
        "POST_SCALE_UP",
        "TEST_TRAFFIC_SHIFT",
        "POST_TEST_TRAFFIC_SHIFT",
        "PRE_PRODUCTION_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "POST_PRODUCTION_TRAFFIC_SHIFT",
    ] {
        let production = match stage {
            "PRE_PRODUCTION_TRAFFIC_SHIFT" => json!({GREEN: 0, BLUE: 100}),
            "PRODUCTION_TRAFFIC_SHIFT" => json!({GREEN: 100, BLUE: 0}),
            _ => json!({}),
        };
        let h = hook(&fast(&[]), FakeAws::default(), FakeProbe::status(200));
        let mut details = json!({"S3_BUCKET_NAME": "my-bucket", "approvalChecked": true});
        let mut statuses = Vec::new();
        for now in [100, 101, 102] {
            let answer = h.handle(ecs_event(stage, production.clone(), details.clone()), None, now).await.unwrap();
            statuses.push(answer["hookStatus"].as_str().unwrap().to_owned());
            if answer["hookStatus"] == "IN_PROGRESS" {
                assert_eq!(answer["callBackDelay"], 1, "{stage}: the interval, at least 1 s");
            } else {
                assert!(answer.get("callBackDelay").is_none());
            }
            details = merge(&details, &answer);
        }
        assert_eq!(statuses, ["IN_PROGRESS", "IN_PROGRESS", "SUCCEEDED"], "{stage}");
        let state = &details[STATE_KEY];
        assert_eq!(
            (state["round"].as_u64(), state["of"].as_u64(), state["startedAt"].as_u64()),
            (Some(3), Some(3), Some(100))
        );
        assert_eq!(state["summary"], "1 checks passed");
        assert_eq!(details["S3_BUCKET_NAME"], "my-bucket", "the user's details stay");
        assert_eq!(h.probe.calls().len(), 3);
    }
}

#[tokio::test]
async fn ecs_fails_at_the_first_failed_check_and_never_errs() {
    let h = hook(&fast(&[]), FakeAws::default(), FakeProbe::new(vec![ok(200, ""), ok(503, "draining")]));
    let first = h.handle(ecs_event("POST_TEST_TRAFFIC_SHIFT", json!({}), json!({})), None, 10).await.unwrap();
    assert_eq!(first["hookStatus"], "IN_PROGRESS");
    let next = ecs_event("POST_TEST_TRAFFIC_SHIFT", json!({}), merge(&json!({}), &first));
    let second = h.handle(next, None, 12).await.unwrap();
    assert_eq!(second["hookStatus"], "FAILED");
    let state = &second["hookDetails"][STATE_KEY];
    assert_eq!(state["outcomes"][0]["check"], "http GET http://test.internal:8080/health #2");
    assert_eq!(state["outcomes"][0]["saw"], "HTTP 503 (expected 200) in 5 ms: \"draining\"");

    // A malformed event, a bad configuration, a refused override: FAILED with the reason, never an error.
    let h = hook(&fast(&[]), FakeAws::default(), FakeProbe::status(200));
    let bad_event = h.handle(fixture("hook-ecs-malformed.json"), None, 0).await.unwrap();
    assert_eq!(bad_event["hookStatus"], "FAILED");
    assert_eq!(bad_event["hookDetails"][STATE_KEY]["outcomes"][0]["check"], "event");
    let override_ = json!({"check": {"url": "http://evil.example.com/"}});
    let refused = h.handle(ecs_event("POST_SCALE_UP", json!({}), override_), None, 0).await.unwrap();
    assert_eq!(refused["hookStatus"], "FAILED");
    assert!(refused["hookDetails"][STATE_KEY]["summary"].as_str().unwrap().contains("not in HOOK_ALLOWED_HOSTS"));
    assert!(h.probe.calls().is_empty(), "no request to a host the configuration did not name");
    let h = hook(&[], FakeAws::default(), FakeProbe::status(200));
    let unconfigured = h.handle(ecs_event("POST_SCALE_UP", json!({}), json!({})), None, 0).await.unwrap();
    assert_eq!(unconfigured["hookStatus"], "FAILED");
}

#[tokio::test]
async fn ecs_rollback_re_invocations_succeed_without_checking() {
    let h = hook(&fast(&[]), FakeAws::default(), FakeProbe::status(500));
    for event in [
        fixture("hook-ecs-rollback.json"),
        ecs_event("PRODUCTION_TRAFFIC_SHIFT", json!({GREEN: 0, BLUE: 100}), json!({})),
    ] {
        let answer = h.handle(event, None, 0).await.unwrap();
        assert_eq!(answer["hookStatus"], "SUCCEEDED", "{answer}");
    }
    assert!(h.probe.calls().is_empty());
}

#[tokio::test]
async fn ecs_each_traffic_step_is_checked_afresh_and_time_is_bounded() {
    let pairs = fast(&[("HOOK_HTTP_REQUESTS", "2"), ("HOOK_MAX_DURATION_SECONDS", "60")]);
    let h = hook(&pairs, FakeAws::default(), FakeProbe::status(200));
    let step =
        |w: u32, details: Value| ecs_event("PRODUCTION_TRAFFIC_SHIFT", json!({GREEN: w, BLUE: 100 - w}), details);
    let a = h.handle(step(10, json!({})), None, 0).await.unwrap();
    let b = h.handle(step(10, merge(&json!({}), &a)), None, 1).await.unwrap();
    assert_eq!((a["hookStatus"].as_str(), b["hookStatus"].as_str()), (Some("IN_PROGRESS"), Some("SUCCEEDED")));
    // The next canary step carries the last step's state: it starts again at round 1.
    let c = h.handle(step(100, merge(&json!({}), &b)), None, 2).await.unwrap();
    assert_eq!(
        (c["hookStatus"].as_str(), c["hookDetails"][STATE_KEY]["round"].as_u64()),
        (Some("IN_PROGRESS"), Some(1))
    );
    // Still in progress past HOOK_MAX_DURATION_SECONDS: FAILED.
    let d = h.handle(step(100, merge(&json!({}), &c)), None, 70).await.unwrap();
    assert_eq!(d["hookStatus"], "FAILED");
    assert!(d["hookDetails"][STATE_KEY]["summary"].as_str().unwrap().contains("HOOK_MAX_DURATION_SECONDS"));
}

#[tokio::test]
async fn ecs_hook_details_may_narrow_the_check_and_alarms_count() {
    let aws = FakeAws { alarms: vec![("web-5xx".into(), "OK".into())], ..FakeAws::default() };
    let h = hook(&fast(&[("HOOK_ALARMS", "web-5xx")]), aws, FakeProbe::status(200));
    let details = json!({"check": {"path": "/ready", "requests": 1, "jsonPointer": "/status", "jsonEquals": "up"}});
    let answer = h.handle(ecs_event("POST_TEST_TRAFFIC_SHIFT", json!({}), details), None, 0).await.unwrap();
    assert_eq!(answer["hookStatus"], "SUCCEEDED", "{answer}");
    assert_eq!(h.probe.calls(), ["GET http://test.internal:8080/ready"]);
    let outcomes: Vec<&str> = answer["hookDetails"][STATE_KEY]["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["check"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["http GET http://test.internal:8080/ready #1", "alarm web-5xx"]);
}

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:ecs-deployer";

#[tokio::test]
async fn final_outcomes_are_published_with_the_failed_check_and_what_it_saw() {
    let h = hook(&fast(&[("HOOK_SNS_TOPIC_ARN", TOPIC)]), FakeAws::default(), FakeProbe::new(vec![ok(503, "down")]));
    h.handle(codedeploy_event(), None, 0).await.unwrap();
    let published = h.aws.published();
    assert_eq!(published.len(), 1);
    let (topic, subject, message) = &published[0];
    assert_eq!((topic.as_str(), subject.as_str()), (TOPIC, "ecs-deployer hook Failed"));
    assert_eq!(
        (message["hook"].as_str(), message["deployment_id"].as_str()),
        (Some("codedeploy"), Some("d-ABCDEF123"))
    );
    assert_eq!(message["outcomes"][0]["saw"], "HTTP 503 (expected 200) in 5 ms: \"down\"");

    // ECS: nothing while IN_PROGRESS, one notice at the verdict.
    let h = hook(
        &fast(&[("HOOK_SNS_TOPIC_ARN", TOPIC), ("HOOK_HTTP_REQUESTS", "2")]),
        FakeAws::default(),
        FakeProbe::status(200),
    );
    let first = h.handle(ecs_event("POST_TEST_TRAFFIC_SHIFT", json!({}), json!({})), None, 0).await.unwrap();
    assert!(h.aws.published().is_empty());
    h.handle(ecs_event("POST_TEST_TRAFFIC_SHIFT", json!({}), merge(&json!({}), &first)), None, 1).await.unwrap();
    let published = h.aws.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].1, "ecs-deployer hook SUCCEEDED at POST_TEST_TRAFFIC_SHIFT");
    assert_eq!(published[0].2["summary"], "1 checks passed");

    // No topic, no notice.
    let h = hook(&fast(&[]), FakeAws::default(), FakeProbe::status(200));
    h.handle(codedeploy_event(), None, 0).await.unwrap();
    assert!(h.aws.published().is_empty());
}
