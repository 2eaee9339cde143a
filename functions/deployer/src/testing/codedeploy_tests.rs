//! CODE_DEPLOY services on the fake: finding the deployment group, refusing before any change, the AppSpec
//! sent, following a deployment to its verdict (traffic steps, a failed hook, CodeDeploy's rollback
//! deployment), `continue`, `rollback` and `status`.

use std::time::Duration;

use aws_sdk_codedeploy::types::{DeploymentStatus as D, ErrorCode, LifecycleEventStatus as E};
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentController, DeploymentControllerType, LoadBalancer,
    NetworkConfiguration,
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

/// The standard world with `web` on the CODE_DEPLOY controller behind a load balancer, in a VPC, and the
/// console's application and group for it.
fn codedeploy() -> FakeDeployer {
    codedeploy_with(defaults())
}

/// [`codedeploy`] with `config`.
fn codedeploy_with(config: crate::config::Config) -> FakeDeployer {
    let d = deployer_on(FakeAws::world(REPOSITORY, &["v1", "v2"], vec![described(7, "v1")]), config);
    {
        let mut s = d.ecs().state.lock().unwrap();
        let web = s.services.get_mut("web").unwrap();
        web.deployment_controller =
            Some(DeploymentController::builder().r#type(DeploymentControllerType::CodeDeploy).build().unwrap());
        web.load_balancers = Some(vec![LoadBalancer::builder()
            .target_group_arn("arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/blue/1")
            .container_name("app")
            .container_port(8080)
            .build()]);
        web.platform_version = Some("LATEST".into());
        web.network_configuration = Some(
            NetworkConfiguration::builder()
                .awsvpc_configuration(
                    AwsVpcConfiguration::builder()
                        .subnets("subnet-1")
                        .security_groups("sg-1")
                        .assign_public_ip(AssignPublicIp::Disabled)
                        .build()
                        .unwrap(),
                )
                .build(),
        );
    }
    d.ecs().codedeploy_group("AppECS-prod-web", "DgpECS-prod-web", "prod", "web");
    d
}

/// The configuration of [`codedeploy`] with request overrides allowed (`DEPLOY_ALLOW_CODEDEPLOY_OVERRIDE`)
/// and hook functions `hooks` allowed (`DEPLOY_CODEDEPLOY_HOOK_FUNCTIONS`).
fn overridable(hooks: &[&str]) -> crate::config::Config {
    crate::config::Config {
        codedeploy_override: true,
        codedeploy_hook_functions: hooks.iter().map(|h| (*h).to_owned()).collect(),
        ..defaults()
    }
}

fn count(d: &FakeDeployer, op: &str) -> usize {
    d.ecs().ops().iter().filter(|o| **o == op).count()
}

fn step(status: D, events: &[(&'static str, E)], green: f64) -> CdStep {
    CdStep::new(status, events, green)
}

#[tokio::test]
async fn an_all_at_once_deployment_creates_an_appspec_of_the_live_service_and_never_updates_it() {
    let d = codedeploy();
    let out = d.execute(request(json!({"version": "v2", "wait": true})), &inv()).await.unwrap();
    assert_eq!(out["status"], "completed", "{out}");
    let cd = &out["codedeploy"];
    let id = cd["deployment_id"].as_str().unwrap();
    assert_eq!(
        (cd["application"].as_str(), cd["deployment_group"].as_str()),
        (Some("AppECS-prod-web"), Some("DgpECS-prod-web"))
    );
    assert_eq!(cd["status"], "Succeeded");
    assert_eq!(cd["traffic_percent"], 100.0);
    assert_eq!(count(&d, "UpdateService"), 0, "never UpdateService on a CODE_DEPLOY service");
    let sent = d.ecs().codedeploy_deployment(id);
    assert_eq!(sent.sha256, crate::strategy::codedeploy::sha256_hex(&sent.appspec));
    let spec: Value = serde_json::from_str(&sent.appspec).unwrap();
    let props = &spec["Resources"][0]["TargetService"]["Properties"];
    assert!(props["TaskDefinition"].as_str().unwrap().ends_with("task-definition/web:8"), "{spec}");
    assert_eq!(props["LoadBalancerInfo"], json!({"ContainerName": "app", "ContainerPort": 8080}));
    assert_eq!(props["PlatformVersion"], "LATEST");
    assert_eq!(
        props["NetworkConfiguration"]["AwsvpcConfiguration"],
        json!({"Subnets": ["subnet-1"], "SecurityGroups": ["sg-1"], "AssignPublicIp": "DISABLED"})
    );
    assert!(spec.get("Hooks").is_none());
}

#[tokio::test]
async fn canary_and_linear_report_their_traffic_steps_and_hooks_go_in_lifecycle_order() {
    use E::{InProgress, Succeeded as Ok};
    for (config, weights) in [
        ("CodeDeployDefault.ECSCanary10Percent5Minutes", vec![10.0, 100.0]),
        ("CodeDeployDefault.ECSLinear10PercentEvery1Minutes", vec![10.0, 20.0, 30.0, 100.0]),
    ] {
        let d = codedeploy_with(overridable(&["after", "before"]));
        let mut script = vec![step(D::InProgress, &[("Install", InProgress)], 0.0)];
        for w in &weights {
            let status = if *w == 100.0 { D::Succeeded } else { D::InProgress };
            script.push(step(status, &[("Install", Ok), ("AllowTraffic", InProgress)], *w));
        }
        d.ecs().codedeploy_scripts([script]);
        let req = json!({"version": "v2", "wait": true, "codedeploy": {
            "deployment_config": config,
            "hooks": {"AfterAllowTraffic": "after", "BeforeInstall": "before"},
        }});
        let out = d.execute(request(req), &inv()).await.unwrap();
        assert_eq!(out["status"], "completed", "{out}");
        assert_eq!(out["codedeploy"]["traffic_steps"], json!(weights), "{config}");
        assert_eq!(out["codedeploy"]["deployment_config"], config);
        let sent = d.ecs().codedeploy_deployment(out["codedeploy"]["deployment_id"].as_str().unwrap());
        assert_eq!(sent.config.as_deref(), Some(config));
        let spec: Value = serde_json::from_str(&sent.appspec).unwrap();
        assert_eq!(spec["Hooks"], json!([{"BeforeInstall": "before"}, {"AfterAllowTraffic": "after"}]));
        assert_eq!(count(&d, "GetDeploymentConfig"), 0, "built-in configurations need no call");
    }
}

#[tokio::test]
async fn a_failed_hook_is_rolled_back_by_codedeploy_and_answered_rolled_back_naming_it() {
    let d = codedeploy();
    let failed = CdStep {
        error: Some((ErrorCode::HookExecutionFailure, "lifecycle event AfterAllowTestTraffic failed")),
        ..step(D::Failed, &[("Install", E::Succeeded), ("AfterAllowTestTraffic", E::Failed)], 0.0)
    };
    d.ecs().codedeploy_scripts([vec![step(D::InProgress, &[("Install", E::InProgress)], 0.0), failed]]);
    let err = d.execute(request(json!({"version": "v2", "wait": true})), &inv()).await.unwrap_err();
    assert_eq!(err.code().as_str(), "RolledBack", "{err}");
    assert!(err.to_string().contains("AfterAllowTestTraffic"), "{err}");
    let details = err.details();
    let cd = &details["codedeploy"];
    assert_eq!(cd["failed_hook"], "AfterAllowTestTraffic");
    assert_eq!(cd["error_code"], "HOOK_EXECUTION_FAILURE");
    assert_eq!(cd["rollback_status"], "Succeeded", "the rollback deployment is read even though it finished");
    assert!(cd["rollback_deployment_id"].as_str().is_some());
    assert_eq!(details["rollout"]["rollback"]["by"], "codedeploy");
    assert_eq!(details["rollout"]["rollback"]["to"], "web:7");
    assert_eq!(count(&d, "CreateDeployment"), 1, "never a second rollback of CodeDeploy's");
}

#[tokio::test]
async fn a_deployment_in_flight_is_refused_before_anything_is_registered() {
    let d = codedeploy();
    d.ecs().codedeploy_scripts([vec![step(D::InProgress, &[], 0.0); 50]]);
    let first = d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    let id = first.codedeploy.as_ref().unwrap().deployment_id.clone();
    let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    assert_eq!(err.code().as_str(), "DeploymentInProgress", "{err}");
    assert!(err.to_string().contains(&id), "{err}");
    assert_eq!(count(&d, "RegisterTaskDefinition"), 1, "the refused deploy registered nothing");
}

#[tokio::test]
async fn groups_are_found_by_name_or_by_their_ecs_services_else_refused() {
    let d = codedeploy_with(overridable(&[]));
    d.ecs().state.lock().unwrap().codedeploy.groups.clear();
    let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    assert_eq!(err.code().as_str(), "DeploymentGroupNotFound", "{err}");
    assert_eq!(err.code().http_status(), 404);
    assert_eq!(count(&d, "RegisterTaskDefinition"), 0);
    d.ecs().codedeploy_group("shop", "web-bg", "prod", "web");
    let out = d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    let cd = out.codedeploy.unwrap();
    assert_eq!((cd.application.as_str(), cd.deployment_group.as_str()), ("shop", "web-bg"));
    let err = d
        .deploy(request(json!({"version": "v3", "force": true, "codedeploy": {"deployment_config": "Mine"}})))
        .await
        .unwrap_err();
    assert_eq!(err.code().as_str(), "DeploymentConfigNotFound", "{err}");
}

#[tokio::test]
async fn a_service_without_load_balancer_is_refused() {
    let d = codedeploy();
    d.ecs().state.lock().unwrap().services.get_mut("web").unwrap().load_balancers = None;
    let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    assert_eq!(err.code().as_str(), "LoadBalancerRequired", "{err}");
    assert_eq!(count(&d, "RegisterTaskDefinition"), 0);
}

#[tokio::test]
async fn continue_reroutes_a_ready_deployment() {
    let d = codedeploy();
    d.ecs().codedeploy_scripts([vec![
        step(D::Ready, &[("Install", E::Succeeded), ("AfterAllowTestTraffic", E::Succeeded)], 0.0),
        step(D::Succeeded, &[("AllowTraffic", E::Succeeded)], 100.0),
    ]]);
    let short = Invocation { budget: Duration::from_secs(40), ..inv() };
    let out = d.execute(request(json!({"version": "v2", "wait": true})), &short).await.unwrap();
    assert_eq!(out["status"], "in_progress", "{out}");
    assert_eq!(out["codedeploy"]["status"], "Ready");
    assert_eq!(out["rollout"]["check"]["action"], "status");
    let answer = d.execute(request(json!({"action": "continue"})), &inv()).await.unwrap();
    assert_eq!(answer["status"], "continued", "{answer}");
    assert_eq!(answer["hooks"], json!(["READY_WAIT"]));
    let status = d.execute(request(json!({"action": "status"})), &inv()).await.unwrap();
    assert_eq!(status["codedeploy"]["status"], "Succeeded", "{status}");
    let err = d.execute(request(json!({"action": "continue"})), &inv()).await.unwrap_err();
    assert_eq!(err.code().as_str(), "NoHookAwaitingAction");
}

#[tokio::test]
async fn a_rollback_in_flight_stops_the_deployment_and_reads_its_finished_rollback() {
    let d = codedeploy();
    d.ecs().codedeploy_scripts([vec![step(D::InProgress, &[("Install", E::InProgress)], 0.0); 50]]);
    d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    let out = d.execute(request(json!({"action": "rollback", "wait": true, "to": "web:7"})), &inv()).await.unwrap();
    assert_eq!(out["status"], "rolled_back", "{out}");
    assert_eq!(out["rollout"]["state"], "COMPLETED");
    assert_eq!(count(&d, "StopDeployment"), 1);
    assert_eq!(count(&d, "CreateDeployment"), 1, "CodeDeploy's rollback deployment, not ours");
}

#[tokio::test]
async fn a_rollback_after_success_is_a_new_deployment_of_the_previous_revision() {
    let d = codedeploy();
    let out = d.execute(request(json!({"version": "v2", "wait": true})), &inv()).await.unwrap();
    assert_eq!(out["status"], "completed", "{out}");
    assert!(d.ecs().service("web").task_definition().unwrap().ends_with("web:8"));
    let back = d.execute(request(json!({"action": "rollback", "wait": true})), &inv()).await.unwrap();
    assert_eq!((back["status"].as_str(), back["to"].as_str()), (Some("rolled_back"), Some("web:7")), "{back}");
    assert_eq!(count(&d, "CreateDeployment"), 2);
    assert_eq!(count(&d, "UpdateService"), 0);
    let id = back["deployment_id"].as_str().unwrap();
    let spec: Value = serde_json::from_str(&d.ecs().codedeploy_deployment(id).appspec).unwrap();
    assert!(spec["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"].as_str().unwrap().ends_with("web:7"));
}

const CODEDEPLOY_FAILURE: &str = include_str!("../../../../events/codedeploy-deployment-failure.json");
const CODEDEPLOY_SUCCESS: &str = include_str!("../../../../events/codedeploy-deployment-success.json");

/// A CodeDeploy state-change fixture, moved into the fake world's account and region, naming deployment `id`
/// of the console's group of `prod/web`.
fn codedeploy_event(fixture: &str, id: &str) -> Value {
    let text = fixture.replace("123456789012", ACCOUNT).replace("us-east-1", REGION).replace("demo-web", "prod-web");
    let mut e: Value = serde_json::from_str(&text).expect("fixture");
    e["detail"]["deploymentId"] = json!(id);
    e
}

async fn invoke(d: &FakeDeployer, payload: Value) -> Result<Value, lambda_runtime::Diagnostic> {
    let mut context = lambda_runtime::Context::default();
    context.request_id = "req-codedeploy-event".into();
    context.invoked_function_arn = FUNCTION_ARN.into();
    crate::trigger::lambda::handle(d, lambda_runtime::LambdaEvent::new(payload, context)).await
}

/// Deploys `version` without waiting and lets the fake's CodeDeploy walk `script` to its end.
async fn finished_deployment(d: &FakeDeployer, version: &str, script: Vec<CdStep>) -> String {
    use crate::ports::CodeDeploy;
    d.ecs().codedeploy_scripts([script]);
    let out = d.deploy(request(json!({ "version": version }))).await.unwrap();
    let id = out.codedeploy.unwrap().deployment_id;
    for _ in 0..10 {
        d.ecs().get_deployment(&id).await.unwrap();
    }
    id
}

#[tokio::test]
async fn codedeploy_state_change_events_become_notifications_once_codedeploy_confirms_them() {
    let recorder = Recorder::default();
    let d = codedeploy().with_notifier(recorder.clone());
    let id = finished_deployment(&d, "v2", crate::testing::fake_codedeploy::all_at_once()).await;
    let out = invoke(&d, codedeploy_event(CODEDEPLOY_SUCCESS, &id)).await.unwrap();
    assert_eq!(out["status"], "completed", "{out}");
    assert_eq!(out["codedeploy"]["deployment_id"], id.as_str());
    let events = recorder.events();
    assert_eq!(events.last().map(|e| e.0), Some("succeeded"), "{events:?}");

    // The same id claimed FAILURE: CodeDeploy says Succeeded, so nothing is told.
    let told = recorder.events().len();
    let out = invoke(&d, codedeploy_event(CODEDEPLOY_FAILURE, &id)).await.unwrap();
    assert_eq!(out["status"], "ignored", "{out}");
    assert_eq!(recorder.events().len(), told);

    let failed = CdStep {
        error: Some((ErrorCode::HookExecutionFailure, "the AfterAllowTestTraffic hook failed")),
        ..step(D::Failed, &[("AfterAllowTestTraffic", E::Failed)], 0.0)
    };
    let id = finished_deployment(&d, "v1", vec![failed]).await;
    let out = invoke(&d, codedeploy_event(CODEDEPLOY_FAILURE, &id)).await.unwrap();
    assert_eq!(out["status"], "rolled_back", "{out}");
    assert_eq!(out["codedeploy"]["rollback_status"], "Succeeded");
    let last = recorder.0.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.event.as_str(), "rolled_back");
    let reason = last.reason.unwrap_or_default();
    assert!(reason.contains("hook failed") && reason.contains(&id), "{reason}");
    assert_eq!((last.cluster.as_str(), last.service.as_str()), ("prod", "web"));
    assert_eq!(count(&d, "CreateDeployment"), 2, "an event never deploys or rolls back");

    // From another account: refused before any call.
    let mut foreign = codedeploy_event(CODEDEPLOY_SUCCESS, &id);
    foreign["account"] = json!("999999999999");
    let err = invoke(&d, foreign).await.unwrap_err();
    assert_eq!(err.error_type, "UntrustedEvent");
}

#[tokio::test]
async fn configured_codedeploy_names_belong_to_the_configured_service_only() {
    let mut config = defaults();
    config.codedeploy.application = Some("shop".into());
    config.codedeploy.deployment_group = Some("web-bg".into());
    let d = codedeploy_with(config.clone());
    let scope = crate::request::Scope::new(REGION, None);
    let web = crate::request::resolve_service(None, None, None, &config, &scope).unwrap();
    assert_eq!(web.codedeploy.application.as_deref(), Some("shop"));
    let other = crate::request::resolve_service(None, Some("api".into()), None, &config, &scope).unwrap();
    assert_eq!(other.codedeploy, crate::strategy::codedeploy::Names::default());
    d.ecs().codedeploy_group("shop", "web-bg", "prod", "web");
    let out = d.deploy(request(json!({"version": "v2"}))).await.unwrap();
    assert_eq!(out.codedeploy.unwrap().deployment_group, "web-bg");
}

#[tokio::test]
async fn a_refused_create_deployment_deregisters_the_revision_and_a_lost_answer_keeps_it() {
    use contract::AwsErrorKind;
    let d = codedeploy();
    d.ecs().fail_next("CreateDeployment", AwsErrorKind::Rejected, false);
    let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    assert_eq!(err.code().as_str(), "CodeDeployFailed", "{err}");
    assert_eq!(err.code().http_status(), 502);
    assert_eq!(err.details()["cleanup"], "deregistered");
    assert_eq!(count(&d, "DeregisterTaskDefinition"), 1);
    d.ecs().fail_next("CreateDeployment", AwsErrorKind::Unknown, true);
    let err = d.deploy(request(json!({"version": "v2"}))).await.unwrap_err();
    assert_eq!(err.details()["cleanup"], "kept_outcome_unknown", "{err}");
    assert_eq!(count(&d, "DeregisterTaskDefinition"), 1, "CodeDeploy may be deploying it");
}

const PIPELINE_JOB: &str = include_str!("../../../../events/codepipeline-job.json");

/// The CodePipeline job fixture in the fake world's account, with `token` when CodePipeline invokes again.
fn pipeline_job(token: Option<&str>) -> Value {
    let mut e: Value = serde_json::from_str(&PIPELINE_JOB.replace("123456789012", ACCOUNT)).expect("fixture");
    if let Some(token) = token {
        e["CodePipeline.job"]["data"]["continuationToken"] = json!(token);
    }
    e
}

/// [`pipeline_job`] as CodePipeline invokes it again: the job `id` CodePipeline created for the next run of
/// the action, recorded in the fake's CodePipeline (GetJobDetails) with `token` and the fixture's parameters.
fn continued(d: &FakeDeployer, id: &str, token: &str) -> Value {
    let mut e = pipeline_job(Some(token));
    e["CodePipeline.job"]["id"] = json!(id);
    let job = &e["CodePipeline.job"];
    let facts = crate::ports::JobFacts {
        account_id: job["accountId"].as_str().map(str::to_owned),
        user_parameters: job["data"]["actionConfiguration"]["configuration"]["UserParameters"]
            .as_str()
            .map(str::to_owned),
        continuation_token: Some(token.to_owned()),
    };
    d.ecs().state.lock().unwrap().codedeploy.pipeline_jobs.insert(id.to_owned(), facts);
    e
}

fn job_results(d: &FakeDeployer) -> Vec<(String, Result<Option<String>, String>)> {
    d.ecs().state.lock().unwrap().codedeploy.job_results.clone()
}

#[tokio::test]
async fn a_codepipeline_job_continues_while_the_rollout_runs_then_succeeds() {
    let d = standard_deployer();
    let out = invoke(&d, pipeline_job(None)).await.unwrap();
    assert_eq!(out["status"], "continuing", "{out}");
    let Ok(Some(token)) = job_results(&d)[0].1.clone() else { panic!("a continuation token: {:?}", job_results(&d)) };
    let again = invoke(&d, continued(&d, "job-2", &token)).await.unwrap();
    assert_eq!(again["status"], "continuing", "still rolling out: {again}");
    d.clock().sleep(Duration::from_secs(60)).await;
    let done = invoke(&d, continued(&d, "job-3", &token)).await.unwrap();
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(job_results(&d).last().unwrap().1, Ok(None));
    assert_eq!(count(&d, "UpdateService"), 1, "a continuation never deploys again");
}

#[tokio::test]
async fn a_codepipeline_job_fails_when_codedeploy_fails_or_the_request_is_refused() {
    let d = codedeploy();
    let failed = CdStep {
        error: Some((ErrorCode::HookExecutionFailure, "the AfterAllowTestTraffic hook failed")),
        ..step(D::Failed, &[("AfterAllowTestTraffic", E::Failed)], 0.0)
    };
    d.ecs().codedeploy_scripts([vec![failed]]);
    invoke(&d, pipeline_job(None)).await.unwrap();
    let Ok(Some(token)) = job_results(&d)[0].1.clone() else { panic!("a continuation token") };
    assert!(token.contains("d-FAKE"), "the token names the CodeDeploy deployment: {token}");
    let mut out = invoke(&d, continued(&d, "job-2", &token)).await.unwrap();
    for n in 0..5 {
        if out["status"] != "continuing" {
            break;
        }
        out = invoke(&d, continued(&d, &format!("job-again-{n}"), &token)).await.unwrap();
    }
    assert_eq!(out["status"], "failed", "{out}");
    let Err(message) = job_results(&d).last().unwrap().1.clone() else { panic!("a failure result") };
    assert!(message.contains("hook failed"), "{message}");

    let d = standard_deployer();
    let mut job = pipeline_job(None);
    job["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] =
        json!("{\"version\": \"v9\"}");
    let out = invoke(&d, job).await.unwrap();
    assert_eq!(out["status"], "failed", "{out}");
    let Err(message) = job_results(&d)[0].1.clone() else { panic!("a failure result") };
    assert!(message.starts_with("ImageNotFound"), "{message}");

    let mut foreign = pipeline_job(None);
    foreign["CodePipeline.job"]["accountId"] = json!("999999999999");
    let err = invoke(&d, foreign).await.unwrap_err();
    assert_eq!(err.error_type, "UntrustedEvent");
}

/// Puts a deployment of `prod/pay`'s own group `AppECS-prod-pay/DgpECS-prod-pay` in the fake, waiting in
/// its ready wait; its id.
fn pay_in_ready_wait(d: &FakeDeployer) -> String {
    d.ecs().codedeploy_group("AppECS-prod-pay", "DgpECS-prod-pay", "prod", "pay");
    let id = "d-PAY000001".to_owned();
    let ready = step(D::Ready, &[("Install", E::Succeeded)], 0.0);
    d.ecs().state.lock().unwrap().codedeploy.deployments.insert(
        id.clone(),
        CdDeployment {
            application: "AppECS-prod-pay".into(),
            group: "DgpECS-prod-pay".into(),
            config: None,
            appspec: "{}".into(),
            sha256: String::new(),
            service: Some("pay".into()),
            now: ready.clone(),
            next: std::collections::VecDeque::from([ready]),
            rollback_id: None,
        },
    );
    id
}

const CHANGES: [&str; 6] = [
    "RegisterTaskDefinition",
    "CreateDeployment",
    "StopDeployment",
    "ContinueDeployment",
    "UpdateService",
    "DeregisterTaskDefinition",
];

fn changes(d: &FakeDeployer) -> Vec<String> {
    d.ecs().ops().into_iter().filter(|o| CHANGES.contains(o)).map(str::to_owned).collect()
}

#[tokio::test]
async fn a_group_that_deploys_another_service_is_refused_on_every_path_before_any_change() {
    // Issue 23.1: names of prod/pay's group sent with prod/web (overrides allowed, so only the group rule
    // stands between them).
    let d = codedeploy_with(overridable(&[]));
    let pay = pay_in_ready_wait(&d);
    let names = json!({"application": "AppECS-prod-pay", "deployment_group": "DgpECS-prod-pay"});
    for req in [
        json!({"version": "v2", "codedeploy": names}),
        json!({"version": "v2", "force": true, "codedeploy": names}),
        json!({"action": "diff", "version": "v2", "codedeploy": names}),
        json!({"action": "continue", "codedeploy": names}),
        json!({"action": "reject", "codedeploy": names}),
        json!({"action": "rollback", "codedeploy": names}),
        json!({"action": "rollback", "force": true, "to": "web:7", "codedeploy": names}),
        json!({"action": "status", "codedeploy": names}),
    ] {
        let err = d.execute(request(req.clone()), &inv()).await.unwrap_err();
        assert_eq!(err.code().as_str(), "NotAllowed", "{req}: {err}");
        assert_eq!(err.code().http_status(), 403);
        assert!(err.to_string().contains("deploys prod/pay, not prod/web"), "{req}: {err}");
        assert_eq!(changes(&d), Vec::<String>::new(), "{req}: nothing changed");
    }
    assert_eq!(d.ecs().codedeploy_deployment(&pay).now.status, D::Ready, "pay's deployment untouched");
    assert_eq!(count(&d, "GetDeployment"), 0, "nothing of pay's deployment was read");

    // The configured names are held to the same rule (DEPLOY_CODEDEPLOY_* naming another service's group).
    let mut config = defaults();
    config.codedeploy.application = Some("AppECS-prod-pay".into());
    config.codedeploy.deployment_group = Some("DgpECS-prod-pay".into());
    let d = codedeploy_with(config);
    pay_in_ready_wait(&d);
    for req in [json!({"version": "v2"}), json!({"action": "continue"}), json!({"action": "status"})] {
        let err = d.execute(request(req.clone()), &inv()).await.unwrap_err();
        assert_eq!(err.code().as_str(), "NotAllowed", "{req}: {err}");
    }
    assert_eq!(changes(&d), Vec::<String>::new());

    // The service's own group, named, still deploys.
    let d = codedeploy_with(overridable(&[]));
    pay_in_ready_wait(&d);
    let own = json!({"application": "AppECS-prod-web", "deployment_group": "DgpECS-prod-web"});
    let out = d.execute(request(json!({"version": "v2", "codedeploy": own})), &inv()).await.unwrap();
    assert_eq!(out["codedeploy"]["deployment_group"], "DgpECS-prod-web", "{out}");
}

#[tokio::test]
async fn codedeploy_overrides_are_the_operators_to_allow_and_never_drop_the_configured_hooks() {
    // Issue 23.2. Off by default: any "codedeploy" that sets something is refused, nothing registered.
    let mut config = defaults();
    config.codedeploy.hooks.insert("AfterAllowTestTraffic".into(), "verify".into());
    let d = codedeploy_with(config.clone());
    for asked in [json!({"hooks": {}}), json!({"deployment_config": "CodeDeployDefault.ECSAllAtOnce"})] {
        let err = d.deploy(request(json!({"version": "v2", "codedeploy": asked}))).await.unwrap_err();
        assert_eq!(err.code().as_str(), "NotAllowed", "{asked}: {err}");
        assert!(err.to_string().contains("DEPLOY_ALLOW_CODEDEPLOY_OVERRIDE"), "{err}");
    }
    assert_eq!(changes(&d), Vec::<String>::new());
    let out = d.deploy(request(json!({"version": "v2", "codedeploy": {}}))).await.unwrap();
    let spec: Value =
        serde_json::from_str(&d.ecs().codedeploy_deployment(&out.codedeploy.unwrap().deployment_id).appspec).unwrap();
    assert_eq!(spec["Hooks"], json!([{"AfterAllowTestTraffic": "verify"}]), "an empty object sets nothing");

    // Allowed: an empty map keeps the configured hook; an allowed function of this account is added.
    let config = crate::config::Config { codedeploy: config.codedeploy, ..overridable(&["smoke"]) };
    let own_arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:smoke:live");
    for (hooks, want) in [
        (json!({}), json!([{"AfterAllowTestTraffic": "verify"}])),
        (json!({"BeforeInstall": own_arn}), json!([{"BeforeInstall": own_arn}, {"AfterAllowTestTraffic": "verify"}])),
        (
            json!({"AfterAllowTestTraffic": "verify", "AfterInstall": "smoke"}),
            json!([{"AfterInstall": "smoke"}, {"AfterAllowTestTraffic": "verify"}]),
        ),
    ] {
        let d = codedeploy_with(config.clone());
        let out = d.execute(request(json!({"version": "v2", "codedeploy": {"hooks": hooks}})), &inv()).await.unwrap();
        let sent = d.ecs().codedeploy_deployment(out["codedeploy"]["deployment_id"].as_str().unwrap());
        let spec: Value = serde_json::from_str(&sent.appspec).unwrap();
        assert_eq!(spec["Hooks"], want, "{hooks}");
    }
    // Refused: replacing the configured hook, another account's or region's function, one not allowed.
    for (hooks, says) in [
        (json!({"AfterAllowTestTraffic": "smoke"}), "not replace or drop"),
        (
            json!({"BeforeInstall": "arn:aws:lambda:eu-west-1:999999999999:function:smoke"}),
            "not of this function's account",
        ),
        (
            json!({"BeforeInstall": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:smoke")}),
            "not of this function's account",
        ),
        (json!({"BeforeInstall": "999999999999:function:smoke"}), "not of this function's account"),
        (json!({"BeforeInstall": "collector"}), "not in DEPLOY_CODEDEPLOY_HOOK_FUNCTIONS"),
    ] {
        let d = codedeploy_with(config.clone());
        let err =
            d.execute(request(json!({"version": "v2", "codedeploy": {"hooks": hooks}})), &inv()).await.unwrap_err();
        assert_eq!(err.code().as_str(), "NotAllowed", "{hooks}: {err}");
        assert!(err.to_string().contains(says), "{hooks}: {err}");
        assert_eq!(changes(&d), Vec::<String>::new(), "{hooks}");
    }
    let d = codedeploy_with(config);
    let err =
        d.deploy(request(json!({"version": "v2", "codedeploy": {"hooks": {"Install": "smoke"}}}))).await.unwrap_err();
    assert_eq!(err.code().as_str(), "InvalidRequest", "{err}");
}

#[tokio::test]
async fn a_continuation_token_is_honoured_only_on_the_job_codepipeline_holds_it_for_and_its_own_service() {
    // Issue 23.4, on the CodePipeline job door.
    let d = codedeploy();
    d.ecs().codedeploy_scripts([vec![step(D::InProgress, &[("Install", E::InProgress)], 0.0); 50]]);
    invoke(&d, pipeline_job(None)).await.unwrap();
    let Ok(Some(token)) = job_results(&d)[0].1.clone() else { panic!("a continuation token") };
    let answered = || job_results(&d).len();
    assert_eq!(answered(), 1);

    // Replayed on a job id CodePipeline never created, or on a real job that holds another token: refused,
    // not answered, nothing read.
    let mut replay = pipeline_job(Some(&token));
    replay["CodePipeline.job"]["id"] = json!("job-other-B");
    let err = invoke(&d, replay).await.unwrap_err();
    assert_eq!(err.error_type, "UntrustedEvent", "{}", err.error_message);
    let forged = r#"{"cluster":"prod","service":"web","task_definition":"web:8"}"#;
    let mut other = continued(&d, "job-real-C", &token);
    other["CodePipeline.job"]["data"]["continuationToken"] = json!(forged);
    let err = invoke(&d, other).await.unwrap_err();
    assert_eq!(err.error_type, "UntrustedEvent", "{}", err.error_message);
    // The same token with other UserParameters than CodePipeline holds for the job.
    let mut params = continued(&d, "job-real-D", &token);
    params["CodePipeline.job"]["data"]["actionConfiguration"]["configuration"]["UserParameters"] =
        json!("{\"version\": \"v2\", \"service\": \"api\"}");
    let err = invoke(&d, params).await.unwrap_err();
    assert_eq!(err.error_type, "UntrustedEvent", "{}", err.error_message);
    assert_eq!(answered(), 1, "no PutJob* for any of them");
    assert_eq!(count(&d, "GetDeployment"), 0, "nothing was read for them");

    // A token CodePipeline holds, but naming another service than the job deploys, or a CodeDeploy
    // deployment of another service's group: the job is failed NotAllowed, the other deployment not read.
    let pay = pay_in_ready_wait(&d);
    let issued: Value = serde_json::from_str(&token).expect("the token is the rollout's state");
    let with = |key: &str, value: &str| {
        let mut t = issued.clone();
        t[key] = json!(value);
        t.to_string()
    };
    for (id, bad) in [("job-E", with("service", "api")), ("job-F", with("codedeploy_deployment_id", &pay))] {
        let out = invoke(&d, continued(&d, id, &bad)).await.unwrap();
        assert_eq!(out["status"], "failed", "{out}");
        let Err(message) = job_results(&d).last().unwrap().1.clone() else { panic!("a failure result") };
        assert!(message.starts_with("NotAllowed"), "{message}");
    }
    let reads = d.ecs().calls().iter().filter(|c| c.op == "GetDeployment" && c.arg == pay).count();
    assert_eq!(reads, 1, "pay's deployment is read once, to see it is of another group, and nothing more");
    assert_eq!(count(&d, "GetDeploymentTarget"), 0);

    // The job CodePipeline created for the next run, with the token it holds: honoured.
    let out = invoke(&d, continued(&d, "job-G", &token)).await.unwrap();
    assert_eq!(out["status"], "continuing", "{out}");
}

/// Issue 21: one decide serves every face. The same crash-looping rolling update, followed by a `wait` deploy
/// and by a CodePipeline job's continuations (a state in the token, driven one read at a time), ends with the
/// same verdict: rolled back by the deployer to the revision before, for the same reason.
#[tokio::test]
async fn a_wait_deploy_and_a_codepipeline_job_reach_the_same_verdict_for_the_same_rollout() {
    let crash = || {
        [Rollout::CrashLoop { every: Duration::from_secs(10) }, Rollout::Completes { after: Duration::from_secs(20) }]
    };
    let running =
        |d: &FakeDeployer| crate::plan::family_revision(d.ecs().service("web").task_definition().unwrap()).to_owned();
    let waited = standard_deployer();
    waited.ecs().rollouts(crash());
    let big = Invocation { budget: Duration::from_secs(600), ..inv() };
    let err = waited.execute(request(json!({"version": "v2", "wait": true})), &big).await.unwrap_err();
    let r = err.details();
    let reason = r["rollout"]["failure"]["reason"].as_str().unwrap().to_owned();
    assert_eq!(
        (r["status"].as_str(), r["rollout"]["rollback"]["by"].as_str(), r["rollout"]["rollback"]["to"].as_str()),
        (Some("rolled_back"), Some("ecs-deployer"), Some("web:7")),
        "{r}"
    );
    assert_eq!(running(&waited), "web:7");

    let piped = standard_deployer();
    piped.ecs().rollouts(crash());
    invoke(&piped, pipeline_job(None)).await.unwrap();
    let mut runs = 0;
    let answer = loop {
        let (_, last) = job_results(&piped).last().unwrap().clone();
        let Ok(Some(token)) = last else { break last };
        runs += 1;
        assert!(runs < 100, "the job never ended");
        piped.clock().sleep(Duration::from_secs(5)).await;
        invoke(&piped, continued(&piped, &format!("job-{runs}"), &token)).await.unwrap();
    };
    let Err(message) = answer else { panic!("the job fails: {answer:?}") };
    assert_eq!(message, format!("prod/web: web:8 failed and was rolled back by ecs-deployer: {reason}"));
    assert_eq!(running(&piped), "web:7", "the pipeline's rollout went back as the followed one did");
    assert_eq!(count(&piped, "UpdateService"), 2, "the deploy and its one rollback");
}
