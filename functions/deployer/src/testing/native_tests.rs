//! ECS-native BLUE_GREEN, LINEAR and CANARY scenarios on the fake: preflight refusals before any change, the
//! verdict on each final status of a service deployment, and who rolls back.

use std::time::Duration;

use aws_sdk_ecs::types::{
    AdvancedConfiguration, CanaryConfiguration, DeploymentConfiguration, DeploymentLifecycleHookStatus,
    DeploymentStrategy, LinearConfiguration, LoadBalancer, ServiceDeploymentLifecycleStage as Stage,
    ServiceDeploymentStatus as S,
};
use serde_json::{json, Value};

use contract::request::DeployRequest;

use crate::request::Invocation;
use crate::testing::*;

fn request(v: Value) -> DeployRequest {
    serde_json::from_value(v).unwrap()
}

fn inv() -> Invocation {
    Invocation { request_id: "req-1".into(), budget: Duration::from_secs(300), home: Some(home()) }
}

/// The standard world with `web` on `config`.
fn native(config: DeploymentConfiguration) -> FakeDeployer {
    let d = standard_deployer();
    d.ecs().state.lock().unwrap().services.get_mut("web").unwrap().deployment_configuration = Some(config);
    d
}

fn blue_green(bake: i32) -> DeploymentConfiguration {
    DeploymentConfiguration::builder().strategy(DeploymentStrategy::BlueGreen).bake_time_in_minutes(bake).build()
}

fn mutations(d: &FakeDeployer) -> Vec<&'static str> {
    let changes = [
        "RegisterTaskDefinition",
        "UpdateService",
        "DeregisterTaskDefinition",
        "StopServiceDeployment",
        "ContinueServiceDeployment",
    ];
    d.ecs().ops().into_iter().filter(|op| changes.contains(op)).collect()
}

fn count(d: &FakeDeployer, op: &str) -> usize {
    d.ecs().ops().iter().filter(|o| **o == op).count()
}

#[tokio::test]
async fn misconfigured_services_are_refused_before_any_change() {
    let lb = |advanced: Option<AdvancedConfiguration>| {
        LoadBalancer::builder()
            .target_group_arn("arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/blue/1")
            .container_name("app")
            .container_port(8080)
            .set_advanced_configuration(advanced)
            .build()
    };
    let cases: Vec<(&str, DeploymentConfiguration, Option<LoadBalancer>, &str, Value)> = vec![
        (
            "blue/green without a bake",
            DeploymentConfiguration::builder().strategy(DeploymentStrategy::BlueGreen).build(),
            None,
            "BakeTimeRequired",
            json!({"service": "web", "strategy": "BLUE_GREEN"}),
        ),
        (
            "a load balancer without advancedConfiguration",
            blue_green(5),
            Some(lb(None)),
            "AdvancedConfigurationRequired",
            json!("alternateTargetGroupArn, productionListenerRule, roleArn"),
        ),
        (
            "advancedConfiguration without its role",
            blue_green(5),
            Some(lb(Some(
                AdvancedConfiguration::builder()
                    .alternate_target_group_arn(
                        "arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/green/2",
                    )
                    .production_listener_rule(
                        "arn:aws:elasticloadbalancing:eu-west-1:111122223333:listener-rule/app/x/1/2",
                    )
                    .build(),
            ))),
            "AdvancedConfigurationRequired",
            json!("roleArn"),
        ),
        (
            "a linear step under 3 %",
            DeploymentConfiguration::builder()
                .strategy(DeploymentStrategy::Linear)
                .linear_configuration(LinearConfiguration::builder().step_percent(2.5).build())
                .build(),
            None,
            "TrafficShiftOutOfRange",
            json!("linearConfiguration.stepPercent"),
        ),
        (
            "a canary percent not in tenths",
            DeploymentConfiguration::builder()
                .strategy(DeploymentStrategy::Canary)
                .canary_configuration(CanaryConfiguration::builder().canary_percent(5.05).build())
                .build(),
            None,
            "TrafficShiftOutOfRange",
            json!("canaryConfiguration.canaryPercent"),
        ),
        (
            "a canary bake over a day",
            DeploymentConfiguration::builder()
                .strategy(DeploymentStrategy::Canary)
                .canary_configuration(CanaryConfiguration::builder().canary_bake_time_in_minutes(1441).build())
                .build(),
            None,
            "TrafficShiftOutOfRange",
            json!("canaryConfiguration.canaryBakeTimeInMinutes"),
        ),
    ];
    for (name, config, lb, code, detail) in cases {
        let d = native(config);
        if let Some(lb) = lb {
            d.ecs().state.lock().unwrap().services.get_mut("web").unwrap().load_balancers = Some(vec![lb]);
        }
        let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
        assert_eq!(err.code().as_str(), code, "{name}: {err}");
        let details = err.details();
        let shown = match code {
            "AdvancedConfigurationRequired" => details["missing"].clone(),
            "TrafficShiftOutOfRange" => details["setting"].clone(),
            _ => details.clone(),
        };
        assert_eq!(shown, detail, "{name}: {details}");
        assert!(mutations(&d).is_empty(), "{name}: {:?}", mutations(&d));
        assert_eq!(count(&d, "ListServiceDeployments"), 0, "{name}: refused from DescribeServices alone");
    }
}

