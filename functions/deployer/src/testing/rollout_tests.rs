//! Rollout scenarios on the fake's virtual clock: following, rolling back, deadlines, explicit actions,
//! EventBridge events, racing deploys, and faults on every call.

use std::time::Duration;

use aws_sdk_ecs::types::{
    DeploymentCircuitBreaker, DeploymentConfiguration, DeploymentRolloutState, TaskDefinitionStatus,
};
use serde_json::{json, Value};

use contract::request::DeployRequest;
use contract::AwsErrorKind;

use crate::plan::family_revision;
use crate::request::Invocation;
use crate::testing::*;
use crate::trigger::ecs_event::on_deployment_event;
use crate::trigger::{EcsDeploymentDetail, EcsDeploymentEvent, Origin};

use crate::testing::standard_deployer as deployer;

fn request(v: Value) -> DeployRequest {
    serde_json::from_value(v).unwrap()
}

fn inv(budget_secs: u64) -> Invocation {
    Invocation { request_id: "req-1".into(), budget: Duration::from_secs(budget_secs), home: Some(home()) }
}

fn origin() -> Origin {
    Origin { account: ACCOUNT.into(), region: REGION.into() }
}

fn running(d: &FakeDeployer) -> String {
    family_revision(d.ecs().service("web").task_definition().unwrap()).to_owned()
}

fn status_of(d: &FakeDeployer, family_rev: &str) -> TaskDefinitionStatus {
    let s = d.ecs().state.lock().unwrap();
    s.task_definitions
        .iter()
        .find(|t| family_revision(t.task_definition.task_definition_arn().unwrap()) == family_rev)
        .and_then(|t| t.task_definition.status.clone())
        .unwrap()
}

fn with_circuit_breaker(d: &FakeDeployer) {
    let mut s = d.ecs().state.lock().unwrap();
    s.services.get_mut("web").unwrap().deployment_configuration = Some(
        DeploymentConfiguration::builder()
            .deployment_circuit_breaker(DeploymentCircuitBreaker::builder().enable(true).rollback(true).build())
            .build(),
    );
}

fn now(d: &FakeDeployer) -> Duration {
    d.ecs().state.lock().unwrap().now
}

#[tokio::test]
async fn waiting_follows_our_deployment_to_completion() {
    let d = deployer();
    d.ecs().rollouts([Rollout::Completes { after: Duration::from_secs(40) }]);
    let out = d.execute(request(json!({"version": "v2", "wait": true})), &inv(300)).await.unwrap();
    assert_eq!(out["status"], "completed");
    assert_eq!(out["rollout"]["state"], "COMPLETED");
    let polls = d.ecs().ops().iter().filter(|op| **op == "DescribeServices").count();
    // The first read after the update, then one every 5–6 s for 40 s.
    assert!(polls >= 7, "polled {polls} times");
    assert!(now(&d) >= Duration::from_secs(40) && now(&d) < Duration::from_secs(60), "{:?}", now(&d));
    assert!(d.ecs().state.lock().unwrap().locks.is_empty(), "the lock is released");
}

#[tokio::test]
async fn polls_are_a_few_seconds_apart() {
    let d = deployer();
    d.ecs().rollouts([Rollout::Completes { after: Duration::from_secs(60) }]);
    d.execute(request(json!({"version": "v2", "wait": true})), &inv(300)).await.unwrap();
    let polls = d.ecs().ops().iter().filter(|op| **op == "DescribeServices").count() - 1;
    // 60 s of rollout, one read every 5–6 s.
    assert!((10..=13).contains(&polls), "{polls} polls for 60 s");
}

