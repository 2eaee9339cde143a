//! The deployer through the real AWS SDK against a local AWS (moto). Each test starts its own world.

use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinition};
use contract::request::DeployRequest;
use contract::result::Status;
use deployer::request::Invocation;
use deployer_tests::{Shape, World, REGION};
use serde_json::json;

fn request(value: serde_json::Value) -> DeployRequest {
    serde_json::from_value(value).expect("a valid request")
}

fn container<'a>(td: &'a TaskDefinition, name: &str) -> &'a ContainerDefinition {
    td.container_definitions().iter().find(|c| c.name() == Some(name)).expect("container")
}

/// The fields a revision may differ in from the one it was cloned from: who ECS says it is.
fn without_identity(td: &TaskDefinition) -> TaskDefinition {
    let mut td = td.clone();
    td.task_definition_arn = None;
    td.revision = 0;
    td.registered_at = None;
    td.registered_by = None;
    td
}

fn tag_value<'a>(tags: &'a [aws_sdk_ecs::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

#[tokio::test]
async fn deploying_v2_puts_the_service_on_a_faithful_clone() {
    let world = World::start().await;
    let (base, _) = world.running().await;

    let result = world.deployer().deploy(request(json!({"version": "v2"}))).await.expect("deploy");
    assert_eq!(result.status, Status::Deployed);
    assert_eq!(result.task_definition.as_deref(), Some("web:2"));
    assert_eq!(result.previous_task_definition, "web:1");
    assert_eq!(result.base_task_definition, "web:1");
    assert_eq!(result.image, format!("{}:v2", world.repository_uri));

    let (running, tags) = world.running().await;
    assert_eq!(deployer::plan::describe_name(&running), "web:2", "the service runs the new revision");
    assert_eq!(container(&running, "app").image(), Some(format!("{}:v2", world.repository_uri).as_str()));
    assert_eq!(container(&running, "xray"), container(&base, "xray"), "the sidecar is untouched");

    let mut expected = without_identity(&base);
    let app = expected.container_definitions.as_mut().unwrap().iter_mut().find(|c| c.name() == Some("app")).unwrap();
    app.image = Some(format!("{}:v2", world.repository_uri));
    assert_eq!(without_identity(&running), expected, "every other field equals the base");
    let env = container(&running, "app").environment();
    assert!(env.iter().any(|e| e.name() == Some("FEATURE_FLAG") && e.value() == Some("")));

    assert_eq!(tag_value(&tags, "team"), Some("payments"));
    assert_eq!(tag_value(&tags, "cost-center"), Some("42"));
    assert_eq!(tag_value(&tags, "Version"), Some("v2"));
    assert_eq!(tag_value(&tags, "ecs-deployer:previous-task-definition"), Some("web:1"));
}

#[tokio::test]
async fn deploying_the_running_version_again_registers_nothing() {
    let world = World::start().await;
    let deployer = world.deployer();
    deployer.deploy(request(json!({"version": "v2"}))).await.expect("first deploy");
    let again = deployer.deploy(request(json!({"version": "v2"}))).await.expect("repeat deploy");
    assert_eq!(again.status, Status::AlreadyDeployed);
    assert_eq!(again.task_definition.as_deref(), Some("web:2"));
    assert_eq!(world.revisions().await, ["web:1", "web:2"]);
}

#[tokio::test]
async fn refusals_name_the_problem_and_register_nothing() {
    let world = World::start().await;
    let deployer = world.deployer();
    for (req, code) in [
        (json!({"version": "v9"}), "ImageNotFound"),
        (json!({"version": "v2", "cluster": "nope"}), "ClusterNotFound"),
        (json!({"version": "v2", "service": "nope"}), "ServiceNotFound"),
        (json!({"version": "v2", "repository": "nope"}), "RepositoryNotFound"),
        (json!({"version": "v2:latest"}), "InvalidVersion"),
        (json!({"version": "v2", "containers": ["worker"]}), "NoTargetContainer"),
    ] {
        let err = deployer.deploy(request(req.clone())).await.expect_err("a refusal");
        assert_eq!(err.code().as_str(), code, "{req}: {err}");
    }
    let err = deployer.deploy(request(json!({"version": "v9", "cluster": "nope"}))).await.unwrap_err();
    assert_eq!(err.details()["failures"].as_array().map(Vec::len), Some(2), "both failures are reported: {err}");
    assert!(err.to_string().contains("image v9 not found in ECR repository web"), "{err}");
    assert_eq!(world.revisions().await, ["web:1"]);
    assert_eq!(deployer::plan::describe_name(&world.running().await.0), "web:1");
}

#[tokio::test]
async fn dry_run_registers_nothing() {
    let world = World::start().await;
    let result = world.deployer().deploy(request(json!({"version": "v2", "dry_run": true}))).await.unwrap();
    assert_eq!(result.status, Status::DryRun);
    assert_eq!(result.containers_updated[0].to, format!("{}:v2", world.repository_uri));
    assert_eq!(world.revisions().await, ["web:1"]);
}

#[tokio::test]
async fn a_digest_pins_the_exact_image() {
    let world = World::start().await;
    let digest = world.push_image("v3").await;
    let result = world.deployer().deploy(request(json!({"version": digest}))).await.unwrap();
    assert_eq!(result.status, Status::Deployed);
    let (running, tags) = world.running().await;
    assert_eq!(container(&running, "app").image(), Some(format!("{}@{digest}", world.repository_uri).as_str()));
    assert_eq!(tag_value(&tags, "Version"), Some(digest.as_str()));
}

#[tokio::test]
async fn a_differently_shaped_world_is_deployed_just_as_correctly() {
    let world = World::start_with(Shape {
        cluster: "payments-prod".into(),
        service: "ledger-api".into(),
        family: "ledger".into(),
        repository: "payments/ledger/api".into(),
        app_container: "api".into(),
        sidecars: vec![
            ("datadog-agent".into(), "docker.io/datadog/agent:7".into()),
            ("envoy".into(), "840364872350.dkr.ecr.us-east-1.amazonaws.com/aws-appmesh-envoy:v1.29.6.0-prod".into()),
            ("log-router".into(), "localhost:5000/payments/ledger/api:fluent".into()),
        ],
        extra_fields: true,
        app_image: None,
    })
    .await;
    let (base, _) = world.running().await;
    let result = world.deployer().deploy(request(json!({"version": "v2"}))).await.unwrap();
    assert_eq!(result.task_definition.as_deref(), Some("ledger:2"));
    assert_eq!(result.containers_updated.len(), 1, "{:?}", result.containers_updated);

    let (running, _) = world.running().await;
    let mut expected = without_identity(&base);
    let api = expected.container_definitions.as_mut().unwrap().iter_mut().find(|c| c.name() == Some("api")).unwrap();
    api.image = Some(format!("{}:v2", world.repository_uri));
    assert_eq!(without_identity(&running), expected);
    assert!(running.volumes().iter().any(|v| v.name() == Some("scratch")));
    assert!(container(&running, "api").health_check().is_some());
}

#[tokio::test]
async fn one_request_deploys_many_services_and_all_or_nothing_undoes_a_partial_one() {
    let world = World::start().await;
    for name in ["svc-a", "svc-b"] {
        world.add_service(name, name).await;
    }
    let deployer = world.deployer();
    let targets = json!([
        {"cluster": "demo", "service": "web"},
        {"cluster": "demo", "service": "svc-a"},
        {"cluster": "demo", "service": "svc-b"},
    ]);
    let result = deployer
        .execute(request(json!({"version": "v2", "targets": targets})), &Invocation::default())
        .await
        .expect("fan-out");
    assert_eq!(result["status"], "deployed");
    let names: Vec<_> = result["targets"].as_array().unwrap().iter().map(|t| t["task_definition"].clone()).collect();
    assert_eq!(names, [json!("web:2"), json!("svc-a:2"), json!("svc-b:2")]);
    for (service, expected) in [("web", "web:2"), ("svc-a", "svc-a:2"), ("svc-b", "svc-b:2")] {
        assert_eq!(deployer::plan::describe_name(&world.running_in(service).await.0), expected);
    }

    // v1 everywhere, but one target does not exist: the two that were deployed are put back on v2's revision.
    let partial = json!({"version": "v1", "all_or_nothing": true, "targets": [
        {"cluster": "demo", "service": "svc-a"},
        {"cluster": "demo", "service": "nope"},
        {"cluster": "demo", "service": "svc-b"},
    ]});
    let err = deployer.execute(request(partial), &Invocation::default()).await.expect_err("one target is missing");
    assert_eq!(err.code().as_str(), "TargetsFailed");
    let details = err.details();
    assert_eq!(details["status"], "rolled_back");
    assert_eq!(details["targets"][0]["status"], "rolled_back");
    assert_eq!(details["targets"][1]["error"]["code"], "ServiceNotFound");
    for (service, expected) in [("svc-a", "svc-a:2"), ("svc-b", "svc-b:2")] {
        assert_eq!(deployer::plan::describe_name(&world.running_in(service).await.0), expected, "{service}");
        // The one deregistration policy: svc-x:3 is deregistered only once no deployment uses it, and its
        // deployment is still draining right after the rollback.
        let (undone, _) = world.task_definition(&format!("{service}:3")).await;
        let svc = world.ecs.describe_services().cluster("demo").services(service).send().await.expect("describe");
        let in_use = svc.services()[0].deployments().iter().any(|d| {
            d.task_definition().is_some_and(|td| td.ends_with(&format!("/{service}:3")))
                && d.status() != Some("INACTIVE")
        });
        let status = undone.status().map(|s| s.as_str());
        assert_eq!(status, Some(if in_use { "ACTIVE" } else { "INACTIVE" }), "{service}:3 (in use: {in_use})");
    }
}

#[tokio::test]
async fn the_lock_lives_in_dynamodb_with_a_lease() {
    use deployer::ports::{Lock, LockState};
    use std::time::Duration;
    let world = World::start().await;
    let aws = world.lock();
    let key = "us-east-1/demo/web";
    assert_eq!(aws.acquire(key, "req-a", Duration::from_secs(60)).await.unwrap(), LockState::Acquired);
    let LockState::HeldBy { holder, since } = aws.acquire(key, "req-b", Duration::from_secs(60)).await.unwrap() else {
        panic!("a held lock is refused")
    };
    assert_eq!(holder, "req-a");
    assert!(since.ends_with('Z'), "since is a timestamp: {since}");
    // Only the holder may release it.
    aws.release(key, "req-b").await.unwrap();
    assert!(matches!(aws.acquire(key, "req-b", Duration::from_secs(60)).await.unwrap(), LockState::HeldBy { .. }));
    aws.release(key, "req-a").await.unwrap();
    assert_eq!(aws.acquire(key, "req-b", Duration::ZERO).await.unwrap(), LockState::Acquired);
    // A holder that died loses the lock when its lease runs out.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(aws.acquire(key, "req-c", Duration::from_secs(60)).await.unwrap(), LockState::Acquired);

    // A deploy while req-c holds the lock is refused, naming the holder, and changes nothing.
    let err = world.deployer().deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    assert_eq!(err.code().as_str(), "DeploymentInProgress");
    assert!(err.to_string().contains("req-c"), "{err}");
    assert_eq!(world.revisions().await, ["web:1"]);
    aws.release(key, "req-c").await.unwrap();
    world.deployer().deploy(request(json!({"version": "v2"}))).await.expect("deploys once the lock is free");
    assert_eq!(aws.acquire(key, "req-d", Duration::from_secs(60)).await.unwrap(), LockState::Acquired, "released");
}

#[tokio::test]
async fn rollback_and_status_actions_against_moto() {
    let world = World::start().await;
    let deployer = world.deployer();
    let inv = Invocation::default();
    deployer.execute(request(json!({"version": "v2"})), &inv).await.unwrap();
    let status = deployer.execute(request(json!({"action": "status"})), &inv).await.unwrap();
    assert_eq!((status["task_definition"].as_str(), status["version"].as_str()), (Some("web:2"), Some("v2")));
    assert_eq!(status["previous_task_definition"], "web:1");
    let back = deployer.execute(request(json!({"action": "rollback"})), &inv).await.unwrap();
    assert_eq!(
        (back["from"].as_str(), back["to"].as_str(), back["status"].as_str()),
        (Some("web:2"), Some("web:1"), Some("rolled_back"))
    );
    assert_eq!(deployer::plan::describe_name(&world.running().await.0), "web:1");
}

/// A world whose app container pulls `repository` from `host` (created by the test), its sidecar from
/// public.ecr.aws.
async fn world_pulling_from(app_image: String) -> World {
    World::start_with(Shape { app_image: Some(app_image), ..Shape::default() }).await
}

fn image_of(td: &TaskDefinition, name: &str) -> String {
    container(td, name).image().unwrap_or_default().to_owned()
}

/// Case 1 of issue 11: the app pulls from another region's ECR. The image is checked there, and a tag that
/// only the function's own region holds is not found there.
#[tokio::test]
async fn an_image_in_another_region_is_checked_there() {
    let host = "123456789012.dkr.ecr.us-west-2.amazonaws.com";
    let world = world_pulling_from(format!("{host}/web")).await;
    assert_eq!(world.create_repository("us-west-2", None, "web").await, host);
    world.push_image_to("us-west-2", "web", "v1").await;
    let west_v2 = world.push_image_to("us-west-2", "web", "v2").await;
    world.push_image("v3").await; // only in us-east-1's same-named repository
    let deployer = world.deployer();

    let result = deployer.deploy(request(json!({"version": "v2"}))).await.expect("deploy");
    assert_eq!(result.status, Status::Deployed);
    assert_eq!(result.containers_updated[0].digest_after.as_deref(), Some(west_v2.as_str()));
    let (running, _) = world.running().await;
    assert_eq!(image_of(&running, "app"), format!("{host}/web:v2"), "the host is kept exactly");

    let err = deployer.deploy(request(json!({"version": "v3"}))).await.expect_err("v3 is not in us-west-2");
    assert_eq!(err.code().as_str(), "ImageNotFound", "{err}");
    assert_eq!(
        err.details(),
        json!({"registry_id": "123456789012", "region": "us-west-2", "repository": "web", "version": "v3"})
    );
    assert!(err.to_string().contains("registry 123456789012 in us-west-2"), "{err}");
    assert_eq!(world.revisions().await, ["web:1", "web:2"], "nothing registered");
}

/// Case 2 of issue 11: a central registry account shares `team/web`; the caller's own registry has no such
/// repository. DescribeImages goes to registry 999999999999.
#[tokio::test]
async fn an_image_of_a_central_registry_is_checked_with_its_registry_id() {
    let host = "999999999999.dkr.ecr.us-east-1.amazonaws.com";
    let world = world_pulling_from(format!("{host}/team/web")).await;
    world.create_repository(REGION, Some("999999999999"), "team/web").await;
    world.push_image_to(REGION, "team/web", "v1").await;
    let v2 = world.push_image_to(REGION, "team/web", "v2").await;
    let deployer = world.deployer();
    let result = deployer.deploy(request(json!({"version": "v2", "repository": "team/web"}))).await.expect("deploy");
    assert_eq!(result.status, Status::Deployed);
    assert_eq!(result.containers_updated[0].digest_after.as_deref(), Some(v2.as_str()));
    assert_eq!(image_of(&world.running().await.0, "app"), format!("{host}/team/web:v2"));

    let err = deployer.deploy(request(json!({"version": "v9", "repository": "team/web"}))).await.unwrap_err();
    assert_eq!(err.code().as_str(), "ImageNotFound");
    assert_eq!(err.details()["registry_id"], "999999999999");
}

/// Case 3 of issue 11: an image on the FIPS endpoint, a sidecar from public.ecr.aws. The app is the target,
/// keeps the FIPS host, and the sidecar is untouched.
#[tokio::test]
async fn a_fips_endpoint_image_is_deployed_on_the_fips_endpoint() {
    let host = "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com";
    let world = world_pulling_from(format!("{host}/web")).await;
    let result = world.deployer().deploy(request(json!({"version": "v2"}))).await.expect("deploy");
    assert_eq!(result.status, Status::Deployed);
    assert_eq!(result.containers_updated.len(), 1);
    let (running, _) = world.running().await;
    assert_eq!(image_of(&running, "app"), format!("{host}/web:v2"));
    assert_eq!(image_of(&running, "xray"), "public.ecr.aws/xray/aws-xray-daemon:3.3");
}

/// Case 6 of issue 11: a newer revision registered by hand with FEATURE_X=on and the same image; deploying
/// the same version from base `latest` ships it and says what changes.
#[tokio::test]
async fn a_configuration_change_registered_by_hand_is_deployed() {
    let world = World::start().await;
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
    let dry = deployer.deploy(request(json!({"version": "v1", "dry_run": true}))).await.unwrap();
    assert_eq!(dry.status, Status::DryRun);
    let fields: Vec<(Option<&str>, &str)> =
        dry.changed_fields.iter().map(|c| (c.container.as_deref(), c.field.as_str())).collect();
    assert_eq!(fields, [(Some("app"), "environment.FEATURE_X")], "{:?}", dry.changed_fields);

    let result = deployer.deploy(request(json!({"version": "v1"}))).await.unwrap();
    assert_eq!(result.status, Status::Deployed, "not already_deployed: the configuration differs");
    assert_eq!((result.base_task_definition.as_str(), result.task_definition.as_deref()), ("web:2", Some("web:3")));
    let env = container(&world.running().await.0, "app").environment().to_vec();
    assert!(env.iter().any(|e| e.name() == Some("FEATURE_X") && e.value() == Some("on")));
    let again = deployer.deploy(request(json!({"version": "v1"}))).await.unwrap();
    assert_eq!(again.status, Status::AlreadyDeployed);
}

/// Case 7 of issue 11: a base with 49 tags. The new revision carries 50: all of the base's and the
/// deployer's record of the previous revision; the result says the Version tag was left out.
#[tokio::test]
async fn a_base_with_49_tags_is_deployed_within_ecs_limits() {
    let world = World::start().await;
    world
        .register_by_hand(|_, tags| {
            *tags =
                (0..49).map(|i| aws_sdk_ecs::types::Tag::builder().key(format!("k{i}")).value("v").build()).collect();
        })
        .await;
    let result = world.deployer().deploy(request(json!({"version": "v2"}))).await.expect("deploy");
    assert_eq!(result.task_definition.as_deref(), Some("web:3"));
    let left: Vec<&str> = result.tags_left_out.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(left, ["Version"]);
    let (_, tags) = world.running().await;
    assert_eq!(tags.len(), 50, "{tags:?}");
    assert_eq!(tag_value(&tags, "ecs-deployer:previous-task-definition"), Some("web:1"));
    assert!((0..49).all(|i| tag_value(&tags, &format!("k{i}")) == Some("v")), "every user tag is kept");
}

/// Case 8 of issue 11: the envelope a pipeline deploys with works for status and rollback too.
#[tokio::test]
async fn status_and_rollback_take_the_deploy_envelope() {
    let world = World::start().await;
    let deployer = world.deployer();
    let inv = Invocation::default();
    let envelope = json!({"cluster": "demo", "service": "web", "repository": "web", "containers": ["app"]});
    let with = |extra: serde_json::Value| {
        let mut v = envelope.clone();
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        request(v)
    };
    deployer.execute(with(json!({"version": "v2"})), &inv).await.expect("deploy");
    let status = deployer.execute(with(json!({"action": "status"})), &inv).await.expect("status");
    assert_eq!(status["task_definition"], "web:2");
    let back = deployer.execute(with(json!({"action": "rollback"})), &inv).await.expect("rollback");
    assert_eq!((back["from"].as_str(), back["to"].as_str()), (Some("web:2"), Some("web:1")));
    assert_eq!(deployer::plan::describe_name(&world.running().await.0), "web:1");
    let misspelt = serde_json::from_value::<DeployRequest>(json!({"action": "status", "repositry": "web"}));
    assert!(misspelt.is_err(), "unknown keys stay refused");
}