#[tokio::test]
async fn a_service_deployment_in_flight_is_refused_unless_forced() {
    let d = native(blue_green(5));
    let foreign = d.ecs().in_flight("web");
    let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    assert_eq!(err.code().as_str(), "DeploymentInProgress");
    assert!(err.details()["holder"].as_str().unwrap().contains(&foreign), "{}", err.details());
    assert!(mutations(&d).is_empty(), "{:?}", mutations(&d));
    let forced = d.deploy(request(json!({"version": "v2", "force": true}))).await.unwrap();
    assert_eq!(forced.task_definition.as_deref(), Some("web:8"));
}

#[tokio::test]
async fn blue_green_is_followed_through_its_bake_to_successful() {
    let d = native(blue_green(5));
    let step = NativeStep::new;
    d.ecs().native_scripts([vec![
        step(S::Pending, Stage::PreScaleUp, 0.0),
        step(S::InProgress, Stage::ScaleUp, 0.0),
        step(S::InProgress, Stage::ProductionTrafficShift, 100.0),
        step(S::InProgress, Stage::BakeTime, 100.0),
        step(S::InProgress, Stage::BakeTime, 100.0),
        step(S::InProgress, Stage::BakeTime, 100.0),
        step(S::Successful, Stage::CleanUp, 100.0),
    ]]);
    let out = d.execute(request(json!({"version": "v2", "wait": true})), &inv()).await.unwrap();
    assert_eq!(out["status"], "completed", "{out}");
    let sd = &out["service_deployment"];
    assert_eq!(sd["status"], "SUCCESSFUL");
    assert_eq!(sd["strategy"], "BLUE_GREEN");
    assert_eq!(sd["traffic_steps"], json!([0.0, 100.0]));
    assert!(sd["arn"].as_str().unwrap().contains(":service-deployment/prod/web/"), "{sd}");
    assert_eq!(count(&d, "DescribeServiceDeployments"), 7, "read until SUCCESSFUL, not until stable");
    assert_eq!(count(&d, "DescribeServiceRevisions"), 1, "the new revision's images are checked");
}

#[tokio::test]
async fn each_final_status_gets_its_verdict_and_only_stopped_is_rolled_back_by_us() {
    let failed_hook = NativeStep {
        status: S::RollbackSuccessful,
        stage: Some(Stage::PostTestTrafficShift),
        weight: 0.0,
        rollback_reason: Some("Lifecycle hook smoke returned hookStatus FAILED at POST_TEST_TRAFFIC_SHIFT.".into()),
        hook: Some(("smoke".into(), DeploymentLifecycleHookStatus::Failed)),
        breaker: None,
    };
    let rollback_failed = NativeStep {
        status: S::RollbackFailed,
        rollback_reason: Some("Service deployment rolled back because of a StopServiceDeployment request.".into()),
        ..NativeStep::new(S::RollbackFailed, Stage::BakeTime, 100.0)
    };
    let stopped = NativeStep {
        rollback_reason: Some("Service deployment stopped because of a StopServiceDeployment request.".into()),
        ..NativeStep::new(S::Stopped, Stage::ScaleUp, 0.0)
    };
    let running = NativeStep::new(S::InProgress, Stage::PostTestTrafficShift, 0.0);
    let cases = [
        (failed_hook, "RolledBack", Some("ecs-lifecycle-hook"), 1, "smoke"),
        (rollback_failed, "RolledBack", Some("ecs"), 1, "needs a person"),
        (stopped, "RolledBack", Some("ecs-deployer"), 2, "stopped because"),
    ];
    for (last, code, by, updates, says) in cases {
        let d = native(blue_green(5));
        d.ecs().native_scripts([vec![running.clone(), last.clone()]]);
        let err = d.execute(request(json!({"version": "v2", "wait": true})), &inv()).await.unwrap_err();
        assert_eq!(err.code().as_str(), code, "{last:?}: {err}");
        let details = err.details();
        assert_eq!(details["rollout"]["rollback"]["by"].as_str(), by, "{details}");
        assert_eq!(count(&d, "UpdateService"), updates, "{last:?}: never a second rollback of ECS's");
        let reason = details["rollout"]["failure"]["reason"].as_str().unwrap();
        assert!(reason.contains(says), "{reason}");
        assert!(reason.contains("POST_TEST_TRAFFIC_SHIFT") || last.status != S::RollbackSuccessful, "{reason}");
        if last.status == S::RollbackSuccessful {
            assert_eq!(
                details["service_deployment"]["failed_hook"],
                "arn:aws:lambda:eu-west-1:111122223333:function:smoke"
            );
            assert_eq!(details["rollout"]["rollback"]["state"], "COMPLETED");
        }
    }
}

