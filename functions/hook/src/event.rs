//! The two payloads a lifecycle hook is invoked with, told apart by their fields, and the answer ECS reads.
//!
//! - CodeDeploy (AppSpec `Hooks:` of an ECS deployment): `{"DeploymentId": "d-…", "LifecycleEventHookExecutionId": "…"}`,
//!   [`aws_lambda_events`]' `CodeDeployLifecycleEvent`. The return value is ignored: the hook reports through
//!   PutLifecycleEventHookExecutionStatus
//!   (<https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_PutLifecycleEventHookExecutionStatus.html>).
//! - ECS (a service's `deploymentConfiguration.lifecycleHooks`): [`EcsHookEvent`], answered with
//!   [`EcsAnswer`] (ECS Developer Guide, "Lambda hooks for Amazon ECS service deployments",
//!   <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/lambda-lifecycle-hooks.html>).

use std::collections::BTreeMap;

use aws_lambda_events::event::codedeploy::CodeDeployLifecycleEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::HookError;

/// One invocation, by who sent it.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    CodeDeploy(CodeDeployLifecycleEvent),
    /// A payload that is not JSON serde_json can read (nested deeper than its 128 levels, or malformed)
    /// whose `DeploymentId` and `LifecycleEventHookExecutionId` could still be read: reported `Failed` with
    /// `reason`, no check runs.
    CodeDeployUnreadable {
        deployment_id: String,
        execution_id: String,
        reason: String,
    },
    /// An ECS event; `Err` holds why its fields could not be read (answered `FAILED`, never an error).
    Ecs(Result<EcsHookEvent, String>),
}

/// Tells the payloads apart: `DeploymentId` and `LifecycleEventHookExecutionId` make a CodeDeploy event,
/// `lifecycleStage` an ECS one. Anything else is [`HookError::InvalidEvent`].
pub fn parse(event: Value) -> Result<Invocation, HookError> {
    let has = |key: &str| event.get(key).is_some();
    if has("DeploymentId") || has("LifecycleEventHookExecutionId") {
        return serde_json::from_value(event)
            .map(Invocation::CodeDeploy)
            .map_err(|e| HookError::InvalidEvent { reason: format!("a CodeDeploy hook event {e}") });
    }
    if has("lifecycleStage") {
        return Ok(Invocation::Ecs(serde_json::from_value(event).map_err(|e| format!("the ECS hook event: {e}"))));
    }
    Err(HookError::InvalidEvent {
        reason: "neither a CodeDeploy hook event (DeploymentId, LifecycleEventHookExecutionId) nor an ECS one \
                 (lifecycleStage)"
            .into(),
    })
}

/// The CodeDeploy ids of a payload, read without building its values: serde_json skips the fields it does
/// not keep without its recursion limit, so the ids of a payload nested too deep to read are still found.
#[derive(Deserialize)]
struct Ids {
    #[serde(rename = "DeploymentId")]
    deployment_id: Option<String>,
    #[serde(rename = "LifecycleEventHookExecutionId")]
    execution_id: Option<String>,
}

/// [`parse`] of the payload as the runtime hands it over (raw JSON text). A payload serde_json cannot read as
/// a value — nested deeper than its 128 levels (a 300-deep `hookDetails`, issue 23 D8), or not JSON — is
/// never an error: with both CodeDeploy ids readable it is [`Invocation::CodeDeployUnreadable`], else an ECS
/// event that could not be read (answered `FAILED` with the reason, which is all ECS reads).
pub fn parse_raw(raw: &str) -> Result<Invocation, HookError> {
    let err = match serde_json::from_str::<Value>(raw) {
        Ok(event) => return parse(event),
        Err(e) => e,
    };
    let reason = format!("the event could not be read: {err}");
    match serde_json::from_str::<Ids>(raw) {
        Ok(Ids { deployment_id: Some(deployment_id), execution_id: Some(execution_id) }) => {
            Ok(Invocation::CodeDeployUnreadable { deployment_id, execution_id, reason })
        }
        _ => Ok(Invocation::Ecs(Err(reason))),
    }
}