#[tokio::test]
async fn a_circuit_breaker_rollback_is_a_failure_not_a_success() {
    let d = deployer();
    with_circuit_breaker(&d);
    d.ecs().rollouts([Rollout::CircuitBreaker { after: Duration::from_secs(30) }]);
    let err = d.execute(request(json!({"version": "v2", "wait": true})), &inv(300)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "RolledBack");
    let details = err.details();
    assert_eq!(details["status"], "rolled_back");
    assert_eq!(details["rollout"]["rollback"]["by"], "ecs-circuit-breaker");
    assert_eq!(details["rollout"]["rollback"]["to"], "web:7");
    assert_eq!(details["rollout"]["rollback"]["from"], "web:8");
    assert!(err.to_string().starts_with("the rollout of web:8 failed ("), "{err}");
    assert!(err.to_string().ends_with("rolled back to web:7"), "{err}");
    assert!(details["rollout"]["failure"]["reason"].as_str().unwrap().contains("circuit breaker"));
    assert_eq!(running(&d), "web:7");
    assert!(
        !d.ecs().ops().contains(&"UpdateService")
            || d.ecs().ops().iter().filter(|o| **o == "UpdateService").count() == 1,
        "the deployer does not fight the circuit breaker"
    );
}

#[tokio::test]
async fn a_crash_loop_is_rolled_back_by_the_deployer_with_the_reasons() {
    let d = deployer();
    d.ecs().rollouts([
        Rollout::CrashLoop { every: Duration::from_secs(10) },
        Rollout::Completes { after: Duration::from_secs(20) },
    ]);
    let err = d.execute(request(json!({"version": "v2", "wait": true})), &inv(600)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "RolledBack");
    let r = err.details();
    assert_eq!(r["status"], "rolled_back");
    assert_eq!(r["task_definition"], "web:7");
    assert_eq!(r["rollout"]["state"], "FAILED");
    assert_eq!(r["rollout"]["failure"]["reason"], "3 tasks of the new revision failed to start or stay running");
    assert_eq!(r["rollout"]["failure"]["stopped_tasks"][0]["stopped_reason"], "Essential container in task exited");
    assert!(r["rollout"]["failure"]["stopped_tasks"][0]["containers"][0]
        .as_str()
        .unwrap()
        .contains("panic: no database"));
    assert!(!r["rollout"]["failure"]["events"].as_array().unwrap().is_empty());
    assert_eq!(
        r["rollout"]["rollback"],
        json!({"from": "web:8", "to": "web:7", "by": "ecs-deployer", "state": "COMPLETED", "deregistered": "web:8"})
    );
    assert_eq!(running(&d), "web:7");
    assert_eq!(status_of(&d, "web:8"), TaskDefinitionStatus::Inactive);
    assert_eq!(status_of(&d, "web:7"), TaskDefinitionStatus::Active, "never the rollback target");
    // Case 9 of issue 11: the message names the failed revision and the rollback target, each for what it is.
    assert_eq!(
        err.to_string(),
        "the rollout of web:8 failed (3 tasks of the new revision failed to start or stay running) and the \
         service was rolled back to web:7"
    );
}

#[tokio::test]
async fn a_revision_a_task_still_runs_is_not_deregistered() {
    let d = deployer();
    d.ecs().rollouts([
        Rollout::CrashLoop { every: Duration::from_secs(10) },
        Rollout::Completes { after: Duration::from_secs(20) },
    ]);
    // A task of the new revision that someone started by hand keeps running.
    d.ecs().state.lock().unwrap().running_tasks.push(
        aws_sdk_ecs::types::Task::builder()
            .task_arn("arn:aws:ecs:eu-west-1:1:task/prod/manual")
            .task_definition_arn(arn("web:8"))
            .build(),
    );
    let err = d.execute(request(json!({"version": "v2", "wait": true})), &inv(600)).await.unwrap_err();
    assert_eq!(err.details()["rollout"]["rollback"].get("deregistered"), None);
    assert_eq!(status_of(&d, "web:8"), TaskDefinitionStatus::Active);
}

#[tokio::test]
async fn without_rollback_a_failed_rollout_is_an_error_and_stays() {
    let d = deployer();
    d.ecs().rollouts([Rollout::CrashLoop { every: Duration::from_secs(10) }]);
    let err =
        d.execute(request(json!({"version": "v2", "wait": true, "rollback": false})), &inv(600)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "DeploymentFailed");
    assert_eq!(err.details()["status"], "failed");
    assert_eq!(running(&d), "web:8");
}

