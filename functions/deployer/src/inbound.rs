//! From the shape of an event to what the deployer should do: a direct-invoke request, an EventBridge "ECS
//! Deployment State Change", or an EventBridge "CodeBuild Build State Change". One small, pure module.

use aws_lambda_events::codebuild::CodeBuildEvent;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::DeployError;
use crate::request::DeployRequest;

/// The `detail` of an EventBridge "ECS Deployment State Change" event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsDeploymentDetail {
    /// `SERVICE_DEPLOYMENT_IN_PROGRESS`, `SERVICE_DEPLOYMENT_COMPLETED` or `SERVICE_DEPLOYMENT_FAILED`.
    pub event_name: String,
    pub deployment_id: String,
    pub reason: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EcsDeploymentEvent {
    /// The service ARN from `resources`.
    pub service_arn: String,
    pub detail: EcsDeploymentDetail,
}

#[derive(Debug)]
pub enum Inbound {
    Request(DeployRequest),
    EcsDeployment(EcsDeploymentEvent),
    CodeBuild(Box<CodeBuildEvent>),
}

fn invalid(reason: String) -> DeployError {
    DeployError::InvalidRequest { reason }
}

/// Decides what an event is. EventBridge events carry `source` and `detail-type`; anything else must be a
/// direct-invoke request.
pub fn route(payload: Value) -> Result<Inbound, DeployError> {
    let is_eventbridge = payload.get("detail-type").is_some() && payload.get("source").is_some();
    if !is_eventbridge {
        return serde_json::from_value(payload).map(Inbound::Request).map_err(|e| invalid(e.to_string()));
    }
    let source = payload["source"].as_str().unwrap_or_default().to_owned();
    let detail_type = payload["detail-type"].as_str().unwrap_or_default().to_owned();
    match (source.as_str(), detail_type.as_str()) {
        ("aws.ecs", "ECS Deployment State Change") => {
            let event: EventBridgeEvent<EcsDeploymentDetail> =
                serde_json::from_value(payload).map_err(|e| invalid(format!("malformed ECS deployment event: {e}")))?;
            let service_arn = event
                .resources
                .unwrap_or_default()
                .into_iter()
                .find(|r| r.contains(":service/"))
                .ok_or_else(|| invalid("the ECS deployment event names no service".into()))?;
            Ok(Inbound::EcsDeployment(EcsDeploymentEvent { service_arn, detail: event.detail }))
        }
        ("aws.codebuild", "CodeBuild Build State Change") => serde_json::from_value(payload)
            .map(|e| Inbound::CodeBuild(Box::new(e)))
            .map_err(|e| invalid(format!("malformed CodeBuild event: {e}"))),
        _ => Err(invalid(format!("unsupported event: {source} / {detail_type}"))),
    }
}

/// `(cluster, service)` from a service ARN in the new format (`service/cluster/name`); the old format
/// (`service/name`) does not name the cluster.
pub fn cluster_and_service(service_arn: &str) -> (Option<&str>, &str) {
    let path = service_arn.split_once(":service/").map_or(service_arn, |(_, p)| p);
    match path.split_once('/') {
        Some((cluster, service)) => (Some(cluster), service),
        None => (None, path),
    }
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
    use super::*;

    const ECS_EVENT: &str = include_str!("../../../events/ecs-deployment-failed.json");
    const BUILD_EVENT: &str = include_str!("../../../events/codebuild-succeeded.json");

    #[test]
    fn direct_requests_pass_through() {
        let inbound = route(serde_json::from_str(include_str!("../../../events/deploy.json")).unwrap()).unwrap();
        assert!(matches!(inbound, Inbound::Request(r) if r.version.as_deref() == Some("v2")));
        assert!(route(serde_json::json!({"version": "v2", "oops": 1})).is_err());
    }

    #[test]
    fn ecs_deployment_events_name_the_service_and_deployment() {
        let Inbound::EcsDeployment(e) = route(serde_json::from_str(ECS_EVENT).unwrap()).unwrap() else {
            panic!("an ECS deployment event")
        };
        assert_eq!(e.detail.event_name, "SERVICE_DEPLOYMENT_FAILED");
        assert_eq!(cluster_and_service(&e.service_arn), (Some("demo"), "web"));
        assert!(e.detail.deployment_id.starts_with("ecs-svc/"));
        assert_eq!(cluster_and_service("arn:aws:ecs:us-east-1:1:service/legacy"), (None, "legacy"));
    }

    #[test]
    fn codebuild_events_carry_the_build_environment() {
        let Inbound::CodeBuild(e) = route(serde_json::from_str(BUILD_EVENT).unwrap()).unwrap() else {
            panic!("a CodeBuild event")
        };
        assert_eq!(build_variable(&e, "IMAGE_TAG"), Some("v2"));
        assert_eq!(build_variable(&e, "NOPE"), None);
    }

    #[test]
    fn other_events_are_refused_by_name() {
        let err =
            route(serde_json::json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {}})).unwrap_err();
        assert_eq!(err.code(), "InvalidRequest");
        assert!(err.to_string().contains("aws.s3 / Object Created"), "{err}");
    }
}