/// The event of an ECS lifecycle hook.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsHookEvent {
    #[serde(default)]
    pub execution_id: Option<String>,
    /// `RECONCILE_SERVICE`, `PRE_SCALE_UP`, `POST_SCALE_UP`, `TEST_TRAFFIC_SHIFT`, `POST_TEST_TRAFFIC_SHIFT`,
    /// `PRE_PRODUCTION_TRAFFIC_SHIFT`, `PRODUCTION_TRAFFIC_SHIFT` or `POST_PRODUCTION_TRAFFIC_SHIFT`.
    pub lifecycle_stage: String,
    /// The service deployment's ARN.
    #[serde(default)]
    pub resource_arn: Option<String>,
    #[serde(default)]
    pub execution_details: ExecutionDetails,
    /// The hook's `hookDetails`, merged with what the previous answer of this hook returned.
    #[serde(default)]
    pub hook_details: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetails {
    #[serde(default)]
    pub service_arn: Option<String>,
    /// The green revision, also during a rollback.
    #[serde(default)]
    pub target_service_revision_arn: Option<String>,
    /// Revision ARN → percent; empty except at TEST_TRAFFIC_SHIFT.
    #[serde(default)]
    pub test_traffic_weights: Option<BTreeMap<String, f64>>,
    /// Revision ARN → percent; empty except at (PRE_)PRODUCTION_TRAFFIC_SHIFT.
    #[serde(default)]
    pub production_traffic_weights: Option<BTreeMap<String, f64>>,
}

impl EcsHookEvent {
    /// True for a rollback's re-invocation: ECS calls the hooks of TEST_TRAFFIC_SHIFT and
    /// PRODUCTION_TRAFFIC_SHIFT again with green (the target) at 0 % and another revision at 100 %.
    /// Only those two stages are re-invoked: at PRE_PRODUCTION_TRAFFIC_SHIFT green at 0 % is the start.
    pub fn is_rollback(&self) -> bool {
        if !matches!(self.lifecycle_stage.as_str(), "TEST_TRAFFIC_SHIFT" | "PRODUCTION_TRAFFIC_SHIFT") {
            return false;
        }
        let d = &self.execution_details;
        let Some(target) = d.target_service_revision_arn.as_deref() else { return false };
        [&d.production_traffic_weights, &d.test_traffic_weights].into_iter().flatten().any(|weights| {
            weights.get(target).is_some_and(|w| *w == 0.0)
                && weights.iter().any(|(arn, w)| arn != target && *w >= 100.0)
        })
    }

    /// The green revision's weight at this step (production first, else test), when the event has one:
    /// PRODUCTION_TRAFFIC_SHIFT runs once per canary or linear step and each step is checked afresh.
    pub fn target_weight(&self) -> Option<f64> {
        let d = &self.execution_details;
        let target = d.target_service_revision_arn.as_deref()?;
        [&d.production_traffic_weights, &d.test_traffic_weights]
            .into_iter()
            .flatten()
            .find_map(|weights| weights.get(target).copied())
    }
}

