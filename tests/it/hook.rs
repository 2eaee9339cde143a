//! The lifecycle hook (`functions/hook`) end to end: served by `cargo lambda watch`, invoked by the local
//! AWS (`tests/localaws`, `LOCAL_AWS_LAMBDA_ENDPOINT`) as CodeDeploy and ECS invoke it, checking a local
//! HTTP server. A CodeDeploy deployment whose BeforeAllowTraffic hook sees HTTP 500 fails and is rolled
//! back; an ECS canary whose POST_TEST_TRAFFIC_SHIFT hook sees HTTP 200 is SUCCESSFUL. Every
//! `events/hook-*.json` fixture is invoked through the emulator too.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_codedeploy::types::{
    AppSpecContent, AutoRollbackConfiguration, AutoRollbackEvent, BlueGreenDeploymentConfiguration,
    BlueInstanceTerminationOption, ComputePlatform, DeploymentOption, DeploymentReadyAction, DeploymentReadyOption,
    DeploymentStatus, DeploymentStyle, DeploymentType, EcsService, InstanceAction, LoadBalancerInfo, RevisionLocation,
    RevisionLocationType, TargetGroupInfo, TargetGroupPairInfo, TrafficRoute,
};
use aws_sdk_ecs::types::{
    CanaryConfiguration, DeploymentConfiguration, DeploymentController, DeploymentControllerType,
    DeploymentLifecycleHook, DeploymentLifecycleHookStage, DeploymentStrategy, LaunchType, LoadBalancer,
    ServiceDeploymentStatus,
};
use aws_smithy_types::Document;
use deployer_tests::{free_port, http_listener as listener, repo_root, LambdaEmulator, Shape, World};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const ACCOUNT: &str = "123456789012";
/// How long a test waits for a deployment: the first invocation may still be compiling the hook.
const PATIENCE: Duration = Duration::from_secs(600);

