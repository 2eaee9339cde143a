//! Scenario tests of the pipeline against the in-process fake.

use std::time::Duration;

use aws_sdk_ecs::types::{DeploymentController, DeploymentControllerType};
use serde_json::json;

use super::*;
use crate::error::AwsErrorKind;
use crate::fake::FakeAws;
use crate::testing::*;

const MUTATING: &[&str] = &["RegisterTaskDefinition", "UpdateService", "DeregisterTaskDefinition"];

use crate::fake::{defaults, standard_deployer as standard};

fn deployer(fake: FakeAws) -> Deployer<FakeAws> {
    Deployer::new(fake, defaults(), REGION)
}

fn request(json: serde_json::Value) -> DeployRequest {
    serde_json::from_value(json).unwrap()
}

const LOCK: &[&str] = &["PutItem", "DeleteItem"];

/// The ECS and ECR calls made, without the lock's.
fn ecs_ops(d: &Deployer<FakeAws>) -> Vec<&'static str> {
    d.aws().ops().into_iter().filter(|op| !LOCK.contains(op)).collect()
}

/// Lets every rollout started so far finish on the fake's clock.
fn settle(d: &Deployer<FakeAws>) {
    d.aws().state.lock().unwrap().now += Duration::from_secs(600);
}

fn mutations(d: &Deployer<FakeAws>) -> Vec<&'static str> {
    d.aws().ops().into_iter().filter(|op| MUTATING.contains(op)).collect()
}

#[tokio::test]
async fn deploy_registers_a_clone_and_points_the_service_at_it() {
    let d = standard();
    let result = d.deploy(request(json!({"version": "v2"}))).await.unwrap();

    let ops = ecs_ops(&d);
    let mut preflight = ops[..4].to_vec();
    preflight.sort_unstable();
    assert_eq!(preflight, ["DescribeClusters", "DescribeImages", "DescribeServices", "DescribeTaskDefinition"]);
    assert_eq!(ops[4..], ["RegisterTaskDefinition", "UpdateService"]);
    let args: Vec<(&str, String)> = d.aws().calls().into_iter().map(|c| (c.op, c.arg)).collect();
    assert!(args.contains(&("DescribeTaskDefinition", "web".into())), "the newest revision is asked by family");
    assert!(args.contains(&("UpdateService", arn("web:8"))), "the update names the new revision by ARN");

    assert_eq!(result.status, Status::Deployed);
    assert_eq!(result.task_definition.as_deref(), Some("web:8"));
    assert_eq!((result.base_task_definition.as_str(), result.previous_task_definition.as_str()), ("web:7", "web:7"));
    assert_eq!(result.image, format!("{REGISTRY}/{REPOSITORY}:v2"));
    assert_eq!(result.deployment_id.as_deref(), Some("ecs-svc/1"));
    assert_eq!(result.containers_updated.len(), 1);
    assert!(result.timings_ms.register.is_some() && result.timings_ms.update.is_some());

    let service = d.aws().service("web");
    assert_eq!(service.task_definition(), Some(arn("web:8").as_str()));
    let new = d.aws().revisions("web").pop().unwrap();
    let app = &new.task_definition.container_definitions()[0];
    assert_eq!(app.image(), Some(format!("{REGISTRY}/{REPOSITORY}:v2").as_str()));
    assert!(new
        .tags
        .iter()
        .any(|t| t.key() == Some("ecs-deployer:previous-task-definition") && t.value() == Some("web:7")));
}

#[tokio::test]
async fn preflight_checks_run_in_one_parallel_round() {
    let fake =
        FakeAws::world(REPOSITORY, &["v1", "v2"], vec![described(7, "v1")]).with_latency(Duration::from_millis(30));
    let d = deployer(fake);
    d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    let calls = d.aws().calls();
    let first_end = calls.iter().map(|c| c.ended).min().unwrap();
    let mut started_before: Vec<_> = calls.iter().filter(|c| c.started < first_end).map(|c| c.op).collect();
    started_before.sort_unstable();
    assert_eq!(
        started_before,
        ["DescribeClusters", "DescribeImages", "DescribeServices", "PutItem"],
        "image, cluster and service checks and the lock overlap"
    );
    assert_eq!(ecs_ops(&d).len(), 6, "{:?}", d.aws().ops());
}

