//! Following an ECS-native service deployment (DescribeServiceDeployments) to a verdict: pure judgement and
//! report of one answer, and the watch loop until it finishes or the deadline passes.

use std::time::Duration;

use aws_sdk_ecs::types::{
    DeploymentLifecycleHookStatus, ServiceDeployment, ServiceDeploymentLifecycleStage, ServiceDeploymentStatus,
    ServiceRevision, TaskDefinition,
};
use contract::result::{HookReport, RolledBackBy, RolloutState, ServiceDeploymentReport};

use super::{identify, Kind};
use crate::error::DeployError;
use crate::follow::{Followed, POLL_INTERVAL};
use crate::plan::{family_revision, same_revision};
use crate::ports::{Clock, Ecs};
use crate::request::ServiceRef;
use crate::rollback::read_service;
use crate::verdict::{EcsRollback, Tracked, Verdict};

/// Pure: where a service deployment stands. SUCCESSFUL is [`Verdict::Completed`]; ROLLBACK_SUCCESSFUL and
/// ROLLBACK_FAILED are failures ECS rolled back itself (ROLLBACK_FAILED says a person is needed); STOPPED is
/// a failure nobody rolled back; every other status is in progress.
pub fn judge(sd: &ServiceDeployment) -> Verdict {
    let reason = || {
        sd.rollback()
            .and_then(|r| r.reason())
            .or(sd.status_reason())
            .unwrap_or("the service deployment failed")
            .to_owned()
    };
    let target = sd.target_service_revision();
    match sd.status() {
        Some(ServiceDeploymentStatus::Successful) => Verdict::Completed,
        Some(ServiceDeploymentStatus::RollbackSuccessful) => Verdict::Failed { reason: reason(), ecs_rolls_back: true },
        Some(ServiceDeploymentStatus::RollbackFailed) => Verdict::Failed {
            reason: format!(
                "{}; ECS could not roll back ({}): the service is between revisions and needs a person",
                reason(),
                sd.status_reason().unwrap_or("ROLLBACK_FAILED")
            ),
            ecs_rolls_back: true,
        },
        Some(ServiceDeploymentStatus::Stopped) => Verdict::Failed { reason: reason(), ecs_rolls_back: false },
        _ => Verdict::InProgress {
            running: target.map_or(0, |t| t.running_task_count()),
            desired: target.map_or(0, |t| t.requested_task_count()),
            failed_tasks: 0,
        },
    }
}

/// Pure: who rolled a service deployment back by itself: its deployment alarms, a lifecycle hook, the
/// circuit breaker, or ECS for another reason.
pub fn rolled_back_by(sd: &ServiceDeployment) -> RolledBackBy {
    let alarms = sd.alarms().is_some_and(|a| {
        !a.triggered_alarm_names().is_empty() || a.status().is_some_and(|s| s.as_str() == "TRIGGERED")
    });
    let hook = sd.lifecycle_hook_details().iter().any(|h| {
        matches!(h.status(), Some(DeploymentLifecycleHookStatus::Failed | DeploymentLifecycleHookStatus::TimedOut))
    }) || sd.rollback().and_then(|r| r.reason()).is_some_and(|r| r.contains("ifecycle hook"));
    let breaker =
        sd.deployment_circuit_breaker().is_some_and(|cb| cb.status().is_some_and(|s| s.as_str() == "TRIGGERED"));
    if alarms {
        RolledBackBy::EcsAlarms
    } else if hook {
        RolledBackBy::EcsLifecycleHook
    } else if breaker {
        RolledBackBy::EcsCircuitBreaker
    } else {
        RolledBackBy::Ecs
    }
}

fn hooks(sd: &ServiceDeployment) -> Vec<HookReport> {
    sd.lifecycle_hook_details()
        .iter()
        .map(|h| HookReport {
            hook_id: h.hook_id().unwrap_or_default().to_owned(),
            target_type: h.target_type().map(|t| t.as_str().to_owned()),
            target: h.target_arn().map(str::to_owned),
            status: h.status().map(|s| s.as_str().to_owned()),
            expires_at: h.expires_at().and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
            timeout_action: h.timeout_action().map(|a| a.as_str().to_owned()),
        })
        .collect()
}

