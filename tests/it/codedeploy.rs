//! CODE_DEPLOY services deployed through CodeDeploy with the real SDK on the local AWS
//! (`tests/localaws/codedeploy.py`), which walks each deployment through its lifecycle events, traffic
//! shifts, hooks, ready wait and rollbacks on its clock. A minute of that clock lasts `LOCAL_AWS_MINUTE`
//! seconds; here a few, so a canary step still outlasts the deployer's 5-6 s between reads. The clock is
//! stepped (`World::start_stepped`): the deployer's sleeps and the tests' own polls move it.

use std::time::Duration;

use aws_sdk_codedeploy::types::{
    BlueGreenDeploymentConfiguration, DeploymentOption, DeploymentReadyAction, DeploymentReadyOption, DeploymentStyle,
    DeploymentType, EcsService, LifecycleEventStatus, TargetGroupInfo, TargetGroupPairInfo, TimeBasedLinear,
    TrafficRoute, TrafficRoutingConfig, TrafficRoutingType,
};
use aws_sdk_ecs::types::{
    AwsVpcConfiguration, DeploymentController, DeploymentControllerType, LaunchType, LoadBalancer, NetworkConfiguration,
};
use contract::request::DeployRequest;
use contract::result::Status;
use deployer::request::Invocation;
use deployer_tests::{Shape, World};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const APP: &str = "AppECS-demo-bg";
const GROUP: &str = "DgpECS-demo-bg";
const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/0123456789abcdef";
const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/0123456789abcdef/";

fn request(value: Value) -> DeployRequest {
    serde_json::from_value(value).expect("a valid request")
}

fn invocation(budget_secs: u64) -> Invocation {
    Invocation { request_id: "codedeploy-test".into(), budget: Duration::from_secs(budget_secs), home: None }
}

/// A world whose minute lasts `minute` seconds, with service `bg` on the CODE_DEPLOY controller behind a load
/// balancer, and its console-named application and group (`ready`: the group waits for ContinueDeployment).
async fn world(minute: f64, ready: bool) -> (World, aws_sdk_codedeploy::Client) {
    // The local AWS needs the hooks' endpoint before it starts, and the hooks need its endpoint to report:
    // a free port is chosen first and served once the world is up (CodeDeploy invokes no hook before).
    let placeholder = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = placeholder.local_addr().expect("address").port();
    drop(placeholder);
    let env = vec![
        ("LOCAL_AWS_MINUTE", minute.to_string()),
        ("LOCAL_AWS_LAMBDA_ENDPOINT", format!("http://127.0.0.1:{port}")),
    ];
    let world = World::start_stepped(Shape::default(), 0.5, &env).await;
    let client = aws_sdk_codedeploy::Client::new(&world.config);
    serve_hooks_on(port, client.clone()).await;
    let (td, _) = world.running().await;
    let network = world.ecs.describe_services().cluster("demo").services("web").send().await.expect("describe");
    let vpc = network.services()[0].network_configuration().and_then(|n| n.awsvpc_configuration()).cloned();
    world
        .ecs
        .create_service()
        .cluster("demo")
        .service_name("bg")
        .task_definition(td.task_definition_arn().expect("ARN"))
        .desired_count(1)
        .launch_type(LaunchType::Fargate)
        .deployment_controller(
            DeploymentController::builder().r#type(DeploymentControllerType::CodeDeploy).build().expect("controller"),
        )
        .load_balancers(LoadBalancer::builder().target_group_arn(TG).container_name("app").container_port(8080).build())
        .network_configuration(
            NetworkConfiguration::builder()
                .set_awsvpc_configuration(vpc.or_else(|| AwsVpcConfiguration::builder().subnets("s").build().ok()))
                .build(),
        )
        .send()
        .await
        .expect("create the CODE_DEPLOY service");
    client
        .create_application()
        .application_name(APP)
        .compute_platform(aws_sdk_codedeploy::types::ComputePlatform::Ecs)
        .send()
        .await
        .expect("create application");
    let ready_option = if ready {
        DeploymentReadyOption::builder()
            .action_on_timeout(DeploymentReadyAction::StopDeployment)
            .wait_time_in_minutes(60)
            .build()
    } else {
        DeploymentReadyOption::builder().action_on_timeout(DeploymentReadyAction::ContinueDeployment).build()
    };
    client
        .create_deployment_group()
        .application_name(APP)
        .deployment_group_name(GROUP)
        .service_role_arn("arn:aws:iam::123456789012:role/codedeploy")
        .deployment_style(
            DeploymentStyle::builder()
                .deployment_type(DeploymentType::BlueGreen)
                .deployment_option(DeploymentOption::WithTrafficControl)
                .build(),
        )
        .ecs_services(EcsService::builder().cluster_name("demo").service_name("bg").build())
        .load_balancer_info(
            aws_sdk_codedeploy::types::LoadBalancerInfo::builder()
                .target_group_pair_info_list(
                    TargetGroupPairInfo::builder()
                        .target_groups(TargetGroupInfo::builder().name("blue").build())
                        .target_groups(TargetGroupInfo::builder().name("green").build())
                        .prod_traffic_route(TrafficRoute::builder().listener_arns(format!("{LISTENER}prod")).build())
                        .test_traffic_route(TrafficRoute::builder().listener_arns(format!("{LISTENER}test")).build())
                        .build(),
                )
                .build(),
        )
        .blue_green_deployment_configuration(
            BlueGreenDeploymentConfiguration::builder().deployment_ready_option(ready_option).build(),
        )
        .send()
        .await
        .expect("create deployment group");
    (world, client)
}