#[tokio::test]
async fn repeat_deploy_of_the_running_version_is_already_deployed() {
    let d = standard();
    d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    let calls_before = ecs_ops(&d).len();
    let again = d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    assert_eq!(again.status, Status::AlreadyDeployed);
    assert_eq!(again.task_definition.as_deref(), Some("web:8"));
    assert!(again.containers_updated.is_empty());
    let new_ops = &ecs_ops(&d)[calls_before..];
    assert!(new_ops.iter().all(|op| op.starts_with("Describe")), "{new_ops:?}");
    assert_eq!(d.aws().revisions("web").len(), 2);
}

#[tokio::test]
async fn a_bad_version_calls_nothing() {
    let d = standard();
    let err = d.deploy(request(json!({"version": "v2 && rm -rf /"}))).await.unwrap_err();
    assert_eq!(err.code(), "InvalidVersion");
    assert!(d.aws().ops().is_empty());
}

#[tokio::test]
async fn every_failed_check_is_reported_and_nothing_changes() {
    let d = standard();
    let err = d.deploy(request(json!({"version": "v9", "cluster": "nope"}))).await.unwrap_err();
    assert_eq!(err.code(), "ClusterNotFound");
    let codes: Vec<_> = err.details()["failures"].as_array().unwrap().iter().map(|f| f["code"].clone()).collect();
    assert_eq!(codes, [json!("ClusterNotFound"), json!("ImageNotFound")]);
    assert!(mutations(&d).is_empty());
}

#[tokio::test]
async fn missing_things_get_their_own_codes() {
    for (req, code) in [
        (json!({"version": "v9"}), "ImageNotFound"),
        (json!({"version": "v2", "service": "api"}), "ServiceNotFound"),
        (json!({"version": "v2", "repository": "team/other"}), "RepositoryNotFound"),
        (json!({"version": "v2", "containers": ["worker"]}), "NoTargetContainer"),
    ] {
        let d = standard();
        let err = d.deploy(request(req.clone())).await.unwrap_err();
        assert_eq!(err.code(), code, "{req}");
        assert!(mutations(&d).is_empty(), "{req}");
    }
}

#[tokio::test]
async fn inactive_cluster_and_draining_service_are_refused() {
    let d = standard();
    {
        let mut s = d.aws().state.lock().unwrap();
        s.clusters.get_mut("prod").unwrap().status = Some("INACTIVE".into());
        s.services.get_mut("web").unwrap().status = Some("DRAINING".into());
    }
    let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    let codes: Vec<_> = err.details()["failures"].as_array().unwrap().iter().map(|f| f["code"].clone()).collect();
    assert_eq!(codes, [json!("ClusterNotActive"), json!("ServiceNotActive")]);
    assert!(mutations(&d).is_empty());
}

