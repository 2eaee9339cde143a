//! Trust boundaries (issue 16), through the Lambda boundary on the fake: what names another resource,
//! another family, another account or region is refused before any AWS call or change; events are hints
//! that ECS must confirm.

use std::time::Duration;

use aws_sdk_ecs::types::{DeploymentRolloutState, Tag};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{json, Value};

use contract::names::AllowedTarget;

use crate::config::Config;
use crate::plan::{family_revision, PREVIOUS_TAG};
use crate::ports::DescribedTaskDefinition;
use crate::rollback::{self, Rollback};
use crate::strategy::Strategy;
use crate::testing::*;
use crate::trigger::lambda::handle;

const ECS_EVENT: &str = include_str!("../../../../events/ecs-deployment-failed.json");
const BUILD_EVENT: &str = include_str!("../../../../events/codebuild-succeeded.json");
const MUTATING: &[&str] = &["RegisterTaskDefinition", "UpdateService", "DeregisterTaskDefinition"];

fn config() -> Config {
    Config { build_projects: vec!["web-image".into()], ..defaults() }
}

fn deployer() -> FakeDeployer {
    deployer_with(config())
}

fn deployer_with(config: Config) -> FakeDeployer {
    deployer_on(FakeAws::world(REPOSITORY, &["v1", "v2"], vec![described(7, "v1")]), config)
}

/// Calls the function as the runtime does, the invoked function's ARN being [`FUNCTION_ARN`].
async fn call(d: &FakeDeployer, payload: Value) -> Result<Value, Diagnostic> {
    let mut context = Context::default();
    context.request_id = "req-trust".into();
    context.invoked_function_arn = FUNCTION_ARN.into();
    handle(d, LambdaEvent::new(payload, context)).await
}

fn running(d: &FakeDeployer) -> String {
    family_revision(d.ecs().service("web").task_definition().unwrap()).to_owned()
}

fn mutations(d: &FakeDeployer) -> Vec<&'static str> {
    d.ecs().ops().into_iter().filter(|op| MUTATING.contains(op)).collect()
}

