//! Issue 15 on the fake: the history of deploys and rollbacks, deploying an existing revision, and diff.

use std::time::Duration;

use aws_sdk_ecs::types::TaskDefinitionStatus;
use serde_json::{json, Value};

use contract::request::DeployRequest;

use crate::plan::family_revision;
use crate::request::Invocation;
use crate::testing::standard_deployer as deployer;
use crate::testing::*;

fn request(v: Value) -> DeployRequest {
    serde_json::from_value(v).unwrap()
}

fn inv(id: &str, budget_secs: u64) -> Invocation {
    Invocation { request_id: id.into(), budget: Duration::from_secs(budget_secs), home: Some(home()) }
}

fn running(d: &FakeDeployer) -> String {
    family_revision(d.ecs().service("web").task_definition().unwrap()).to_owned()
}

fn pass_time(d: &FakeDeployer, secs: u64) {
    d.ecs().state.lock().unwrap().now += Duration::from_secs(secs);
}

/// `(action, status, task_definition, previous, version, by)` of each history entry, newest first.
fn summary(history: &Value) -> Vec<(String, String, String, String, String, String)> {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    history["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                s(&e["action"]),
                s(&e["status"]),
                s(&e["task_definition"]),
                s(&e["previous_task_definition"]),
                s(&e["version"]),
                s(&e["by"]),
            )
        })
        .collect()
}

fn row(a: &str, st: &str, td: &str, prev: &str, v: &str, by: &str) -> (String, String, String, String, String, String) {
    (a.into(), st.into(), td.into(), prev.into(), v.into(), by.into())
}

#[tokio::test]
async fn history_tells_deploys_rollbacks_and_failures_newest_first_with_who_asked() {
    let d = deployer();
    d.ecs().push(ACCOUNT, REGION, REPOSITORY, "v3");
    let alice = "arn:aws:iam::111122223333:user/alice";
    d.execute(request(json!({"version": "v2", "wait": true, "requested_by": alice})), &inv("r1", 300)).await.unwrap();
    pass_time(&d, 60);
    d.execute(request(json!({"action": "rollback", "requested_by": "slack:U123"})), &inv("r2", 60)).await.unwrap();
    pass_time(&d, 600);
    d.ecs().rollouts([
        Rollout::CrashLoop { every: Duration::from_secs(10) },
        Rollout::Completes { after: Duration::from_secs(20) },
    ]);
    let err = d.execute(request(json!({"version": "v3", "wait": true})), &inv("r3", 600)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "RolledBack");
    pass_time(&d, 60);

    let history = d.execute(request(json!({"action": "history"})), &inv("r4", 60)).await.unwrap();
    assert_eq!(
        summary(&history),
        [
            row("deploy", "rolled_back", "web:9", "web:7", "v3", "invoke"),
            row("rollback", "rolled_back", "web:7", "web:8", "v1", "slack:U123"),
            row("deploy", "completed", "web:8", "web:7", "v2", alice),
        ],
        "{history:#}"
    );
    let failed = &history["history"][0];
    assert_eq!(failed["reason"], "3 tasks of the new revision failed to start or stay running");
    assert_eq!(failed["source"], "record");
    assert!(failed["ended_at"].is_string() && history["history"][2]["digest"].as_str().unwrap().starts_with("sha256:"));
    let limited = d.execute(request(json!({"action": "history", "limit": 1})), &inv("r5", 60)).await.unwrap();
    assert_eq!(limited["history"].as_array().unwrap().len(), 1);
    let err = d.execute(request(json!({"action": "history", "limit": 0})), &inv("r6", 60)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "InvalidRequest");
}

#[tokio::test]
async fn history_without_records_reads_the_revisions_tags() {
    let d = deployer();
    d.execute(request(json!({"version": "v2"})), &inv("r1", 60)).await.unwrap();
    d.ecs().state.lock().unwrap().history.clear();
    let history = d.execute(request(json!({"action": "history"})), &inv("r2", 60)).await.unwrap();
    // web:7 was registered by someone else (no previous-revision tag): it is no deploy of ours.
    assert_eq!(summary(&history), [row("deploy", "registered", "web:8", "web:7", "v2", "-")], "{history:#}");
    assert_eq!(history["history"][0]["source"], "tags");
}

