//! Scenario tests of the pipeline against the in-process fake.

use std::time::Duration;

use aws_sdk_ecs::types::{DeploymentController, DeploymentControllerType};
use serde_json::json;

use contract::request::DeployRequest;
use contract::result::{FanOutStatus, Status, TargetOutcome};
use contract::AwsErrorKind;

use crate::fanout;
use crate::plan::family_revision;
use crate::request::{resolve, Invocation, Resolved};
use crate::testing::*;

const MUTATING: &[&str] = &["RegisterTaskDefinition", "UpdateService", "DeregisterTaskDefinition"];

use crate::testing::standard_deployer as standard;

fn deployer(fake: FakeAws) -> FakeDeployer {
    deployer_on(fake, defaults())
}

/// A multi-target deploy's result, whatever its status.
async fn deploy_many(
    d: &FakeDeployer,
    request: DeployRequest,
) -> Result<contract::result::FanOutResult, crate::error::DeployError> {
    let inv = Invocation::default();
    let Resolved::FanOut { targets, all_or_nothing, dry_run } = resolve(request, d.config(), &d.scope(&inv))? else {
        panic!("not a multi-target request")
    };
    fanout::run(d, targets, all_or_nothing, dry_run, &inv).await
}

fn request(json: serde_json::Value) -> DeployRequest {
    serde_json::from_value(json).unwrap()
}

const LOCK: &[&str] = &["PutItem", "DeleteItem"];

/// The ECS and ECR calls made, without the lock's.
fn ecs_ops(d: &FakeDeployer) -> Vec<&'static str> {
    d.ecs().ops().into_iter().filter(|op| !LOCK.contains(op)).collect()
}

/// Lets every rollout started so far finish on the fake's clock.
fn settle(d: &FakeDeployer) {
    d.ecs().state.lock().unwrap().now += Duration::from_secs(600);
}

fn mutations(d: &FakeDeployer) -> Vec<&'static str> {
    d.ecs().ops().into_iter().filter(|op| MUTATING.contains(op)).collect()
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
    let args: Vec<(&str, String)> = d.ecs().calls().into_iter().map(|c| (c.op, c.arg)).collect();
    assert!(args.contains(&("DescribeTaskDefinition", "web".into())), "the newest revision is asked by family");
    assert!(args.contains(&("UpdateService", arn("web:8"))), "the update names the new revision by ARN");

    assert_eq!(result.status, Status::Deployed);
    assert_eq!(result.task_definition.as_deref(), Some("web:8"));
    assert_eq!((result.base_task_definition.as_str(), result.previous_task_definition.as_str()), ("web:7", "web:7"));
    assert_eq!(result.image, format!("{REGISTRY}/{REPOSITORY}:v2"));
    assert_eq!(result.deployment_id.as_deref(), Some("ecs-svc/1"));
    assert_eq!(result.containers_updated.len(), 1);
    assert!(result.timings_ms.register.is_some() && result.timings_ms.update.is_some());

    let service = d.ecs().service("web");
    assert_eq!(service.task_definition(), Some(arn("web:8").as_str()));
    let new = d.ecs().revisions("web").pop().unwrap();
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
    let calls = d.ecs().calls();
    let first_end = calls.iter().map(|c| c.ended).min().unwrap();
    let mut started_before: Vec<_> = calls.iter().filter(|c| c.started < first_end).map(|c| c.op).collect();
    started_before.sort_unstable();
    // The first deploy reads the family named as the service (`web`) beside the service: a cold deploy
    // needs no round of its own to learn the family.
    assert_eq!(
        started_before,
        ["DescribeClusters", "DescribeImages", "DescribeServices", "DescribeTaskDefinition", "PutItem"],
        "image, cluster and service checks, the guessed base revision and the lock overlap"
    );
    assert_eq!(ecs_ops(&d).len(), 6, "{:?}", d.ecs().ops());
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
    let mut new_ops = ecs_ops(&d)[calls_before..].to_vec();
    new_ops[..4].sort_unstable();
    assert_eq!(
        new_ops,
        [
            "DescribeClusters",
            "DescribeImages",
            "DescribeServices",
            "DescribeTaskDefinition",
            "ListTasks",
            "DescribeTasks"
        ],
        "the same revision: the running tasks' digests decide, and nothing changes"
    );
    assert_eq!(d.ecs().revisions("web").len(), 2);
}

