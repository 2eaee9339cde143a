//! Reading a CodeDeploy deployment (GetDeployment, GetDeploymentTarget) to a verdict: pure judgement of one
//! answer, and the watch loop until it finishes or the deadline passes.

use std::time::Duration;

use aws_sdk_codedeploy::types::{
    DeploymentInfo, DeploymentStatus, DeploymentTarget, LifecycleEventStatus, TargetLabel,
};
use contract::result::{CodeDeployReport, LifecycleEventReport, RolledBackBy, RolloutState};

use crate::error::DeployError;
use crate::follow::{jitter, Followed, POLL_INTERVAL};
use crate::ports::{Clock, Ecs};
use crate::request::ServiceRef;
use crate::rollback::read_service;
use crate::rollout::Reading;
use crate::strategy::Seen;
use crate::verdict::{EcsRollback, Tracked, Verdict};

/// Pure: where a CodeDeploy deployment stands. Succeeded is [`Verdict::Completed`]; Failed and Stopped are
/// failures, rolled back by CodeDeploy itself when it names a rollback deployment; every other status
/// (Created, Queued, InProgress, Baking, Ready) is in progress.
pub fn judge(info: &DeploymentInfo, target: Option<&DeploymentTarget>) -> Verdict {
    match info.status() {
        Some(DeploymentStatus::Succeeded) => Verdict::Completed,
        Some(DeploymentStatus::Failed | DeploymentStatus::Stopped) => {
            let status = info.status().map_or("Failed", |s| s.as_str());
            let error = info.error_information();
            let mut reason = format!(
                "CodeDeploy deployment {} {status}: {}",
                info.deployment_id().unwrap_or("?"),
                error.and_then(|e| e.message()).unwrap_or("no error information")
            );
            if let Some(code) = error.and_then(|e| e.code()) {
                reason.push_str(&format!(" ({})", code.as_str()));
            }
            if let Some(hook) = failed_hook(target) {
                reason.push_str(&format!("; the {hook} hook failed"));
            }
            let rolled_back = info.rollback_info().and_then(|r| r.rollback_deployment_id()).is_some();
            Verdict::Failed { reason, ecs_rolls_back: rolled_back }
        }
        _ => Verdict::InProgress { running: 0, desired: 0, failed_tasks: 0 },
    }
}

/// Pure: the lifecycle event that failed, from the deployment target.
pub fn failed_hook(target: Option<&DeploymentTarget>) -> Option<String> {
    target?
        .ecs_target()?
        .lifecycle_events()
        .iter()
        .find(|e| e.status() == Some(&LifecycleEventStatus::Failed))
        .and_then(|e| e.lifecycle_event_name().map(str::to_owned))
}

/// Pure: the replacement (green) task set's traffic weight, percent.
pub fn green_traffic(target: &DeploymentTarget) -> Option<f64> {
    let sets = target.ecs_target()?.task_sets_info();
    sets.iter().find(|t| t.task_set_label() == Some(&TargetLabel::Green)).map(|t| t.traffic_weight())
}

/// Pure: fills `report` from one GetDeployment and GetDeploymentTarget answer; `steps` gets the green traffic
/// weight when it moved.
pub fn observe(report: &mut CodeDeployReport, info: &DeploymentInfo, target: Option<&DeploymentTarget>) {
    report.status = info.status().map(|s| s.as_str().to_owned());
    if let Some(c) = info.deployment_config_name() {
        report.deployment_config = Some(c.to_owned());
    }
    report.error_code = info.error_information().and_then(|e| e.code()).map(|c| c.as_str().to_owned());
    report.error_message = info.error_information().and_then(|e| e.message()).map(str::to_owned);
    report.rollback_deployment_id = info.rollback_info().and_then(|r| r.rollback_deployment_id()).map(str::to_owned);
    let Some(target) = target else { return };
    if let Some(ecs) = target.ecs_target() {
        report.lifecycle_events = ecs
            .lifecycle_events()
            .iter()
            .map(|e| LifecycleEventReport {
                name: e.lifecycle_event_name().unwrap_or_default().to_owned(),
                status: e.status().map(|s| s.as_str().to_owned()),
            })
            .collect();
        let events = ecs.lifecycle_events();
        let current = events
            .iter()
            .find(|e| matches!(e.status(), Some(LifecycleEventStatus::InProgress | LifecycleEventStatus::Failed)))
            .or_else(|| events.iter().rev().find(|e| e.status() == Some(&LifecycleEventStatus::Succeeded)));
        report.lifecycle_event = current.and_then(|e| e.lifecycle_event_name().map(str::to_owned));
    }
    report.failed_hook = failed_hook(Some(target));
    if let Some(w) = green_traffic(target) {
        report.traffic_percent = Some(w);
        if report.traffic_steps.last() != Some(&w) && w > 0.0 {
            report.traffic_steps.push(w);
        }
    }
}

pub(super) fn terminal(status: Option<&DeploymentStatus>) -> bool {
    matches!(status, Some(DeploymentStatus::Succeeded | DeploymentStatus::Failed | DeploymentStatus::Stopped))
}