/// Pure: the result's view of a service deployment. `steps`: the production weights seen so far.
pub fn report(sd: &ServiceDeployment, kind: Kind, steps: &[f64]) -> ServiceDeploymentReport {
    let target = sd.target_service_revision();
    let hooks = hooks(sd);
    let failed_hook = sd
        .lifecycle_hook_details()
        .iter()
        .find(|h| {
            matches!(h.status(), Some(DeploymentLifecycleHookStatus::Failed | DeploymentLifecycleHookStatus::TimedOut))
        })
        .and_then(|h| h.target_arn().or(h.hook_id()).map(str::to_owned));
    ServiceDeploymentReport {
        arn: sd.service_deployment_arn().unwrap_or_default().to_owned(),
        strategy: kind.as_str().to_owned(),
        status: sd.status().map(|s| s.as_str().to_owned()),
        status_reason: sd.status_reason().map(str::to_owned),
        lifecycle_stage: sd.lifecycle_stage().map(|s| s.as_str().to_owned()),
        production_traffic_percent: target.and_then(|t| t.requested_production_traffic_weight()),
        test_traffic_percent: target.and_then(|t| t.requested_test_traffic_weight()),
        traffic_steps: steps.to_vec(),
        hooks,
        failed_hook,
        rollback_reason: sd.rollback().and_then(|r| r.reason()).map(str::to_owned),
    }
}

/// Pure: why the new service revision does not run what was deployed, if it does not: another task
/// definition, or a container whose image (or pinned digest) differs from the task definition's.
pub fn revision_mismatch(revision: &ServiceRevision, deployed: &TaskDefinition) -> Option<String> {
    let deployed_arn = deployed.task_definition_arn().unwrap_or_default();
    match revision.task_definition() {
        Some(td) if !same_revision(td, deployed_arn) => {
            return Some(format!(
                "the new service revision runs {}, not {}",
                family_revision(td),
                family_revision(deployed_arn)
            ))
        }
        _ => {}
    }
    for running in revision.container_images() {
        let Some(container) = deployed.container_definitions().iter().find(|c| c.name() == running.container_name())
        else {
            continue;
        };
        let Some(image) = container.image() else { continue };
        let pinned = image.split_once('@').map(|(_, d)| d);
        let same = match (pinned, running.image_digest()) {
            (Some(want), Some(got)) => want == got,
            _ => running.image().is_none_or(|i| i == image),
        };
        if !same {
            return Some(format!(
                "container {} of the new service revision runs {}, not {image}",
                running.container_name().unwrap_or("?"),
                running.image_digest().or(running.image()).unwrap_or("an unknown image")
            ));
        }
    }
    None
}

/// What following a service deployment learnt.
pub(super) struct Seen {
    pub(super) last: Option<ServiceDeployment>,
    steps: Vec<f64>,
    /// The last lifecycle stage seen while the deployment moved forward (IN_PROGRESS).
    forward_stage: Option<ServiceDeploymentLifecycleStage>,
}

/// Reads the service deployment `arn` every few seconds until it is finished or `deadline` passes.
pub(super) async fn watch<E: Ecs>(ecs: &E, clock: &dyn Clock, arn: &str, deadline: Duration) -> Seen {
    let mut seen = Seen { last: None, steps: Vec::new(), forward_stage: None };
    loop {
        match ecs.describe_service_deployment(arn).await {
            Ok(Some(sd)) => {
                // Green's weight as it moves forward, and where it ended on success (a step shorter than a
                // read interval is not seen).
                let forward = sd.status() == Some(&ServiceDeploymentStatus::InProgress);
                if forward || sd.status() == Some(&ServiceDeploymentStatus::Successful) {
                    if let Some(w) = sd.target_service_revision().and_then(|t| t.requested_production_traffic_weight())
                    {
                        if seen.steps.last() != Some(&w) {
                            seen.steps.push(w);
                        }
                    }
                }
                if forward {
                    seen.forward_stage = sd.lifecycle_stage().cloned();
                }
                let done = !matches!(judge(&sd), Verdict::InProgress { .. });
                tracing::debug!(status = ?sd.status(), stage = ?sd.lifecycle_stage(), "service deployment");
                seen.last = Some(sd);
                if done {
                    return seen;
                }
            }
            Ok(None) => tracing::warn!("ECS does not list service deployment {arn} (yet)"),
            Err(e) => tracing::warn!("reading service deployment {arn} failed, trying again: {e}"),
        }
        let pause = POLL_INTERVAL + Duration::from_millis(clock.unix_millis() % 1000);
        if clock.now() + pause > deadline {
            return seen;
        }
        clock.sleep(pause).await;
    }
}