#[tokio::test]
async fn the_deadline_ends_the_wait_with_in_progress() {
    let d = deployer();
    d.ecs().rollouts([Rollout::Stuck]);
    let out = d.execute(request(json!({"version": "v2", "wait": true})), &inv(60)).await.unwrap();
    assert_eq!(out["status"], "in_progress");
    assert_eq!(out["rollout"]["check"], json!({"action": "status", "cluster": "prod", "service": "web"}));
    assert!(now(&d) <= Duration::from_secs(50), "stops before the Lambda's time runs out: {:?}", now(&d));
    assert!(d.ecs().state.lock().unwrap().locks.is_empty());
}

#[tokio::test]
async fn explicit_rollback_goes_to_the_recorded_revision() {
    let d = deployer();
    d.execute(request(json!({"version": "v2"})), &inv(60)).await.unwrap();
    d.ecs().state.lock().unwrap().now += Duration::from_secs(600);
    let out = d.execute(request(json!({"action": "rollback"})), &inv(60)).await.unwrap();
    assert_eq!(out["status"], "rolled_back");
    assert_eq!(
        (out["from"].as_str(), out["to"].as_str(), out["version"].as_str()),
        (Some("web:8"), Some("web:7"), Some("v1"))
    );
    assert_eq!(running(&d), "web:7");
    assert_eq!(status_of(&d, "web:8"), TaskDefinitionStatus::Active, "an explicit rollback keeps the revision");

    let err = d.execute(request(json!({"action": "rollback", "to": "web:99"})), &inv(60)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "TaskDefinitionNotFound");
    let err = d.execute(request(json!({"action": "rollback", "version": "v1"})), &inv(60)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "InvalidRequest");
    let back = d.execute(request(json!({"action": "rollback", "to": "web:8", "wait": true})), &inv(120)).await.unwrap();
    assert_eq!((back["status"].as_str(), back["to"].as_str()), (Some("rolled_back"), Some("web:8")));
    assert_eq!(back["rollout"]["state"], "COMPLETED");
}

#[tokio::test]
async fn rollback_needs_a_recorded_or_named_revision() {
    let d = deployer();
    let err = d.execute(request(json!({"action": "rollback"})), &inv(60)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "NoRollbackTarget");
    assert!(err.to_string().contains("name one with \"to\""), "{err}");
    assert!(!d.ecs().ops().contains(&"UpdateService"));
}

#[tokio::test]
async fn status_reports_version_revision_rollout_and_events() {
    let d = deployer();
    d.execute(request(json!({"version": "v2"})), &inv(60)).await.unwrap();
    let out = d.execute(request(json!({"action": "status"})), &inv(60)).await.unwrap();
    assert_eq!(out["status"], "ok");
    assert_eq!((out["task_definition"].as_str(), out["version"].as_str()), (Some("web:8"), Some("v2")));
    assert_eq!(out["previous_task_definition"], "web:7");
    assert_eq!(out["rollout_state"], "IN_PROGRESS");
    assert_eq!(out["deployments"].as_array().unwrap().len(), 2);
    let err = d.execute(request(json!({"action": "status", "dry_run": true})), &inv(60)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "InvalidRequest");
}

#[tokio::test]
async fn ten_concurrent_deploys_of_one_service_let_exactly_one_through() {
    let fake =
        FakeAws::world(REPOSITORY, &["v1", "v2"], vec![described(7, "v1")]).with_latency(Duration::from_millis(5));
    let d = deployer_on(fake, defaults());
    let invocations: Vec<Invocation> = (0..10)
        .map(|i| Invocation { request_id: format!("req-{i}"), budget: Duration::from_secs(60), home: None })
        .collect();
    let runs = invocations.iter().map(|i| d.execute(request(json!({"version": "v2"})), i));
    let outcomes = futures_util::future::join_all(runs).await;
    let deployed = outcomes.iter().filter(|o| o.as_ref().is_ok_and(|v| v["status"] == "deployed")).count();
    let refused: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert_eq!(deployed, 1, "{outcomes:?}");
    assert_eq!(refused.len(), 9);
    assert!(refused.iter().all(|e| e.code().as_str() == "DeploymentInProgress"));
    assert!(refused[0].to_string().contains("req-"), "names the holder: {}", refused[0]);
    assert_eq!(d.ecs().revisions("web").len(), 2, "one new revision");
}

