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
