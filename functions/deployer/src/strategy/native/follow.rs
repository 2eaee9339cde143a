//! Following an ECS-native service deployment (DescribeServiceDeployments) to a verdict: pure judgement and
//! report of one answer, and the watch loop until it finishes or the deadline passes.

use std::time::Duration;

use aws_sdk_ecs::types::{
    DeploymentLifecycleHookStatus, DesiredStatus, ServiceDeployment, ServiceDeploymentLifecycleStage,
    ServiceDeploymentRollbackMonitorsStatus, ServiceDeploymentStatus, ServiceRevision, Task, TaskDefinition,
    TaskStopCode,
};
use contract::result::{HookReport, RolledBackBy, RolloutState, ServiceDeploymentReport};

use super::{identify, Kind};
use crate::error::DeployError;
use crate::follow::{jitter, Followed, POLL_INTERVAL};
use crate::plan::{family_revision, same_revision};
use crate::ports::{Clock, Ecs};
use crate::request::ServiceRef;
use crate::rollback::read_service;
use crate::strategy::rolling;
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

/// Pure: who rolled a service deployment back by itself, decided on fields only: its deployment alarms
/// (`alarms.triggeredAlarmNames` or status TRIGGERED), a lifecycle hook (a `lifecycleHookDetails` entry
/// FAILED or TIMED_OUT, in this answer or, `hook_failed`, in an earlier read of the same deployment), the
/// circuit breaker (`deploymentCircuitBreaker.status` TRIGGERED), or ECS for another reason. The text of
/// `rollback.reason` is not documented (the one real string known, "deployment failed: hook execution
/// failure(s) detected", aws/containers-roadmap#2664, is a service event), so it decides nothing; and whether
/// the failed hook stays listed once the rollback's own hooks run is not documented either (FIDELITY.md M5).
pub fn rolled_back_by(sd: &ServiceDeployment, hook_failed: bool) -> RolledBackBy {
    let alarms = sd.alarms().is_some_and(|a| {
        !a.triggered_alarm_names().is_empty() || a.status() == Some(&ServiceDeploymentRollbackMonitorsStatus::Triggered)
    });
    let hook = hook_failed || failed_hook(sd).is_some();
    let breaker = sd
        .deployment_circuit_breaker()
        .is_some_and(|cb| cb.status() == Some(&ServiceDeploymentRollbackMonitorsStatus::Triggered));
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

/// The hook a service deployment lists as FAILED or TIMED_OUT: its target (the Lambda ARN), else its id.
fn failed_hook(sd: &ServiceDeployment) -> Option<String> {
    sd.lifecycle_hook_details()
        .iter()
        .find(|h| {
            matches!(h.status(), Some(DeploymentLifecycleHookStatus::Failed | DeploymentLifecycleHookStatus::TimedOut))
        })
        .and_then(|h| h.target_arn().or(h.hook_id()).map(str::to_owned))
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
    let failed_hook = failed_hook(sd);
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
    /// A hook any read listed as FAILED or TIMED_OUT (its target, else its id).
    failed_hook: Option<String>,
    /// Green tasks that failed to start, when they reached the limit: why, in ECS's words.
    tasks_failed: Option<String>,
}

/// The new (green) tasks of a deploy, to see them fail to start.
#[derive(Clone, Copy)]
pub(super) struct Green<'a> {
    at: &'a ServiceRef,
    /// The deployment's id: ECS puts it in `startedBy` of the tasks it starts for it.
    deployment_id: Option<&'a str>,
    task_definition: &'a str,
    max_failed_tasks: i32,
}

/// Whether ECS stopped a task because it failed (its `stopCode`), not because it was scaled in or replaced.
fn failed_to_start(task: &Task) -> bool {
    matches!(task.stop_code(), Some(TaskStopCode::TaskFailedToStart | TaskStopCode::EssentialContainerExited))
}

/// Pure: why the green tasks of `green` failed, once `max_failed_tasks` of the `stopped` ones did. A task is
/// green when its `startedBy` is the deployment id ("If an Amazon ECS service started the task, the
/// startedBy parameter contains the deployment ID of that service", botocore ecs `Task.startedBy`), else
/// when it runs the new task definition.
pub(super) fn green_failure(stopped: &[Task], green: &Green<'_>) -> Option<String> {
    let failed: Vec<&Task> = stopped
        .iter()
        .filter(|t| match green.deployment_id {
            Some(id) => t.started_by() == Some(id),
            None => t.task_definition_arn().is_some_and(|td| same_revision(td, green.task_definition)),
        })
        .filter(|t| failed_to_start(t))
        .collect();
    let limit = usize::try_from(green.max_failed_tasks.max(1)).unwrap_or(1);
    if failed.len() < limit {
        return None;
    }
    let why = failed.iter().find_map(|t| t.stopped_reason()).unwrap_or("no stoppedReason given");
    Some(format!(
        "{} tasks of the new service revision {} failed to start ({why}); ECS does not fail a service \
         deployment for that without its circuit breaker",
        failed.len(),
        family_revision(green.task_definition)
    ))
}

/// Whether the deployment circuit breaker watches this service deployment: its status is anything but
/// DISABLED ("Amazon ECS is not using the circuit breaker for service deployment failures when the status is
/// DISABLED", botocore ecs `ServiceDeploymentCircuitBreaker.status`). The API says the breaker is for rolling
/// updates only and the guide says blue/green too (FIDELITY.md H1), so the field decides, not the strategy.
fn breaker_watches(sd: &ServiceDeployment) -> bool {
    sd.deployment_circuit_breaker()
        .and_then(|cb| cb.status())
        .is_some_and(|s| *s != ServiceDeploymentRollbackMonitorsStatus::Disabled)
}

