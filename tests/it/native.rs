//! ECS-native BLUE_GREEN, LINEAR and CANARY service deployments followed through the real SDK on the local
//! AWS (`tests/localaws`), which walks each service deployment through its lifecycle stages, traffic steps,
//! bakes and hooks on its clock. A minute of that clock lasts `LOCAL_AWS_MINUTE` seconds; here a few, so a
//! bake is a few ticks but a traffic step still outlasts the deployer's 5-6 s between reads. The clock is
//! stepped (`World::start_stepped`): the deployer's sleeps between reads move it, nothing waits for it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{
    CanaryConfiguration, DeploymentConfiguration, DeploymentLifecycleHook, DeploymentLifecycleHookStage,
    DeploymentLifecycleHookTargetType, DeploymentStrategy, LinearConfiguration, ServiceDeployment,
};
use contract::request::DeployRequest;
use contract::result::Status;
use deployer::request::Invocation;
use deployer_tests::{Shape, World};
use serde_json::{json, Value};

const HOOK_ROLE: &str = "arn:aws:iam::123456789012:role/ecs-hooks";

fn request(value: Value) -> DeployRequest {
    serde_json::from_value(value).expect("a valid request")
}

fn invocation(budget_secs: u64) -> Invocation {
    Invocation { request_id: "native-test".into(), budget: Duration::from_secs(budget_secs), home: None }
}

/// A Lambda endpoint for the local AWS's hooks: a function whose name contains `fail` answers FAILED,
/// every other SUCCEEDED.
fn hook_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the hook endpoint");
    let endpoint = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() {
                continue;
            }
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let status = if first.contains("fail") { "FAILED" } else { "SUCCEEDED" };
            let answer = json!({ "hookStatus": status }).to_string();
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    endpoint
}

/// A world whose minute lasts `minute` seconds, its first rollout settled, `web` on `config`.
async fn world(minute: f64, config: DeploymentConfiguration, hooks: bool) -> World {
    world_switched(minute, config, hooks, &[]).await
}