/// A local AWS that invokes hooks at an emulator serving the hook with `hook_env` (plus the AWS settings).
async fn world_and_hook(hook_env: &[(&str, &str)]) -> (World, LambdaEmulator) {
    let port = free_port();
    let local = [
        ("LOCAL_AWS_LAMBDA_ENDPOINT", format!("http://127.0.0.1:{port}")),
        // One API minute lasts two seconds: canary bakes and callBackDelays pass quickly.
        ("LOCAL_AWS_MINUTE", "2".to_owned()),
    ];
    let world = World::start_configured(Shape::default(), 0.2, &local).await;
    let mut env = world.aws_env();
    env.extend(hook_env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let lambda = LambdaEmulator::start_hook_on(port, &env);
    (world, lambda)
}

/// The world's task definition again, its app on `v2`: the green revision. Answers its ARN.
async fn green_revision(world: &World) -> String {
    let uri = world.repository_uri.clone();
    let name = world
        .register_by_hand(|td, _| {
            if let Some(app) = td.container_definitions.as_mut().and_then(|c| c.first_mut()) {
                app.image = Some(format!("{uri}:v2"));
            }
        })
        .await;
    format!("arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/{name}")
}

fn log_tail(lambda: &LambdaEmulator) -> String {
    let text = std::fs::read_to_string(&lambda.log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A CODE_DEPLOY service `api` on the world's blue revision, its application and deployment group (rolled
/// back on failure), and a deployment of green whose BeforeAllowTraffic hook is the function `hook`. Answers
/// the client, the blue revision's ARN and the deployment id.
async fn codedeploy_deployment(world: &World) -> (aws_sdk_codedeploy::Client, String, String) {
    world.settle("web").await;
    let blue = {
        let (td, _) = world.running().await;
        td.task_definition_arn.expect("ARN")
    };
    world
        .ecs
        .create_service()
        .cluster("demo")
        .service_name("api")
        .task_definition(&blue)
        .desired_count(1)
        .launch_type(LaunchType::Fargate)
        .deployment_controller(
            DeploymentController::builder().r#type(DeploymentControllerType::CodeDeploy).build().expect("controller"),
        )
        .load_balancers(
            LoadBalancer::builder()
                .target_group_arn(format!(
                    "arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:targetgroup/blue/0123456789abcdef"
                ))
                .container_name("app")
                .container_port(8080)
                .build(),
        )
        .network_configuration(world.network_configuration())
        .send()
        .await
        .expect("create the CODE_DEPLOY service");

    let cd = aws_sdk_codedeploy::Client::new(&world.config);
    cd.create_application()
        .application_name("AppECS-demo-api")
        .compute_platform(ComputePlatform::Ecs)
        .send()
        .await
        .expect("application");
    let listener_arn = |name: &str| {
        format!("arn:aws:elasticloadbalancing:us-east-1:{ACCOUNT}:listener/app/api/0123456789abcdef/{name}")
    };
    cd.create_deployment_group()
        .application_name("AppECS-demo-api")
        .deployment_group_name("DgpECS-demo-api")
        .service_role_arn(format!("arn:aws:iam::{ACCOUNT}:role/codedeploy"))
        .deployment_style(
            DeploymentStyle::builder()
                .deployment_type(DeploymentType::BlueGreen)
                .deployment_option(DeploymentOption::WithTrafficControl)
                .build(),
        )
        .ecs_services(EcsService::builder().cluster_name("demo").service_name("api").build())
        .load_balancer_info(
            LoadBalancerInfo::builder()
                .target_group_pair_info_list(
                    TargetGroupPairInfo::builder()
                        .target_groups(TargetGroupInfo::builder().name("blue").build())
                        .target_groups(TargetGroupInfo::builder().name("green").build())
                        .prod_traffic_route(TrafficRoute::builder().listener_arns(listener_arn("prod")).build())
                        .test_traffic_route(TrafficRoute::builder().listener_arns(listener_arn("test")).build())
                        .build(),
                )
                .build(),
        )
        .blue_green_deployment_configuration(
            BlueGreenDeploymentConfiguration::builder()
                .terminate_blue_instances_on_deployment_success(
                    BlueInstanceTerminationOption::builder()
                        .action(InstanceAction::Terminate)
                        .termination_wait_time_in_minutes(0)
                        .build(),
                )
                .deployment_ready_option(
                    DeploymentReadyOption::builder()
                        .action_on_timeout(DeploymentReadyAction::ContinueDeployment)
                        .build(),
                )
                .build(),
        )
        .auto_rollback_configuration(
            AutoRollbackConfiguration::builder().enabled(true).events(AutoRollbackEvent::DeploymentFailure).build(),
        )
        .send()
        .await
        .expect("deployment group");

    let green = green_revision(world).await;
    let appspec = serde_json::json!({
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
            "TaskDefinition": green, "LoadBalancerInfo": {"ContainerName": "app", "ContainerPort": 8080}}}}],
        "Hooks": [{"BeforeAllowTraffic": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:hook")}]
    });
    let id = cd
        .create_deployment()
        .application_name("AppECS-demo-api")
        .deployment_group_name("DgpECS-demo-api")
        .revision(
            RevisionLocation::builder()
                .revision_type(RevisionLocationType::AppSpecContent)
                .app_spec_content(AppSpecContent::builder().content(appspec.to_string()).build())
                .build(),
        )
        .send()
        .await
        .expect("create deployment")
        .deployment_id
        .expect("deployment id");

    (cd, blue, id)
}

#[tokio::test]
async fn a_codedeploy_hook_that_sees_http_500_fails_the_deployment_and_it_rolls_back() {
    let server = listener(500).await;
    let (world, lambda) = world_and_hook(&[
        ("HOOK_HTTP_URL", &server.url),
        ("HOOK_HTTP_REQUESTS", "2"),
        ("HOOK_HTTP_INTERVAL_SECONDS", "0"),
    ])
    .await;
    let (cd, blue, id) = codedeploy_deployment(&world).await;

    let deadline = Instant::now() + PATIENCE;
    let info = loop {
        let info =
            cd.get_deployment().deployment_id(&id).send().await.expect("get deployment").deployment_info.expect("info");
        if matches!(
            info.status(),
            Some(DeploymentStatus::Failed | DeploymentStatus::Succeeded | DeploymentStatus::Stopped)
        ) {
            break info;
        }
        assert!(
            Instant::now() < deadline,
            "the deployment is still {:?}; hook log:\n{}",
            info.status(),
            log_tail(&lambda)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(info.status(), Some(&DeploymentStatus::Failed), "{info:?}\n{}", log_tail(&lambda));
    let error = info.error_information().expect("error information");
    assert_eq!(error.code().map(|c| c.as_str()), Some("HOOK_EXECUTION_FAILURE"), "{error:?}");
    // The hook stopped at the first failed request.
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);

    // The failure rolled the deployment back: a rollback deployment that succeeds, the service on blue.
    let rollback =
        info.rollback_info().and_then(|r| r.rollback_deployment_id()).expect("a rollback deployment").to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = cd
            .get_deployment()
            .deployment_id(&rollback)
            .send()
            .await
            .expect("get rollback")
            .deployment_info
            .expect("info");
        if r.status() == Some(&DeploymentStatus::Succeeded) {
            break;
        }
        assert!(Instant::now() < deadline, "the rollback is still {:?}", r.status());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let svc = world.ecs.describe_services().cluster("demo").services("api").send().await.expect("describe");
    assert_eq!(svc.services()[0].task_definition(), Some(blue.as_str()), "the service stays on blue");
}

/// The hook's report through the real SDK to a real hook execution: the first is recorded, a second one (a
/// retried invocation) is "already completed", which the port reports as done, not as an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_report_of_one_hook_execution_is_already_completed() {
    use hook::ports::{Aws, LifecycleStatus, Reported};

    // A Lambda endpoint that records the hook event the local AWS sends and answers 202.
    let endpoint = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", endpoint.local_addr().expect("address"));
    let events = Arc::new(Mutex::new(Vec::<Value>::new()));
    let sink = events.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = endpoint.accept().await {
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = socket.read(&mut buf).await.unwrap_or(0);
                seen.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&seen).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if seen.len() >= end + 4 + length {
                        if let Ok(v) = serde_json::from_slice(&seen[end + 4..]) {
                            sink.lock().expect("events").push(v);
                        }
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let _ = socket.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        }
    });
    let local = [("LOCAL_AWS_LAMBDA_ENDPOINT", url), ("LOCAL_AWS_MINUTE", "2".to_owned())];
    let world = World::start_configured(Shape::default(), 0.2, &local).await;
    let (cd, _, id) = codedeploy_deployment(&world).await;

    let deadline = Instant::now() + Duration::from_secs(60);
    let event = loop {
        if let Some(e) = events.lock().expect("events").first().cloned() {
            break e;
        }
        assert!(Instant::now() < deadline, "the local AWS never invoked the hook");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(event["DeploymentId"], id.as_str());
    let execution = event["LifecycleEventHookExecutionId"].as_str().expect("execution id").to_owned();
    let aws = hook::sdk::SdkAws::new(&world.config);
    assert_eq!(aws.report(&id, &execution, LifecycleStatus::Succeeded).await.expect("report"), Reported::Recorded);
    let again = aws.report(&id, &execution, LifecycleStatus::Failed).await.expect("a second report is not an error");
    assert_eq!(again, Reported::AlreadyCompleted);
    // The first report stands: the deployment goes on to succeed.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let info = cd.get_deployment().deployment_id(&id).send().await.expect("get").deployment_info.expect("info");
        if info.status() == Some(&DeploymentStatus::Succeeded) {
            break;
        }
        assert!(!matches!(info.status(), Some(DeploymentStatus::Failed | DeploymentStatus::Stopped)), "{info:?}");
        assert!(Instant::now() < deadline, "the deployment is still {:?}", info.status());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    task.abort();
}