pub(super) fn target_id(at: &ServiceRef) -> String {
    format!("{}:{}", at.cluster.name(), at.service.name())
}

/// Reads deployment `id` (and its target) every few seconds until it is finished or `deadline` passes; `None`
/// when it was never read.
pub(super) async fn watch<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    at: &ServiceRef,
    report: &mut CodeDeployReport,
    deadline: Duration,
) -> Option<(DeploymentInfo, Option<DeploymentTarget>)> {
    let mut last = None;
    loop {
        match ecs.get_deployment(&report.deployment_id).await {
            Ok(Some(info)) => {
                let target = ecs.get_deployment_target(&report.deployment_id, &target_id(at)).await.ok().flatten();
                observe(report, &info, target.as_ref());
                tracing::debug!(status = ?report.status, event = ?report.lifecycle_event, "CodeDeploy deployment");
                let done = terminal(info.status());
                last = Some((info, target));
                if done {
                    return last;
                }
            }
            Ok(None) => tracing::warn!("CodeDeploy does not know deployment {} (yet)", report.deployment_id),
            Err(e) => {
                tracing::warn!("reading CodeDeploy deployment {} failed, trying again: {e}", report.deployment_id)
            }
        }
        let pause = POLL_INTERVAL + jitter(clock);
        if clock.now() + pause > deadline {
            return last;
        }
        clock.sleep(pause).await;
    }
}

/// Reads a rollback deployment until it finishes or `deadline` passes (at least once: it may have finished
/// before anyone looked); its status.
pub(super) async fn rollback_status<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    id: &str,
    deadline: Duration,
) -> Option<DeploymentStatus> {
    loop {
        let status = ecs.get_deployment(id).await.ok().flatten().and_then(|i| i.status().cloned());
        if terminal(status.as_ref()) {
            return status;
        }
        let pause = POLL_INTERVAL + jitter(clock);
        if clock.now() + pause > deadline {
            return status;
        }
        clock.sleep(pause).await;
    }
}

/// One read of CodeDeploy's own rollback deployment `id` after a failure ([`crate::rollout::Phase::ServiceRollingBack`]):
/// Succeeded is [`Reading::Completed`], Failed or Stopped [`Reading::Failed`], anything else still moving.
pub async fn observe_rollback<E: Ecs>(ecs: &E, clock: &dyn Clock, id: Option<&str>) -> (Reading, Seen) {
    let Some(id) = id else {
        return (Reading::Completed, Seen::default());
    };
    let status = rollback_status(ecs, clock, id, clock.now()).await;
    let (reading, state) = match status {
        Some(DeploymentStatus::Succeeded) => (Reading::Completed, RolloutState::Completed),
        Some(DeploymentStatus::Failed | DeploymentStatus::Stopped) => (
            Reading::Failed {
                reason: format!("CodeDeploy's rollback deployment {id} did not succeed"),
                rolled_back_by: None,
                rollback_ended: true,
                rollback_id: None,
            },
            RolloutState::Failed,
        ),
        _ => (Reading::Moving { stage: None, traffic: None }, RolloutState::InProgress),
    };
    // A report of the rollback deployment alone: no `deployment_id` of its own.
    let report = CodeDeployReport {
        rollback_deployment_id: Some(id.to_owned()),
        rollback_status: status.map(|s| s.as_str().to_owned()),
        ..CodeDeployReport::default()
    };
    (reading, Seen { service_rollback: Some(state), codedeploy: Some(report), ..Seen::default() })
}

/// Follows the CodeDeploy deployment a deploy created until a verdict or `deadline`; a failure's rollback
/// deployment is read too, and followed while time remains.
pub async fn follow<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    at: &ServiceRef,
    tracked: Tracked<'_>,
    deadline: Duration,
) -> Result<Followed, DeployError> {
    let Some(mut report) = tracked.codedeploy.cloned() else {
        return Err(DeployError::Internal { reason: "a CodeDeploy rollout without a deployment id".into() });
    };
    let seen = watch(ecs, clock, at, &mut report, deadline).await;
    let mut verdict = seen.as_ref().map(|(info, target)| judge(info, target.as_ref()));
    let mut ecs_rollback = None;
    if let Some(Verdict::Failed { ecs_rolls_back: true, .. }) = &verdict {
        let id = report.rollback_deployment_id.clone().unwrap_or_default();
        let status = rollback_status(ecs, clock, &id, deadline).await;
        report.rollback_status = status.as_ref().map(|s| s.as_str().to_owned());
        let state = match status {
            Some(DeploymentStatus::Succeeded) => RolloutState::Completed,
            Some(DeploymentStatus::Failed | DeploymentStatus::Stopped) => RolloutState::Failed,
            _ => RolloutState::InProgress,
        };
        ecs_rollback = Some(EcsRollback { by: RolledBackBy::Codedeploy, state: Some(state) });
    }
    if matches!(verdict, Some(Verdict::InProgress { .. })) {
        verdict = None;
    }
    let service = read_service(ecs, at).await?;
    Ok(Followed { verdict, service, service_deployment: None, ecs_rollback, codedeploy: Some(report) })
}