/// [`world`] with the local AWS's switches for unsettled points set (`LOCAL_AWS_…=1`, tests/localaws/server.py).
async fn world_switched(minute: f64, config: DeploymentConfiguration, hooks: bool, switches: &[&'static str]) -> World {
    let mut env = vec![("LOCAL_AWS_MINUTE", minute.to_string())];
    env.extend(switches.iter().map(|s| (*s, "1".to_owned())));
    if hooks {
        env.push(("LOCAL_AWS_LAMBDA_ENDPOINT", hook_endpoint()));
    }
    configured(World::start_stepped(Shape::default(), 0.5, &env).await, config).await
}

/// [`world`] on the wall clock: for a test in which someone else acts on the service (an alarm fires,
/// another deploy) while the deployer follows its rollout; on a stepped world the rollout would be over
/// before they act.
async fn ticking_world(minute: f64, config: DeploymentConfiguration) -> World {
    let env = vec![("LOCAL_AWS_MINUTE", minute.to_string())];
    configured(World::start_configured(Shape::default(), 0.5, &env).await, config).await
}

/// `world` with its first rollout settled and `web` on `config`.
async fn configured(world: World, config: DeploymentConfiguration) -> World {
    world.settle("web").await;
    world
        .ecs
        .update_service()
        .cluster("demo")
        .service("web")
        .deployment_configuration(config)
        .send()
        .await
        .expect("configure the strategy");
    world
}

fn blue_green(bake: i32) -> aws_sdk_ecs::types::builders::DeploymentConfigurationBuilder {
    DeploymentConfiguration::builder().strategy(DeploymentStrategy::BlueGreen).bake_time_in_minutes(bake)
}

fn lambda_hook(name: &str, stage: DeploymentLifecycleHookStage) -> DeploymentLifecycleHook {
    DeploymentLifecycleHook::builder()
        .hook_target_arn(format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"))
        .role_arn(HOOK_ROLE)
        .lifecycle_stages(stage)
        .build()
}

fn pause_hook(stage: DeploymentLifecycleHookStage) -> DeploymentLifecycleHook {
    DeploymentLifecycleHook::builder()
        .target_type(DeploymentLifecycleHookTargetType::Pause)
        .lifecycle_stages(stage)
        .build()
}

async fn service_deployment(world: &World, arn: &str) -> ServiceDeployment {
    let out = world.ecs.describe_service_deployments().service_deployment_arns(arn).send().await.expect("describe");
    out.service_deployments()[0].clone()
}

/// Reads `arn` until `done` holds (at most a minute).
async fn wait_for(world: &World, arn: &str, done: impl Fn(&ServiceDeployment) -> bool) -> ServiceDeployment {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sd = service_deployment(world, arn).await;
        if done(&sd) {
            return sd;
        }
        assert!(Instant::now() < deadline, "service deployment never got there: {sd:?}");
        world.idle().await;
    }
}

async fn service_deployment_count(world: &World) -> usize {
    let out = world.ecs.list_service_deployments().cluster("demo").service("web").send().await.expect("list");
    out.service_deployments().len()
}

#[tokio::test]
async fn blue_green_succeeds_after_its_bake() {
    let world = world(2.0, blue_green(2).build(), false).await;
    let result = world.deployer().deploy_with(request(json!({"version": "v2", "wait": true})), &invocation(90)).await;
    let result = result.expect("the blue/green deployment succeeds");
    assert_eq!(result.status, Status::Completed);
    let sd = result.service_deployment.expect("the service deployment is reported");
    assert_eq!(sd.status.as_deref(), Some("SUCCESSFUL"));
    assert_eq!(sd.strategy, "BLUE_GREEN");
    assert_eq!(sd.production_traffic_percent, Some(100.0));
    assert!(sd.traffic_steps.contains(&100.0), "{sd:?}");
    let finished = service_deployment(&world, &sd.arn).await;
    assert_eq!(finished.status().map(|s| s.as_str()), Some("SUCCESSFUL"), "ECS agrees: {finished:?}");
    assert_eq!(world.settle("web").await.1, "web:2");
}

#[tokio::test]
async fn canary_and_linear_report_their_traffic_steps() {
    let canary = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::Canary)
        .bake_time_in_minutes(0)
        .canary_configuration(
            CanaryConfiguration::builder().canary_percent(10.0).canary_bake_time_in_minutes(1).build(),
        )
        .build();
    let linear = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::Linear)
        .bake_time_in_minutes(0)
        .linear_configuration(LinearConfiguration::builder().step_percent(50.0).step_bake_time_in_minutes(1).build())
        .build();
    for (config, name, steps) in [(canary, "CANARY", vec![10.0, 100.0]), (linear, "LINEAR", vec![50.0, 100.0])] {
        let world = world(8.0, config, false).await;
        let result = world
            .deployer()
            .deploy_with(request(json!({"version": "v2", "wait": true})), &invocation(120))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(result.status, Status::Completed, "{name}");
        let sd = result.service_deployment.expect("the service deployment is reported");
        assert_eq!(sd.strategy, name);
        let seen: Vec<f64> = sd.traffic_steps.iter().copied().filter(|w| *w > 0.0).collect();
        assert_eq!(seen, steps, "{name}: {sd:?}");
    }
}

#[tokio::test]
async fn a_failing_hook_is_rolled_back_by_ecs_and_reported_with_hook_and_stage() {
    let config = blue_green(1)
        .lifecycle_hooks(lambda_hook("smoke-fail", DeploymentLifecycleHookStage::PostTestTrafficShift))
        .build();
    let world = world(2.0, config, true).await;
    let err = world
        .deployer()
        .execute(request(json!({"version": "v2", "wait": true})), &invocation(90))
        .await
        .expect_err("the hook fails the deployment");
    assert_eq!(err.code().as_str(), "RolledBack", "{err}");
    let details = err.details();
    assert_eq!(details["rollout"]["rollback"]["by"], "ecs-lifecycle-hook", "{details}");
    assert_eq!(details["rollout"]["rollback"]["to"], "web:1", "{details}");
    let reason = details["rollout"]["failure"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("smoke-fail") && reason.contains("POST_TEST_TRAFFIC_SHIFT"), "{reason}");
    assert_eq!(details["service_deployment"]["status"], "ROLLBACK_SUCCESSFUL", "{details}");
    assert_eq!(world.settle("web").await.1, "web:1", "ECS put blue back; the deployer did not deploy again");
    assert_eq!(service_deployment_count(&world).await, 2, "the first rollout and ours: no second rollback");
}