#[tokio::test]
async fn an_ecs_canary_whose_hook_sees_http_200_is_successful() {
    let server = listener(200).await;
    let (world, lambda) = world_and_hook(&[
        ("HOOK_HTTP_URL", &server.url),
        ("HOOK_HTTP_REQUESTS", "2"),
        ("HOOK_HTTP_INTERVAL_SECONDS", "1"),
    ])
    .await;
    world.settle("web").await;
    let details = Document::Object(HashMap::from([(
        "check".to_owned(),
        Document::Object(HashMap::from([("jsonPointer".to_owned(), Document::String("/status".into()))])),
    )]));
    let canary = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::Canary)
        .bake_time_in_minutes(0)
        .canary_configuration(
            CanaryConfiguration::builder().canary_percent(10.0).canary_bake_time_in_minutes(1).build(),
        )
        .lifecycle_hooks(
            DeploymentLifecycleHook::builder()
                .hook_target_arn(format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:hook"))
                .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/ecs-hooks"))
                .lifecycle_stages(DeploymentLifecycleHookStage::PostTestTrafficShift)
                .hook_details(details)
                .build(),
        )
        .build();
    world
        .ecs
        .update_service()
        .cluster("demo")
        .service("web")
        .deployment_configuration(canary)
        .send()
        .await
        .expect("make the service a canary");
    let green = green_revision(&world).await;
    world
        .ecs
        .update_service()
        .cluster("demo")
        .service("web")
        .task_definition(&green)
        .send()
        .await
        .expect("deploy green");
    let svc = world.ecs.describe_services().cluster("demo").services("web").send().await.expect("describe");
    let arn = svc.services()[0].current_service_deployment().expect("a service deployment").to_owned();

    let sd = finished(&world, &lambda, &arn).await;
    assert_eq!(sd.status(), Some(&ServiceDeploymentStatus::Successful), "{sd:?}\n{}", log_tail(&lambda));
    // Two requests, one per invocation: IN_PROGRESS after the first, SUCCEEDED after the second.
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    assert_eq!(world.running().await.0.task_definition_arn.as_deref(), Some(green.as_str()));
}