/// Issue 23, D9: `containers` naming only a non-ECR container (the fixtures' `xray`) chose what was checked,
/// so a revision whose app image is not in ECR passed. Every private-ECR image is checked; `containers`
/// chooses only what is reported.
#[tokio::test]
async fn containers_choose_what_is_reported_never_what_is_checked() {
    let d = deployer();
    d.execute(request(json!({"version": "v2"})), &inv("r1", 60)).await.unwrap();
    assert_eq!(running(&d), "web:8");
    pass_time(&d, 600);
    // web:7's app image (v1) leaves ECR (the service runs web:8); the xray sidecar is on ECR Public.
    d.ecs().state.lock().unwrap().registries.values_mut().for_each(|i| i.retain(|i| !i.tags.contains(&"v1".into())));
    for body in [
        json!({"task_definition": "web:7", "containers": ["xray"], "dry_run": true}),
        json!({"task_definition": "web:7", "containers": ["envoy"]}),
        json!({"task_definition": "web:7", "repository": "aws-appmesh-envoy"}),
        json!({"action": "diff", "task_definition": "web:7", "containers": ["xray"]}),
    ] {
        d.ecs().state.lock().unwrap().calls.clear();
        let err = d.execute(request(body.clone()), &inv("r2", 60)).await.unwrap_err();
        assert_eq!(err.code().as_str(), "ImageNotFound", "{body}: {err}");
        assert!(!d.ecs().ops().contains(&"UpdateService"), "{body}");
    }
    // With every image there, `containers` says what the result reports.
    d.ecs().push(ACCOUNT, REGION, REPOSITORY, "v1");
    d.ecs().state.lock().unwrap().calls.clear();
    let out = d
        .execute(request(json!({"task_definition": "web:7", "containers": ["xray"], "dry_run": true})), &inv("r3", 60))
        .await
        .unwrap();
    assert_eq!(out["status"], "dry_run", "{out:#}");
    assert_eq!(out["containers_updated"], json!([]), "xray's image is not in ECR: nothing of it to report");
    let images = d.ecs().calls().iter().filter(|c| c.op == "DescribeImages").count();
    assert_eq!(images, 2, "the app's image and envoy's are both checked");
}

#[tokio::test]
async fn deploying_an_existing_revision_registers_nothing_and_checks_its_images() {
    let d = deployer();
    d.execute(request(json!({"version": "v2"})), &inv("r1", 60)).await.unwrap();
    pass_time(&d, 600);
    d.ecs().state.lock().unwrap().calls.clear();
    let out = d
        .execute(request(json!({"task_definition": "web:7", "requested_by": "slack:U1"})), &inv("r2", 60))
        .await
        .unwrap();
    assert_eq!(out["status"], "deployed", "{out:#}");
    assert_eq!(
        (out["task_definition"].as_str(), out["previous_task_definition"].as_str()),
        (Some("web:7"), Some("web:8"))
    );
    assert_eq!(out["version"], "v1");
    assert_eq!(running(&d), "web:7");
    let ops = d.ecs().ops();
    assert!(!ops.contains(&"RegisterTaskDefinition"), "{ops:?}");
    assert!(ops.contains(&"DescribeImages") && ops.contains(&"UpdateService"), "{ops:?}");

    // Again: the service runs it already.
    let again = d.execute(request(json!({"task_definition": "web:7"})), &inv("r3", 60)).await.unwrap();
    assert_eq!(again["status"], "already_deployed");

    // An image that is gone from ECR stops it before any change.
    {
        let mut s = d.ecs().state.lock().unwrap();
        s.registries.values_mut().for_each(|images| images.retain(|i| !i.tags.contains(&"v2".to_owned())));
        s.calls.clear();
    }
    let err = d.execute(request(json!({"task_definition": "web:8"})), &inv("r4", 60)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "ImageNotFound");
    assert!(!d.ecs().ops().contains(&"UpdateService"));

    // Another family, an unknown or deregistered revision, or a version beside it: refused.
    for (body, code) in [
        (json!({"task_definition": "api:1"}), "InvalidRequest"),
        (json!({"task_definition": "web:99"}), "TaskDefinitionNotFound"),
        (json!({"task_definition": "web:7", "version": "v2"}), "InvalidRequest"),
        (json!({"task_definition": "web:7", "pin_digest": true}), "InvalidRequest"),
    ] {
        let err = d.execute(request(body.clone()), &inv("r5", 60)).await.unwrap_err();
        assert_eq!(err.code().as_str(), code, "{body}");
    }
    d.ecs().state.lock().unwrap().task_definitions[0].task_definition.status = Some(TaskDefinitionStatus::Inactive);
    let err = d.execute(request(json!({"task_definition": "web:7"})), &inv("r6", 60)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "InvalidRequest");
}