/// A Lambda endpoint for CodeDeploy's hooks on `port`: each invocation reports its lifecycle event with
/// PutLifecycleEventHookExecutionStatus, Failed for a function whose name contains `fail`, else Succeeded.
async fn serve_hooks_on(port: u16, client: aws_sdk_codedeploy::Client) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind the hook port");
    tokio::spawn(serve(listener, client));
}

async fn serve(listener: tokio::net::TcpListener, client: aws_sdk_codedeploy::Client) {
    while let Ok((mut stream, _)) = listener.accept().await {
        let client = client.clone();
        tokio::spawn(async move {
            let mut data = Vec::new();
            let mut buf = [0u8; 4096];
            let (head, body) = loop {
                let n = stream.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    return;
                }
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= length {
                        break (head.to_owned(), body.to_owned());
                    }
                }
            };
            let _ = stream.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
            let event: Value = serde_json::from_str(&body).unwrap_or_default();
            let failed = head.lines().next().unwrap_or_default().contains("fail");
            let status = if failed { LifecycleEventStatus::Failed } else { LifecycleEventStatus::Succeeded };
            let _ = client
                .put_lifecycle_event_hook_execution_status()
                .deployment_id(event["DeploymentId"].as_str().unwrap_or_default())
                .lifecycle_event_hook_execution_id(event["LifecycleEventHookExecutionId"].as_str().unwrap_or_default())
                .status(status)
                .send()
                .await;
        });
    }
}

/// The world's deployer with request overrides of the CodeDeploy names allowed
/// (`DEPLOY_ALLOW_CODEDEPLOY_OVERRIDE`) and the hook functions these tests name allowed
/// (`DEPLOY_CODEDEPLOY_HOOK_FUNCTIONS`), wired like [`World::deployer`] (its lock, history and clock).
fn overriding(world: &World) -> deployer::pipeline::Deployer<deployer::ports::SdkEcs> {
    world.deployer_with(deployer::config::Config {
        codedeploy_override: true,
        codedeploy_hook_functions: ["smoke", "check", "fail-smoke"].map(str::to_owned).to_vec(),
        ..world.defaults()
    })
}