#[tokio::test]
async fn a_bad_version_calls_nothing() {
    let d = standard();
    let err = d.deploy(request(json!({"version": "v2 && rm -rf /"}))).await.unwrap_err();
    assert_eq!(err.code().as_str(), "InvalidVersion");
    assert!(d.ecs().ops().is_empty());
}

#[tokio::test]
async fn every_failed_check_is_reported_and_nothing_changes() {
    let d = standard();
    let err = d.deploy(request(json!({"version": "v9", "cluster": "nope"}))).await.unwrap_err();
    assert_eq!(err.code().as_str(), "ClusterNotFound");
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
        assert_eq!(err.code().as_str(), code, "{req}");
        assert!(mutations(&d).is_empty(), "{req}");
    }
}

#[tokio::test]
async fn inactive_cluster_and_draining_service_are_refused() {
    let d = standard();
    {
        let mut s = d.ecs().state.lock().unwrap();
        s.clusters.get_mut("prod").unwrap().status = Some("INACTIVE".into());
        s.services.get_mut("web").unwrap().status = Some("DRAINING".into());
    }
    let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    let codes: Vec<_> = err.details()["failures"].as_array().unwrap().iter().map(|f| f["code"].clone()).collect();
    assert_eq!(codes, [json!("ClusterNotActive"), json!("ServiceNotActive")]);
    assert!(mutations(&d).is_empty());
}