#[tokio::test]
async fn a_failed_rollout_of_an_existing_revision_goes_back_and_keeps_it() {
    let d = deployer();
    d.execute(request(json!({"version": "v2"})), &inv("r1", 60)).await.unwrap();
    pass_time(&d, 600);
    d.ecs().rollouts([
        Rollout::CrashLoop { every: Duration::from_secs(10) },
        Rollout::Completes { after: Duration::from_secs(20) },
    ]);
    let err = d.execute(request(json!({"task_definition": "web:7", "wait": true})), &inv("r2", 600)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "RolledBack");
    assert_eq!(running(&d), "web:8");
    let web7 = d.ecs().revisions("web").into_iter().find(|r| r.task_definition.revision == 7).unwrap();
    assert_eq!(
        web7.task_definition.status(),
        Some(&TaskDefinitionStatus::Active),
        "the revision named is never deregistered"
    );
    assert!(!d.ecs().ops().contains(&"DeregisterTaskDefinition"));
}

#[tokio::test]
async fn diff_shows_exactly_the_environment_variable_a_newer_base_changed() {
    let mut newer = described(8, "v1");
    let app = &mut newer.task_definition.container_definitions.as_mut().unwrap()[0];
    let env = app.environment.get_or_insert_with(Vec::new);
    env.push(kv("FEATURE_FLAG", "on"));
    let d = deployer_on(FakeAws::world(REPOSITORY, &["v1", "v2"], vec![described(7, "v1"), newer]), defaults());
    let out = d.execute(request(json!({"action": "diff", "version": "v1"})), &inv("r1", 60)).await.unwrap();
    assert_eq!(out["status"], "changed", "{out:#}");
    assert_eq!(
        out["changed_fields"],
        json!([{"container": "app", "field": "environment.FEATURE_FLAG", "from": null, "to": "***"}])
    );
    assert_eq!(out["text"], "app.environment.FEATURE_FLAG: (unset) → ***");
    assert_eq!(
        (out["running_task_definition"].as_str(), out["base_task_definition"].as_str()),
        (Some("web:7"), Some("web:8"))
    );
    let mutated =
        d.ecs().ops().into_iter().any(|op| ["RegisterTaskDefinition", "UpdateService", "PutItem"].contains(&op));
    assert!(!mutated, "a diff changes nothing and takes no lock: {:?}", d.ecs().ops());

    let with_image = d.execute(request(json!({"action": "diff", "version": "v2"})), &inv("r2", 60)).await.unwrap();
    let fields: Vec<&str> =
        with_image["changed_fields"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["image", "environment.FEATURE_FLAG"]);

    let of_revision =
        d.execute(request(json!({"action": "diff", "task_definition": "web:8"})), &inv("r3", 60)).await.unwrap();
    assert_eq!(of_revision["changed_fields"], out["changed_fields"]);
    let same = d.execute(request(json!({"action": "diff", "task_definition": "web:7"})), &inv("r4", 60)).await.unwrap();
    assert_eq!((same["status"].as_str(), same["text"].as_str()), (Some("unchanged"), Some("no change")));
    let err =
        d.execute(request(json!({"action": "diff", "version": "v2", "wait": true})), &inv("r5", 60)).await.unwrap_err();
    assert_eq!(err.code().as_str(), "InvalidRequest");
}

fn deployment_event(name: &str, id: &str) -> crate::trigger::EcsDeploymentEvent {
    crate::trigger::EcsDeploymentEvent {
        origin: crate::trigger::Origin { account: ACCOUNT.into(), region: REGION.into() },
        service_arn: "arn:aws:ecs:eu-west-1:111122223333:service/prod/web".into(),
        detail: crate::trigger::EcsDeploymentDetail {
            event_name: name.into(),
            deployment_id: id.into(),
            reason: Some("tasks failed".into()),
        },
    }
}

/// Marks the service's PRIMARY deployment FAILED, created `secs` after the fixtures' revisions were registered.
fn fail_primary(d: &FakeDeployer, secs: i64) {
    let mut s = d.ecs().state.lock().unwrap();
    let svc = s.services.get_mut("web").unwrap();
    let mut deployments = svc.deployments().to_vec();
    deployments[0].rollout_state = Some(aws_sdk_ecs::types::DeploymentRolloutState::Failed);
    deployments[0].created_at = Some(aws_smithy_types::DateTime::from_secs(1_760_000_000 + secs));
    svc.deployments = Some(deployments);
}