#[tokio::test]
async fn our_rollback_during_the_bake_stops_the_service_deployment() {
    let world = world(1.0, blue_green(60).build(), false).await;
    let deployed = world.deployer().deploy(request(json!({"version": "v2"}))).await.expect("deployed");
    let arn = deployed.service_deployment.expect("the service deployment is reported").arn;
    wait_for(&world, &arn, |sd| sd.lifecycle_stage().map(|s| s.as_str()) == Some("BAKE_TIME")).await;
    let rolled = world
        .deployer()
        .execute(request(json!({"action": "rollback", "wait": true})), &invocation(60))
        .await
        .expect("rolled back");
    assert_eq!(rolled["status"], "rolled_back", "{rolled}");
    assert_eq!(rolled["to"], "web:1");
    let sd = service_deployment(&world, &arn).await;
    assert_eq!(sd.status().map(|s| s.as_str()), Some("ROLLBACK_SUCCESSFUL"), "{sd:?}");
    let reason = sd.rollback().and_then(|r| r.reason()).unwrap_or_default();
    assert!(reason.contains("StopServiceDeployment"), "{reason}");
    assert_eq!(service_deployment_count(&world).await, 2, "stopped, not replaced by a new deployment");
}

#[tokio::test]
async fn a_pause_hook_waits_for_continue_or_reject() {
    for (action, status, ends) in
        [("continue", "continued", "SUCCESSFUL"), ("reject", "rejected", "ROLLBACK_SUCCESSFUL")]
    {
        let config =
            blue_green(0).lifecycle_hooks(pause_hook(DeploymentLifecycleHookStage::PostTestTrafficShift)).build();
        let world = world(2.0, config, false).await;
        let deployer = world.deployer();
        let deployed = deployer.deploy(request(json!({"version": "v2"}))).await.expect("deployed");
        let arn = deployed.service_deployment.expect("the service deployment is reported").arn;
        wait_for(&world, &arn, |sd| {
            sd.lifecycle_hook_details().iter().any(|h| h.status().map(|s| s.as_str()) == Some("AWAITING_ACTION"))
        })
        .await;
        let shown = deployer.execute(request(json!({"action": "status"})), &invocation(30)).await.expect("status");
        let hook = &shown["service_deployment"]["hooks"][0];
        assert_eq!(hook["status"], "AWAITING_ACTION", "{shown}");
        assert!(hook["expires_at"].as_str().is_some_and(|t| t.contains('T')), "{hook}");
        let answered = deployer.execute(request(json!({"action": action})), &invocation(30)).await.expect(action);
        assert_eq!(answered["status"], status, "{answered}");
        assert_eq!(answered["hooks"][0], hook["hook_id"]);
        let sd = wait_for(&world, &arn, |sd| {
            matches!(sd.status().map(|s| s.as_str()), Some("SUCCESSFUL" | "ROLLBACK_SUCCESSFUL" | "ROLLBACK_FAILED"))
        })
        .await;
        assert_eq!(sd.status().map(|s| s.as_str()), Some(ends), "{action}: {sd:?}");
        let again = deployer.execute(request(json!({"action": action})), &invocation(30)).await.unwrap_err();
        assert_eq!(again.code().as_str(), "NoHookAwaitingAction", "{action}");
    }
}

#[tokio::test]
async fn misconfigured_services_are_refused_before_any_change() {
    let no_bake = DeploymentConfiguration::builder().strategy(DeploymentStrategy::BlueGreen).build();
    let canary = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::Canary)
        .canary_configuration(CanaryConfiguration::builder().canary_percent(0.05).build())
        .build();
    for (config, code) in [(no_bake, "BakeTimeRequired"), (canary, "TrafficShiftOutOfRange")] {
        let world = world(60.0, config, false).await;
        let before = service_deployment_count(&world).await;
        let err = world.deployer().deploy(request(json!({"version": "v2"}))).await.expect_err("refused");
        assert_eq!(err.code().as_str(), code, "{err}");
        assert_eq!(world.revisions().await, ["web:1"], "{code}: nothing registered");
        assert_eq!(service_deployment_count(&world).await, before, "{code}: no service deployment started");
        assert_eq!(world.primary_deployment("web").await.1, "web:1");
    }
    // A load balancer without advancedConfiguration (no alternate target group, listener rule or role).
    let world = world(60.0, blue_green(5).build(), false).await;
    let lb = aws_sdk_ecs::types::LoadBalancer::builder()
        .target_group_arn("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/blue/0123456789abcdef")
        .container_name("app")
        .container_port(8080)
        .build();
    world.ecs.update_service().cluster("demo").service("web").load_balancers(lb).send().await.expect("add the LB");
    let before = service_deployment_count(&world).await;
    let err = world.deployer().deploy(request(json!({"version": "v2"}))).await.expect_err("refused");
    assert_eq!(err.code().as_str(), "AdvancedConfigurationRequired", "{err}");
    assert_eq!(err.details()["missing"], "alternateTargetGroupArn, productionListenerRule, roleArn");
    assert_eq!(world.revisions().await, ["web:1"], "nothing registered");
    assert_eq!(service_deployment_count(&world).await, before, "no service deployment started");
}