/// What ECS reads from a hook: `hookStatus` decides; IN_PROGRESS makes ECS invoke again after
/// `callBackDelay` seconds (ECS's default is 30), with `hookDetails` merged into the next event's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsAnswer {
    pub hook_status: HookStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_back_delay: Option<u64>,
    pub hook_details: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HookStatus {
    Succeeded,
    Failed,
    InProgress,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const GREEN: &str = "arn:aws:ecs:us-west-2:1234567890:service-revision/my-cluster/my-service/9313423515462893900";
    const BLUE: &str = "arn:aws:ecs:us-west-2:1234567890:service-revision/my-cluster/my-service/1920498462936580504";

    /// The ECS Developer Guide's example event at `stage`, with the weights it shows for that stage.
    pub(crate) fn documented(stage: &str, test: Value, production: Value) -> Value {
        json!({
            "executionId": "f4fcae0f-8b8e-4a1e-a3a1-0cc9e5aa7d3b",
            "lifecycleStage": stage,
            "resourceArn": "arn:aws:ecs:us-west-2:1234567890:service-deployment/my-cluster/my-service/EZe5RNVLH6PPzHXINuP28",
            "executionDetails": {
                "serviceArn": "arn:aws:ecs:us-west-2:1234567890:service/my-cluster/my-service",
                "targetServiceRevisionArn": GREEN,
                "testTrafficWeights": test,
                "productionTrafficWeights": production
            },
            "hookDetails": {"S3_BUCKET_NAME": "my-bucket", "approvalChecked": true}
        })
    }

    fn ecs(value: Value) -> EcsHookEvent {
        match parse(value).unwrap() {
            Invocation::Ecs(Ok(e)) => e,
            other => panic!("not an ECS event: {other:?}"),
        }
    }

    #[test]
    fn the_documented_example_of_every_stage_is_read_and_none_is_a_rollback() {
        let stages = [
            ("RECONCILE_SERVICE", json!({}), json!({})),
            ("PRE_SCALE_UP", json!({}), json!({})),
            ("POST_SCALE_UP", json!({}), json!({})),
            ("TEST_TRAFFIC_SHIFT", json!({GREEN: 100, BLUE: 0}), json!({})),
            ("POST_TEST_TRAFFIC_SHIFT", json!({}), json!({})),
            ("PRE_PRODUCTION_TRAFFIC_SHIFT", json!({}), json!({GREEN: 0, BLUE: 100})),
            ("PRODUCTION_TRAFFIC_SHIFT", json!({}), json!({GREEN: 100, BLUE: 0})),
            ("POST_PRODUCTION_TRAFFIC_SHIFT", json!({}), json!({})),
        ];
        for (stage, test, production) in stages {
            let e = ecs(documented(stage, test, production));
            assert_eq!(e.lifecycle_stage, stage);
            assert_eq!(e.hook_details, Some(json!({"S3_BUCKET_NAME": "my-bucket", "approvalChecked": true})));
            // Before production moves, green at 0 % and blue at 100 % is where every deployment starts.
            assert!(!e.is_rollback(), "{stage}");
        }
    }

    #[test]
    fn a_rollback_re_invocation_is_recognised() {
        for (stage, test, production) in [
            ("PRODUCTION_TRAFFIC_SHIFT", json!({}), json!({GREEN: 0, BLUE: 100})),
            ("TEST_TRAFFIC_SHIFT", json!({GREEN: 0.0, BLUE: 100.0}), json!({})),
        ] {
            let e = ecs(documented(stage, test, production));
            assert!(e.is_rollback(), "{stage}");
            assert_eq!(e.target_weight(), Some(0.0));
        }
        let canary = ecs(documented("PRODUCTION_TRAFFIC_SHIFT", json!({}), json!({GREEN: 10, BLUE: 90})));
        assert!(!canary.is_rollback());
        assert_eq!(canary.target_weight(), Some(10.0));
    }

    #[test]
    fn sparse_and_null_fields_are_read() {
        let e = ecs(json!({"lifecycleStage": "POST_SCALE_UP", "executionDetails": {"testTrafficWeights": null},
                           "hookDetails": null}));
        assert!(!e.is_rollback() && e.target_weight().is_none() && e.hook_details.is_none());
        let Invocation::Ecs(Err(reason)) = parse(json!({"lifecycleStage": 7})).unwrap() else { panic!() };
        assert!(reason.contains("ECS hook event"), "{reason}");
    }

    #[test]
    fn codedeploy_events_and_strangers() {
        let e = parse(json!({"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "eyJlbmM="})).unwrap();
        let Invocation::CodeDeploy(e) = e else { panic!() };
        assert_eq!(
            (e.deployment_id.as_str(), e.lifecycle_event_hook_execution_id.as_str()),
            ("d-ABCDEF123", "eyJlbmM=")
        );
        for bad in [json!({"DeploymentId": "d-1"}), json!({"version": "v2"}), json!([1])] {
            let err = parse(bad.clone()).unwrap_err();
            assert_eq!(err.code().as_str(), "InvalidRequest", "{bad}");
        }
    }

    #[test]
    fn answers_have_ecs_field_names() {
        let a = EcsAnswer { hook_status: HookStatus::InProgress, call_back_delay: Some(5), hook_details: json!({}) };
        assert_eq!(
            serde_json::to_value(&a).unwrap(),
            json!({"hookStatus": "IN_PROGRESS", "callBackDelay": 5, "hookDetails": {}})
        );
        let a = EcsAnswer { hook_status: HookStatus::Succeeded, call_back_delay: None, hook_details: json!({}) };
        assert_eq!(serde_json::to_value(&a).unwrap()["hookStatus"], "SUCCEEDED");
    }
}