#[tokio::test]
async fn events_record_how_an_unfollowed_deploy_ended() {
    let d = deployer();
    let out = d.execute(request(json!({"version": "v2"})), &inv("r1", 60)).await.unwrap();
    let id = out["deployment_id"].as_str().unwrap().to_owned();
    pass_time(&d, 30);
    let before = d.execute(request(json!({"action": "history"})), &inv("r2", 60)).await.unwrap();
    assert_eq!(before["history"][0]["status"], "deployed", "not followed: its end is not known yet");
    let event = deployment_event("SERVICE_DEPLOYMENT_COMPLETED", &id);
    crate::trigger::ecs_event::on_deployment_event(&d, &event, &inv("r3", 60)).await.unwrap();
    let after = d.execute(request(json!({"action": "history"})), &inv("r4", 60)).await.unwrap();
    assert_eq!(summary(&after), [row("deploy", "completed", "web:8", "web:7", "v2", "invoke")], "{after:#}");
    assert_eq!(after["history"][0]["deployment_id"], json!(id));
}

#[tokio::test]
async fn a_failed_event_of_a_redeployed_revision_goes_back_to_what_ran_before_and_keeps_it() {
    let d = deployer();
    d.execute(request(json!({"version": "v2"})), &inv("r1", 60)).await.unwrap();
    pass_time(&d, 600);
    let out = d.execute(request(json!({"task_definition": "web:7"})), &inv("r2", 60)).await.unwrap();
    let id = out["deployment_id"].as_str().unwrap().to_owned();
    // web:7 was registered an hour before this deployment began.
    fail_primary(&d, 3600);
    let event = deployment_event("SERVICE_DEPLOYMENT_FAILED", &id);
    let rolled = crate::trigger::ecs_event::on_deployment_event(&d, &event, &inv("r3", 60)).await.unwrap();
    assert_eq!(rolled["status"], "rolled_back", "{rolled:#}");
    assert_eq!(rolled["rollback"]["to"], "web:8", "the record, not web:7's own tag, says what ran before");
    assert_eq!(running(&d), "web:8");
    let web7 = d.ecs().revisions("web").into_iter().find(|r| r.task_definition.revision == 7).unwrap();
    assert_eq!(web7.task_definition.status(), Some(&TaskDefinitionStatus::Active), "never deregistered");
    let history = d.execute(request(json!({"action": "history"})), &inv("r4", 60)).await.unwrap();
    assert_eq!(history["history"][0]["status"], "rolled_back", "{history:#}");

    // Without a record, an event cannot tell what ran before a redeployed revision: it leaves it alone.
    d.ecs().state.lock().unwrap().history.clear();
    d.execute(request(json!({"task_definition": "web:7", "force": true})), &inv("r5", 60)).await.unwrap();
    let id = d.ecs().service("web").deployments()[0].id().unwrap().to_owned();
    d.ecs().state.lock().unwrap().history.clear();
    fail_primary(&d, 7200);
    let event = deployment_event("SERVICE_DEPLOYMENT_FAILED", &id);
    let left = crate::trigger::ecs_event::on_deployment_event(&d, &event, &inv("r6", 60)).await.unwrap();
    assert_eq!(left["status"], "ignored", "{left:#}");
    assert_eq!(running(&d), "web:7", "nothing was rolled back");
}

#[tokio::test]
async fn a_deploy_with_keep_cleans_up_after_itself_and_keeps_its_rollback_target() {
    let revisions = vec![described(7, "v1"), described(5, "v1"), described(6, "v1")];
    let d = deployer_on(FakeAws::world(REPOSITORY, &["v1", "v2"], revisions), defaults());
    let out = d.execute(request(json!({"version": "v2", "wait": true, "keep": 1})), &inv("r1", 300)).await.unwrap();
    assert_eq!(out["status"], "completed", "{out:#}");
    let cleanup = &out["cleanup"];
    assert_eq!(cleanup["status"], "cleaned", "{cleanup:#}");
    assert_eq!(cleanup["deregistered"], json!(["web:5", "web:6"]), "{cleanup:#}");
    let kept: Vec<&str> =
        cleanup["kept"].as_array().unwrap().iter().map(|k| k["task_definition"].as_str().unwrap()).collect();
    assert_eq!(kept, ["web:8", "web:7"], "the new revision, and the one it would roll back to");
    let active: Vec<i32> = d
        .ecs()
        .revisions("web")
        .iter()
        .filter(|r| r.task_definition.status() == Some(&TaskDefinitionStatus::Active))
        .map(|r| r.task_definition.revision)
        .collect();
    assert_eq!(active, [7, 8]);

    // A failed deploy cleans nothing up.
    d.ecs().push(ACCOUNT, REGION, REPOSITORY, "v3");
    d.ecs().rollouts([
        Rollout::CrashLoop { every: Duration::from_secs(10) },
        Rollout::Completes { after: Duration::from_secs(20) },
    ]);
    let err = d.execute(request(json!({"version": "v3", "wait": true, "keep": 1})), &inv("r2", 600)).await.unwrap_err();
    assert!(err.details().get("cleanup").is_none(), "{}", err.details());
    assert!(d
        .ecs()
        .revisions("web")
        .iter()
        .any(|r| r.task_definition.revision == 7 && r.task_definition.status() == Some(&TaskDefinitionStatus::Active)));
}