#[tokio::test]
async fn an_explicit_rollback_in_flight_stops_the_service_deployment() {
    let d = native(blue_green(60));
    let bake = NativeStep::new(S::InProgress, Stage::BakeTime, 100.0);
    d.ecs().native_scripts([vec![bake]]);
    let deployed = d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    assert!(deployed.service_deployment.is_some());
    let out = d.execute(request(json!({"action": "rollback", "wait": true})), &inv()).await.unwrap();
    assert_eq!(out["status"], "rolled_back", "{out}");
    assert_eq!(out["rollout"]["state"], "COMPLETED", "{out}");
    assert_eq!(count(&d, "StopServiceDeployment"), 1);
    assert_eq!(count(&d, "UpdateService"), 1, "no second deployment while one is in flight");
    // Finished: a second rollback is a new deployment of the earlier revision, and a stop would conflict.
    let again = d.execute(request(json!({"action": "rollback", "to": "web:8"})), &inv()).await.unwrap();
    assert_eq!(again["to"], "web:8");
    assert_eq!(count(&d, "UpdateService"), 2);
}

#[tokio::test]
async fn continue_and_reject_answer_the_hooks_awaiting_action() {
    let paused = NativeStep {
        hook: Some(("pause-1".into(), DeploymentLifecycleHookStatus::AwaitingAction)),
        ..NativeStep::new(S::InProgress, Stage::PostTestTrafficShift, 0.0)
    };
    for (action, status, after) in
        [("continue", "continued", "SUCCESSFUL"), ("reject", "rejected", "ROLLBACK_SUCCESSFUL")]
    {
        let d = native(blue_green(5));
        d.ecs().native_scripts([vec![paused.clone()]]);
        d.deploy(request(json!({"version": "v2"}))).await.unwrap();
        let shown = d.execute(request(json!({"action": "status"})), &inv()).await.unwrap();
        assert_eq!(shown["service_deployment"]["hooks"][0]["status"], "AWAITING_ACTION", "{shown}");
        let out = d.execute(request(json!({"action": action})), &inv()).await.unwrap();
        assert_eq!(out["status"], status, "{out}");
        assert_eq!(out["hooks"], json!(["pause-1"]));
        assert_eq!(out["service_deployment"]["status"], after);
        let err = d.execute(request(json!({"action": action})), &inv()).await.unwrap_err();
        assert_eq!(err.code().as_str(), "NoHookAwaitingAction");
    }
    let rolling = standard_deployer();
    let err = rolling.execute(request(json!({"action": "continue"})), &inv()).await.unwrap_err();
    assert_eq!(err.code().as_str(), "UnsupportedDeploymentStrategy");
}

#[tokio::test]
async fn alarm_rollbacks_of_a_rolling_update_are_ecs_s() {
    use aws_sdk_ecs::types::DeploymentAlarms;
    let d = standard_deployer();
    d.ecs().state.lock().unwrap().services.get_mut("web").unwrap().deployment_configuration = Some(
        DeploymentConfiguration::builder()
            .alarms(DeploymentAlarms::builder().alarm_names("p99").enable(true).rollback(true).build().unwrap())
            .build(),
    );
    d.ecs().rollouts([Rollout::AlarmRollback { after: Duration::from_secs(20) }]);
    let err = d.execute(request(json!({"version": "v2", "wait": true})), &inv()).await.unwrap_err();
    assert_eq!(err.code().as_str(), "RolledBack", "{err}");
    let details = err.details();
    assert_eq!(details["rollout"]["rollback"]["by"], "ecs-alarms", "{details}");
    assert_eq!(details["rollout"]["rollback"]["to"], "web:7");
    assert_eq!(count(&d, "UpdateService"), 1, "never a second rollback");
}