fn deploy(extra: Value) -> DeployRequest {
    let mut v = json!({"version": "v2", "service": "bg", "wait": true});
    v.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    request(v)
}

#[tokio::test]
async fn all_at_once_succeeds_with_hooks_and_the_service_runs_the_new_revision() {
    let (world, client) = world(1.0, false).await;
    let hooks = json!({"codedeploy": {"hooks": {"BeforeInstall": "smoke", "AfterAllowTraffic": "check"}}});
    let result =
        overriding(&world).deploy_with(deploy(hooks), &invocation(120)).await.expect("the deployment succeeds");
    assert_eq!(result.status, Status::Completed, "{result:?}");
    let cd = result.codedeploy.expect("the CodeDeploy deployment is reported");
    assert!(cd.deployment_id.starts_with("d-"), "{cd:?}");
    assert_eq!(cd.status.as_deref(), Some("Succeeded"));
    assert_eq!(cd.traffic_percent, Some(100.0));
    assert!(cd.lifecycle_events.iter().any(|e| e.name == "AfterAllowTraffic"), "{cd:?}");
    let svc = world.ecs.describe_services().cluster("demo").services("bg").send().await.expect("describe");
    assert!(svc.services()[0].task_definition().unwrap().ends_with("web:2"));
    let info = client.get_deployment().deployment_id(&cd.deployment_id).send().await.expect("get");
    assert_eq!(info.deployment_info().and_then(|i| i.status()).map(|s| s.as_str()), Some("Succeeded"));
}

#[tokio::test]
async fn canary_and_linear_show_their_traffic_steps() {
    let (world, client) = world(3.0, false).await;
    client
        .create_deployment_config()
        .deployment_config_name("Linear50Every1")
        .compute_platform(aws_sdk_codedeploy::types::ComputePlatform::Ecs)
        .traffic_routing_config(
            TrafficRoutingConfig::builder()
                .r#type(TrafficRoutingType::TimeBasedLinear)
                .time_based_linear(TimeBasedLinear::builder().linear_percentage(50).linear_interval(3).build())
                .build(),
        )
        .send()
        .await
        .expect("create a custom configuration");
    let canary = json!({"codedeploy": {"deployment_config": "CodeDeployDefault.ECSCanary10Percent5Minutes"}});
    let result = overriding(&world).deploy_with(deploy(canary), &invocation(120)).await.expect("the canary succeeds");
    assert_eq!(result.status, Status::Completed, "{result:?}");
    let cd = result.codedeploy.expect("reported");
    assert_eq!(cd.traffic_steps, vec![10.0, 100.0], "{cd:?}");
    let linear = json!({"version": "v1", "codedeploy": {"deployment_config": "Linear50Every1"}});
    let result = overriding(&world).deploy_with(deploy(linear), &invocation(120)).await.expect("the linear succeeds");
    let cd = result.codedeploy.expect("reported");
    assert_eq!(cd.traffic_steps, vec![50.0, 100.0], "{cd:?}");
    assert_eq!(cd.deployment_config.as_deref(), Some("Linear50Every1"));
}

#[tokio::test]
async fn a_failing_hook_is_rolled_back_by_codedeploy_and_named() {
    let (world, _client) = world(1.0, false).await;
    let hooks = json!({"codedeploy": {"hooks": {"AfterAllowTestTraffic": "fail-smoke"}}});
    let err = overriding(&world).execute(deploy(hooks), &invocation(120)).await.expect_err("the hook fails");
    assert_eq!(err.code().as_str(), "RolledBack", "{err}");
    assert!(err.to_string().contains("AfterAllowTestTraffic"), "{err}");
    let details = err.details();
    let cd = &details["codedeploy"];
    assert_eq!(cd["failed_hook"], "AfterAllowTestTraffic", "{details}");
    assert_eq!(cd["error_code"], "HOOK_EXECUTION_FAILURE");
    assert!(cd["rollback_deployment_id"].as_str().is_some(), "{details}");
    assert_eq!(cd["rollback_status"], "Succeeded", "{details}");
    assert_eq!(details["rollout"]["rollback"]["by"], "codedeploy");
    assert_eq!(details["rollout"]["rollback"]["to"], "web:1");
    let svc = world.ecs.describe_services().cluster("demo").services("bg").send().await.expect("describe");
    assert!(svc.services()[0].task_definition().unwrap().ends_with("web:1"), "the service stays on blue");
}