#[tokio::test]
async fn answer_within_bounds_a_cleanup_and_it_says_what_remains() {
    let mut revisions = vec![described(20, "v1")];
    revisions.extend((1..20).map(|r| described(r, "v1")));
    let d = deployer_on(FakeAws::world(REPOSITORY, &["v1", "v2"], revisions), defaults());
    // 14 s to answer, 10 of them kept back to answer: 4 s of deregistrations, one a second.
    let out = d
        .execute(request(json!({"action": "cleanup", "keep": 1, "answer_within": 14})), &inv("r1", 900))
        .await
        .unwrap();
    assert_eq!(out["status"], "partial", "{out:#}");
    let gone = out["deregistered"].as_array().unwrap().len();
    assert!((3..=5).contains(&gone), "{out:#}");
    assert_eq!(out["remaining"].as_u64().unwrap() as usize, 19 - gone, "{out:#}");
    let err = d.execute(request(json!({"action": "cleanup", "keep": 1, "answer_within": 0})), &inv("r2", 900)).await;
    assert_eq!(err.unwrap_err().code().as_str(), "InvalidRequest");
}

/// The revisions `cleanup` kept, each with its reasons as `reason by`.
fn kept_reasons(out: &Value) -> Vec<(String, Vec<String>)> {
    out["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let reasons = k["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| format!("{} {}", r["reason"].as_str().unwrap(), r["by"].as_str().unwrap_or("-")))
                .collect();
            (k["task_definition"].as_str().unwrap().to_owned(), reasons)
        })
        .collect()
}

/// Issue 23, D5: after `{"task_definition": "web:7"}` from `web:9`, the history records `web:9` as what ran
/// before; `web:7`'s tag says nothing of it (the fixture's `web:7` was registered by hand). Cleanup keeps
/// `web:9` as the rollback target, and `rollback` without `to` goes back to it.
#[tokio::test]
async fn a_task_definition_deploy_records_what_ran_before_and_cleanup_and_rollback_honour_it() {
    let d = deployer();
    d.ecs().push(ACCOUNT, REGION, REPOSITORY, "v3");
    d.execute(request(json!({"version": "v2", "wait": true})), &inv("r1", 300)).await.unwrap();
    pass_time(&d, 600);
    d.execute(request(json!({"version": "v3", "wait": true})), &inv("r2", 300)).await.unwrap();
    pass_time(&d, 600);
    assert_eq!(running(&d), "web:9");
    let out = d.execute(request(json!({"task_definition": "web:7", "wait": true})), &inv("r3", 300)).await.unwrap();
    assert_eq!((out["status"].as_str(), running(&d).as_str()), (Some("completed"), "web:7"), "{out:#}");
    pass_time(&d, 60);
    let history = d.execute(request(json!({"action": "history", "limit": 1})), &inv("r4", 60)).await.unwrap();
    assert_eq!(summary(&history), [row("deploy", "completed", "web:7", "web:9", "v1", "invoke")], "{history:#}");

    let dry = json!({"action": "cleanup", "keep": 1, "dry_run": true});
    let out = d.execute(request(dry), &inv("r5", 60)).await.unwrap();
    assert_eq!(out["deregistered"], json!(["web:8"]), "{out:#}");
    let kept = kept_reasons(&out);
    assert!(kept.contains(&("web:9".into(), vec!["newest -".into(), "rollback_target web:7".into()])), "{kept:?}");

    // keep 1 with a newer revision registered by hand: web:9 is no longer the newest, the record still keeps it.
    d.ecs().state.lock().unwrap().task_definitions.push(described(10, "v3"));
    let out = d.execute(request(json!({"action": "cleanup", "keep": 1})), &inv("r6", 60)).await.unwrap();
    assert_eq!(out["deregistered"], json!(["web:8"]), "{out:#}");
    assert!(kept_reasons(&out).contains(&("web:9".into(), vec!["rollback_target web:7".into()])), "{out:#}");

    let out = d.execute(request(json!({"action": "rollback"})), &inv("r7", 60)).await.unwrap();
    assert_eq!((out["from"].as_str(), out["to"].as_str()), (Some("web:7"), Some("web:9")), "{out:#}");
    assert_eq!(running(&d), "web:9");
}