#[tokio::test]
async fn a_rollout_someone_else_started_blocks_a_deploy_unless_forced() {
    let d = deployer();
    {
        let mut s = d.ecs().state.lock().unwrap();
        let svc = s.services.get_mut("web").unwrap();
        let mut deployments = svc.deployments().to_vec();
        deployments[0].rollout_state = Some(DeploymentRolloutState::InProgress);
        svc.deployments = Some(deployments);
    }
    let err = d.execute(request(json!({"version": "v2"})), &inv(60)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "DeploymentInProgress");
    assert!(err.to_string().contains("ECS deployment ecs-svc/0 of web:7"), "{err}");
    assert!(!d.ecs().ops().contains(&"RegisterTaskDefinition"));
    let out = d.execute(request(json!({"version": "v2", "force": true})), &inv(60)).await.unwrap();
    assert_eq!(out["status"], "deployed");
}

#[tokio::test]
async fn a_failed_deployment_event_rolls_back_what_we_deployed() {
    let d = deployer();
    let out = d.execute(request(json!({"version": "v2"})), &inv(60)).await.unwrap();
    let id = out["deployment_id"].as_str().unwrap().to_owned();
    {
        let mut s = d.ecs().state.lock().unwrap();
        let svc = s.services.get_mut("web").unwrap();
        let mut deployments = svc.deployments().to_vec();
        deployments[0].rollout_state = Some(DeploymentRolloutState::Failed);
        svc.deployments = Some(deployments);
    }
    let event = |name: &str, id: &str| EcsDeploymentEvent {
        origin: origin(),
        service_arn: "arn:aws:ecs:eu-west-1:111122223333:service/prod/web".into(),
        detail: EcsDeploymentDetail {
            event_name: name.into(),
            deployment_id: id.into(),
            reason: Some("tasks failed".into()),
        },
    };
    let ignored = on_deployment_event(&d, &event("SERVICE_DEPLOYMENT_FAILED", "ecs-svc/0"), &inv(60)).await.unwrap();
    assert_eq!(ignored["status"], "ignored", "web:7 was not deployed by us");
    let rolled = on_deployment_event(&d, &event("SERVICE_DEPLOYMENT_FAILED", &id), &inv(60)).await.unwrap();
    assert_eq!(rolled["status"], "rolled_back");
    assert_eq!(rolled["rollback"]["to"], "web:7");
    assert_eq!(running(&d), "web:7");
    let progress = on_deployment_event(&d, &event("SERVICE_DEPLOYMENT_IN_PROGRESS", &id), &inv(60)).await.unwrap();
    assert_eq!(progress["status"], "ignored");
}

#[tokio::test]
async fn a_failed_deployment_event_leaves_a_circuit_breaker_rollback_to_ecs() {
    let d = deployer();
    with_circuit_breaker(&d);
    d.ecs().rollouts([Rollout::CircuitBreaker { after: Duration::from_secs(30) }]);
    let out = d.execute(request(json!({"version": "v2"})), &inv(60)).await.unwrap();
    let id = out["deployment_id"].as_str().unwrap().to_owned();
    d.ecs().state.lock().unwrap().now += Duration::from_secs(40);
    let event = EcsDeploymentEvent {
        origin: origin(),
        service_arn: "arn:aws:ecs:eu-west-1:111122223333:service/prod/web".into(),
        detail: EcsDeploymentDetail { event_name: "SERVICE_DEPLOYMENT_FAILED".into(), deployment_id: id, reason: None },
    };
    let updates_before = d.ecs().ops().iter().filter(|o| **o == "UpdateService").count();
    let out = on_deployment_event(&d, &event, &inv(60)).await.unwrap();
    assert_eq!(out["rollback"]["by"], "ecs-circuit-breaker");
    assert_eq!(d.ecs().ops().iter().filter(|o| **o == "UpdateService").count(), updates_before);
}

#[tokio::test]
async fn a_completed_deployment_event_is_reported() {
    let d = deployer();
    let out = d.execute(request(json!({"version": "v2"})), &inv(60)).await.unwrap();
    d.ecs().state.lock().unwrap().now += Duration::from_secs(30);
    let event = EcsDeploymentEvent {
        origin: origin(),
        service_arn: "arn:aws:ecs:eu-west-1:111122223333:service/prod/web".into(),
        detail: EcsDeploymentDetail {
            event_name: "SERVICE_DEPLOYMENT_COMPLETED".into(),
            deployment_id: out["deployment_id"].as_str().unwrap().into(),
            reason: None,
        },
    };
    let done = on_deployment_event(&d, &event, &inv(60)).await.unwrap();
    assert_eq!((done["status"].as_str(), done["version"].as_str()), (Some("completed"), Some("v2")));
}