#[tokio::test]
async fn a_failed_deployment_event_leaves_an_alarm_rollback_to_ecs() {
    use aws_sdk_ecs::types::DeploymentAlarms;

    use crate::trigger::ecs_event::on_deployment_event;
    use crate::trigger::{EcsDeploymentDetail, EcsDeploymentEvent, Origin};
    let d = standard_deployer();
    d.ecs().state.lock().unwrap().services.get_mut("web").unwrap().deployment_configuration = Some(
        DeploymentConfiguration::builder()
            .alarms(DeploymentAlarms::builder().alarm_names("p99").enable(true).rollback(true).build().unwrap())
            .build(),
    );
    d.ecs().rollouts([Rollout::AlarmRollback { after: Duration::from_secs(30) }]);
    let out = d.execute(request(json!({"version": "v2"})), &inv()).await.unwrap();
    let id = out["deployment_id"].as_str().unwrap().to_owned();
    d.ecs().state.lock().unwrap().now += Duration::from_secs(40);
    let event = EcsDeploymentEvent {
        origin: Origin { account: ACCOUNT.into(), region: REGION.into() },
        service_arn: "arn:aws:ecs:eu-west-1:111122223333:service/prod/web".into(),
        detail: EcsDeploymentDetail { event_name: "SERVICE_DEPLOYMENT_FAILED".into(), deployment_id: id, reason: None },
    };
    let out = on_deployment_event(&d, &event, &inv()).await.unwrap();
    assert_eq!(out["status"], "rolled_back", "{out}");
    assert_eq!(out["rollback"]["by"], "ecs-alarms", "{out}");
    assert_eq!(count(&d, "UpdateService"), 1, "never a second rollback");
}

#[tokio::test]
async fn a_failed_service_deployment_event_is_ecs_s_to_roll_back_and_says_where_it_stood() {
    use aws_sdk_ecs::types::DeploymentRolloutState;

    use crate::trigger::ecs_event::on_deployment_event;
    use crate::trigger::{EcsDeploymentDetail, EcsDeploymentEvent, Origin};
    let d = native(blue_green(5));
    let failed = NativeStep {
        rollback_reason: Some("Service deployment rolled back because alarms were triggered: p99.".into()),
        ..NativeStep::new(S::RollbackSuccessful, Stage::BakeTime, 0.0)
    };
    d.ecs().native_scripts([vec![failed]]);
    let out = d.execute(request(json!({"version": "v2"})), &inv()).await.unwrap();
    let id = out["deployment_id"].as_str().unwrap().to_owned();
    {
        let mut s = d.ecs().state.lock().unwrap();
        let svc = s.services.get_mut("web").unwrap();
        let ours = svc.deployments.as_mut().unwrap().iter_mut().find(|x| x.id() == Some(id.as_str())).unwrap();
        ours.rollout_state = Some(DeploymentRolloutState::Failed);
    }
    let event = EcsDeploymentEvent {
        origin: Origin { account: ACCOUNT.into(), region: REGION.into() },
        service_arn: "arn:aws:ecs:eu-west-1:111122223333:service/prod/web".into(),
        detail: EcsDeploymentDetail { event_name: "SERVICE_DEPLOYMENT_FAILED".into(), deployment_id: id, reason: None },
    };
    let out = on_deployment_event(&d, &event, &inv()).await.unwrap();
    assert_eq!(out["status"], "rolled_back", "{out}");
    assert_eq!(out["rollback"]["by"], "ecs", "{out}");
    assert_eq!(out["service_deployment"]["status"], "ROLLBACK_SUCCESSFUL", "{out}");
    assert_eq!(out["service_deployment"]["lifecycle_stage"], "BAKE_TIME", "{out}");
    assert_eq!(count(&d, "UpdateService"), 1, "never a second rollback");
}