#[tokio::test]
async fn continue_a_ready_deployment_and_a_second_deploy_meanwhile_is_refused() {
    let (world, _client) = world(1.0, true).await;
    let d = world.deployer();
    let started = d.deploy_with(deploy(json!({"wait": false})), &invocation(60)).await.expect("started");
    let id = started.codedeploy.expect("reported").deployment_id;
    let revisions = world.revisions().await;
    let err =
        d.deploy_with(deploy(json!({"wait": false, "version": "v1"})), &invocation(60)).await.expect_err("refused");
    assert_eq!(err.code().as_str(), "DeploymentInProgress", "{err}");
    assert!(err.to_string().contains(&id), "{err}");
    assert_eq!(world.revisions().await, revisions, "the refused deploy registered nothing");
    // Ready once the test traffic is on green.
    let status = request(json!({"action": "status", "service": "bg"}));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let shown = d.execute(status.clone(), &invocation(30)).await.expect("status");
        if shown["codedeploy"]["status"] == "Ready" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never Ready: {shown}");
        world.idle().await;
    }
    let answer =
        d.execute(request(json!({"action": "continue", "service": "bg"})), &invocation(30)).await.expect("continued");
    assert_eq!(answer["hooks"], json!(["READY_WAIT"]), "{answer}");
    loop {
        let shown = d.execute(status.clone(), &invocation(30)).await.expect("status");
        if shown["codedeploy"]["status"] == "Succeeded" {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never Succeeded: {shown}");
        world.idle().await;
    }
}

/// The group's deployments with `status`, newest first.
async fn deployments(client: &aws_sdk_codedeploy::Client, status: &str) -> Vec<String> {
    let out = client
        .list_deployments()
        .application_name(APP)
        .deployment_group_name(GROUP)
        .include_only_statuses(status.into())
        .send()
        .await
        .expect("list deployments");
    out.deployments().to_vec()
}

async fn status_of(client: &aws_sdk_codedeploy::Client, id: &str) -> aws_sdk_codedeploy::types::DeploymentInfo {
    client.get_deployment().deployment_id(id).send().await.expect("get").deployment_info.expect("info")
}

/// Waits (at most a minute) until `id` has `status`, stepping the world's clock between reads.
async fn wait_status(world: &World, client: &aws_sdk_codedeploy::Client, id: &str, status: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while status_of(client, id).await.status().map(|s| s.as_str()) != Some(status) {
        assert!(std::time::Instant::now() < deadline, "{id} never {status}");
        world.idle().await;
    }
}

#[tokio::test]
async fn a_rollback_in_flight_stops_and_follows_codedeploy_s_rollback_deployment() {
    let (world, client) = world(1.0, true).await;
    let d = world.deployer();
    let started = d.deploy_with(deploy(json!({"wait": false})), &invocation(60)).await.expect("started");
    let id = started.codedeploy.expect("reported").deployment_id;
    wait_status(&world, &client, &id, "Ready").await;
    let back = d
        .execute(request(json!({"action": "rollback", "service": "bg", "wait": true})), &invocation(60))
        .await
        .expect("rolled back");
    assert_eq!(back["status"], "rolled_back", "{back}");
    assert_eq!(back["rollout"]["state"], "COMPLETED", "{back}");
    let info = status_of(&client, &id).await;
    assert_eq!(info.status().map(|s| s.as_str()), Some("Stopped"));
    let rollback = info.rollback_info().and_then(|r| r.rollback_deployment_id()).expect("a rollback deployment");
    assert_eq!(back["deployment_id"], rollback);
}