/// The ECS deployment event fixture, moved into the fake world's account and region.
fn ecs_event(name: &str, deployment_id: &str) -> Value {
    let mut e: Value = serde_json::from_str(&ECS_EVENT.replace("123456789012", ACCOUNT).replace("us-east-1", REGION))
        .expect("fixture");
    e["resources"] = json!([format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/web")]);
    e["detail"]["eventName"] = json!(name);
    e["detail"]["deploymentId"] = json!(deployment_id);
    e
}

/// The CodeBuild fixture, moved into the fake world's account and region, deploying `tag`.
fn build_event(tag: &str) -> Value {
    let mut e: Value = serde_json::from_str(&BUILD_EVENT.replace("123456789012", ACCOUNT).replace("us-east-1", REGION))
        .expect("fixture");
    e["detail"]["additional-information"]["environment"]["environment-variables"][1]["value"] = json!(tag);
    e
}

/// A revision of another family, `admin-tools:1`, with its own task role.
fn admin_tools() -> DescribedTaskDefinition {
    let mut d = described(1, "v1");
    d.task_definition.family = Some("admin-tools".into());
    d.task_definition.task_definition_arn = Some(arn("admin-tools:1"));
    d.task_definition.task_role_arn = Some(format!("arn:aws:iam::{ACCOUNT}:role/admin"));
    d
}

fn set_rollout_state(d: &FakeDeployer, id: &str, state: DeploymentRolloutState) {
    let mut s = d.ecs().state.lock().unwrap();
    let svc = s.services.get_mut("web").unwrap();
    let mut deployments = svc.deployments().to_vec();
    deployments.iter_mut().filter(|x| x.id() == Some(id)).for_each(|x| x.rollout_state = Some(state.clone()));
    svc.deployments = Some(deployments);
}

#[tokio::test]
async fn what_names_another_resource_is_refused_before_any_aws_call() {
    let foreign = "999999999999";
    let mut stray = ecs_event("SERVICE_DEPLOYMENT_FAILED", "ecs-svc/1");
    stray["service"] = json!("web");
    let mut other_account = ecs_event("SERVICE_DEPLOYMENT_FAILED", "ecs-svc/1");
    other_account["account"] = json!(foreign);
    let mut other_region = build_event("v2");
    other_region["region"] = json!("eu-central-1");
    let mut other_project = build_event("v2");
    other_project["detail"]["project-name"] = json!("admin-image");
    let mut forged_build_arn = build_event("v2");
    forged_build_arn["detail"]["build-id"] = json!(format!("arn:aws:codebuild:{REGION}:{foreign}:build/web-image:1"));
    let mut foreign_service = ecs_event("SERVICE_DEPLOYMENT_FAILED", "ecs-svc/1");
    foreign_service["resources"] = json!([format!("arn:aws:ecs:{REGION}:{foreign}:service/prod/web")]);
    let mut old_format = ecs_event("SERVICE_DEPLOYMENT_FAILED", "ecs-svc/1");
    old_format["resources"] = json!([format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/web")]);
    let cases = [
        (json!({"version": "v2", "cluster": format!("arn:aws:ecs:{REGION}:{foreign}:cluster/prod")}), "NotAllowed"),
        (
            json!({"version": "v2", "cluster": format!("arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/prod")}),
            "InvalidRequest",
        ),
        (
            json!({"version": "v2", "service": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/staging/web")}),
            "InvalidRequest",
        ),
        (json!({"version": "v2", "service": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/web")}), "InvalidRequest"),
        (
            json!({"action": "rollback", "to": format!("arn:aws:ecs:{REGION}:{foreign}:task-definition/web:7")}),
            "NotAllowed",
        ),
        (json!({"version": " v2 "}), "InvalidVersion"),
        (json!({"version": "v2\n"}), "InvalidVersion"),
        (json!({"version": "\u{a0}v2"}), "InvalidVersion"),
        (stray, "InvalidRequest"),
        (other_account, "UntrustedEvent"),
        (foreign_service, "NotAllowed"),
        (old_format, "InvalidRequest"),
        (other_region, "UntrustedEvent"),
        (other_project, "UntrustedEvent"),
        (forged_build_arn, "UntrustedEvent"),
        (build_event(" v2 "), "InvalidVersion"),
        (build_event("v2\n"), "InvalidVersion"),
    ];
    for (payload, code) in cases {
        let d = deployer();
        let err = call(&d, payload.clone()).await.expect_err("refused");
        assert_eq!(err.error_type, code, "{payload}: {}", err.error_message);
        assert_eq!(d.ecs().ops(), Vec::<&str>::new(), "no AWS call for {payload}");
        assert_eq!(running(&d), "web:7");
    }
}

#[tokio::test]
async fn the_allow_list_holds_for_every_door_on_the_resolved_identity() {
    let allowed = |entries: &[&str]| Config {
        allowed: entries.iter().map(|e| AllowedTarget::parse(e).unwrap()).collect(),
        ..config()
    };
    let d = deployer_with(allowed(&["prod/api"]));
    for payload in [json!({"version": "v2"}), build_event("v2"), ecs_event("SERVICE_DEPLOYMENT_FAILED", "ecs-svc/0")] {
        let err = call(&d, payload.clone()).await.expect_err("not allowed");
        assert_eq!(err.error_type, "NotAllowed", "{payload}");
    }
    let d = deployer_with(allowed(&["eu-central-1/prod/web"]));
    let err = call(&d, json!({"version": "v2"})).await.unwrap_err();
    assert_eq!(err.error_type, "NotAllowed", "prod/web is allowed in eu-central-1 only");
    assert_eq!(d.ecs().ops(), Vec::<&str>::new());
    let d = deployer_with(allowed(&["prod/web"]));
    let out = call(&d, json!({"version": "v2", "cluster": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod")}))
        .await
        .unwrap();
    assert_eq!((out["status"].as_str(), out["cluster"].as_str()), (Some("deployed"), Some("prod")));
}

/// Issue 16, case 2: `{"action": "rollback", "to": "admin-tools:1"}` put the service on another family.
#[tokio::test]
async fn a_rollback_to_another_family_is_refused_before_any_change() {
    let d = deployer();
    d.ecs().state.lock().unwrap().task_definitions.push(admin_tools());
    call(&d, json!({"version": "v2"})).await.unwrap();
    let before = d.ecs().calls().len();
    for to in ["admin-tools:1".to_owned(), arn("admin-tools:1")] {
        let err = call(&d, json!({"action": "rollback", "to": to})).await.unwrap_err();
        assert_eq!(err.error_type, "RollbackOutsideFamily", "{}", err.error_message);
        let body: Value = serde_json::from_str(&err.error_message).unwrap();
        assert_eq!(body["error"]["details"], json!({"service": "web", "family": "web", "to": "admin-tools:1"}));
    }
    let calls = &d.ecs().calls()[before..];
    assert!(calls.iter().all(|c| !MUTATING.contains(&c.op)), "no change");
    assert!(calls.iter().all(|c| !c.arg.contains("admin-tools")), "the other family is not even read: {calls:?}");
    assert_eq!(running(&d), "web:8");
}

#[tokio::test]
async fn a_rollback_goes_only_to_a_revision_something_vouches_for() {
    let d = deployer();
    call(&d, json!({"version": "v2"})).await.unwrap(); // web:8, recording web:7 as previous
                                                       // Registered by hand: no tag of this deployer, not recorded, no deployment uses it.
    let mut by_hand = described(9, "v1");
    by_hand.tags.retain(|t| t.key() != Some(PREVIOUS_TAG));
    d.ecs().state.lock().unwrap().task_definitions.push(by_hand);
    let err = call(&d, json!({"action": "rollback", "to": "web:9"})).await.unwrap_err();
    assert_eq!(err.error_type, "UntrustedRollbackTarget", "{}", err.error_message);
    assert!(err.error_message.contains("ecs-deployer did not register it"), "{}", err.error_message);
    assert_eq!((running(&d), mutations(&d)), ("web:8".to_owned(), vec!["RegisterTaskDefinition", "UpdateService"]));
    // The recorded previous revision (web:7, not registered by this deployer) is fine ...
    let back = call(&d, json!({"action": "rollback", "to": "web:7"})).await.unwrap();
    assert_eq!((back["status"].as_str(), running(&d)), (Some("rolled_back"), "web:7".to_owned()));
    // ... and so is a revision this deployer registered, from a running revision that records nothing.
    let forth = call(&d, json!({"action": "rollback", "to": "web:8"})).await.unwrap();
    assert_eq!((forth["status"].as_str(), running(&d)), (Some("rolled_back"), "web:8".to_owned()));
}

#[tokio::test]
async fn every_rollback_path_stays_in_the_family() {
    let d = deployer();
    let at = crate::request::ServiceRef {
        region: None,
        cluster: contract::names::ClusterName::parse("cluster", "prod").unwrap(),
        service: contract::names::ServiceName::parse("service", "web").unwrap(),
        codedeploy: Default::default(),
    };
    let service = d.ecs().service("web");
    let strategy = Strategy::for_service(&service, &at.service).unwrap();
    let r = Rollback {
        at: &at,
        strategy,
        from: &arn("web:7"),
        discard: true,
        to: &arn("admin-tools:1"),
        deadline: Duration::ZERO,
    };
    let err = rollback::roll_back(d.ecs(), d.clock(), r).await.unwrap_err();
    assert_eq!(err.code().as_str(), "RollbackOutsideFamily");
    assert_eq!(d.ecs().ops(), Vec::<&str>::new());
}

/// Issue 16, case 11: "succeeded" was published on a hand-sent event.
#[tokio::test]
async fn deployment_events_act_only_on_what_ecs_confirms() {
    let recorder = Recorder::default();
    let d = deployer().with_notifier(recorder.clone());
    d.ecs().rollouts([Rollout::Stuck]);
    let out = call(&d, json!({"version": "v2"})).await.unwrap();
    let id = out["deployment_id"].as_str().unwrap().to_owned();
    let changes = mutations(&d).len();

    let done = call(&d, ecs_event("SERVICE_DEPLOYMENT_COMPLETED", &id)).await.unwrap();
    assert_eq!(done["status"], "ignored");
    assert!(done["reason"].as_str().unwrap().contains("ECS says its rollout is IN_PROGRESS"), "{done}");
    let failed = call(&d, ecs_event("SERVICE_DEPLOYMENT_FAILED", &id)).await.unwrap();
    assert_eq!(failed["status"], "ignored", "{failed}");
    assert_eq!(mutations(&d).len(), changes, "nothing rolled back");
    assert_eq!(running(&d), "web:8");
    let told: Vec<_> = recorder.events().into_iter().map(|e| e.0).collect();
    assert_eq!(told, ["started"], "no succeeded, no rolled_back");

    set_rollout_state(&d, &id, DeploymentRolloutState::Completed);
    let done = call(&d, ecs_event("SERVICE_DEPLOYMENT_COMPLETED", &id)).await.unwrap();
    assert_eq!(done["status"], "completed");
    assert_eq!(recorder.events().last().map(|e| e.0), Some("succeeded"));

    set_rollout_state(&d, &id, DeploymentRolloutState::Failed);
    let rolled = call(&d, ecs_event("SERVICE_DEPLOYMENT_FAILED", &id)).await.unwrap();
    assert_eq!((rolled["status"].as_str(), running(&d)), (Some("rolled_back"), "web:7".to_owned()));
}

#[tokio::test]
async fn a_failed_deployment_recording_another_family_is_not_rolled_back_there() {
    let d = deployer();
    d.ecs().rollouts([Rollout::Stuck]);
    let out = call(&d, json!({"version": "v2"})).await.unwrap();
    let id = out["deployment_id"].as_str().unwrap().to_owned();
    {
        let mut s = d.ecs().state.lock().unwrap();
        s.task_definitions.push(admin_tools());
        let web8 = s.task_definitions.iter_mut().find(|t| t.task_definition.revision == 8).unwrap();
        web8.tags.retain(|t| t.key() != Some(PREVIOUS_TAG));
        web8.tags.push(Tag::builder().key(PREVIOUS_TAG).value("admin-tools:1").build());
    }
    set_rollout_state(&d, &id, DeploymentRolloutState::Failed);
    // The deployer's own history record of the deploy would say web:7: without it, only the tag speaks.
    d.ecs().state.lock().unwrap().history.clear();
    let changes = mutations(&d).len();
    let err = call(&d, ecs_event("SERVICE_DEPLOYMENT_FAILED", &id)).await.unwrap_err();
    assert_eq!(err.error_type, "RollbackOutsideFamily", "{}", err.error_message);
    assert_eq!((mutations(&d).len(), running(&d)), (changes, "web:8".to_owned()));
}

#[tokio::test]
async fn a_build_of_the_configured_project_deploys_its_version() {
    let d = deployer();
    let out = call(&d, build_event("v2")).await.unwrap();
    assert_eq!((out["status"].as_str(), out["version"].as_str()), (Some("deployed"), Some("v2")));
    assert_eq!(running(&d), "web:8");
    // Without DEPLOY_BUILD_PROJECTS no build deploys.
    let d = deployer_with(defaults());
    let err = call(&d, build_event("v2")).await.unwrap_err();
    assert_eq!(err.error_type, "UntrustedEvent");
    assert!(err.error_message.contains("DEPLOY_BUILD_PROJECTS"), "{}", err.error_message);
}

#[tokio::test]
async fn without_the_functions_arn_no_event_and_no_arn_is_trusted() {
    let d = deployer();
    for payload in [
        build_event("v2"),
        ecs_event("SERVICE_DEPLOYMENT_FAILED", "ecs-svc/0"),
        json!({"version": "v2", "cluster": format!("arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod")}),
    ] {
        let err = handle(&d, LambdaEvent::new(payload.clone(), Context::default())).await.unwrap_err();
        assert!(["UntrustedEvent", "InvalidRequest"].contains(&err.error_type.as_str()), "{payload}");
        assert!(err.error_message.contains("does not say which account"), "{}", err.error_message);
    }
    assert_eq!(d.ecs().ops(), Vec::<&str>::new());
}
