//! Issue 15 against the local AWS, through the real SDK: the history of deploys, rollbacks and failures
//! (records in the lock table's history index, and revisions' tags when there are none), deploying an
//! existing revision, and diff. Each test starts its own world.

use std::time::Duration;

use contract::request::DeployRequest;
use deployer::pipeline::Deployer;
use deployer::ports::SdkEcs;
use deployer::request::Invocation;
use deployer_tests::{World, REGION};
use serde_json::{json, Value};

fn request(value: Value) -> DeployRequest {
    serde_json::from_value(value).expect("a valid request")
}

fn invocation(id: &str, budget_secs: u64) -> Invocation {
    Invocation { request_id: id.into(), budget: Duration::from_secs(budget_secs), home: None }
}

/// `(action, status, task_definition, previous_task_definition, version, by)` of each entry, newest first.
fn summary(history: &Value) -> Vec<[String; 6]> {
    let s = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let entries = history["history"].as_array().unwrap_or_else(|| panic!("no history: {history}"));
    entries
        .iter()
        .map(|e| {
            [
                s(&e["action"]),
                s(&e["status"]),
                s(&e["task_definition"]),
                s(&e["previous_task_definition"]),
                s(&e["version"]),
                s(&e["by"]),
            ]
        })
        .collect()
}

fn row(fields: [&str; 6]) -> [String; 6] {
    fields.map(str::to_owned)
}

#[tokio::test]
async fn history_records_a_deploy_a_rollback_and_a_failed_deploy_with_who_asked() {
    let world = World::stepped().await;
    world.push_image("v3-broken").await;
    let deployer = world.deployer();
    let alice = "arn:aws:iam::123456789012:user/alice";
    deployer
        .execute(request(json!({"version": "v2", "wait": true, "requested_by": alice})), &invocation("r1", 90))
        .await
        .expect("v2 completes");
    // Records are ordered by their start, to the millisecond.
    tokio::time::sleep(Duration::from_millis(5)).await;
    deployer
        .execute(
            request(json!({"action": "rollback", "wait": true, "requested_by": "slack:U42"})),
            &invocation("r2", 90),
        )
        .await
        .expect("the rollback completes");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let err = deployer
        .execute(request(json!({"version": "v3-broken", "wait": true})), &invocation("r3", 90))
        .await
        .expect_err("the broken version fails");
    assert_eq!(err.code().as_str(), "RolledBack", "{err}");

    let history = deployer.execute(request(json!({"action": "history"})), &invocation("r4", 30)).await.unwrap();
    assert_eq!(
        summary(&history),
        [
            row(["deploy", "rolled_back", "web:3", "web:1", "v3-broken", "invoke"]),
            // web:1 was registered by the world, not the deployer: it has no Version tag.
            row(["rollback", "rolled_back", "web:1", "web:2", "-", "slack:U42"]),
            row(["deploy", "completed", "web:2", "web:1", "v2", alice]),
        ],
        "{history:#}"
    );
    let newest = &history["history"][0];
    assert!(newest["reason"].as_str().unwrap_or_default().contains("tasks of the new revision failed"), "{newest}");
    assert!(newest["ended_at"].is_string() && newest["deployment_id"].is_string(), "{newest}");
    assert!(history["history"][2]["digest"].as_str().unwrap_or_default().starts_with("sha256:"));
    let items = world.history_items().await;
    assert_eq!(items.len(), 3, "one record per deploy and rollback: {items:?}");
    assert!(items.iter().all(|(_, expires)| *expires > 80 * 86_400), "a time to live of DEPLOY_HISTORY_DAYS");
}

#[tokio::test]
async fn without_records_the_history_is_read_from_the_revisions_tags() {
    let world = World::stepped().await;
    // No lock table, so no records: what is left is what the registered revisions carry.
    let deployer = Deployer::new(SdkEcs::new(&world.config), world.defaults(), REGION);
    deployer.execute(request(json!({"version": "v2"})), &invocation("r1", 30)).await.expect("deploy");
    let history = deployer.execute(request(json!({"action": "history"})), &invocation("r2", 30)).await.unwrap();
    assert_eq!(summary(&history), [row(["deploy", "registered", "web:2", "web:1", "v2", "-"])], "{history:#}");
    assert_eq!(history["history"][0]["source"], "tags");
}

#[tokio::test]
async fn deploying_an_existing_revision_registers_nothing() {
    let world = World::stepped().await;
    let deployer = world.deployer();
    deployer.execute(request(json!({"version": "v2", "wait": true})), &invocation("r1", 90)).await.expect("v2");
    let before = world.revisions().await;
    let out = deployer
        .execute(request(json!({"task_definition": "web:1", "wait": true})), &invocation("r2", 90))
        .await
        .expect("web:1 rolls out");
    assert_eq!(out["status"], "completed", "{out:#}");
    assert_eq!((out["task_definition"].as_str(), out["version"].as_str()), (Some("web:1"), Some("v1")));
    assert_eq!(world.revisions().await, before, "nothing was registered");
    assert_eq!(world.settle("web").await.1, "web:1");
    let (web2, _) = world.task_definition("web:2").await;
    assert_eq!(web2.status().map(|s| s.as_str()), Some("ACTIVE"));
}

#[tokio::test]
async fn diff_of_a_base_whose_newer_revision_changed_one_variable_shows_exactly_that() {
    let world = World::stepped().await;
    let by_hand = world
        .register_by_hand(|td, _| {
            let app = td.container_definitions.as_mut().unwrap().iter_mut().find(|c| c.name() == Some("app")).unwrap();
            app.environment
                .get_or_insert_with(Vec::new)
                .push(aws_sdk_ecs::types::KeyValuePair::builder().name("FEATURE_X").value("on").build());
        })
        .await;
    assert_eq!(by_hand, "web:2");
    let deployer = world.deployer();
    let out =
        deployer.execute(request(json!({"action": "diff", "version": "v1"})), &invocation("r1", 30)).await.unwrap();
    assert_eq!(out["status"], "changed", "{out:#}");
    assert_eq!(
        out["changed_fields"],
        json!([{"container": "app", "field": "environment.FEATURE_X", "from": null, "to": "***"}])
    );
    assert_eq!(out["text"], "app.environment.FEATURE_X: (unset) → ***");
    assert_eq!(
        (out["running_task_definition"].as_str(), out["base_task_definition"].as_str()),
        (Some("web:1"), Some("web:2"))
    );
    assert_eq!(world.revisions().await, ["web:1", "web:2"], "a diff registers nothing");
    assert_eq!(world.running().await.0.revision(), 1, "and updates nothing");
    assert!(world.history_items().await.is_empty(), "and records nothing");
}