/// A rolling update of `v2` whose deployment alarm `p99` goes into ALARM 3 s after the deploy starts, on a
/// world of `tick`-second ticks: the world and the deploy's error. The alarm fires on the wall clock while the
/// rollout runs, so the world ticks by itself (a stepped one would finish the rollout before it fires).
async fn alarm_rollback(tick: f64) -> (World, deployer::error::DeployError) {
    let world = World::start_ticking(Shape::default(), tick).await;
    world.settle("web").await;
    // CloudWatch through the venv's boto3: the alarm, not in ALARM at the deployment's start.
    let script = format!(
        "import boto3; cw = boto3.client('cloudwatch', endpoint_url='{}', region_name='us-east-1', \
         aws_access_key_id='testing', aws_secret_access_key='testing'); \
         cw.put_metric_alarm(AlarmName='p99', MetricName='TargetResponseTime', Namespace='AWS/ApplicationELB', \
         Statistic='Average', Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator='GreaterThanThreshold')",
        world.endpoint
    );
    let out =
        std::process::Command::new(deployer_tests::tool("python")).args(["-c", &script]).output().expect("python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Into ALARM once the deployment runs: an alarm already in ALARM at its start is not watched (ECS guide,
    // deployment-alarm-failure.html); the rollout then waits a minute with its alarms watched.
    let firing = alarm_fires_in(&world, Duration::from_secs(3));
    let alarms = aws_sdk_ecs::types::DeploymentAlarms::builder()
        .alarm_names("p99")
        .enable(true)
        .rollback(true)
        .build()
        .expect("alarms");
    world
        .ecs
        .update_service()
        .cluster("demo")
        .service("web")
        .deployment_configuration(DeploymentConfiguration::builder().alarms(alarms).build())
        .send()
        .await
        .expect("turn the deployment alarms on");
    let err = world
        .deployer()
        .execute(request(json!({"version": "v2", "wait": true})), &invocation(90))
        .await
        .expect_err("the alarm fails the rollout");
    firing.await.expect("the alarm fired");
    (world, err)
}

#[tokio::test]
async fn an_alarm_rollback_of_a_rolling_update_is_ecs_s() {
    // ECS drops the failed deployment two ticks after its rollback starts; with 4 s ticks a read every 5-6 s
    // sees it failed next to the rollback.
    let (world, err) = alarm_rollback(4.0).await;
    assert_eq!(err.code().as_str(), "RolledBack", "{err}");
    let details = err.details();
    assert_eq!(details["rollout"]["rollback"]["by"], "ecs-alarms", "{details}");
    assert!(details["rollout"]["failure"]["reason"].as_str().unwrap_or_default().contains("p99"), "{details}");
    assert_eq!(world.settle("web").await.1, "web:1");
    let (failed, _) = world.task_definition("web:2").await;
    assert_eq!(
        failed.status().map(|s| s.as_str()),
        Some("ACTIVE"),
        "ECS's rollback: the deployer deregistered nothing"
    );
}

#[tokio::test]
async fn an_alarm_rollback_finished_between_two_reads_is_still_ecs_s() {
    // 1 s ticks: ECS fails the rollout, rolls back and drops the failed deployment before the next read.
    let (world, err) = alarm_rollback(1.0).await;
    assert_eq!(err.code().as_str(), "RolledBack", "{err}");
    let details = err.details();
    assert_eq!(details["rollout"]["rollback"]["by"], "ecs-alarms", "{details}");
    assert_eq!(details["rollout"]["rollback"]["to"], "web:1", "{details}");
    assert_eq!(world.settle("web").await.1, "web:1");
}

/// Puts the alarm `p99` into ALARM `after` from now (through the venv's boto3), in the background.
fn alarm_fires_in(world: &World, after: Duration) -> tokio::task::JoinHandle<()> {
    let script = format!(
        "import boto3; cw = boto3.client('cloudwatch', endpoint_url='{}', region_name='us-east-1', \
         aws_access_key_id='testing', aws_secret_access_key='testing'); \
         cw.set_alarm_state(AlarmName='p99', StateValue='ALARM', StateReason='slow')",
        world.endpoint
    );
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        let out = tokio::process::Command::new(deployer_tests::tool("python"))
            .args(["-c", &script])
            .output()
            .await
            .expect("python");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    })
}