/// Waits until the service deployment `arn` is terminal and returns it.
async fn finished(world: &World, lambda: &LambdaEmulator, arn: &str) -> aws_sdk_ecs::types::ServiceDeployment {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let out =
            world.ecs.describe_service_deployments().service_deployment_arns(arn).send().await.expect("describe sd");
        let sd = out.service_deployments()[0].clone();
        if matches!(
            sd.status(),
            Some(
                ServiceDeploymentStatus::Successful
                    | ServiceDeploymentStatus::Stopped
                    | ServiceDeploymentStatus::RollbackSuccessful
                    | ServiceDeploymentStatus::RollbackFailed
            )
        ) {
            return sd;
        }
        assert!(
            Instant::now() < deadline,
            "the deployment is still {:?}; hook log:\n{}",
            sd.status(),
            log_tail(lambda)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn hook_on(stage: DeploymentLifecycleHookStage, path: Option<&str>) -> DeploymentLifecycleHook {
    let mut hook = DeploymentLifecycleHook::builder()
        .hook_target_arn(format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:hook"))
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/ecs-hooks"))
        .lifecycle_stages(stage);
    if let Some(path) = path {
        hook = hook.hook_details(Document::Object(HashMap::from([(
            "check".to_owned(),
            Document::Object(HashMap::from([("path".to_owned(), Document::String(path.into()))])),
        )])));
    }
    hook.build()
}

#[tokio::test]
async fn a_failed_check_after_the_shift_rolls_back_and_the_rollbacks_re_invocation_passes() {
    let server = listener(200).await;
    let (world, lambda) = world_and_hook(&[
        ("HOOK_HTTP_URL", &server.url),
        ("HOOK_HTTP_REQUESTS", "1"),
        ("HOOK_HTTP_INTERVAL_SECONDS", "0"),
    ])
    .await;
    let (_, blue) = world.settle("web").await;
    // The same function on two stages: production's shift passes; after it, a check of /fail fails.
    let config = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::BlueGreen)
        .bake_time_in_minutes(1)
        .lifecycle_hooks(hook_on(DeploymentLifecycleHookStage::ProductionTrafficShift, None))
        .lifecycle_hooks(hook_on(DeploymentLifecycleHookStage::PostProductionTrafficShift, Some("/fail")))
        .build();
    world
        .ecs
        .update_service()
        .cluster("demo")
        .service("web")
        .deployment_configuration(config)
        .send()
        .await
        .expect("blue/green");
    let green = green_revision(&world).await;
    world
        .ecs
        .update_service()
        .cluster("demo")
        .service("web")
        .task_definition(&green)
        .send()
        .await
        .expect("deploy green");
    let svc = world.ecs.describe_services().cluster("demo").services("web").send().await.expect("describe");
    let arn = svc.services()[0].current_service_deployment().expect("a service deployment").to_owned();

    let sd = finished(&world, &lambda, &arn).await;
    // ROLLBACK_FAILED would mean the hook failed the rollback's own re-invocation of PRODUCTION_TRAFFIC_SHIFT.
    assert_eq!(sd.status(), Some(&ServiceDeploymentStatus::RollbackSuccessful), "{sd:?}\n{}", log_tail(&lambda));
    let reason = sd.rollback().and_then(|r| r.reason()).unwrap_or_default();
    assert!(reason.contains("POST_PRODUCTION_TRAFFIC_SHIFT"), "{reason}");
    // One request at the shift, one that failed after it; none during the rollback.
    assert_eq!(*server.paths.lock().unwrap(), ["/ready", "/fail"]);
    assert_eq!(
        deployer::plan::family_revision(world.running().await.0.task_definition_arn().unwrap_or_default()),
        blue
    );
}

/// A metric alarm `name` of the world's CloudWatch, put in `state`; answers the client.
async fn alarm(world: &World, name: &str, state: aws_sdk_cloudwatch::types::StateValue) -> aws_sdk_cloudwatch::Client {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Statistic};
    let cw = aws_sdk_cloudwatch::Client::new(&world.config);
    cw.put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .send()
        .await
        .expect("put alarm");
    cw.set_alarm_state().alarm_name(name).state_value(state).state_reason("test").send().await.expect("set state");
    cw
}

#[tokio::test]
async fn an_ecs_hook_that_sees_an_alarm_in_alarm_fails_and_ecs_rolls_back() {
    let server = listener(200).await;
    let (world, lambda) = world_and_hook(&[
        ("HOOK_HTTP_URL", &server.url),
        ("HOOK_HTTP_REQUESTS", "1"),
        ("HOOK_ALARMS", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-5xx"),
    ])
    .await;
    let (_, blue) = world.settle("web").await;
    alarm(&world, "web-5xx", aws_sdk_cloudwatch::types::StateValue::Alarm).await;
    let config = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::BlueGreen)
        .bake_time_in_minutes(1)
        .lifecycle_hooks(hook_on(DeploymentLifecycleHookStage::PostTestTrafficShift, None))
        .build();
    world
        .ecs
        .update_service()
        .cluster("demo")
        .service("web")
        .deployment_configuration(config)
        .send()
        .await
        .expect("blue/green");
    let green = green_revision(&world).await;
    world
        .ecs
        .update_service()
        .cluster("demo")
        .service("web")
        .task_definition(&green)
        .send()
        .await
        .expect("deploy green");
    let svc = world.ecs.describe_services().cluster("demo").services("web").send().await.expect("describe");
    let arn = svc.services()[0].current_service_deployment().expect("a service deployment").to_owned();

    let sd = finished(&world, &lambda, &arn).await;
    assert_eq!(sd.status(), Some(&ServiceDeploymentStatus::RollbackSuccessful), "{sd:?}\n{}", log_tail(&lambda));
    let reason = sd.rollback().and_then(|r| r.reason()).unwrap_or_default();
    assert!(reason.contains("FAILED at POST_TEST_TRAFFIC_SHIFT"), "{reason}");
    // The request passed; the alarm failed the same round. The hook's log says which check and what it saw.
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    let log = std::fs::read_to_string(&lambda.log).unwrap_or_default();
    assert!(log.contains("failed: alarm web-5xx: ALARM"), "{}", log_tail(&lambda));
    assert_eq!(
        deployer::plan::family_revision(world.running().await.0.task_definition_arn().unwrap_or_default()),
        blue
    );
}

/// The hook's AWS port through the real SDK against the local AWS: DescribeAlarms over CloudWatch's
/// rpc-v2-cbor protocol (metric alarms in OK and ALARM, a missing one not reported), Publish to a topic, and
/// a refused PutLifecycleEventHookExecutionStatus keeping the service's error code.
#[tokio::test]
async fn the_hooks_aws_port_reads_alarm_states_and_reports_refusals() {
    use aws_sdk_cloudwatch::types::StateValue;
    use hook::ports::{Aws, LifecycleStatus};

    let world = World::start().await;
    let cw = alarm(&world, "web-5xx", StateValue::Ok).await;
    let aws = hook::sdk::SdkAws::new(&world.config);
    let names = vec!["web-5xx".to_owned(), "absent".to_owned()];
    for state in [StateValue::Ok, StateValue::Alarm] {
        cw.set_alarm_state()
            .alarm_name("web-5xx")
            .state_value(state.clone())
            .state_reason("test")
            .send()
            .await
            .expect("set state");
        let states = aws.alarm_states(&names).await.expect("describe alarms");
        assert_eq!(states, [("web-5xx".to_owned(), state.as_str().to_owned())]);
    }
    let sns = aws_sdk_sns::Client::new(&world.config);
    let topic = sns.create_topic().name("ecs-deployer").send().await.expect("topic").topic_arn.expect("ARN");
    aws.publish(&topic, "ecs-deployer hook Failed", r#"{"status":"Failed"}"#).await.expect("published");
    let missing = topic.replace("ecs-deployer", "absent");
    assert!(aws.publish(&missing, "s", "{}").await.is_err(), "a topic that does not exist");
    let err = aws.report("d-NOSUCHONE", "exec", LifecycleStatus::Succeeded).await.expect_err("no such deployment");
    assert_eq!(err.aws_code.as_deref(), Some("DeploymentDoesNotExistException"), "{err}");
    assert_eq!(err.code().as_str(), "AwsCallFailed");
}

fn answer(out: &std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("invoke printed no JSON ({e}): {stdout}\n{}", String::from_utf8_lossy(&out.stderr)))
}

// `cargo lambda invoke` blocks its thread: the listener answers from another one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hook_fixture_gets_its_answer_through_the_lambda_runtime() {
    let server = listener(200).await;
    let (world, lambda) = world_and_hook(&[
        ("HOOK_HTTP_URL", &server.url),
        ("HOOK_HTTP_REQUESTS", "2"),
        ("HOOK_HTTP_INTERVAL_SECONDS", "1"),
    ])
    .await;
    let events = repo_root().join("events");
    let invoke = |name: &str| lambda.invoke_function("hook", &events.join(name));
    let status = |name: &str| answer(&invoke(name))["hookStatus"].as_str().map(str::to_owned);

    // The documented POST_TEST_TRAFFIC_SHIFT example: the first of two requests passed, more to come.
    let first = answer(&invoke("hook-ecs-post-test-traffic-shift.json"));
    assert_eq!(
        (first["hookStatus"].as_str(), first["callBackDelay"].as_u64()),
        (Some("IN_PROGRESS"), Some(1)),
        "{first}"
    );
    assert_eq!(first["hookDetails"]["ecsDeployerHook"]["outcomes"][0]["passed"], true, "{first}");
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    // A rollback's re-invocation: SUCCEEDED, nothing requested. A malformed event: FAILED, not an error.
    assert_eq!(status("hook-ecs-rollback.json").as_deref(), Some("SUCCEEDED"));
    assert_eq!(status("hook-ecs-malformed.json").as_deref(), Some("FAILED"));
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);

    // The CodeDeploy example names a deployment the local AWS does not have: the checks pass, the report
    // is refused, and the function fails with the stable code (Lambda would retry the invocation).
    let out = invoke("hook-codedeploy.json");
    let shown = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && shown.contains("AwsCallFailed"), "{shown}");
    assert!(shown.contains("DeploymentDoesNotExist"), "{shown}");
    assert_eq!(server.hits.load(Ordering::SeqCst), 3);
    drop(world);

    for entry in std::fs::read_dir(&events).expect("events/") {
        let name = entry.expect("entry").file_name().to_string_lossy().to_string();
        if name.starts_with("hook-") {
            assert!(
                [
                    "hook-codedeploy.json",
                    "hook-ecs-post-test-traffic-shift.json",
                    "hook-ecs-rollback.json",
                    "hook-ecs-malformed.json"
                ]
                .contains(&name.as_str()),
                "{name} is not invoked by this test"
            );
        }
    }
}