#[tokio::test]
async fn a_service_deployment_that_cannot_be_found_is_not_judged_failed() {
    let d = native(blue_green(5));
    d.ecs().native_scripts([vec![NativeStep::new(S::InProgress, Stage::BakeTime, 100.0)]]);
    // Then ECS names no current service deployment and lists nothing that matches.
    let out = d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    let arn = out.service_deployment.expect("identified").arn;
    {
        let mut s = d.ecs().state.lock().unwrap();
        s.service_deployments.remove(&arn);
        s.services.get_mut("web").unwrap().current_service_deployment = None;
    }
    let d2 = d;
    let followed = crate::strategy::native::follow(
        d2.ecs(),
        d2.clock(),
        &crate::request::ServiceRef {
            region: None,
            cluster: contract::names::ClusterName::parse("cluster", "prod").unwrap(),
            service: contract::names::ServiceName::parse("service", "web").unwrap(),
            codedeploy: Default::default(),
        },
        crate::strategy::native::Kind::BlueGreen,
        crate::verdict::Tracked {
            deployment_id: Some("ecs-svc/nope"),
            service_deployment_arn: None,
            task_definition: "web:8",
            max_failed_tasks: 3,
            codedeploy: None,
        },
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    assert!(followed.verdict.is_none(), "{:?}", followed.verdict);
    assert_eq!(mutations(&d2), ["RegisterTaskDefinition", "UpdateService"], "no rollback of what could not be read");
}

#[tokio::test]
async fn service_deployment_events_become_notifications_with_stage_and_traffic() {
    use crate::trigger::ecs_event::on_deployment_event;
    use crate::trigger::{EcsDeploymentDetail, EcsDeploymentEvent, Origin};
    let canary = DeploymentConfiguration::builder()
        .strategy(DeploymentStrategy::Canary)
        .canary_configuration(
            CanaryConfiguration::builder().canary_percent(10.0).canary_bake_time_in_minutes(5).build(),
        )
        .bake_time_in_minutes(5)
        .build();
    let recorder = Recorder::default();
    let d = native(canary).with_notifier(recorder.clone());
    let shifting = NativeStep::new(S::InProgress, Stage::ProductionTrafficShift, 10.0);
    d.ecs().native_scripts([vec![shifting]]);
    let out = d.execute(request(json!({"version": "v2"})), &inv()).await.unwrap();
    let id = out["deployment_id"].as_str().unwrap().to_owned();
    let in_progress = |deployment_id: String| EcsDeploymentEvent {
        origin: Origin { account: ACCOUNT.into(), region: REGION.into() },
        service_arn: "arn:aws:ecs:eu-west-1:111122223333:service/prod/web".into(),
        detail: EcsDeploymentDetail {
            event_name: "SERVICE_DEPLOYMENT_IN_PROGRESS".into(),
            deployment_id,
            reason: None,
        },
    };
    let out = on_deployment_event(&d, &in_progress(id), &inv()).await.unwrap();
    assert_eq!(out["status"], "in_progress", "{out}");
    assert_eq!(out["service_deployment"]["lifecycle_stage"], "PRODUCTION_TRAFFIC_SHIFT", "{out}");
    let told = recorder.0.lock().unwrap().last().cloned().unwrap();
    assert_eq!(told.event.as_str(), "progress");
    assert_eq!(
        (told.stage.as_deref(), told.production_traffic_percent),
        (Some("PRODUCTION_TRAFFIC_SHIFT"), Some(10.0))
    );
    assert_eq!((told.from.as_deref(), told.to.as_deref()), (Some("web:7"), Some("web:8")));
    assert_eq!(mutations(&d), ["RegisterTaskDefinition", "UpdateService"], "an event changes nothing");

    // On a rolling update the deploy already said it started: nothing more to tell.
    let rolling = standard_deployer().with_notifier(recorder.clone());
    let out = rolling.execute(request(json!({"version": "v2"})), &inv()).await.unwrap();
    let told = recorder.events().len();
    let id = out["deployment_id"].as_str().unwrap().to_owned();
    let out = on_deployment_event(&rolling, &in_progress(id), &inv()).await.unwrap();
    assert_eq!(out["status"], "ignored", "{out}");
    assert_eq!(recorder.events().len(), told);
}

/// A stopped task of the service, started by deployment `started_by`, running `revision`, stopped with `code`.
fn stopped_task(
    n: usize,
    started_by: &str,
    revision: &str,
    code: aws_sdk_ecs::types::TaskStopCode,
) -> aws_sdk_ecs::types::Task {
    aws_sdk_ecs::types::Task::builder()
        .task_arn(format!("arn:aws:ecs:eu-west-1:111122223333:task/prod/stopped{n}"))
        .task_definition_arn(format!("arn:aws:ecs:eu-west-1:111122223333:task-definition/{revision}"))
        .started_by(started_by)
        .last_status("STOPPED")
        .stop_code(code)
        .stopped_reason("Essential container in task exited")
        .build()
}

#[tokio::test]
async fn green_tasks_that_never_start_are_stopped_by_the_deployer_when_no_breaker_watches() {
    use aws_sdk_ecs::types::{ServiceDeploymentRollbackMonitorsStatus as Monitor, TaskStopCode};
    let scale_up =
        NativeStep { breaker: Some(Monitor::Disabled), ..NativeStep::new(S::InProgress, Stage::ScaleUp, 0.0) };
    let failing = |d: &FakeDeployer, ours: usize| {
        let mut s = d.ecs().state.lock().unwrap();
        // The first UpdateService starts ecs-svc/1; tasks of another deployment, or scaled in, do not count.
        for n in 0..ours {
            s.stopped_tasks.push(stopped_task(n, "ecs-svc/1", "web:8", TaskStopCode::EssentialContainerExited));
        }
        s.stopped_tasks.push(stopped_task(10, "ecs-svc/0", "web:8", TaskStopCode::EssentialContainerExited));
        s.stopped_tasks.push(stopped_task(11, "ecs-svc/1", "web:8", TaskStopCode::ServiceSchedulerInitiated));
    };
    // With rollback (the default): the deployer stops the service deployment with ROLLBACK itself.
    let d = native(blue_green(5));
    d.ecs().native_scripts([vec![scale_up.clone()]]);
    failing(&d, 3);
    let err = d.execute(request(json!({"version": "v2", "wait": true})), &inv()).await.unwrap_err();
    assert_eq!(err.code().as_str(), "RolledBack", "{err}");
    let details = err.details();
    assert_eq!(details["rollout"]["rollback"]["by"], "ecs-deployer", "{details}");
    let reason = details["rollout"]["failure"]["reason"].as_str().unwrap();
    assert!(reason.starts_with("3 tasks of the new service revision web:8 failed to start"), "{reason}");
    assert!(reason.contains("Essential container in task exited"), "{reason}");
    assert_eq!(count(&d, "StopServiceDeployment"), 1, "{:?}", d.ecs().ops());
    assert_eq!(count(&d, "UpdateService"), 1, "stopped with ROLLBACK, not a second deployment");
    // Without rollback: failed, with the reason, and nothing stopped.
    let d = native(blue_green(5));
    d.ecs().native_scripts([vec![scale_up.clone()]]);
    failing(&d, 3);
    let err = d.execute(request(json!({"version": "v2", "wait": true, "rollback": false})), &inv()).await.unwrap_err();
    assert_eq!(err.code().as_str(), "DeploymentFailed", "{err}");
    assert!(err.details()["rollout"]["failure"]["reason"].as_str().unwrap().contains("failed to start"));
    assert_eq!(mutations(&d), ["RegisterTaskDefinition", "UpdateService"]);
    // Two of ours failed: under the limit (3), still in progress when the time runs out.
    let d = native(blue_green(5));
    d.ecs().native_scripts([vec![scale_up]]);
    failing(&d, 2);
    let short = Invocation { budget: Duration::from_secs(60), ..inv() };
    let out = d.execute(request(json!({"version": "v2", "wait": true})), &short).await.unwrap();
    assert_eq!(out["status"], "in_progress", "{out}");
    assert_eq!(mutations(&d), ["RegisterTaskDefinition", "UpdateService"]);
    // A breaker that watches the deployment (MONITORING) is left to fail it; its rollback is ECS's.
    let d = native(blue_green(5));
    let watched =
        NativeStep { breaker: Some(Monitor::Monitoring), ..NativeStep::new(S::InProgress, Stage::ScaleUp, 0.0) };
    let tripped = NativeStep {
        breaker: Some(Monitor::Triggered),
        rollback_reason: Some("ECS deployment circuit breaker: tasks failed to start.".into()),
        ..NativeStep::new(S::RollbackSuccessful, Stage::ScaleUp, 0.0)
    };
    d.ecs().native_scripts([vec![watched.clone(), watched, tripped]]);
    failing(&d, 3);
    let err = d.execute(request(json!({"version": "v2", "wait": true})), &inv()).await.unwrap_err();
    assert_eq!(err.code().as_str(), "RolledBack", "{err}");
    assert_eq!(err.details()["rollout"]["rollback"]["by"], "ecs-circuit-breaker", "{}", err.details());
    assert_eq!(count(&d, "StopServiceDeployment"), 0);
    assert_eq!(count(&d, "ListTasks"), 1, "the breaker watches: tasks read once for the failure report, not to judge");
}

#[tokio::test]
async fn a_stale_current_service_deployment_is_never_followed() {
    let d = native(blue_green(5));
    // ECS's earlier service deployment, finished: what a stale UpdateService answer names.
    let old = "arn:aws:ecs:eu-west-1:111122223333:service-deployment/prod/web/0".to_owned();
    {
        let mut s = d.ecs().state.lock().unwrap();
        let done = NativeStep::new(S::Successful, Stage::CleanUp, 100.0);
        let mut sd = aws_sdk_ecs::types::ServiceDeployment::builder()
            .service_deployment_arn(&old)
            .status(done.status)
            .target_service_revision(
                aws_sdk_ecs::types::ServiceRevisionSummary::builder()
                    .arn("arn:aws:ecs:eu-west-1:111122223333:service-revision/prod/web/0")
                    .build(),
            );
        sd = sd.created_at(aws_smithy_types::DateTime::from_secs(1_600_000_000));
        s.service_deployments.insert(old.clone(), (sd.build(), Default::default()));
        s.services.get_mut("web").unwrap().current_service_deployment = Some(old.clone());
        s.stale_current_deployment = true;
    }
    let scaling = NativeStep::new(S::InProgress, Stage::ScaleUp, 0.0);
    let failed = NativeStep {
        rollback_reason: Some("Service deployment rolled back because alarms were triggered: p99.".into()),
        ..NativeStep::new(S::RollbackSuccessful, Stage::BakeTime, 0.0)
    };
    d.ecs().native_scripts([vec![scaling, failed]]);
    let err = d.execute(request(json!({"version": "v2", "wait": true})), &inv()).await.unwrap_err();
    let details = err.details();
    let followed = details["service_deployment"]["arn"].as_str().unwrap();
    assert!(followed.ends_with("/prod/web/1"), "the new one, found by its revision's <N>: {followed}");
    assert_eq!(details["service_deployment"]["status"], "ROLLBACK_SUCCESSFUL", "{details}");
    assert!(count(&d, "ListServiceDeployments") >= 1);
    // The healthy case: the stale answer must not make a completed deploy look failed.
    let d = native(blue_green(5));
    d.ecs().state.lock().unwrap().stale_current_deployment = true;
    let out = d.execute(request(json!({"version": "v2", "wait": true})), &inv()).await.unwrap();
    assert_eq!(out["status"], "completed", "{out}");
    assert_eq!(count(&d, "StopServiceDeployment"), 0);
}

#[tokio::test]
async fn a_newer_service_deployment_over_ours_is_replaced_and_never_stopped() {
    let d = native(blue_green(5));
    // Someone else's, started after ours (ListServiceDeployments shows it created later).
    let newer = d.ecs().in_flight("web");
    {
        let mut s = d.ecs().state.lock().unwrap();
        let (sd, _) = s.service_deployments.get_mut(&newer).unwrap();
        sd.created_at = Some(aws_smithy_types::DateTime::from_secs(1_800_000_000));
    }
    let running = NativeStep::new(S::InProgress, Stage::ScaleUp, 0.0);
    let stopped = NativeStep {
        rollback_reason: Some("Service deployment stopped: a newer service deployment started.".into()),
        ..NativeStep::new(S::Stopped, Stage::ScaleUp, 0.0)
    };
    d.ecs().native_scripts([vec![running, stopped]]);
    let err = d.execute(request(json!({"version": "v2", "wait": true, "force": true})), &inv()).await.unwrap_err();
    let details = err.details();
    assert_eq!(details["rollout"]["state"], "REPLACED", "{details}");
    assert!(details["rollout"]["rollback"].is_null(), "{details}");
    assert!(details["rollout"]["failure"]["reason"].as_str().unwrap().contains(&newer), "{details}");
    assert_eq!(count(&d, "StopServiceDeployment"), 0, "never a stop of the newer one");
    assert_eq!(count(&d, "UpdateService"), 1);
}