fn with_breaker() -> aws_sdk_ecs::types::DeploymentCircuitBreaker {
    aws_sdk_ecs::types::DeploymentCircuitBreaker::builder().enable(true).rollback(true).build()
}

#[tokio::test]
async fn a_broken_native_deploy_without_a_breaker_is_stopped_by_the_deployer_or_reported_failed() {
    // The breaker is on in the service, but by the API's word it does not apply to BLUE_GREEN: the local AWS
    // leaves the deployment in SCALE_UP, and the deployer sees the green tasks fail.
    let world = world(60.0, blue_green(1).deployment_circuit_breaker(with_breaker()).build(), false).await;
    world.push_image("v3-broken").await;
    let err = world
        .deployer()
        .execute(request(json!({"version": "v3-broken", "wait": true, "rollback": false})), &invocation(90))
        .await
        .expect_err("the green tasks never start");
    assert_eq!(err.code().as_str(), "DeploymentFailed", "{err}");
    let details = err.details();
    let reason = details["rollout"]["failure"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("failed to start") && reason.contains("Essential container in task exited"), "{reason}");
    let arn = details["service_deployment"]["arn"].as_str().expect("the service deployment").to_owned();
    let sd = service_deployment(&world, &arn).await;
    assert_eq!(sd.status().map(|s| s.as_str()), Some("IN_PROGRESS"), "nobody rolled it back: {sd:?}");
    assert!(sd.rollback().is_none());

    // With rollback: the deployer stops the service deployment with ROLLBACK itself.
    let world = world_switched(60.0, blue_green(1).build(), false, &[]).await;
    world.push_image("v3-broken").await;
    let err = world
        .deployer()
        .execute(request(json!({"version": "v3-broken", "wait": true})), &invocation(90))
        .await
        .expect_err("the green tasks never start");
    assert_eq!(err.code().as_str(), "RolledBack", "{err}");
    let details = err.details();
    assert_eq!(details["rollout"]["rollback"]["by"], "ecs-deployer", "{details}");
    assert_eq!(details["rollout"]["rollback"]["to"], "web:1", "{details}");
    let arn = details["service_deployment"]["arn"].as_str().expect("the service deployment").to_owned();
    let sd = service_deployment(&world, &arn).await;
    assert_eq!(sd.status().map(|s| s.as_str()), Some("ROLLBACK_SUCCESSFUL"), "{sd:?}");
    let why = sd.rollback().and_then(|r| r.reason()).unwrap_or_default();
    assert!(why.contains("StopServiceDeployment"), "{why}");
    assert_eq!(world.settle("web").await.1, "web:1");
    assert_eq!(service_deployment_count(&world).await, 2, "stopped, not a new deployment");
}

#[tokio::test]
async fn where_the_breaker_applies_to_native_deploys_its_rollback_is_ecs_s() {
    let config = blue_green(1).deployment_circuit_breaker(with_breaker()).build();
    let world = world_switched(60.0, config, false, &["LOCAL_AWS_NATIVE_CIRCUIT_BREAKER"]).await;
    world.push_image("v3-broken").await;
    let err = world
        .deployer()
        .execute(request(json!({"version": "v3-broken", "wait": true})), &invocation(90))
        .await
        .expect_err("the breaker fails it");
    assert_eq!(err.code().as_str(), "RolledBack", "{err}");
    let details = err.details();
    assert_eq!(details["rollout"]["rollback"]["by"], "ecs-circuit-breaker", "{details}");
    assert_eq!(details["service_deployment"]["status"], "ROLLBACK_SUCCESSFUL", "{details}");
    assert_eq!(world.settle("web").await.1, "web:1");
    assert_eq!(service_deployment_count(&world).await, 2, "ECS's rollback only");
}

