//! `cleanup` through the real AWS SDK against the local AWS (moto, with tests/localaws's ListTaskDefinitions
//! that sorts and filters as ECS does). A world that cannot start fails the test: nothing here is skipped.

use aws_sdk_ecs::types::{LaunchType, Tag, TaskDefinitionStatus};
use contract::request::DeployRequest;
use deployer::request::Invocation;
use deployer_tests::World;
use serde_json::{json, Value};

const PREVIOUS_TAG: &str = "ecs-deployer:previous-task-definition";

fn request(value: Value) -> DeployRequest {
    serde_json::from_value(value).expect("a valid request")
}

/// Every revision of family `web` with its status, by revision number.
async fn statuses(world: &World) -> Vec<(i32, String)> {
    let mut all = Vec::new();
    for status in [TaskDefinitionStatus::Active, TaskDefinitionStatus::Inactive] {
        let out = world
            .ecs
            .list_task_definitions()
            .family_prefix("web")
            .status(status.clone())
            .send()
            .await
            .expect("list task definitions");
        for arn in out.task_definition_arns() {
            let revision = arn.rsplit(':').next().unwrap().parse().unwrap();
            all.push((revision, status.as_str().to_owned()));
        }
    }
    all.sort();
    all
}

async fn active(world: &World) -> Vec<i32> {
    statuses(world).await.into_iter().filter(|(_, s)| s == "ACTIVE").map(|(r, _)| r).collect()
}

fn kept(answer: &Value) -> Vec<(String, Vec<String>)> {
    answer["kept"]
        .as_array()
        .expect("kept")
        .iter()
        .map(|k| {
            let reasons = k["reasons"].as_array().unwrap().iter().map(|r| r["reason"].as_str().unwrap().to_owned());
            (k["task_definition"].as_str().unwrap().to_owned(), reasons.collect())
        })
        .collect()
}

/// `web:1`..`web:8`: the service runs `web:4`, recorded to roll back to `web:2`; service `worker` runs `web:3`;
/// EventBridge rule `nightly` starts `web:1` in the cluster.
async fn busy_world() -> World {
    let world = World::stepped().await;
    let mut names = vec!["web:1".to_owned()];
    for n in 2..=8 {
        let name = world
            .register_by_hand(|_, tags| {
                tags.retain(|t| t.key() != Some(PREVIOUS_TAG));
                if n == 4 {
                    tags.push(Tag::builder().key(PREVIOUS_TAG).value("web:2").build());
                }
            })
            .await;
        names.push(name);
    }
    assert_eq!(names, (1..=8).map(|n| format!("web:{n}")).collect::<Vec<_>>());
    let cluster = world.shape.cluster.clone();
    world
        .ecs
        .update_service()
        .cluster(&cluster)
        .service("web")
        .task_definition("web:4")
        .send()
        .await
        .expect("put web on web:4");
    world
        .ecs
        .create_service()
        .cluster(&cluster)
        .service_name("worker")
        .task_definition("web:3")
        .desired_count(1)
        .launch_type(LaunchType::Fargate)
        .network_configuration(world.network_configuration())
        .send()
        .await
        .expect("create worker");
    let cluster_arn =
        world.ecs.describe_clusters().clusters(&cluster).send().await.expect("describe cluster").clusters()[0]
            .cluster_arn()
            .expect("cluster ARN")
            .to_owned();
    let (web1, _) = world.task_definition("web:1").await;
    let events = aws_sdk_eventbridge::Client::new(&world.config);
    events.put_rule().name("nightly").schedule_expression("cron(0 3 * * ? *)").send().await.expect("put rule");
    events
        .put_targets()
        .rule("nightly")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("report")
                .arn(&cluster_arn)
                .role_arn("arn:aws:iam::123456789012:role/events-ecs")
                .ecs_parameters(
                    aws_sdk_eventbridge::types::EcsParameters::builder()
                        .task_definition_arn(web1.task_definition_arn().unwrap())
                        .launch_type(aws_sdk_eventbridge::types::LaunchType::Fargate)
                        .task_count(1)
                        .build()
                        .expect("ECS parameters"),
                )
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("put targets");
    let (_, running) = world.settle("web").await;
    assert_eq!(running, "web:4");
    world.settle("worker").await;
    world
}