#[tokio::test]
async fn a_stop_whose_rollback_finished_before_the_next_read_is_answered_rolled_back() {
    let (world, client) = world(1.0, true).await;
    let d = world.deployer();
    let stopper = async {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let id = loop {
            if let Some(id) = deployments(&client, "Ready").await.first() {
                break id.clone();
            }
            assert!(std::time::Instant::now() < deadline, "never Ready");
            world.idle().await;
        };
        // Someone stops it by hand; CodeDeploy's rollback deployment finishes within a few ticks, before the
        // deployer's next read (5-6 s).
        client.stop_deployment().deployment_id(&id).auto_rollback_enabled(true).send().await.expect("stop");
        let info = status_of(&client, &id).await;
        let rollback = info.rollback_info().and_then(|r| r.rollback_deployment_id()).expect("a rollback deployment");
        wait_status(&world, &client, rollback, "Succeeded").await;
        rollback.to_owned()
    };
    let budget = invocation(120);
    let (answer, rollback) = tokio::join!(d.execute(deploy(json!({})), &budget), stopper);
    let err = answer.expect_err("a stopped deployment is no success");
    assert_eq!(err.code().as_str(), "RolledBack", "{err}");
    let details = err.details();
    let cd = &details["codedeploy"];
    assert_eq!(cd["error_code"], "MANUAL_STOP", "{details}");
    assert_eq!(
        (cd["rollback_deployment_id"].as_str(), cd["rollback_status"].as_str()),
        (Some(rollback.as_str()), Some("Succeeded"))
    );
    assert_eq!(details["rollout"]["rollback"]["state"], "COMPLETED");
}

#[tokio::test]
async fn a_group_that_deploys_another_service_is_refused_before_any_change() {
    // Issue 23.1 on the local AWS: a group of the same application whose ecsServices name demo/web, named
    // with a deploy and a continue of demo/bg (overrides allowed: only the group rule stands between them).
    let (world, client) = world(1.0, true).await;
    client
        .create_deployment_group()
        .application_name(APP)
        .deployment_group_name("DgpECS-demo-other")
        .service_role_arn("arn:aws:iam::123456789012:role/codedeploy")
        .ecs_services(EcsService::builder().cluster_name("demo").service_name("web").build())
        .send()
        .await
        .expect("create the other group");
    let before = world.revisions().await;
    let names = json!({"codedeploy": {"application": APP, "deployment_group": "DgpECS-demo-other"}});
    let d = overriding(&world);
    let err = d.execute(deploy(names.clone()), &invocation(60)).await.expect_err("refused");
    assert_eq!(err.code().as_str(), "NotAllowed", "{err}");
    assert!(err.to_string().contains("deploys demo/web, not demo/bg"), "{err}");
    let mut answer = json!({"action": "continue", "service": "bg"});
    answer.as_object_mut().unwrap().extend(names.as_object().cloned().unwrap());
    let err = d.execute(request(answer), &invocation(60)).await.expect_err("refused");
    assert_eq!(err.code().as_str(), "NotAllowed", "{err}");
    assert_eq!(world.revisions().await, before, "nothing registered");
    let listed = client
        .list_deployments()
        .application_name(APP)
        .deployment_group_name("DgpECS-demo-other")
        .send()
        .await
        .expect("list");
    assert!(listed.deployments().is_empty(), "no deployment created: {listed:?}");
    // Without the switch, the same request is refused for the override itself.
    let err = world.deployer().execute(deploy(names), &invocation(60)).await.expect_err("refused");
    assert!(err.to_string().contains("DEPLOY_ALLOW_CODEDEPLOY_OVERRIDE"), "{err}");
}
