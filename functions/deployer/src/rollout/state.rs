//! What is known about one rollout, as data: the target, the strategy, the ids ECS or CodeDeploy gave it, the
//! revision before, when it began, the caller's policies and what was decided so far. Every face keeps it
//! where its platform keeps state (memory for a followed deploy, the continuation token of a CodePipeline
//! job, the history record for events) and hands it back to [`super::drive`], so that each reaches the same
//! verdict for the same rollout.
//!
//! Shape (JSON, field names stable; unknown fields and other versions are refused):
//! `{"v": 1, "cluster", "service", "region"?, "strategy": "ROLLING" | "BLUE_GREEN" | "LINEAR" | "CANARY" |
//! "CODE_DEPLOY", "task_definition": "family:revision", "previous"?: "family:revision", "version"?,
//! "deployment_id"?, "service_deployment_arn"?, "codedeploy_deployment_id"?, "started_at": unix ms,
//! "policy": {"rollback", "max_failed_tasks", "give_up_at"?: unix ms}, "phase": {...}, "traffic_steps"?: [%]}`.
//! A typical state is 400–700 bytes of JSON, well inside a CodePipeline continuation token (2048 characters).

use contract::result::{RolledBackBy, Status};
use serde::{Deserialize, Serialize};

/// The version of the state's shape that this deployer writes and reads.
pub const STATE_VERSION: u32 = 1;

/// One rollout, from its start to its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolloutState {
    /// [`STATE_VERSION`].
    pub v: u32,
    pub cluster: String,
    pub service: String,
    /// The service's region when it is not the function's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// How the service rolls out, as DescribeServices said when the rollout began.
    pub strategy: StrategyName,
    /// `family:revision` rolled out.
    pub task_definition: String,
    /// `family:revision` the service ran before: the revision a rollback goes back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// ECS's deployment id (`ecs-svc/…`) from UpdateService.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    /// The ECS-native service deployment (BLUE_GREEN, LINEAR, CANARY), once identified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_deployment_arn: Option<String>,
    /// The CodeDeploy deployment (CODE_DEPLOY).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codedeploy_deployment_id: Option<String>,
    /// When the rollout began, unix milliseconds.
    pub started_at: u64,
    /// The deploy registered `task_definition`: a rollback may deregister it once nothing uses it. `false`
    /// for a revision that existed before (a `task_definition` deploy), which is never deregistered.
    #[serde(default)]
    pub registered: bool,
    pub policy: Policy,
    pub phase: Phase,
    /// Production traffic weights (percent) the new revision was seen at, in order (native and CodeDeploy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic_steps: Vec<f64>,
    /// The last lifecycle stage seen while the rollout moved forward (native and CodeDeploy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
}

/// The strategy a rollout runs with, in ECS's and CodeDeploy's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StrategyName {
    Rolling,
    BlueGreen,
    Linear,
    Canary,
    CodeDeploy,
}

/// What the caller asked of the rollout's end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Put the service back on `previous` when the rollout fails and neither ECS nor CodeDeploy does it.
    pub rollback: bool,
    /// A rolling update without the circuit breaker counts as failed once this many of its tasks failed.
    pub max_failed_tasks: i32,
    /// Unix milliseconds after which a rollout still under way is given up as failed (a CodePipeline action's
    /// limit); `None`: followed until it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub give_up_at: Option<u64>,
}

/// Where the rollout stands in the deployer's eyes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case", deny_unknown_fields)]
pub enum Phase {
    /// The new revision is rolling out.
    RollingOut,
    /// It failed and ECS or CodeDeploy rolls it back by itself (`by`); the deployer only watches that rollback
    /// (`id`: its own rollout, CodeDeploy's rollback deployment).
    ServiceRollingBack {
        by: RolledBackBy,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// It failed and the deployer put the service back on `to`; that rollout is watched. `id`: the rollback's
    /// own rollout in the strategy's terms (ECS deployment id, service deployment ARN, CodeDeploy deployment id).
    RollingBack {
        to: String,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// The verdict: the rollout's outcome and why.
    Done {
        status: Status,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rolled_back_by: Option<RolledBackBy>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// Why a state handed back by a caller cannot be resumed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    #[error("not a rollout state of this deployer: {0}")]
    Malformed(String),
    #[error("rollout state version {0} is not {STATE_VERSION}, the one this deployer reads")]
    Version(u32),
}

impl RolloutState {
    /// The state as compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads a state written by [`RolloutState::to_json`]; another shape or version is refused.
    pub fn from_json(text: &str) -> Result<RolloutState, StateError> {
        let state: RolloutState = serde_json::from_str(text).map_err(|e| StateError::Malformed(e.to_string()))?;
        if state.v != STATE_VERSION {
            return Err(StateError::Version(state.v));
        }
        Ok(state)
    }

    /// Whether a verdict was reached.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done { .. })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A rolling rollout of `web:8` over `web:7`, begun at 1 000 000 ms, rollback on.
    pub(crate) fn rolling() -> RolloutState {
        RolloutState {
            v: STATE_VERSION,
            cluster: "prod".into(),
            service: "web".into(),
            region: None,
            strategy: StrategyName::Rolling,
            task_definition: "web:8".into(),
            previous: Some("web:7".into()),
            version: Some("v8".into()),
            deployment_id: Some("ecs-svc/1234567890123456789".into()),
            service_deployment_arn: None,
            codedeploy_deployment_id: None,
            started_at: 1_000_000,
            registered: true,
            policy: Policy { rollback: true, max_failed_tasks: 3, give_up_at: None },
            phase: Phase::RollingOut,
            traffic_steps: Vec::new(),
            stage: None,
        }
    }

    #[test]
    fn a_state_travels_as_json_and_fits_a_continuation_token() {
        let mut state = rolling();
        state.strategy = StrategyName::Canary;
        state.region = Some("eu-west-1".into());
        state.service_deployment_arn = Some(
            "arn:aws:ecs:eu-west-1:123456789012:service-deployment/production-cluster/checkout-service/\
             AbCdEfGhIjKlMnOpQrStU"
                .into(),
        );
        state.traffic_steps = vec![10.0, 100.0];
        state.stage = Some("POST_PRODUCTION_TRAFFIC_SHIFT".into());
        state.policy.give_up_at = Some(1_000_000 + 24 * 3_600_000);
        state.phase = Phase::RollingBack {
            to: "web:7".into(),
            reason: "3 tasks of the new revision failed to start or stay running: CannotPullContainerError".into(),
            id: Some("ecs-svc/9876543210987654321".into()),
        };
        let json = state.to_json();
        assert!(json.len() < 1024, "{} bytes: {json}", json.len());
        assert_eq!(RolloutState::from_json(&json).unwrap(), state);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["strategy"], "CANARY");
        assert_eq!(value["phase"]["phase"], "rolling_back");
        assert_eq!(value["policy"]["give_up_at"], 1_000_000 + 24 * 3_600_000);
    }

    #[test]
    fn another_version_or_shape_is_refused() {
        let mut value: serde_json::Value = serde_json::from_str(&rolling().to_json()).unwrap();
        value["v"] = 2.into();
        assert_eq!(RolloutState::from_json(&value.to_string()), Err(StateError::Version(2)));
        value["v"] = 1.into();
        value["extra"] = true.into();
        assert!(matches!(RolloutState::from_json(&value.to_string()), Err(StateError::Malformed(_))));
        assert!(matches!(RolloutState::from_json("[1]"), Err(StateError::Malformed(_))));
    }
}