/// Every AWS call of a deploy, failed every way: the service ends on the old or the new revision, that
/// revision is ACTIVE, and a new revision the service does not use is deregistered or named in the error.
#[tokio::test]
async fn faults_on_any_call_never_leave_the_service_on_a_missing_or_inactive_revision() {
    let ops = [
        "PutItem",
        "DescribeImages",
        "DescribeClusters",
        "DescribeServices",
        "DescribeTaskDefinition",
        "RegisterTaskDefinition",
        "UpdateService",
        "DeregisterTaskDefinition",
        "DeleteItem",
    ];
    let faults = [(AwsErrorKind::Throttled, false), (AwsErrorKind::Unknown, false), (AwsErrorKind::Unknown, true)];
    for op in ops {
        for (kind, applied) in faults {
            // A later call of the same operation fails too, so recovery paths meet faults as well.
            for nth in 0..2 {
                let d = deployer();
                for _ in 0..nth {
                    d.ecs().pass_next(op);
                }
                d.ecs().fail_next(op, kind, applied);
                let outcome = d.execute(request(json!({"version": "v2"})), &inv(60)).await;
                let case = format!("{op} #{nth} {kind:?} applied={applied}: {outcome:?}");
                let now_on = running(&d);
                assert!(now_on == "web:7" || now_on == "web:8", "{case}");
                assert_eq!(status_of(&d, &now_on), TaskDefinitionStatus::Active, "{case}");
                let registered = d.ecs().revisions("web").iter().any(|r| r.task_definition.revision == 8);
                if registered && now_on == "web:7" && status_of(&d, "web:8") == TaskDefinitionStatus::Active {
                    let err = outcome.as_ref().expect_err(&case);
                    let reported =
                        err.details()["task_definition"] == "web:8" || err.details()["outcome_known"] == false;
                    assert!(reported, "orphan web:8 unreported: {case}");
                }
                if outcome.is_ok() {
                    assert_eq!(now_on, "web:8", "{case}");
                }
            }
        }
    }
}

#[tokio::test]
async fn notifications_follow_the_deploy() {
    let recorder = Recorder::default();
    let d = deployer().with_notifier(recorder.clone());
    d.ecs().rollouts([
        Rollout::Completes { after: Duration::from_secs(30) },
        Rollout::CrashLoop { every: Duration::from_secs(10) },
    ]);
    d.execute(request(json!({"version": "v2", "wait": true})), &inv(300)).await.unwrap();
    assert_eq!(
        recorder.events(),
        [("started", Some("web:7".into()), None), ("succeeded", Some("web:7".into()), Some("web:8".into()))]
    );
    d.execute(request(json!({"version": "v1", "wait": true})), &inv(600)).await.unwrap_err();
    let last = recorder.0.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        (last.event.as_str(), last.from.as_deref(), last.to.as_deref()),
        ("rolled_back", Some("web:9"), Some("web:8")),
        "from the failed revision to the rollback target"
    );
    assert!(last.reason.unwrap().contains("failed to start"));
    assert_eq!(last.version, "v1");

    // Dry runs and no-op deploys tell nobody.
    let told = recorder.events().len();
    d.execute(request(json!({"version": "v2", "dry_run": true})), &inv(60)).await.unwrap();
    d.execute(request(json!({"version": "v2"})), &inv(60)).await.unwrap();
    assert_eq!(recorder.events().len(), told);
}

#[tokio::test]
async fn a_failed_update_is_notified_as_a_failure() {
    let recorder = Recorder::default();
    let d = deployer().with_notifier(recorder.clone());
    d.ecs().fail_next("UpdateService", AwsErrorKind::Rejected, false);
    d.execute(request(json!({"version": "v2"})), &inv(60)).await.unwrap_err();
    let kinds: Vec<_> = recorder.events().into_iter().map(|e| e.0).collect();
    assert_eq!(kinds, ["started", "failed"]);
}