fn expected_kept() -> Vec<(String, Vec<String>)> {
    let k = |rev: &str, reasons: &[&str]| (rev.to_owned(), reasons.iter().map(|r| (*r).to_owned()).collect());
    vec![
        k("web:8", &["newest"]),
        k("web:7", &["newest"]),
        k("web:4", &["deployment", "task"]),
        k("web:3", &["task", "other_service"]),
        k("web:2", &["rollback_target"]),
        k("web:1", &["scheduled_task"]),
    ]
}

#[tokio::test]
async fn cleanup_keeps_what_is_in_use_and_dry_run_changes_nothing() {
    let world = busy_world().await;
    let deployer = world.deployer();
    let inv = Invocation::default();
    let before = statuses(&world).await;

    let dry = deployer
        .execute(request(json!({"action": "cleanup", "keep": 2, "dry_run": true})), &inv)
        .await
        .expect("dry run");
    assert_eq!(dry["status"], "dry_run");
    assert_eq!(dry["family"], "web");
    assert_eq!(dry["deregistered"], json!(["web:5", "web:6"]));
    assert_eq!(kept(&dry), expected_kept());
    assert_eq!(statuses(&world).await, before, "a dry run changes no revision");

    let done = deployer.execute(request(json!({"action": "cleanup", "keep": 2})), &inv).await.expect("cleanup");
    assert_eq!(done["status"], "cleaned", "{done}");
    assert_eq!(done["deregistered"], json!(["web:5", "web:6"]));
    assert_eq!(kept(&done), expected_kept());
    assert_eq!(active(&world).await, [1, 2, 3, 4, 7, 8]);
    let rollback = &done["kept"].as_array().unwrap()[4];
    assert_eq!(rollback["reasons"][0]["by"], "web:4");
    let scheduled = &done["kept"].as_array().unwrap()[5];
    assert_eq!(scheduled["reasons"][0]["by"], "nightly");

    // A second run finds nothing more to do.
    let again = deployer.execute(request(json!({"action": "cleanup", "keep": 2})), &inv).await.expect("again");
    assert_eq!(again["deregistered"], json!([]));
}

#[tokio::test]
async fn delete_inactive_deletes_only_unused_inactive_revisions() {
    let world = busy_world().await;
    let deployer = world.deployer();
    let inv = Invocation::default();
    deployer.execute(request(json!({"action": "cleanup", "keep": 2})), &inv).await.expect("cleanup");
    // worker keeps running web:3 after someone deregisters it: it must not be deleted.
    world.ecs.deregister_task_definition().task_definition("web:3").send().await.expect("deregister web:3");

    let dry = deployer
        .execute(request(json!({"action": "cleanup", "keep": 2, "delete_inactive": true, "dry_run": true})), &inv)
        .await
        .expect("dry run");
    let mut would: Vec<String> =
        dry["deleted"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect();
    would.sort();
    assert_eq!(would, ["web:5", "web:6"]);
    assert_eq!(statuses(&world).await.len(), 8, "a dry run deletes nothing");

    let done = deployer
        .execute(request(json!({"action": "cleanup", "keep": 2, "delete_inactive": true})), &inv)
        .await
        .expect("cleanup with delete_inactive");
    assert_eq!(done["status"], "cleaned", "{done}");
    let mut deleted: Vec<String> =
        done["deleted"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_owned()).collect();
    deleted.sort();
    assert_eq!(deleted, ["web:5", "web:6"]);
    assert_eq!(done["kept_inactive"][0]["task_definition"], "web:3");
    assert_eq!(
        statuses(&world).await,
        [
            (1, "ACTIVE".to_owned()),
            (2, "ACTIVE".to_owned()),
            (3, "INACTIVE".to_owned()),
            (4, "ACTIVE".to_owned()),
            (7, "ACTIVE".to_owned()),
            (8, "ACTIVE".to_owned()),
        ]
    );
}