/// Issue 23, D6: a forced rollback raced a cleanup and landed on a revision the cleanup deregistered a
/// moment later. Every rollback takes the service's lock (`force` too): while a cleanup holds it, the
/// rollback is refused and changes nothing.
#[tokio::test]
async fn a_forced_rollback_waits_for_no_cleanup_it_is_refused_while_one_holds_the_lock() {
    let d = deployer();
    d.ecs().push(ACCOUNT, REGION, REPOSITORY, "v3");
    d.execute(request(json!({"version": "v2"})), &inv("r1", 60)).await.unwrap();
    pass_time(&d, 600);
    d.execute(request(json!({"version": "v3"})), &inv("r2", 60)).await.unwrap();
    pass_time(&d, 600);
    for r in 10..=12 {
        d.ecs().state.lock().unwrap().task_definitions.push(described(r, "v3"));
    }
    assert_eq!(running(&d), "web:9");
    let c1 = inv("c1", 60);
    let cleanup = d.execute(request(json!({"action": "cleanup", "keep": 1})), &c1);
    let rollback = async {
        // Once the cleanup has deregistered its first revision, it still holds the lock.
        while !d.ecs().ops().contains(&"DeregisterTaskDefinition") {
            tokio::task::yield_now().await;
        }
        d.execute(request(json!({"action": "rollback", "to": "web:8", "force": true})), &inv("rb", 60)).await
    };
    let (cleaned, rolled) = tokio::join!(cleanup, rollback);
    let err = rolled.unwrap_err();
    assert_eq!(err.code().as_str(), "DeploymentInProgress", "{err}");
    let cleaned = cleaned.unwrap();
    assert_eq!(cleaned["status"], "cleaned", "{cleaned:#}");
    assert_eq!(running(&d), "web:9", "the refused rollback changed nothing");
    let statuses: Vec<(String, bool)> = d
        .ecs()
        .revisions("web")
        .iter()
        .map(|r| (describe(r), r.task_definition.status() == Some(&TaskDefinitionStatus::Active)))
        .collect();
    assert!(statuses.contains(&("web:9".into(), true)), "{statuses:?}");
}

fn describe(d: &crate::ports::DescribedTaskDefinition) -> String {
    crate::plan::describe_name(&d.task_definition)
}

/// Issue 23, D10: `canary` runs `web`'s family; a deploy to it registered `web:8`. `web`'s history (its
/// records gone, so tags fill in) shows only what is known to be `web`'s, never `canary`'s deploy.
#[tokio::test]
async fn history_from_tags_shows_only_this_service_s_revisions() {
    let d = deployer();
    d.ecs().add_service("canary", "web:7");
    d.execute(request(json!({"version": "v2", "service": "canary"})), &inv("r1", 60)).await.unwrap();
    pass_time(&d, 60);
    assert_eq!(running(&d), "web:7");
    let history = d.execute(request(json!({"action": "history", "limit": 50})), &inv("r2", 60)).await.unwrap();
    assert_eq!(summary(&history), Vec::<(String, String, String, String, String, String)>::new(), "{history:#}");
    let canary = d.execute(request(json!({"action": "history", "service": "canary"})), &inv("r3", 60)).await.unwrap();
    assert_eq!(summary(&canary), [row("deploy", "deployed", "web:8", "web:7", "v2", "invoke")], "{canary:#}");

    // Without records, canary's deploy still tells its story there (canary runs web:8), never on web.
    d.ecs().state.lock().unwrap().history.clear();
    let history = d.execute(request(json!({"action": "history"})), &inv("r4", 60)).await.unwrap();
    assert!(summary(&history).is_empty(), "{history:#}");
    let canary = d.execute(request(json!({"action": "history", "service": "canary"})), &inv("r5", 60)).await.unwrap();
    assert_eq!(summary(&canary), [row("deploy", "registered", "web:8", "web:7", "v2", "-")], "{canary:#}");
}
