//! The deployer following real rollouts through the real SDK: the local AWS (`tests/localaws`) moves each
//! deployment on its clock, so completion, the circuit breaker, the deployer's own rollback and the deadline
//! happen as ECS reports them, not as a fake scripts them. Each test starts its own world, on a stepped clock
//! (`World::start_stepped`): the deployer's sleeps between reads step the local AWS instead of waiting.

use std::time::Duration;

use contract::request::DeployRequest;
use contract::result::{RolloutState, Status};
use deployer::request::Invocation;
use deployer_tests::{Shape, World};
use serde_json::{json, Value};

fn request(value: Value) -> DeployRequest {
    serde_json::from_value(value).expect("a valid request")
}

fn invocation(budget_secs: u64) -> Invocation {
    Invocation { request_id: "rollouts-test".into(), budget: Duration::from_secs(budget_secs), home: None }
}

#[tokio::test]
async fn wait_follows_the_deploy_until_ecs_reports_it_completed() {
    let world = World::stepped().await;
    let result = world.deployer().deploy_with(request(json!({"version": "v2", "wait": true})), &invocation(90)).await;
    let result = result.expect("the rollout completes");
    assert_eq!(result.status, Status::Completed);
    assert_eq!(result.rollout.as_ref().map(|r| r.state), Some(RolloutState::Completed));
    let id = result.deployment_id.clone().expect("UpdateService started a deployment");
    assert!(id.starts_with("ecs-svc/"), "{id}");
    // Completed means ECS says so: the deployment the deploy started is the only one left, and it is done.
    assert_eq!(world.settle("web").await, (id, "web:2".to_owned()));
}

#[tokio::test]
async fn the_circuit_breaker_rolls_a_broken_version_back_and_the_deployer_reports_it() {
    // ECS drops the failed deployment once its rollback completes, two ticks after the breaker trips. The
    // deployer reads the service every 5-6 s, so with 4 s ticks at least one read sees the failed deployment
    // next to its rollback.
    let world = World::start_stepped(Shape::default(), 4.0, &[]).await;
    world.push_image("v3-broken").await;
    let breaker = aws_sdk_ecs::types::DeploymentCircuitBreaker::builder().enable(true).rollback(true).build();
    world
        .ecs
        .update_service()
        .cluster("demo")
        .service("web")
        .deployment_configuration(
            aws_sdk_ecs::types::DeploymentConfiguration::builder().deployment_circuit_breaker(breaker).build(),
        )
        .send()
        .await
        .expect("turn the circuit breaker on");

    let err = world
        .deployer()
        .execute(request(json!({"version": "v3-broken", "wait": true})), &invocation(90))
        .await
        .expect_err("the rollout fails");
    assert_eq!(err.code().as_str(), "RolledBack", "{err}");
    let details = err.details();
    let rollout = &details["rollout"];
    assert_eq!(rollout["state"], "FAILED", "{details}");
    assert_eq!(rollout["failure"]["reason"], "ECS deployment circuit breaker: tasks failed to start.");
    assert_eq!(rollout["rollback"]["by"], "ecs-circuit-breaker");
    assert_eq!(rollout["rollback"]["to"], "web:1");
    assert_eq!(details["task_definition"], "web:1");
    let stopped = rollout["failure"]["stopped_tasks"].as_array().expect("stopped tasks");
    assert!(!stopped.is_empty(), "{details}");
    for task in stopped {
        assert_eq!(task["stopped_reason"], "Essential container in task exited");
        assert!(task["containers"].as_array().unwrap().contains(&json!("app: exit 1")), "{task}");
    }
    let events: Vec<&str> = rollout["failure"]["events"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(events.iter().any(|e| e.contains("deployment failed: tasks failed to start.")), "{events:?}");
    // ECS finishes its own rollback: the service settles on the revision it ran before.
    assert_eq!(world.settle("web").await.1, "web:1");
}

#[tokio::test]
async fn without_the_breaker_the_deployer_rolls_a_broken_version_back_itself() {
    let world = World::stepped().await;
    world.push_image("v3-broken").await;
    let err = world
        .deployer()
        .execute(request(json!({"version": "v3-broken", "wait": true})), &invocation(90))
        .await
        .expect_err("the rollout fails");
    assert_eq!(err.code().as_str(), "RolledBack", "{err}");
    let details = err.details();
    let rollout = &details["rollout"];
    // DEPLOY_MAX_FAILED_TASKS (3) or more, depending on where the 5-6 s reads fall.
    let reason = rollout["failure"]["reason"].as_str().unwrap_or_default();
    let (count, rest) = reason.split_once(' ').unwrap_or_default();
    assert!(count.parse::<u32>().is_ok_and(|n| n >= 3), "{reason}");
    assert_eq!(rest, "tasks of the new revision failed to start or stay running");
    assert_eq!(
        rollout["rollback"],
        json!({"from": "web:2", "to": "web:1", "by": "ecs-deployer", "state": "COMPLETED", "deregistered": "web:2"}),
        "{details}"
    );
    assert_eq!(world.settle("web").await.1, "web:1");
    let (failed, _) = world.task_definition("web:2").await;
    assert_eq!(failed.status().map(|s| s.as_str()), Some("INACTIVE"), "the failed revision is deregistered");
}

#[tokio::test]
async fn when_time_runs_short_the_answer_is_in_progress_with_the_check_to_send_later() {
    let world = World::stepped().await;
    // 12 s of budget leave 2 s to follow after the 10 s answer margin: one read, then the answer.
    let result = world
        .deployer()
        .deploy_with(request(json!({"version": "v2", "wait": true})), &invocation(12))
        .await
        .expect("a deploy still in progress is no error");
    assert_eq!(result.status, Status::InProgress);
    let rollout = result.rollout.expect("a rollout report");
    assert_eq!(rollout.state, RolloutState::InProgress);
    assert_eq!(
        serde_json::to_value(&rollout.check).unwrap(),
        json!({"action": "status", "cluster": "demo", "service": "web"})
    );
    // The rollout went on without the deployer, and the check shows how it ended.
    world.settle("web").await;
    let status = world.deployer().execute(rollout.check.unwrap(), &Invocation::default()).await.unwrap();
    assert_eq!(status["task_definition"], "web:2", "{status}");
}
