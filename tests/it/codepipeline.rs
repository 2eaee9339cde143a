//! The deployer as a CodePipeline Lambda invoke action through the real SDK: the job event goes through the
//! same route as the Lambda handler's, the deploy runs on the local AWS, and the job's answer
//! (PutJobSuccessResult / PutJobFailureResult, which the local AWS adds to moto) is read back from it.

use std::io::{Read, Write};
use std::time::Duration;

use contract::names::Home;
use deployer::request::Invocation;
use deployer::trigger::{codepipeline, route, Inbound};
use deployer_tests::{repo_root, World, REGION};
use serde_json::{json, Value};

const ACCOUNT: &str = "123456789012";

fn invocation(budget_secs: u64) -> Invocation {
    let arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:ecs-deployer");
    Invocation {
        request_id: "codepipeline-test".into(),
        budget: Duration::from_secs(budget_secs),
        home: Some(Home::from_function_arn(&arn).expect("a function ARN")),
    }
}

/// `events/codepipeline-job.json` with job `id`, `user_parameters` and the continuation token, if any.
fn job_event(id: &str, user_parameters: &str, token: Option<&str>) -> Value {
    let text = std::fs::read_to_string(repo_root().join("events/codepipeline-job.json")).expect("the fixture");
    let mut event: Value = serde_json::from_str(&text).expect("fixture JSON");
    let job = &mut event["CodePipeline.job"];
    assert_eq!(job["accountId"], ACCOUNT, "the fixture is of the local AWS's account");
    job["id"] = json!(id);
    job["data"]["actionConfiguration"]["configuration"]["UserParameters"] = json!(user_parameters);
    if let Some(token) = token {
        job["data"]["continuationToken"] = json!(token);
    }
    event
}

/// Creates `event`'s job in the local AWS's CodePipeline, as CodePipeline does before it invokes the action
/// (GetJobDetails then answers it); returns the event.
fn created(world: &World, event: Value) -> Value {
    let job = &event["CodePipeline.job"];
    let body = json!({"id": job["id"], "accountId": job["accountId"], "data": job["data"]}).to_string();
    let address = world.endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).expect("connect to the local AWS");
    write!(
        stream,
        "POST /_localaws/codepipeline/jobs HTTP/1.0\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    assert!(answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"), "{answer}");
    event
}

/// What the Lambda handler does with a raw CodePipeline event, when it is refused.
async fn refused(world: &World, event: Value) -> deployer::error::DeployError {
    let Inbound::CodePipeline(job) = route(event).expect("a routable event") else {
        panic!("not routed as a CodePipeline job")
    };
    codepipeline::on_job(&world.deployer(), &job, &invocation(12)).await.expect_err("refused")
}

/// What the Lambda handler does with a raw CodePipeline event.
async fn invoke(world: &World, event: Value, budget_secs: u64) -> Value {
    let Inbound::CodePipeline(job) = route(event).expect("a routable event") else {
        panic!("not routed as a CodePipeline job")
    };
    codepipeline::on_job(&world.deployer(), &job, &invocation(budget_secs)).await.expect("the job is answered")
}