#[tokio::test]
async fn a_stale_current_service_deployment_in_the_update_answer_is_not_followed() {
    for switches in [&[][..], &["LOCAL_AWS_STALE_CURRENT_DEPLOYMENT"][..]] {
        let world = world_switched(2.0, blue_green(0).build(), false, switches).await;
        let before = world.ecs.describe_services().cluster("demo").services("web").send().await.expect("describe");
        let old = before.services()[0].current_service_deployment().unwrap_or_default().to_owned();
        let result =
            world.deployer().deploy_with(request(json!({"version": "v2", "wait": true})), &invocation(90)).await;
        let result = result.unwrap_or_else(|e| panic!("{switches:?}: {e}"));
        assert_eq!(result.status, Status::Completed, "{switches:?}");
        let sd = result.service_deployment.expect("reported");
        assert_ne!(sd.arn, old, "{switches:?}: the new service deployment, not the one before");
        assert_eq!(sd.status.as_deref(), Some("SUCCESSFUL"));
        assert_eq!(world.settle("web").await.1, "web:2");
    }
}

#[tokio::test]
async fn a_newer_deployment_over_ours_makes_ours_replaced_and_is_left_alone() {
    let world = ticking_world(1.0, blue_green(60).build()).await;
    let deployer = world.deployer();
    let budget = invocation(60);
    let ours = deployer.execute(request(json!({"version": "v2", "wait": true})), &budget);
    // Someone else deploys while ours bakes.
    let theirs = async {
        tokio::time::sleep(Duration::from_secs(4)).await;
        world
            .ecs
            .update_service()
            .cluster("demo")
            .service("web")
            .task_definition("web:1")
            .send()
            .await
            .expect("someone else's deploy");
    };
    let (ours, ()) = tokio::join!(ours, theirs);
    let err = ours.expect_err("ours is replaced");
    let details = err.details();
    assert_eq!(details["rollout"]["state"], "REPLACED", "{details}");
    assert!(details["rollout"]["rollback"].is_null(), "{details}");
    let out = world.ecs.list_service_deployments().cluster("demo").service("web").send().await.expect("list");
    let newest = out.service_deployments().iter().max_by_key(|b| b.created_at().map(|t| t.as_nanos())).expect("one");
    let newer = service_deployment(&world, newest.service_deployment_arn().unwrap_or_default()).await;
    assert!(newer.rollback().is_none(), "the newer one was never stopped: {newer:?}");
    assert!(matches!(newer.status().map(|s| s.as_str()), Some("PENDING" | "IN_PROGRESS" | "SUCCESSFUL")), "{newer:?}");
}

#[tokio::test]
async fn a_hook_rollback_is_told_by_the_hook_details_and_never_rolled_back_twice() {
    for switches in [&[][..], &["LOCAL_AWS_DROP_FAILED_HOOKS"][..]] {
        let config = blue_green(1)
            .lifecycle_hooks(lambda_hook("smoke-fail", DeploymentLifecycleHookStage::PostTestTrafficShift))
            .build();
        let world = world_switched(2.0, config, true, switches).await;
        let err = world
            .deployer()
            .execute(request(json!({"version": "v2", "wait": true})), &invocation(90))
            .await
            .expect_err("the hook fails the deployment");
        assert_eq!(err.code().as_str(), "RolledBack", "{switches:?}: {err}");
        let by = err.details()["rollout"]["rollback"]["by"].as_str().unwrap_or_default().to_owned();
        if switches.is_empty() {
            assert_eq!(by, "ecs-lifecycle-hook", "the failed hook stays listed");
        } else {
            // Without the failed hook listed, only a read while it was FAILED tells; the text decides nothing.
            assert!(by == "ecs-lifecycle-hook" || by == "ecs", "{by}");
        }
        assert_eq!(world.settle("web").await.1, "web:1");
        assert_eq!(service_deployment_count(&world).await, 2, "{switches:?}: no second rollback");
    }
}
