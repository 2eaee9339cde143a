//! Stage 1: what woke the function. The Lambda boundary ([`lambda`]) hands each event to [`route`], which
//! tells a direct-invoke request from an EventBridge "ECS Deployment State Change" ([`ecs_event`]) or
//! "CodeBuild Build State Change" ([`codebuild`]) or a "CodeDeploy Deployment State-change Notification"
//! ([`codedeploy_event`]). A new trigger is a variant of [`Inbound`], its arm in
//! [`route`] and in [`lambda::handle`], and a file beside these.

pub mod codebuild;
pub mod codedeploy_event;
pub mod codepipeline;
pub mod ecs_event;
pub mod lambda;

use aws_lambda_events::codebuild::CodeBuildEvent;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use contract::names::{is_account_id, EcsArn, EcsResource, Region};
use contract::request::DeployRequest;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::DeployError;
use crate::request::Scope;

/// The `detail` of an EventBridge "ECS Deployment State Change" event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsDeploymentDetail {
    /// `SERVICE_DEPLOYMENT_IN_PROGRESS`, `SERVICE_DEPLOYMENT_COMPLETED` or `SERVICE_DEPLOYMENT_FAILED`.
    pub event_name: String,
    pub deployment_id: String,
    pub reason: Option<String>,
}

/// The account and region an EventBridge event says it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub account: String,
    pub region: String,
}

#[derive(Debug, Clone)]
pub struct EcsDeploymentEvent {
    pub origin: Origin,
    /// The service ARN from `resources`: an ECS service ARN (checked by [`route`]).
    pub service_arn: String,
    pub detail: EcsDeploymentDetail,
}

#[derive(Debug)]
pub enum Inbound {
    Request(Box<DeployRequest>),
    EcsDeployment(EcsDeploymentEvent),
    CodeBuild {
        origin: Origin,
        event: Box<CodeBuildEvent>,
    },
    CodeDeploy(codedeploy_event::CodeDeployEvent),
    /// A CodePipeline Lambda invoke action's job (`{"CodePipeline.job": …}`).
    CodePipeline(codepipeline::PipelineJob),
}

fn invalid(reason: String) -> DeployError {
    DeployError::InvalidRequest { reason }
}

/// EventBridge's envelope, with its own fields only
/// (<https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html>). `aws_lambda_events`
/// ignores unknown fields; this type refuses them, so a request with a stray `"service"` dressed up as an
/// event is not an event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Envelope {
    pub version: String,
    pub id: String,
    pub detail_type: String,
    pub source: String,
    pub account: String,
    pub time: String,
    pub region: String,
    pub resources: Vec<String>,
    pub detail: Value,
}

/// The envelope fields that make an EventBridge event what it is (what sent it, what kind, its body) and that
/// no request has: a body holding one of them is taken as an event and must be a well-formed one. `version`
/// and `region` are fields of both shapes, so they decide nothing (a request's documented `region` once made
/// every request a malformed event: issue 23, D11); `id`, `account`, `time` and `resources` alone are refused
/// as a request's unknown fields.
const EVENT_ONLY_FIELDS: &[&str] = &["source", "detail-type", "detail"];

/// Decides what an event is. A JSON object with `source`, `detail-type` or `detail` must be a well-formed
/// EventBridge event (exactly the envelope's fields, version `0`, a 12-digit account, a region) of a
/// supported source; anything else must be a direct-invoke request (unknown fields refused). Pure; errors
/// are `InvalidRequest`.
pub fn route(payload: Value) -> Result<Inbound, DeployError> {
    if payload.as_object().is_some_and(|o| o.len() == 1 && o.contains_key("CodePipeline.job")) {
        return codepipeline::PipelineJob::from_event(&payload).map(Inbound::CodePipeline);
    }
    let looks_like_event = payload.as_object().is_some_and(|o| EVENT_ONLY_FIELDS.iter().any(|k| o.contains_key(*k)));
    if !looks_like_event {
        return serde_json::from_value(payload)
            .map(|r| Inbound::Request(Box::new(r)))
            .map_err(|e| invalid(e.to_string()));
    }
    let envelope =
        Envelope::deserialize(&payload).map_err(|e| invalid(format!("not a well-formed EventBridge event: {e}")))?;
    if envelope.version != "0" {
        return Err(invalid(format!(
            "not a well-formed EventBridge event: version {:?} is not \"0\"",
            envelope.version
        )));
    }
    if !is_account_id(&envelope.account) || Region::parse(&envelope.region).is_err() {
        return Err(invalid("not a well-formed EventBridge event: bad account or region".into()));
    }
    let origin = Origin { account: envelope.account.clone(), region: envelope.region.clone() };
    match (envelope.source.as_str(), envelope.detail_type.as_str()) {
        ("aws.ecs", "ECS Deployment State Change") => {
            let event: EventBridgeEvent<EcsDeploymentDetail> =
                serde_json::from_value(payload).map_err(|e| invalid(format!("malformed ECS deployment event: {e}")))?;
            let services: Vec<&String> = envelope
                .resources
                .iter()
                .filter(|r| EcsArn::parse(r).is_ok_and(|a| matches!(a.resource(), EcsResource::Service { .. })))
                .collect();
            let [service_arn] = services.as_slice() else {
                return Err(invalid(format!(
                    "the ECS deployment event names {} services; it takes one service ARN",
                    services.len()
                )));
            };
            Ok(Inbound::EcsDeployment(EcsDeploymentEvent {
                origin,
                service_arn: (*service_arn).clone(),
                detail: event.detail,
            }))
        }
        ("aws.codedeploy", "CodeDeploy Deployment State-change Notification") => {
            let detail = serde_json::from_value(envelope.detail.clone())
                .map_err(|e| invalid(format!("malformed CodeDeploy deployment event: {e}")))?;
            Ok(Inbound::CodeDeploy(codedeploy_event::CodeDeployEvent { origin, detail }))
        }
        ("aws.codebuild", "CodeBuild Build State Change") => serde_json::from_value(payload)
            .map(|e| Inbound::CodeBuild { origin, event: Box::new(e) })
            .map_err(|e| invalid(format!("malformed CodeBuild event: {e}"))),
        _ => Err(invalid(format!("unsupported event: {} / {}", envelope.source, envelope.detail_type))),
    }
}