/// The green tasks' failure, when the deployment is moving forward, not all green tasks run and the breaker
/// does not watch it (it would fail the deployment itself): ListTasks STOPPED and DescribeTasks.
async fn green_tasks_failed<E: Ecs>(ecs: &E, sd: &ServiceDeployment, green: &Green<'_>) -> Option<String> {
    let target = sd.target_service_revision();
    let all_run =
        target.is_some_and(|t| t.requested_task_count() > 0 && t.running_task_count() >= t.requested_task_count());
    if sd.status() != Some(&ServiceDeploymentStatus::InProgress) || all_run || breaker_watches(sd) {
        return None;
    }
    let arns = ecs.list_tasks(&green.at.cluster, &green.at.service, DesiredStatus::Stopped).await.ok()?;
    if arns.is_empty() {
        return None;
    }
    let recent: Vec<String> = arns.into_iter().take(100).collect();
    let stopped = ecs.describe_tasks(&green.at.cluster, &recent).await.ok()?;
    green_failure(&stopped, green)
}

/// Reads the service deployment `arn` every few seconds until it is finished, `green`'s tasks failed to
/// start, or `deadline` passes.
pub(super) async fn watch<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    arn: &str,
    green: Option<Green<'_>>,
    deadline: Duration,
) -> Seen {
    let mut seen = Seen { last: None, steps: Vec::new(), forward_stage: None, failed_hook: None, tasks_failed: None };
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
                if let Some(hook) = failed_hook(&sd) {
                    seen.failed_hook.get_or_insert(hook);
                }
                let mut done = !matches!(judge(&sd), Verdict::InProgress { .. });
                if !done {
                    if let Some(green) = &green {
                        seen.tasks_failed = green_tasks_failed(ecs, &sd, green).await;
                        done = seen.tasks_failed.is_some();
                    }
                }
                tracing::debug!(status = ?sd.status(), stage = ?sd.lifecycle_stage(), "service deployment");
                seen.last = Some(sd);
                if done {
                    return seen;
                }
            }
            Ok(None) => tracing::warn!("ECS does not list service deployment {arn} (yet)"),
            Err(e) => tracing::warn!("reading service deployment {arn} failed, trying again: {e}"),
        }
        let pause = POLL_INTERVAL + jitter(clock);
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
    let mut deployment_id = tracked.deployment_id.map(str::to_owned);
    let mut arn = tracked.service_deployment_arn.map(str::to_owned);
    while arn.is_none() {
        let service = read_service(ecs, at).await?;
        if deployment_id.is_none() {
            deployment_id = rolling::deployment_for(&service, tracked.task_definition);
        }
        arn = identify(ecs, at, deployment_id.as_deref()).await;
        let pause = POLL_INTERVAL + jitter(clock);
        if arn.is_none() && clock.now() + pause > deadline {
            // Not found is not failed: rolling back a deployment that may be healthy would be worse than
            // answering in_progress with the status request to send later.
            tracing::warn!("no service deployment found for this update; not judging it");
            return Ok(Followed {
                verdict: None,
                service,
                service_deployment: None,
                ecs_rollback: None,
                codedeploy: None,
            });
        }
        if arn.is_none() {
            clock.sleep(pause).await;
        }
    }
    let arn = arn.unwrap_or_default();
    let green = Green {
        at,
        deployment_id: deployment_id.as_deref(),
        task_definition: tracked.task_definition,
        max_failed_tasks: tracked.max_failed_tasks,
    };
    let seen = watch(ecs, clock, &arn, Some(green), deadline).await;
    let service = read_service(ecs, at).await?;
    let Some(sd) = seen.last else {
        return Ok(Followed { verdict: None, service, service_deployment: None, ecs_rollback: None, codedeploy: None });
    };
    let mut verdict = judge(&sd);
    let mut report = report(&sd, kind, &seen.steps);
    report.failed_hook = report.failed_hook.or(seen.failed_hook.clone());
    if let Some(reason) = seen.tasks_failed {
        verdict = Verdict::Failed { reason, ecs_rolls_back: false };
    }
    if sd.status() == Some(&ServiceDeploymentStatus::Stopped) {
        if let Some(newer) = newer_deployment(ecs, at, &sd).await {
            // A newer service deployment (force, or someone else) took over: ours is replaced, as for rolling
            // updates, and nothing is stopped or rolled back (FIDELITY.md U2).
            let task_definition = family_revision(service.task_definition().unwrap_or("unknown")).to_owned();
            let verdict = Verdict::Replaced { by: newer, task_definition };
            return Ok(Followed {
                verdict: Some(verdict),
                service,
                service_deployment: Some(report),
                ecs_rollback: None,
                codedeploy: None,
            });
        }
    }
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
            Some(EcsRollback { by: rolled_back_by(&sd, seen.failed_hook.is_some()), state: Some(state) })
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

/// A service deployment of the service created after `ours` (ListServiceDeployments), if any: its ARN.
async fn newer_deployment<E: Ecs>(ecs: &E, at: &ServiceRef, ours: &ServiceDeployment) -> Option<String> {
    let key = |t: Option<&aws_smithy_types::DateTime>| t.map(|t| (t.secs(), t.subsec_nanos()));
    let created = key(ours.created_at())?;
    let listed = ecs.list_service_deployments(&at.cluster, &at.service, &[]).await.ok()?;
    listed
        .iter()
        .filter(|b| b.service_deployment_arn() != ours.service_deployment_arn())
        .find(|b| key(b.created_at()).is_some_and(|c| c > created))
        .and_then(|b| b.service_deployment_arn().map(str::to_owned))
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
