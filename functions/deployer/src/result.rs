//! Stage 9: results, and how they become the caller's answer. The result types are the contract's (the
//! front door reads them too); a rollout that failed or was rolled back is answered as an error whose
//! details are the whole result.

use std::time::Duration;

use contract::result::{DeployResult, FanOutResult, FanOutStatus, Status, Timings};
use serde::Serialize;
use serde_json::Value;

use crate::error::DeployError;
use crate::plan::{Action, Plan};
use crate::request::DeployTarget;

/// Whole milliseconds, for `timings_ms`.
pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The result of a deploy of `t` once planned, before anything changes (`dry_run`): its base and running
/// (`previous`) revision, the image, the containers and fields that change; with what the plan would do.
pub fn dry_run(t: &DeployTarget, base: String, previous: String, planned: Plan) -> (DeployResult, Action) {
    let result = DeployResult {
        status: Status::DryRun,
        cluster: t.at.cluster.to_string(),
        service: t.at.service.to_string(),
        version: t.version.to_string(),
        image: planned.image,
        base_task_definition: base,
        previous_task_definition: previous,
        task_definition: None,
        deployment_id: None,
        containers_updated: planned.changes,
        changed_fields: planned.differences,
        forced_new_deployment: false,
        tags_left_out: planned.tags_left_out,
        timings_ms: Timings::default(),
        rollout: None,
        cleanup: None,
        service_deployment: None,
        codedeploy: None,
    };
    (result, planned.action)
}

/// The JSON of a result.
pub fn render(result: &impl Serialize) -> Result<Value, DeployError> {
    serde_json::to_value(result).map_err(|e| DeployError::Internal { reason: format!("cannot render the result: {e}") })
}

/// A single deploy's answer: `rolled_back` and `failed` are errors (`RolledBack`, `DeploymentFailed`).
pub fn deploy_answer(result: DeployResult) -> Result<Value, DeployError> {
    match result.status {
        Status::RolledBack => Err(DeployError::RolledBack(Box::new(result))),
        Status::Failed => Err(DeployError::DeploymentFailed(Box::new(result))),
        _ => render(&result),
    }
}

/// A multi-target deploy's answer: any failed target makes it a `TargetsFailed` error.
pub fn fan_out_answer(result: FanOutResult) -> Result<Value, DeployError> {
    if matches!(result.status, FanOutStatus::Failed | FanOutStatus::RolledBack) {
        return Err(DeployError::TargetsFailed(Box::new(result)));
    }
    render(&result)
}