/// Refuses (`UntrustedEvent`) an event from another account or region than the function's own, and every
/// event when the function's home is unknown.
pub fn check_origin(origin: &Origin, scope: &Scope<'_>) -> Result<(), DeployError> {
    let Some(home) = scope.home() else {
        return Err(DeployError::UntrustedEvent {
            reason: "this invocation does not say which account the function runs in, so no event can be checked"
                .into(),
        });
    };
    if origin.account != home.account() || origin.region != home.region().as_str() {
        return Err(DeployError::UntrustedEvent {
            reason: format!(
                "the event comes from account {} in {}, not from this function's account and region",
                origin.account, origin.region
            ),
        });
    }
    Ok(())
}

/// The value of the build's environment variable `name`.
pub fn build_variable<'a>(event: &'a CodeBuildEvent, name: &str) -> Option<&'a str> {
    event
        .detail
        .additional_information
        .environment
        .environment_variables
        .iter()
        .find(|v| v.name.as_deref() == Some(name))
        .and_then(|v| v.value.as_deref())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use contract::names::Home;

    const ECS_EVENT: &str = include_str!("../../../../events/ecs-deployment-failed.json");
    const BUILD_EVENT: &str = include_str!("../../../../events/codebuild-succeeded.json");

    fn event(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn refusal(payload: Value) -> String {
        let err = route(payload).unwrap_err();
        assert_eq!(err.code().as_str(), "InvalidRequest", "{err}");
        err.to_string()
    }

    #[test]
    fn direct_requests_pass_through() {
        let inbound = route(event(include_str!("../../../../events/deploy.json"))).unwrap();
        assert!(matches!(inbound, Inbound::Request(r) if r.version.as_deref() == Some("v2")));
        assert!(route(json!({"version": "v2", "oops": 1})).is_err());
    }

    /// Issue 23, D11: `region` is a request's field too (README "Request"); a request with it is a request on
    /// every action, and an event is still told by its envelope.
    #[test]
    fn a_top_level_region_is_a_request_field() {
        for body in [
            json!({"action": "status", "region": "us-east-1"}),
            json!({"version": "v2", "region": "us-east-1", "dry_run": true}),
            json!({"action": "history", "region": "eu-west-1"}),
            json!({"action": "rollback", "region": "eu-west-1", "to": "web:3"}),
        ] {
            let Inbound::Request(r) = route(body.clone()).unwrap() else { panic!("a request: {body}") };
            assert_eq!(r.region.as_deref(), body["region"].as_str(), "{body}");
        }
        let Inbound::EcsDeployment(e) = route(event(ECS_EVENT)).unwrap() else { panic!("still an event") };
        assert_eq!(e.origin.region, "us-east-1");
    }

    #[test]
    fn ecs_deployment_events_name_the_service_and_deployment() {
        let Inbound::EcsDeployment(e) = route(event(ECS_EVENT)).unwrap() else { panic!("an ECS deployment event") };
        assert_eq!(e.detail.event_name, "SERVICE_DEPLOYMENT_FAILED");
        assert_eq!(e.service_arn, "arn:aws:ecs:us-east-1:123456789012:service/demo/web");
        assert_eq!(e.origin, Origin { account: "123456789012".into(), region: "us-east-1".into() });
        assert!(e.detail.deployment_id.starts_with("ecs-svc/"));
    }

    #[test]
    fn codebuild_events_carry_the_build_environment() {
        let Inbound::CodeBuild { origin, event: e } = route(event(BUILD_EVENT)).unwrap() else {
            panic!("a CodeBuild event")
        };
        assert_eq!(origin.account, "123456789012");
        assert_eq!(build_variable(&e, "IMAGE_TAG"), Some("v2"));
        assert_eq!(build_variable(&e, "NOPE"), None);
    }

    #[test]
    fn other_events_are_refused_by_name() {
        let mut s3 = event(ECS_EVENT);
        s3["source"] = json!("aws.s3");
        s3["detail-type"] = json!("Object Created");
        assert!(refusal(s3).contains("aws.s3 / Object Created"));
    }

    /// The front forwarded a body shaped like an event with a stray "service" (issue 16, case 1): it is
    /// neither an event nor a request.
    #[test]
    fn an_envelope_takes_only_eventbridges_own_fields() {
        for text in [ECS_EVENT, BUILD_EVENT] {
            let mut forged = event(text);
            forged["service"] = json!("api");
            assert!(refusal(forged).contains("not a well-formed EventBridge event"));
        }
        // The shape the attacker sent: source, detail-type, detail, resources, service; no envelope.
        let bare = json!({
            "source": "aws.ecs", "detail-type": "ECS Deployment State Change", "service": "api",
            "resources": ["arn:aws:ecs:us-east-1:123456789012:service/demo/web"],
            "detail": {"eventName": "SERVICE_DEPLOYMENT_FAILED", "deploymentId": "ecs-svc/1"},
        });
        assert!(refusal(bare).contains("not a well-formed EventBridge event"));
        // One of the fields that make an event is enough to be taken as one, never as a request.
        for field in ["detail-type", "source", "detail"] {
            let mut body = json!({"version": "v2"});
            body[field] = json!("x");
            assert!(refusal(body).contains("not a well-formed EventBridge event"), "{field}");
        }
        // The envelope's other fields are no request's either: refused as unknown fields.
        for field in ["resources", "account", "time", "id"] {
            let mut body = json!({"version": "v2"});
            body[field] = json!("x");
            assert!(refusal(body).contains(&format!("unknown field `{field}`")), "{field}");
        }
        for (field, value) in [
            ("version", json!("1")),
            ("account", json!("1234")),
            ("region", json!("Mars")),
            ("resources", json!("arn")),
            ("detail-type", json!(7)),
        ] {
            let mut bad = event(ECS_EVENT);
            bad[field] = value;
            assert!(refusal(bad).contains("not a well-formed EventBridge event"), "{field}");
        }
        let mut missing = event(ECS_EVENT);
        missing.as_object_mut().unwrap().remove("time");
        assert!(refusal(missing).contains("not a well-formed EventBridge event"));
    }

    #[test]
    fn an_ecs_event_names_exactly_one_service_arn() {
        for resources in [
            json!([]),
            json!(["arn:aws:ecs:us-east-1:123456789012:cluster/demo"]),
            json!(["arn:aws:ecs:us-east-1:123456789012:service/demo/web/x"]),
            json!([
                "arn:aws:ecs:us-east-1:123456789012:service/demo/web",
                "arn:aws:ecs:us-east-1:123456789012:service/demo/api"
            ]),
        ] {
            let mut e = event(ECS_EVENT);
            e["resources"] = resources.clone();
            assert!(refusal(e).contains("it takes one service ARN"), "{resources}");
        }
    }

    #[test]
    fn events_come_from_the_functions_own_account_and_region() {
        let home = Home::new("aws", "us-east-1", "123456789012").unwrap();
        let scope = Scope::new("us-east-1", Some(&home));
        let origin = |account: &str, region: &str| Origin { account: account.into(), region: region.into() };
        assert!(check_origin(&origin("123456789012", "us-east-1"), &scope).is_ok());
        for (account, region) in [("999999999999", "us-east-1"), ("123456789012", "eu-west-1")] {
            let err = check_origin(&origin(account, region), &scope).unwrap_err();
            assert_eq!(err.code().as_str(), "UntrustedEvent", "{account} {region}");
        }
        let unknown = Scope::new("us-east-1", None);
        let err = check_origin(&origin("123456789012", "us-east-1"), &unknown).unwrap_err();
        assert_eq!(err.code().as_str(), "UntrustedEvent");
        // A home in another region than the function's clients is not trusted either.
        let elsewhere = Scope::new("eu-west-1", Some(&home));
        assert!(check_origin(&origin("123456789012", "us-east-1"), &elsewhere).is_err());
    }
}