#[tokio::test]
async fn code_deploy_and_external_controllers_are_explained() {
    for (kind, name) in
        [(DeploymentControllerType::CodeDeploy, "CODE_DEPLOY"), (DeploymentControllerType::External, "EXTERNAL")]
    {
        let d = standard();
        d.aws().state.lock().unwrap().services.get_mut("web").unwrap().deployment_controller =
            Some(DeploymentController::builder().r#type(kind).build().unwrap());
        let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
        assert_eq!(err.code(), "UnsupportedDeploymentController");
        assert_eq!(err.details()["deployment_controller"], name);
        assert!(err.to_string().contains("not by UpdateService"), "{err}");
        assert!(mutations(&d).is_empty());
    }
}

#[tokio::test]
async fn dry_run_shows_the_change_and_mutates_nothing() {
    let d = standard();
    let result = d.deploy(request(json!({"version": "v2", "dry_run": true}))).await.unwrap();
    assert_eq!(result.status, Status::DryRun);
    assert_eq!(result.task_definition, None);
    let change = serde_json::to_value(&result.containers_updated).unwrap();
    assert_eq!(
        change,
        json!([{"container": "app", "from": format!("{REGISTRY}/{REPOSITORY}:v1"), "to": format!("{REGISTRY}/{REPOSITORY}:v2")}])
    );
    assert!(mutations(&d).is_empty());
}

#[tokio::test]
async fn latest_base_clones_the_newest_revision_and_records_the_running_one() {
    // The service runs web:5; someone registered web:6 by hand.
    let fake = FakeAws::world(REPOSITORY, &["v1", "v2"], vec![described(5, "v1"), described(6, "v1")]);
    let d = deployer(fake);
    let latest = d.deploy(request(json!({"version": "v2", "dry_run": true}))).await.unwrap();
    assert_eq!((latest.base_task_definition.as_str(), latest.previous_task_definition.as_str()), ("web:6", "web:5"));
    let from_service = d.deploy(request(json!({"version": "v2", "base": "service"}))).await.unwrap();
    assert_eq!(from_service.base_task_definition, "web:5");
    assert_eq!(from_service.task_definition.as_deref(), Some("web:7"));
}

#[tokio::test]
async fn a_rejected_update_deregisters_the_new_revision() {
    let d = standard();
    d.aws().fail_next("UpdateService", AwsErrorKind::Rejected, false);
    let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    assert_eq!(err.code(), "UpdateServiceFailed");
    assert_eq!(err.details()["cleanup"], "deregistered");
    assert_eq!(err.details()["task_definition"], "web:8");
    assert_eq!(mutations(&d), ["RegisterTaskDefinition", "UpdateService", "DeregisterTaskDefinition"]);
    let deregistered: Vec<_> =
        d.aws().calls().into_iter().filter(|c| c.op == "DeregisterTaskDefinition").map(|c| c.arg).collect();
    assert_eq!(deregistered, [arn("web:8")], "only the new revision is deregistered");
    assert_eq!(d.aws().service("web").task_definition(), Some(arn("web:7").as_str()));
}

#[tokio::test]
async fn an_update_that_timed_out_but_took_effect_is_a_deploy() {
    let d = standard();
    d.aws().fail_next("UpdateService", AwsErrorKind::Unknown, true);
    let result = d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    assert_eq!(result.status, Status::Deployed);
    assert_eq!(mutations(&d), ["RegisterTaskDefinition", "UpdateService"]);
    let web8 = d.aws().revisions("web").pop().unwrap();
    assert_eq!(web8.task_definition.status(), Some(&aws_sdk_ecs::types::TaskDefinitionStatus::Active));
}

#[tokio::test]
async fn an_update_that_timed_out_and_did_not_happen_is_cleaned_up() {
    let d = standard();
    d.aws().fail_next("UpdateService", AwsErrorKind::Unknown, false);
    let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    assert_eq!(err.details()["cleanup"], "deregistered");
    assert_eq!(d.aws().service("web").task_definition(), Some(arn("web:7").as_str()));
}

#[tokio::test]
async fn an_unknown_outcome_keeps_the_revision_and_says_so() {
    let d = standard();
    d.aws().fail_next("UpdateService", AwsErrorKind::Unknown, false);
    // Preflight's DescribeServices succeeds; the read-back after the failed update does not.
    d.aws().pass_next("DescribeServices");
    d.aws().fail_next("DescribeServices", AwsErrorKind::Unknown, false);
    let result = d.deploy(request(json!({"version": "v2"}))).await;
    let err = result.unwrap_err();
    assert_eq!(err.details()["cleanup"], "kept_outcome_unknown");
    assert!(!mutations(&d).contains(&"DeregisterTaskDefinition"));
    assert!(err.to_string().contains("was kept"), "{err}");
}

#[tokio::test]
async fn a_failed_register_never_updates_the_service() {
    let d = standard();
    d.aws().fail_next("RegisterTaskDefinition", AwsErrorKind::Throttled, false);
    let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    assert_eq!(err.code(), "AwsThrottled");
    assert_eq!(mutations(&d), ["RegisterTaskDefinition"]);
    assert_eq!(d.aws().service("web").task_definition(), Some(arn("web:7").as_str()));
}

/// Adds service `name` running `family:1` (app at v1) to the fake.
fn add_service(fake: &FakeAws, name: &str, family: &str) {
    let mut td = described(1, "v1");
    td.task_definition.family = Some(family.into());
    td.task_definition.task_definition_arn = Some(arn(&format!("{family}:1")));
    let mut s = fake.state.lock().unwrap();
    let mut service = s.services["web"].clone();
    service.service_name = Some(name.into());
    service.task_definition = td.task_definition.task_definition_arn.clone();
    service.deployments = None;
    s.services.insert(name.into(), service);
    s.task_definitions.push(td);
}

fn fan_out(services: &[&str]) -> Deployer<FakeAws> {
    let fake = FakeAws::world(REPOSITORY, &["v1", "v2"], vec![described(7, "v1")]);
    for name in services {
        add_service(&fake, name, name);
    }
    deployer(fake)
}

fn targets(services: &[&str]) -> serde_json::Value {
    services.iter().map(|s| json!({"cluster": "prod", "service": s})).collect()
}

#[tokio::test]
async fn a_warm_deploy_reads_service_and_base_revision_in_the_same_round() {
    let fake = FakeAws::world(REPOSITORY, &["v1", "v2", "v3"], vec![described(7, "v1")])
        .with_latency(Duration::from_millis(30));
    let d = deployer(fake);
    d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    let first_deploy_calls = d.aws().calls().len();
    d.deploy(request(json!({"version": "v3"}))).await.unwrap();
    let calls = d.aws().calls().split_off(first_deploy_calls);
    let first_end = calls.iter().map(|c| c.ended).min().unwrap();
    let mut overlapping: Vec<_> = calls.iter().filter(|c| c.started < first_end).map(|c| c.op).collect();
    overlapping.sort_unstable();
    assert_eq!(
        overlapping,
        ["DescribeClusters", "DescribeImages", "DescribeServices", "DescribeTaskDefinition", "PutItem"]
    );
    let ecs: Vec<_> = calls.iter().map(|c| c.op).filter(|op| !LOCK.contains(op)).collect();
    assert_eq!(ecs.len(), 6, "{ecs:?}");
}

#[tokio::test]
async fn a_service_that_changed_family_is_still_cloned_from_its_own_family() {
    let d = standard();
    d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    settle(&d);
    // Someone points the service at another family between two deploys.
    add_service(d.aws(), "scratch", "web-next");
    {
        let mut s = d.aws().state.lock().unwrap();
        s.services.get_mut("web").unwrap().task_definition = Some(arn("web-next:1"));
    }
    let result = d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    assert_eq!(result.base_task_definition, "web-next:1");
    assert_eq!(result.task_definition.as_deref(), Some("web-next:2"));
}

#[tokio::test]
async fn targets_are_deployed_concurrently_each_with_its_own_result() {
    let services = ["a", "b", "c"];
    let fake =
        FakeAws::world(REPOSITORY, &["v1", "v2"], vec![described(7, "v1")]).with_latency(Duration::from_millis(30));
    for name in services {
        add_service(&fake, name, name);
    }
    let d = deployer(fake);
    let result = d
        .deploy_many(request(json!({"version": "v2", "targets": targets(&services)})), &Invocation::default())
        .await
        .unwrap();
    assert_eq!(result.status, FanOutStatus::Deployed);
    let names: Vec<_> = result
        .targets
        .iter()
        .map(|t| match t {
            TargetOutcome::Done(r) => (r.service.clone(), r.task_definition.clone().unwrap()),
            TargetOutcome::Failed { error, .. } => panic!("{error}"),
        })
        .collect();
    assert_eq!(names, [("a".into(), "a:2".into()), ("b".into(), "b:2".into()), ("c".into(), "c:2".into())]);
    let calls = d.aws().calls();
    let first_end = calls.iter().map(|c| c.ended).min().unwrap();
    assert_eq!(calls.iter().filter(|c| c.started < first_end).count(), 12, "all three preflights and locks overlap");
}

#[tokio::test]
async fn targets_fail_independently_and_the_request_reports_it() {
    let d = fan_out(&["a", "b"]);
    let req = json!({"version": "v2", "targets": targets(&["a", "missing", "b"])});
    let err = d.execute(request(req), &Invocation::default()).await.unwrap_err();
    assert_eq!(err.code(), "TargetsFailed");
    assert_eq!(err.to_string(), "1 of 3 targets failed");
    let details = err.details();
    assert_eq!(details["status"], "failed");
    assert_eq!(details["targets"][0]["status"], "deployed");
    assert_eq!(details["targets"][1]["error"]["code"], "ServiceNotFound");
    assert_eq!(details["targets"][1]["service"], "missing");
    assert_eq!(details["targets"][2]["task_definition"], "b:2");
    assert_eq!(d.aws().service("a").task_definition(), Some(arn("a:2").as_str()));
}

#[tokio::test]
async fn all_or_nothing_puts_the_deployed_targets_back() {
    let d = fan_out(&["a", "b"]);
    let req = json!({"version": "v2", "all_or_nothing": true, "targets": targets(&["a", "missing", "b"])});
    let result = d.deploy_many(request(req), &Invocation::default()).await.unwrap();
    assert_eq!(result.status, FanOutStatus::RolledBack);
    for (name, entry) in [("a", &result.targets[0]), ("b", &result.targets[2])] {
        let TargetOutcome::Done(r) = entry else { panic!("{name} should have a result") };
        assert_eq!(r.status, Status::RolledBack);
        assert_eq!(r.task_definition.as_deref(), Some(format!("{name}:1").as_str()));
        assert_eq!(family_revision(d.aws().service(name).task_definition().unwrap()), format!("{name}:1"));
        let new = d.aws().revisions(name).pop().unwrap();
        assert_eq!(new.task_definition.status(), Some(&aws_sdk_ecs::types::TaskDefinitionStatus::Inactive));
    }
}

#[tokio::test]
async fn other_regions_get_their_own_clients_built_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let built = Arc::new(AtomicUsize::new(0));
    let counter = built.clone();
    let d = standard().with_regions(Box::new(move |_region| {
        counter.fetch_add(1, Ordering::SeqCst);
        FakeAws::world(REPOSITORY, &["v1", "v2"], vec![described(3, "v1")])
    }));
    let req = json!({"version": "v2", "targets": [
        {"cluster": "prod", "service": "web"},
        {"cluster": "prod", "service": "web", "region": "eu-central-1"}]});
    let result = d.deploy_many(request(req.clone()), &Invocation::default()).await.unwrap();
    assert_eq!(result.status, FanOutStatus::Deployed);
    let TargetOutcome::Done(regional) = &result.targets[1] else { panic!("regional target failed") };
    assert_eq!(regional.task_definition.as_deref(), Some("web:4"));
    let TargetOutcome::Done(home) = &result.targets[0] else { panic!("home target failed") };
    assert_eq!(home.task_definition.as_deref(), Some("web:8"), "each region has its own ECS");
    d.deploy_many(
        request(json!({"version": "v1", "targets": [{"cluster": "prod", "service": "web", "region": "eu-central-1"}]})),
        &Invocation::default(),
    )
    .await
    .unwrap();
    assert_eq!(built.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_unreachable_region_refuses_the_whole_request_before_any_call() {
    let d = standard();
    let req = json!({"version": "v2", "targets": [
        {"cluster": "prod", "service": "web"},
        {"cluster": "prod", "service": "web", "region": "eu-central-1"}]});
    let err = d.deploy_many(request(req), &Invocation::default()).await.unwrap_err();
    assert_eq!(err.code(), "InvalidRequest");
    assert!(d.aws().ops().is_empty());
}