#[tokio::test]
async fn the_external_controller_is_explained() {
    // CODE_DEPLOY services deploy through CodeDeploy (codedeploy_tests).
    for (kind, name) in [(DeploymentControllerType::External, "EXTERNAL")] {
        let d = standard();
        d.ecs().state.lock().unwrap().services.get_mut("web").unwrap().deployment_controller =
            Some(DeploymentController::builder().r#type(kind).build().unwrap());
        let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
        assert_eq!(err.code().as_str(), "UnsupportedDeploymentController");
        assert_eq!(err.details()["deployment_controller"], name);
        assert!(err.to_string().contains("not by UpdateService"), "{err}");
        assert!(mutations(&d).is_empty());
    }
}

#[tokio::test]
async fn strategies_without_an_implementation_are_refused_before_any_change() {
    use aws_sdk_ecs::types::{DeploymentConfiguration, DeploymentStrategy};
    let d = standard();
    d.ecs().state.lock().unwrap().services.get_mut("web").unwrap().deployment_configuration =
        Some(DeploymentConfiguration::builder().strategy(DeploymentStrategy::from("SHADOW")).build());
    for req in [json!({"version": "v2"}), json!({"action": "rollback", "to": "web:7"}), json!({"action": "status"})] {
        let err = d.execute(request(req.clone()), &Invocation::default()).await.unwrap_err();
        assert_eq!(err.code().as_str(), "UnsupportedDeploymentStrategy", "{req}");
        assert_eq!(err.details(), json!({"service": "web", "strategy": "SHADOW"}));
    }
    assert!(mutations(&d).is_empty());
    assert!(d.ecs().state.lock().unwrap().locks.is_empty(), "the lock is released");
}

#[tokio::test]
async fn dry_run_shows_the_change_and_mutates_nothing() {
    let d = standard();
    let result = d.deploy(request(json!({"version": "v2", "dry_run": true}))).await.unwrap();
    assert_eq!(result.status, Status::DryRun);
    assert_eq!(result.task_definition, None);
    let change = serde_json::to_value(&result.containers_updated).unwrap();
    let v2 = d.ecs().digest(ACCOUNT, REGION, REPOSITORY, "v2");
    assert_eq!(
        change,
        json!([{"container": "app", "from": format!("{REGISTRY}/{REPOSITORY}:v1"), "to": format!("{REGISTRY}/{REPOSITORY}:v2"),
                "digest_before": null, "digest_after": v2}])
    );
    let fields = serde_json::to_value(&result.changed_fields).unwrap();
    assert_eq!(
        fields,
        json!([{"container": "app", "field": "image", "from": format!("{REGISTRY}/{REPOSITORY}:v1"), "to": format!("{REGISTRY}/{REPOSITORY}:v2")}])
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
    d.ecs().fail_next("UpdateService", AwsErrorKind::Rejected, false);
    let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    assert_eq!(err.code().as_str(), "UpdateServiceFailed");
    assert_eq!(err.details()["cleanup"], "deregistered");
    assert_eq!(err.details()["task_definition"], "web:8");
    assert_eq!(mutations(&d), ["RegisterTaskDefinition", "UpdateService", "DeregisterTaskDefinition"]);
    let deregistered: Vec<_> =
        d.ecs().calls().into_iter().filter(|c| c.op == "DeregisterTaskDefinition").map(|c| c.arg).collect();
    assert_eq!(deregistered, [arn("web:8")], "only the new revision is deregistered");
    assert_eq!(d.ecs().service("web").task_definition(), Some(arn("web:7").as_str()));
}

#[tokio::test]
async fn an_update_that_timed_out_but_took_effect_is_a_deploy() {
    let d = standard();
    d.ecs().fail_next("UpdateService", AwsErrorKind::Unknown, true);
    let result = d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    assert_eq!(result.status, Status::Deployed);
    assert_eq!(mutations(&d), ["RegisterTaskDefinition", "UpdateService"]);
    let web8 = d.ecs().revisions("web").pop().unwrap();
    assert_eq!(web8.task_definition.status(), Some(&aws_sdk_ecs::types::TaskDefinitionStatus::Active));
}

#[tokio::test]
async fn an_update_that_timed_out_and_did_not_happen_is_cleaned_up() {
    let d = standard();
    d.ecs().fail_next("UpdateService", AwsErrorKind::Unknown, false);
    let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    assert_eq!(err.details()["cleanup"], "deregistered");
    assert_eq!(d.ecs().service("web").task_definition(), Some(arn("web:7").as_str()));
}

#[tokio::test]
async fn an_unknown_outcome_keeps_the_revision_and_says_so() {
    let d = standard();
    d.ecs().fail_next("UpdateService", AwsErrorKind::Unknown, false);
    // Preflight's DescribeServices succeeds; the read-back after the failed update does not.
    d.ecs().pass_next("DescribeServices");
    d.ecs().fail_next("DescribeServices", AwsErrorKind::Unknown, false);
    let result = d.deploy(request(json!({"version": "v2"}))).await;
    let err = result.unwrap_err();
    assert_eq!(err.details()["cleanup"], "kept_outcome_unknown");
    assert!(!mutations(&d).contains(&"DeregisterTaskDefinition"));
    assert!(err.to_string().contains("was kept"), "{err}");
}

#[tokio::test]
async fn a_failed_register_never_updates_the_service() {
    let d = standard();
    d.ecs().fail_next("RegisterTaskDefinition", AwsErrorKind::Throttled, false);
    let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    assert_eq!(err.code().as_str(), "AwsThrottled");
    assert_eq!(mutations(&d), ["RegisterTaskDefinition"]);
    assert_eq!(d.ecs().service("web").task_definition(), Some(arn("web:7").as_str()));
}

/// Adds service `name` running `family:1` (app at v1) to the fake.
fn add_service(fake: &FakeAws, name: &str, family: &str) {
    fake.add_service_of_family(name, family);
}

fn fan_out(services: &[&str]) -> FakeDeployer {
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
    let first_deploy_calls = d.ecs().calls().len();
    d.deploy(request(json!({"version": "v3"}))).await.unwrap();
    let calls = d.ecs().calls().split_off(first_deploy_calls);
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

/// Issue 24: a cold first deploy takes 3 rounds (preflight with the family guessed from the service's name,
/// RegisterTaskDefinition, UpdateService), not 4.
#[tokio::test]
async fn a_cold_first_deploy_guesses_the_family_from_the_service_name() {
    let fake =
        FakeAws::world(REPOSITORY, &["v1", "v2"], vec![described(7, "v1")]).with_latency(Duration::from_millis(20));
    let d = deployer(fake);
    let result = d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    assert_eq!(result.task_definition.as_deref(), Some("web:8"));
    let calls: Vec<_> = d.ecs().calls().into_iter().filter(|c| c.op != "DeleteItem").collect();
    assert_eq!(rounds(&calls), 3, "{:?}", d.ecs().ops());
    let described: Vec<_> =
        d.ecs().calls().into_iter().filter(|c| c.op == "DescribeTaskDefinition").map(|c| c.arg).collect();
    assert_eq!(described, ["web"]);
}

/// A service whose family is not named after it: the guess finds nothing, the real family is read after
/// the service, and the deploy clones that family (one call and one round more than a good guess).
#[tokio::test]
async fn a_wrong_family_guess_falls_back_to_the_family_the_service_runs() {
    let fake =
        FakeAws::world(REPOSITORY, &["v1", "v2"], vec![described(7, "v1")]).with_latency(Duration::from_millis(20));
    add_service(&fake, "api", "api-task");
    let d = deployer(fake);
    let result = d.deploy(request(json!({"version": "v2", "service": "api"}))).await.unwrap();
    assert_eq!(result.base_task_definition, "api-task:1");
    assert_eq!(result.task_definition.as_deref(), Some("api-task:2"));
    assert_eq!(d.ecs().service("api").task_definition(), Some(arn("api-task:2").as_str()));
    let described: Vec<_> =
        d.ecs().calls().into_iter().filter(|c| c.op == "DescribeTaskDefinition").map(|c| c.arg).collect();
    assert_eq!(described, ["api", "api-task"]);
    let calls: Vec<_> = d.ecs().calls().into_iter().filter(|c| c.op != "DeleteItem").collect();
    assert_eq!(rounds(&calls), 4, "{:?}", d.ecs().ops());
}

/// Issue 24: a warm repeat of the version just deployed (`already_deployed`) reads the running tasks in the
/// first round: 3 rounds (preflight with ListTasks, DescribeTasks, the lock's release).
#[tokio::test]
async fn a_warm_repeat_reads_the_running_tasks_in_the_first_round() {
    let fake =
        FakeAws::world(REPOSITORY, &["v1", "v2"], vec![described(7, "v1")]).with_latency(Duration::from_millis(20));
    let d = deployer(fake);
    let first = d.deploy(request(json!({"version": "v1"}))).await.unwrap();
    assert_eq!(first.status, Status::AlreadyDeployed);
    let before = d.ecs().calls().len();
    let again = d.deploy(request(json!({"version": "v1"}))).await.unwrap();
    assert_eq!(again.status, Status::AlreadyDeployed);
    let calls = d.ecs().calls().split_off(before);
    let first_end = calls.iter().map(|c| c.ended).min().unwrap();
    let mut first_round: Vec<_> = calls.iter().filter(|c| c.started < first_end).map(|c| c.op).collect();
    first_round.sort_unstable();
    assert_eq!(
        first_round,
        ["DescribeClusters", "DescribeImages", "DescribeServices", "DescribeTaskDefinition", "ListTasks", "PutItem"]
    );
    assert_eq!(calls.iter().filter(|c| c.op == "ListTasks").count(), 1);
    assert_eq!(rounds(&calls), 3, "{:?}", calls.iter().map(|c| c.op).collect::<Vec<_>>());
    assert_eq!(mutations(&d), Vec::<&str>::new());
}

#[tokio::test]
async fn a_service_that_changed_family_is_still_cloned_from_its_own_family() {
    let d = standard();
    d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    settle(&d);
    // Someone points the service at another family between two deploys.
    add_service(d.ecs(), "scratch", "web-next");
    {
        let mut s = d.ecs().state.lock().unwrap();
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
    let result = deploy_many(&d, request(json!({"version": "v2", "targets": targets(&services)}))).await.unwrap();
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
    let calls = d.ecs().calls();
    let first_end = calls.iter().map(|c| c.ended).min().unwrap();
    // Each target: DescribeImages, DescribeClusters, DescribeServices, DescribeTaskDefinition (its family
    // guessed from its name) and the lock.
    assert_eq!(calls.iter().filter(|c| c.started < first_end).count(), 15, "all three preflights and locks overlap");
}

#[tokio::test]
async fn targets_fail_independently_and_the_request_reports_it() {
    let d = fan_out(&["a", "b"]);
    let req = json!({"version": "v2", "targets": targets(&["a", "missing", "b"])});
    let err = d.execute(request(req), &Invocation::default()).await.unwrap_err();
    assert_eq!(err.code().as_str(), "TargetsFailed");
    assert_eq!(err.to_string(), "1 of 3 targets failed");
    let details = err.details();
    assert_eq!(details["status"], "failed");
    assert_eq!(details["targets"][0]["status"], "deployed");
    assert_eq!(details["targets"][1]["error"]["code"], "ServiceNotFound");
    assert_eq!(details["targets"][1]["service"], "missing");
    assert_eq!(details["targets"][2]["task_definition"], "b:2");
    assert_eq!(d.ecs().service("a").task_definition(), Some(arn("a:2").as_str()));
}

#[tokio::test]
async fn all_or_nothing_puts_the_deployed_targets_back() {
    let d = fan_out(&["a", "b"]);
    let req = json!({"version": "v2", "all_or_nothing": true, "targets": targets(&["a", "missing", "b"])});
    let result = deploy_many(&d, request(req)).await.unwrap();
    assert_eq!(result.status, FanOutStatus::RolledBack);
    for (name, entry) in [("a", &result.targets[0]), ("b", &result.targets[2])] {
        let TargetOutcome::Done(r) = entry else { panic!("{name} should have a result") };
        assert_eq!(r.status, Status::RolledBack);
        assert_eq!(r.task_definition.as_deref(), Some(format!("{name}:1").as_str()));
        assert_eq!(family_revision(d.ecs().service(name).task_definition().unwrap()), format!("{name}:1"));
        // The one deregistration policy: the new revision's deployment is still draining, so it is kept.
        let new = d.ecs().revisions(name).pop().unwrap();
        assert_eq!(new.task_definition.status(), Some(&aws_sdk_ecs::types::TaskDefinitionStatus::Active));
        let draining = d.ecs().service(name).deployments().iter().any(|dep| {
            dep.status() == Some("ACTIVE") && dep.task_definition() == Some(arn(&format!("{name}:2")).as_str())
        });
        assert!(draining, "{name}:2 is kept because a deployment still uses it");
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
    let result = deploy_many(&d, request(req.clone())).await.unwrap();
    assert_eq!(result.status, FanOutStatus::Deployed);
    let TargetOutcome::Done(regional) = &result.targets[1] else { panic!("regional target failed") };
    assert_eq!(regional.task_definition.as_deref(), Some("web:4"));
    let TargetOutcome::Done(home) = &result.targets[0] else { panic!("home target failed") };
    assert_eq!(home.task_definition.as_deref(), Some("web:8"), "each region has its own ECS");
    deploy_many(
        &d,
        request(json!({"version": "v1", "targets": [{"cluster": "prod", "service": "web", "region": "eu-central-1"}]})),
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
    let err = deploy_many(&d, request(req)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "InvalidRequest");
    assert!(d.ecs().ops().is_empty());
}

/// A world whose app container pulls `team/web` from `host` (which holds `there`), while the function's
/// own registry and region hold a same-named repository with `here`.
fn pulling_from(host: &str, there: &[&str], here: &[&str]) -> FakeDeployer {
    let mut td = described(7, "v1");
    let mut defs = td.task_definition.container_definitions.take().unwrap();
    defs[0].image = Some(format!("{host}/{REPOSITORY}:v1"));
    td.task_definition.container_definitions = Some(defs);
    let fake = FakeAws::world(REPOSITORY, here, vec![td]);
    let registry = crate::plan::image::EcrRegistry::parse(host).unwrap();
    fake.create_repository(&registry.account, &registry.region, REPOSITORY);
    for tag in there {
        fake.push(&registry.account, &registry.region, REPOSITORY, tag);
    }
    deployer(fake)
}

fn image_calls(d: &FakeDeployer) -> Vec<String> {
    d.ecs().calls().into_iter().filter(|c| c.op == "DescribeImages").map(|c| c.arg).collect()
}

/// Cases 1–3 of issue 11: the image is checked where the container pulls it from (another region, another
/// account, the FIPS endpoint), and the new reference keeps that host exactly.
#[tokio::test]
async fn the_image_is_checked_where_the_container_pulls_it_from() {
    for (host, account, region) in [
        ("123456789012.dkr.ecr.us-west-2.amazonaws.com", "123456789012", "us-west-2"),
        ("999999999999.dkr.ecr.eu-west-1.amazonaws.com", "999999999999", "eu-west-1"),
        ("111122223333.dkr.ecr-fips.us-east-1.amazonaws.com", "111122223333", "us-east-1"),
        ("111122223333.dkr-ecr.eu-west-1.on.aws", ACCOUNT, REGION),
    ] {
        let d = pulling_from(host, &["v1", "v2"], &["v1"]);
        let result = d.deploy(request(json!({"version": "v2"}))).await.unwrap_or_else(|e| panic!("{host}: {e}"));
        assert_eq!(result.status, Status::Deployed, "{host}");
        let wanted = format!("{account}/{region}/{REPOSITORY}:v2");
        assert!(image_calls(&d).contains(&wanted), "{host}: {:?}", image_calls(&d));
        let new = d.ecs().revisions("web").pop().unwrap();
        let app = &new.task_definition.container_definitions()[0];
        assert_eq!(app.image(), Some(format!("{host}/{REPOSITORY}:v2").as_str()), "the host is kept exactly");
        assert_eq!(
            new.task_definition.container_definitions()[1].image(),
            Some("public.ecr.aws/xray/aws-xray-daemon:3.3"),
            "the sidecar is untouched"
        );
        assert_eq!(result.containers_updated[0].digest_after, Some(d.ecs().digest(account, region, REPOSITORY, "v2")));
    }
}

/// A tag found only in a same-named repository of the function's own registry and region never lets a
/// deploy through: the error names the registry, region and repository that were checked.
#[tokio::test]
async fn a_tag_only_in_a_same_named_repository_elsewhere_is_not_found_and_registers_nothing() {
    for host in ["123456789012.dkr.ecr.us-west-2.amazonaws.com", "999999999999.dkr.ecr.eu-west-1.amazonaws.com"] {
        let d = pulling_from(host, &["v1"], &["v1", "v3"]);
        let err = d.deploy(request(json!({"version": "v3"}))).await.unwrap_err();
        assert_eq!(err.code().as_str(), "ImageNotFound", "{host}: {err}");
        let registry = crate::plan::image::EcrRegistry::parse(host).unwrap();
        assert_eq!(
            err.details(),
            json!({"registry_id": registry.account, "region": registry.region, "repository": REPOSITORY, "version": "v3"})
        );
        assert!(err.to_string().contains(&format!("registry {} in {}", registry.account, registry.region)), "{err}");
        assert!(mutations(&d).is_empty(), "{host}");
    }
    // A repository that does not exist where the container pulls from is named the same way.
    let d = pulling_from("123456789012.dkr.ecr.us-west-2.amazonaws.com", &[], &["v2"]);
    d.ecs().state.lock().unwrap().registries.retain(|(_, region, _), _| region != "us-west-2");
    let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    assert_eq!(err.code().as_str(), "RepositoryNotFound");
    assert_eq!(err.details()["region"], "us-west-2");
    assert!(mutations(&d).is_empty());
}

#[tokio::test]
async fn a_cold_start_asks_once_more_only_when_the_image_lives_elsewhere_and_a_warm_one_never() {
    let d = pulling_from("123456789012.dkr.ecr.us-west-2.amazonaws.com", &["v1", "v2", "v3"], &["v1"]);
    d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    assert_eq!(
        image_calls(&d),
        [format!("{ACCOUNT}/{REGION}/{REPOSITORY}:v2"), format!("123456789012/us-west-2/{REPOSITORY}:v2")],
        "first the caller's registry, then where the container pulls from"
    );
    settle(&d);
    let before = image_calls(&d).len();
    d.deploy(request(json!({"version": "v3"}))).await.unwrap();
    assert_eq!(image_calls(&d)[before..], [format!("123456789012/us-west-2/{REPOSITORY}:v3")], "warm: one call");
}

/// Case 5 of issue 11: an image ECR lists but does not report ACTIVE cannot be pulled: its own code, before
/// any change.
#[tokio::test]
async fn an_archived_or_restoring_image_is_refused_before_any_change() {
    for status in ["ARCHIVED", "ACTIVATING"] {
        let d = standard();
        d.ecs().set_image_status(ACCOUNT, REGION, REPOSITORY, "v2", status);
        let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
        assert_eq!(err.code().as_str(), "ImageNotPullable", "{status}");
        assert_eq!(err.code().http_status(), 409);
        assert_eq!(err.details()["image_status"], status);
        assert_eq!(err.details()["region"], REGION);
        assert!(mutations(&d).is_empty(), "{status}");
        assert!(d.ecs().state.lock().unwrap().locks.is_empty(), "{status}: the lock is released");
    }
}

/// Case 4 of issue 11: `latest` pushed again. The revision would be identical, so the service gets a new
/// deployment of the same revision, and the result shows the digest before and after.
#[tokio::test]
async fn a_tag_pushed_again_is_deployed_with_a_new_deployment_and_shows_both_digests() {
    let fake = FakeAws::world(REPOSITORY, &["v1", "latest"], vec![described(7, "latest")]);
    let d = deployer(fake);
    let old = d.ecs().digest(ACCOUNT, REGION, REPOSITORY, "latest");
    let same = d.deploy(request(json!({"version": "latest"}))).await.unwrap();
    assert_eq!(same.status, Status::AlreadyDeployed, "the tasks run what latest names");
    assert!(mutations(&d).is_empty());

    let new = d.ecs().push(ACCOUNT, REGION, REPOSITORY, "latest");
    assert_ne!(old, new);
    let dry = d.deploy(request(json!({"version": "latest", "dry_run": true}))).await.unwrap();
    assert_eq!((dry.status, dry.forced_new_deployment), (Status::DryRun, true));
    assert!(mutations(&d).is_empty());

    let calls_before = d.ecs().calls().len();
    let moved = d.deploy(request(json!({"version": "latest"}))).await.unwrap();
    assert_eq!(moved.status, Status::Deployed);
    assert!(moved.forced_new_deployment);
    assert_eq!(moved.task_definition.as_deref(), Some("web:7"), "no new revision: it would be identical");
    assert!(moved.changed_fields.is_empty());
    assert_eq!(moved.containers_updated.len(), 1);
    assert_eq!(moved.containers_updated[0].digest_before.as_deref(), Some(old.as_str()));
    assert_eq!(moved.containers_updated[0].digest_after.as_deref(), Some(new.as_str()));
    assert_eq!(d.ecs().revisions("web").len(), 1);
    let calls: Vec<(&str, String)> = d.ecs().calls()[calls_before..]
        .iter()
        .map(|c| (c.op, c.arg.clone()))
        .filter(|(op, _)| !LOCK.contains(op))
        .collect();
    let ops: Vec<&str> = calls.iter().map(|(op, _)| *op).collect();
    assert_eq!(ops[4..], ["ListTasks", "DescribeTasks", "UpdateService"]);
    assert_eq!(calls.last().unwrap().1, format!("{} (force)", arn("web:7")));

    // Once the new deployment's tasks run the new digest, the same request is already deployed.
    settle(&d);
    let again = d.deploy(request(json!({"version": "latest"}))).await.unwrap();
    assert_eq!(again.status, Status::AlreadyDeployed);
    assert_eq!(d.ecs().ops().iter().filter(|op| **op == "UpdateService").count(), 1);
}

#[tokio::test]
async fn a_moved_tag_with_another_change_registers_a_new_revision() {
    // web:8 was registered by hand with more memory; latest moved since the service's tasks started.
    let mut newer = described(8, "latest");
    newer.task_definition.memory = Some("2048".into());
    let fake = FakeAws::world(REPOSITORY, &["latest"], vec![described(7, "latest"), newer]);
    fake.push(ACCOUNT, REGION, REPOSITORY, "latest");
    let d = deployer(fake);
    let result = d.deploy(request(json!({"version": "latest"}))).await.unwrap();
    assert_eq!((result.status, result.forced_new_deployment), (Status::Deployed, false));
    assert_eq!(result.task_definition.as_deref(), Some("web:9"));
    assert!(!d.ecs().ops().contains(&"ListTasks"), "the revision changes anyway: no task is read");
}

/// Case 6 of issue 11 on the fake: a newer revision registered by hand (same image, FEATURE_X=on) ships.
#[tokio::test]
async fn a_configuration_change_registered_by_hand_ships_and_the_result_says_what_changes() {
    let mut newer = described(8, "v2");
    let mut defs = newer.task_definition.container_definitions.take().unwrap();
    defs[0].environment.get_or_insert_with(Vec::new).push(kv("FEATURE_X", "on"));
    newer.task_definition.container_definitions = Some(defs);
    let fake = FakeAws::world(REPOSITORY, &["v1", "v2"], vec![described(7, "v2"), newer]);
    let d = deployer(fake);
    let dry = d.deploy(request(json!({"version": "v2", "dry_run": true}))).await.unwrap();
    assert_eq!(dry.status, Status::DryRun);
    let changed = serde_json::to_value(&dry.changed_fields).unwrap();
    assert_eq!(changed.as_array().unwrap().len(), 1, "{changed}");
    assert_eq!(
        changed[0],
        json!({"container": "app", "field": "environment.FEATURE_X", "from": null, "to": "***"}),
        "named, its value masked as the SDK masks it"
    );

    let result = d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    assert_eq!(result.status, Status::Deployed);
    assert_eq!((result.base_task_definition.as_str(), result.task_definition.as_deref()), ("web:8", Some("web:9")));
    assert_eq!(result.changed_fields, dry.changed_fields);
    let web9 = d.ecs().revisions("web").pop().unwrap();
    let env = web9.task_definition.container_definitions()[0].environment();
    assert!(env.iter().any(|e| e.name() == Some("FEATURE_X") && e.value() == Some("on")));
}

/// Case 7 of issue 11 on the fake: a base with 49 tags still deploys, within ECS's 50.
#[tokio::test]
async fn a_base_with_49_tags_deploys_and_says_which_tag_was_left_out() {
    let mut base = described(7, "v1");
    base.tags = (0..49).map(|i| tag(&format!("team-{i}"), "x")).collect();
    let d = deployer(FakeAws::world(REPOSITORY, &["v1", "v2"], vec![base]));
    let result = d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    assert_eq!(result.status, Status::Deployed);
    let left: Vec<&str> = result.tags_left_out.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(left, ["Version"]);
    let web8 = d.ecs().revisions("web").pop().unwrap();
    assert_eq!(web8.tags.len(), 50);
    assert!((0..49).all(|i| web8.tags.iter().any(|t| t.key() == Some(format!("team-{i}").as_str()))));
    assert!(web8.tags.iter().any(|t| t.key() == Some("ecs-deployer:previous-task-definition")));
}

#[tokio::test]
async fn pin_digest_registers_the_digest_and_a_rollback_to_it_cannot_move() {
    let mut base = described(7, "v1");
    let mut defs = base.task_definition.container_definitions.take().unwrap();
    defs[0].version_consistency = None;
    base.task_definition.container_definitions = Some(defs);
    let d = deployer(FakeAws::world(REPOSITORY, &["v1", "v2"], vec![base]));
    let v2 = d.ecs().digest(ACCOUNT, REGION, REPOSITORY, "v2");
    let result = d.deploy(request(json!({"version": "v2", "pin_digest": true}))).await.unwrap();
    let pinned = format!("{REGISTRY}/{REPOSITORY}:v2@{v2}");
    assert_eq!(result.image, pinned);
    let web8 = d.ecs().revisions("web").pop().unwrap();
    assert_eq!(web8.task_definition.container_definitions()[0].image(), Some(pinned.as_str()));
    // v2 is pushed again: the pinned revision still names the old digest, and a repeat deploy of v2 pins
    // the new one.
    settle(&d);
    let moved = d.ecs().push(ACCOUNT, REGION, REPOSITORY, "v2");
    let again = d.deploy(request(json!({"version": "v2", "pin_digest": true}))).await.unwrap();
    assert_eq!(again.task_definition.as_deref(), Some("web:9"));
    assert_eq!(again.image, format!("{REGISTRY}/{REPOSITORY}:v2@{moved}"));
    assert_eq!(again.containers_updated[0].digest_before.as_deref(), Some(v2.as_str()), "read from the reference");
    assert!(!d.ecs().ops().contains(&"ListTasks"));
}

#[tokio::test]
async fn where_the_image_was_found_is_remembered_per_repository() {
    let d = standard();
    d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    // The same service, another repository: its first round asks for that repository, not the last one.
    let err = d.deploy(request(json!({"version": "v2", "repository": "team/other"}))).await.unwrap_err();
    assert_eq!(err.code().as_str(), "RepositoryNotFound", "{err}");
    assert_eq!(image_calls(&d).last().unwrap(), &format!("{ACCOUNT}/{REGION}/team/other:v2"));
}

/// A pull-through cache prefix: the container pulls `ecr-central/team/web` from its own registry, which
/// caches `team/web` of registry 999999999999 in us-west-2. The image is checked upstream, where it lives,
/// and the cache reference is kept.
#[tokio::test]
async fn an_image_behind_a_pull_through_cache_is_checked_upstream() {
    let cache = format!("{REGISTRY}/ecr-central/{REPOSITORY}");
    let mut td = described(7, "v1");
    let mut defs = td.task_definition.container_definitions.take().unwrap();
    defs[0].image = Some(format!("{cache}:v1"));
    td.task_definition.container_definitions = Some(defs);
    let fake = FakeAws::world(REPOSITORY, &["v1"], vec![td.clone()]);
    fake.push("999999999999", "us-west-2", REPOSITORY, "v2");
    let config = crate::config::Config {
        pull_through: vec![crate::plan::image::PullThrough::parse(
            "ecr-central=999999999999.dkr.ecr.us-west-2.amazonaws.com",
        )
        .unwrap()],
        ..defaults()
    };
    let d = deployer_on(fake, config);
    let result = d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    assert_eq!(result.image, format!("{cache}:v2"));
    assert!(image_calls(&d).contains(&format!("999999999999/us-west-2/{REPOSITORY}:v2")), "{:?}", image_calls(&d));

    // Without the rule, a repository under an unknown prefix is not the one deployed.
    let plain = deployer(FakeAws::world(REPOSITORY, &["v1", "v2"], vec![td]));
    let err = plain.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    assert_eq!(err.code().as_str(), "NoTargetContainer");
    assert!(mutations(&plain).is_empty());
}