/// The results the local AWS recorded for `job` (PutJobSuccessResult / PutJobFailureResult, in order).
fn results(world: &World, job: &str) -> Vec<Value> {
    let address = world.endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).expect("connect to the local AWS");
    write!(stream, "GET /_localaws/codepipeline/jobs HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"), "{head}");
    let jobs: Value = serde_json::from_str(body).expect("JSON");
    jobs["jobs"][job]["results"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_job_continues_while_the_rollout_runs_then_succeeds_with_the_new_revision_running() {
    let world = World::stepped().await;
    let out = invoke(&world, job_event("job-1", r#"{"version": "v2"}"#, None), 12).await;
    assert_eq!(out["status"], "continuing", "{out}");
    let first = results(&world, "job-1");
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["status"], "Succeeded");
    let token = first[0]["continuationToken"].as_str().expect("a continuation token").to_owned();
    let parsed: Value = serde_json::from_str(&token).expect("the token is JSON");
    assert_eq!(parsed["task_definition"], "web:2", "{parsed}");

    // CodePipeline invokes again with the token (a new job id) until the rollout ends.
    world.settle("web").await;
    let done = invoke(&world, created(&world, job_event("job-2", r#"{"version": "v2"}"#, Some(&token))), 12).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let second = results(&world, "job-2");
    assert_eq!(second.len(), 1, "{second:?}");
    assert_eq!(second[0]["status"], "Succeeded");
    assert!(second[0].get("continuationToken").is_none(), "a final result: {second:?}");
    assert_eq!(world.primary_deployment("web").await.1, "web:2");
    assert_eq!(world.revisions().await, ["web:1", "web:2"], "a continuation never registers again");
}

#[tokio::test]
async fn a_missing_image_fails_the_job_and_registers_nothing() {
    let world = World::stepped().await;
    let before = world.revisions().await;
    let out = invoke(&world, job_event("job-missing", r#"{"version": "v9-missing"}"#, None), 30).await;
    assert_eq!(out["status"], "failed", "{out}");
    let recorded = results(&world, "job-missing");
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(recorded[0]["status"], "Failed");
    let message = recorded[0]["failureDetails"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("v9-missing"), "the failure names the missing image: {recorded:?}");
    assert_eq!(world.revisions().await, before, "nothing registered");
    assert_eq!(world.primary_deployment("web").await.1, "web:1");
}

#[tokio::test]
async fn a_rollout_still_running_when_invoked_again_continues_with_its_token_then_ends_with_a_final_result() {
    // Five-second ticks: the rollout takes fifteen, so the check right after the start finds it running.
    let world = World::start_stepped(deployer_tests::Shape::default(), 5.0, &[]).await;
    let out = invoke(&world, job_event("slow-1", r#"{"version": "v2"}"#, None), 12).await;
    assert_eq!(out["status"], "continuing", "{out}");
    let token = results(&world, "slow-1")[0]["continuationToken"].as_str().expect("a token").to_owned();

    let again = invoke(&world, created(&world, job_event("slow-2", r#"{"version": "v2"}"#, Some(&token))), 12).await;
    assert_eq!(again["status"], "continuing", "still rolling out: {again}");
    let second = results(&world, "slow-2");
    assert_eq!(second[0]["continuationToken"].as_str(), Some(token.as_str()), "{second:?}");

    world.settle("web").await;
    let done = invoke(&world, created(&world, job_event("slow-3", r#"{"version": "v2"}"#, Some(&token))), 12).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let last = results(&world, "slow-3");
    assert_eq!(last.len(), 1, "{last:?}");
    assert!(last[0].get("continuationToken").is_none(), "a final result: {last:?}");
}

#[tokio::test]
async fn a_replayed_or_hand_written_token_answers_no_job() {
    // Issue 23.4: job-real-A's token on a job id CodePipeline never created, and a hand-written token on a
    // job CodePipeline holds with another token: refused (UntrustedEvent), neither job answered.
    let world = World::start().await;
    let out = invoke(&world, job_event("job-real-A", r#"{"version": "v2"}"#, None), 12).await;
    assert_eq!(out["status"], "continuing", "{out}");
    let token = results(&world, "job-real-A")[0]["continuationToken"].as_str().expect("a token").to_owned();
    world.settle("web").await;

    let err = refused(&world, job_event("job-other-B", r#"{"version": "v2"}"#, Some(&token))).await;
    assert_eq!(err.code().as_str(), "UntrustedEvent", "{err}");
    let held = created(&world, job_event("job-real-C", r#"{"version": "v2"}"#, Some(&token)));
    let mut forged = held.clone();
    forged["CodePipeline.job"]["data"]["continuationToken"] =
        json!(r#"{"cluster":"demo","service":"web","task_definition":"web:1"}"#);
    let err = refused(&world, forged).await;
    assert_eq!(err.code().as_str(), "UntrustedEvent", "{err}");
    assert!(results(&world, "job-other-B").is_empty() && results(&world, "job-real-C").is_empty());

    // The job CodePipeline holds with the token it was given: answered.
    let done = invoke(&world, held, 12).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(results(&world, "job-real-C").len(), 1);
}