/// Follows the service deployment a deploy started until a verdict or `deadline`. On SUCCESSFUL, the new
/// service revision is checked against the deployed task definition (DescribeServiceRevisions,
/// DescribeTaskDefinition); a revision running something else is a failure.
pub async fn follow<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    at: &ServiceRef,
    kind: Kind,
    tracked: Tracked<'_>,
    deadline: Duration,
) -> Result<Followed, DeployError> {
    let arn = match tracked.service_deployment_arn {
        Some(arn) => Some(arn.to_owned()),
        None => {
            let service = read_service(ecs, at).await?;
            identify(ecs, at, &service, tracked.deployment_id).await
        }
    };
    let Some(arn) = arn else {
        // Not found is not failed: rolling back a deployment that may be healthy would be worse than
        // answering in_progress with the status request to send later.
        tracing::warn!("no service deployment found for this update; not judging it");
        let service = read_service(ecs, at).await?;
        return Ok(Followed { verdict: None, service, service_deployment: None, ecs_rollback: None, codedeploy: None });
    };
    let seen = watch(ecs, clock, &arn, deadline).await;
    let service = read_service(ecs, at).await?;
    let Some(sd) = seen.last else {
        return Ok(Followed { verdict: None, service, service_deployment: None, ecs_rollback: None, codedeploy: None });
    };
    let mut verdict = judge(&sd);
    let mut report = report(&sd, kind, &seen.steps);
    if verdict == Verdict::Completed {
        if let Some(mismatch) = check_revision(ecs, &sd, tracked.task_definition).await {
            verdict = Verdict::Failed { reason: mismatch, ecs_rolls_back: false };
        }
    }
    let ecs_rollback = match &verdict {
        Verdict::Failed { ecs_rolls_back: true, .. } => {
            let state = if sd.status() == Some(&ServiceDeploymentStatus::RollbackSuccessful) {
                RolloutState::Completed
            } else {
                RolloutState::Failed
            };
            Some(EcsRollback { by: rolled_back_by(&sd), state: Some(state) })
        }
        _ => None,
    };
    if let (Verdict::Failed { reason, .. }, Some(stage)) = (&mut verdict, &seen.forward_stage) {
        // Polls are seconds apart: the last stage seen may be earlier than the one ECS names in its reason.
        let names_a_stage = ServiceDeploymentLifecycleStage::values().iter().any(|s| reason.contains(s));
        if !names_a_stage {
            reason.push_str(&format!(" (at {})", stage.as_str()));
        }
        report.lifecycle_stage = report.lifecycle_stage.or(Some(stage.as_str().to_owned()));
    }
    let verdict = match verdict {
        Verdict::InProgress { .. } => None,
        v => Some(v),
    };
    Ok(Followed { verdict, service, service_deployment: Some(report), ecs_rollback, codedeploy: None })
}

async fn check_revision<E: Ecs>(ecs: &E, sd: &ServiceDeployment, task_definition: &str) -> Option<String> {
    let revision_arn = sd.target_service_revision().and_then(|t| t.arn())?;
    let (revision, deployed) =
        tokio::join!(ecs.describe_service_revision(revision_arn), ecs.describe_task_definition(task_definition));
    match (revision, deployed) {
        (Ok(Some(revision)), Ok(Some(deployed))) => revision_mismatch(&revision, &deployed.task_definition),
        _ => {
            tracing::warn!("could not read service revision {revision_arn} to check its images");
            None
        }
    }
}
