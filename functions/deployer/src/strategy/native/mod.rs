//! ECS-native BLUE_GREEN, LINEAR and CANARY service deployments, run by the ECS controller itself.
//!
//! [UpdateService](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html) with only
//! the new task definition starts a *service deployment*; its truth is
//! [DescribeServiceDeployments](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceDeployments.html):
//! `status`, `lifecycleStage`, the traffic weights of the new (green) service revision, the lifecycle hooks
//! and the rollback reason. A blue/green deployment stays IN_PROGRESS through its whole bake, so "services
//! stable" is never the signal. SUCCESSFUL is success; ROLLBACK_SUCCESSFUL, ROLLBACK_FAILED and STOPPED are
//! failures. Rolling back while in flight (bake included) is
//! [StopServiceDeployment](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopServiceDeployment.html)
//! with ROLLBACK; after success, a new deployment of the earlier revision. PAUSE hooks are answered with
//! [ContinueServiceDeployment](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContinueServiceDeployment.html).

use std::time::Duration;

use aws_sdk_ecs::types::{
    DeploymentLifecycleHookAction, DeploymentLifecycleHookStatus, DeploymentStrategy, Service, ServiceDeployment,
    ServiceDeploymentLifecycleStage, ServiceDeploymentStatus, ServiceRevision, TaskDefinition,
};
use contract::request::Action;
use contract::result::{HookReport, RolledBackBy, RolloutState, ServiceDeploymentReport};
use contract::AwsError;

use super::{RestoreError, Restored, Started};
use crate::error::DeployError;
use crate::follow::{Followed, POLL_INTERVAL};
use crate::plan::{family_revision, same_revision};
use crate::ports::{Clock, DeploymentAnswer, Ecs};
use crate::request::ServiceRef;
use crate::rollback::read_service;
use crate::strategy::rolling;
use crate::verdict::{primary, EcsRollback, Tracked, Verdict};

/// Which ECS-native strategy a service uses (`deploymentConfiguration.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BlueGreen,
    Linear,
    Canary,
}

impl Kind {
    /// The kind of `strategy`, `None` for ROLLING and strategies this deployer does not know.
    pub fn of(strategy: &DeploymentStrategy) -> Option<Kind> {
        match strategy {
            DeploymentStrategy::BlueGreen => Some(Kind::BlueGreen),
            DeploymentStrategy::Linear => Some(Kind::Linear),
            DeploymentStrategy::Canary => Some(Kind::Canary),
            _ => None,
        }
    }

    /// ECS's name: `BLUE_GREEN`, `LINEAR`, `CANARY`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::BlueGreen => "BLUE_GREEN",
            Kind::Linear => "LINEAR",
            Kind::Canary => "CANARY",
        }
    }
}

/// The statuses of a service deployment that is still moving (ECS guide, "View service history").
pub const IN_FLIGHT: [ServiceDeploymentStatus; 5] = [
    ServiceDeploymentStatus::Pending,
    ServiceDeploymentStatus::InProgress,
    ServiceDeploymentStatus::StopRequested,
    ServiceDeploymentStatus::RollbackRequested,
    ServiceDeploymentStatus::RollbackInProgress,
];

/// ECS's limit on every bake time, minutes.
const MAX_BAKE_MINUTES: i32 = 1440;

/// Whether `value` is a multiple of 0.1 (ECS's step for traffic percentages).
fn tenths(value: f64) -> bool {
    ((value * 10.0).round() - value * 10.0).abs() < 1e-6
}

/// Pure preflight: what ECS would only find mid-rollout, refused before any change. `name` is the service
/// as errors name it. Errors: `BakeTimeRequired` (BLUE_GREEN without `bakeTimeInMinutes`),
/// `AdvancedConfigurationRequired` (a load balancer without alternate target group, production listener rule
/// or role, on a service without Service Connect), `TrafficShiftOutOfRange` (a bake outside 0–1440 minutes,
/// `stepPercent` outside 3.0–100.0, `canaryPercent` outside 0.1–100.0, either not in steps of 0.1).
pub fn refusals(service: &Service, kind: Kind, name: &str) -> Vec<DeployError> {
    let mut failures = Vec::new();
    let config = service.deployment_configuration();
    let out_of_range = |setting: &str, value: String, range: &str| DeployError::TrafficShiftOutOfRange {
        service: name.to_owned(),
        strategy: kind.as_str().to_owned(),
        setting: setting.to_owned(),
        value,
        range: range.to_owned(),
    };
    let bake_range = "0 to 1440 minutes";
    match config.and_then(|c| c.bake_time_in_minutes()) {
        None if kind == Kind::BlueGreen => failures.push(DeployError::BakeTimeRequired { service: name.to_owned() }),
        Some(b) if !(0..=MAX_BAKE_MINUTES).contains(&b) => {
            failures.push(out_of_range("bakeTimeInMinutes", b.to_string(), bake_range))
        }
        _ => {}
    }
    if kind == Kind::Linear {
        if let Some(linear) = config.and_then(|c| c.linear_configuration()) {
            if let Some(p) = linear.step_percent() {
                if !(3.0..=100.0).contains(&p) || !tenths(p) {
                    failures.push(out_of_range(
                        "linearConfiguration.stepPercent",
                        p.to_string(),
                        "3.0 to 100.0 in steps of 0.1",
                    ));
                }
            }
            if let Some(b) = linear.step_bake_time_in_minutes() {
                if !(0..=MAX_BAKE_MINUTES).contains(&b) {
                    failures.push(out_of_range("linearConfiguration.stepBakeTimeInMinutes", b.to_string(), bake_range));
                }
            }
        }
    }
    if kind == Kind::Canary {
        if let Some(canary) = config.and_then(|c| c.canary_configuration()) {
            if let Some(p) = canary.canary_percent() {
                if !(0.1..=100.0).contains(&p) || !tenths(p) {
                    failures.push(out_of_range(
                        "canaryConfiguration.canaryPercent",
                        p.to_string(),
                        "0.1 to 100.0 in steps of 0.1",
                    ));
                }
            }
            if let Some(b) = canary.canary_bake_time_in_minutes() {
                if !(0..=MAX_BAKE_MINUTES).contains(&b) {
                    failures.push(out_of_range(
                        "canaryConfiguration.canaryBakeTimeInMinutes",
                        b.to_string(),
                        bake_range,
                    ));
                }
            }
        }
    }
    let service_connect = primary(service).and_then(|d| d.service_connect_configuration()).is_some_and(|sc| sc.enabled);
    if !service_connect {
        for lb in service.load_balancers() {
            let advanced = lb.advanced_configuration();
            let missing: Vec<&str> = [
                ("alternateTargetGroupArn", advanced.and_then(|a| a.alternate_target_group_arn())),
                ("productionListenerRule", advanced.and_then(|a| a.production_listener_rule())),
                ("roleArn", advanced.and_then(|a| a.role_arn())),
            ]
            .into_iter()
            .filter(|(_, v)| v.is_none_or(str::is_empty))
            .map(|(k, _)| k)
            .collect();
            if !missing.is_empty() {
                failures.push(DeployError::AdvancedConfigurationRequired {
                    service: name.to_owned(),
                    strategy: kind.as_str().to_owned(),
                    target_group: lb.target_group_arn().or(lb.load_balancer_name()).unwrap_or("unknown").to_owned(),
                    missing: missing.join(", "),
                });
            }
        }
    }
    failures
}

/// Refuses to start while a service deployment of the service is still moving (ListServiceDeployments,
/// one call): ECS would queue or reject ours. `DeploymentInProgress` names it.
pub async fn refuse_in_flight<E: Ecs>(ecs: &E, at: &ServiceRef) -> Result<(), DeployError> {
    let moving = ecs.list_service_deployments(&at.cluster, &at.service, &IN_FLIGHT).await?;
    let Some(sd) = moving.first() else { return Ok(()) };
    Err(DeployError::DeploymentInProgress {
        service: at.service.to_string(),
        holder: format!(
            "ECS service deployment {} ({})",
            sd.service_deployment_arn().unwrap_or("unknown"),
            sd.status().map_or("unknown", |s| s.as_str())
        ),
        since: sd.created_at().map_or_else(|| "unknown".into(), |t| t.to_string()),
    })
}

/// The `<N>` of a deployment id `ecs-svc/<N>`, which the target service revision ARN ends with.
fn revision_number(deployment_id: &str) -> Option<&str> {
    deployment_id.rsplit('/').next().filter(|n| !n.is_empty())
}

/// The service deployment UpdateService started: `currentServiceDeployment` of its answer, else the one
/// ListServiceDeployments lists whose target service revision shares the new deployment's `<N>`.
async fn identify<E: Ecs>(ecs: &E, at: &ServiceRef, updated: &Service, deployment_id: Option<&str>) -> Option<String> {
    if let Some(arn) = updated.current_service_deployment() {
        return Some(arn.to_owned());
    }
    let n = deployment_id.and_then(revision_number)?;
    let listed = ecs.list_service_deployments(&at.cluster, &at.service, &[]).await.ok()?;
    listed
        .iter()
        .find(|b| b.target_service_revision_arn().and_then(|r| r.rsplit('/').next()) == Some(n))
        .and_then(|b| b.service_deployment_arn().map(str::to_owned))
}

/// UpdateService with only the task definition (never `deploymentConfiguration` or `loadBalancers`: that
/// round-trips hook details and drifts the configuration), then the service deployment it started.
pub async fn start<E: Ecs>(
    ecs: &E,
    at: &ServiceRef,
    task_definition_arn: &str,
    force_new_deployment: bool,
) -> Result<(Service, Started), AwsError> {
    let updated = ecs.update_service(&at.cluster, &at.service, task_definition_arn, force_new_deployment).await?;
    let deployment_id = rolling::deployment_for(&updated, task_definition_arn);
    let service_deployment_arn = identify(ecs, at, &updated, deployment_id.as_deref()).await;
    tracing::info!(service_deployment = ?service_deployment_arn, "ECS service deployment started");
    Ok((updated, Started { deployment_id, service_deployment_arn, codedeploy: None }))
}

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
struct Seen {
    last: Option<ServiceDeployment>,
    steps: Vec<f64>,
    /// The last lifecycle stage seen while the deployment moved forward (IN_PROGRESS).
    forward_stage: Option<ServiceDeploymentLifecycleStage>,
}

/// Reads the service deployment `arn` every few seconds until it is finished or `deadline` passes.
async fn watch<E: Ecs>(ecs: &E, clock: &dyn Clock, arn: &str, deadline: Duration) -> Seen {
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

/// Puts the service back on `target_arn`: StopServiceDeployment(ROLLBACK) of a service deployment still in
/// flight (bake included; a ConflictException means it finished meanwhile and is read again), else a new
/// service deployment of `target_arn`. Either is followed until `deadline`.
pub async fn restore<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    at: &ServiceRef,
    target_arn: &str,
    deadline: Duration,
) -> Result<Restored, RestoreError> {
    let moving =
        ecs.list_service_deployments(&at.cluster, &at.service, &IN_FLIGHT).await.map_err(RestoreError::Start)?;
    if let Some(arn) = moving.first().and_then(|b| b.service_deployment_arn()) {
        match ecs.stop_service_deployment(arn).await.map_err(RestoreError::Start)? {
            DeploymentAnswer::Accepted => tracing::warn!("stopping service deployment {arn} with ROLLBACK"),
            DeploymentAnswer::Conflict(why) => tracing::info!("service deployment {arn} could not be stopped: {why}"),
        }
        let seen = watch(ecs, clock, arn, deadline).await;
        let status = seen.last.as_ref().and_then(|sd| sd.status()).cloned();
        let state = match status {
            Some(ServiceDeploymentStatus::RollbackSuccessful) => Some(RolloutState::Completed),
            Some(ServiceDeploymentStatus::RollbackFailed | ServiceDeploymentStatus::Stopped) => {
                Some(RolloutState::Failed)
            }
            // It finished before the stop reached it: go back with a new deployment below.
            Some(ServiceDeploymentStatus::Successful) => None,
            _ => Some(RolloutState::InProgress),
        };
        if let Some(state) = state {
            return Ok(Restored { deployment_id: None, service_deployment_arn: Some(arn.to_owned()), state });
        }
    }
    let (_, started) = start(ecs, at, target_arn, false).await.map_err(RestoreError::Start)?;
    let state = match &started.service_deployment_arn {
        Some(arn) => {
            let seen = watch(ecs, clock, arn, deadline).await;
            match seen.last.as_ref().map(judge) {
                Some(Verdict::Completed) => RolloutState::Completed,
                Some(Verdict::Failed { .. }) => RolloutState::Failed,
                _ => RolloutState::InProgress,
            }
        }
        None => RolloutState::Unknown,
    };
    Ok(Restored { deployment_id: started.deployment_id, service_deployment_arn: started.service_deployment_arn, state })
}

/// The service's current service deployment as `status` shows it (one DescribeServiceDeployments call);
/// `None` when ECS names none.
pub async fn current<E: Ecs>(ecs: &E, service: &Service, kind: Kind) -> Option<ServiceDeploymentReport> {
    let arn = service.current_service_deployment()?;
    match ecs.describe_service_deployment(arn).await {
        Ok(Some(sd)) => Some(report(&sd, kind, &[])),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("reading service deployment {arn} failed: {e}");
            None
        }
    }
}

/// The `continue` and `reject` actions: ContinueServiceDeployment with CONTINUE (or ROLLBACK) for every
/// hook of the service's current service deployment that awaits action. Errors: `NoHookAwaitingAction`
/// (none awaits, or the deployment finished meanwhile: ConflictException), `UnsupportedDeploymentStrategy`
/// (a rolling service has no hooks), and what the calls fail with. Answers the deployment as read after.
pub async fn answer_hooks<E: Ecs>(
    ecs: &E,
    at: &ServiceRef,
    action: Action,
) -> Result<(ServiceDeploymentReport, Vec<String>), DeployError> {
    let service = read_service(ecs, at).await?;
    let strategy = super::Strategy::for_service(&service, &at.service)?;
    let super::Strategy::Native(kind) = strategy else {
        return Err(DeployError::UnsupportedDeploymentStrategy {
            service: at.service.to_string(),
            strategy: "ROLLING (it has no lifecycle hooks to continue or reject)".into(),
        });
    };
    let none = |arn: Option<&str>| DeployError::NoHookAwaitingAction {
        service: at.service.to_string(),
        service_deployment: arn.map(str::to_owned),
    };
    let arn = service.current_service_deployment().ok_or_else(|| none(None))?;
    let sd = ecs.describe_service_deployment(arn).await?.ok_or_else(|| none(Some(arn)))?;
    let waiting: Vec<String> = sd
        .lifecycle_hook_details()
        .iter()
        .filter(|h| h.status() == Some(&DeploymentLifecycleHookStatus::AwaitingAction))
        .filter_map(|h| h.hook_id().map(str::to_owned))
        .collect();
    if waiting.is_empty() {
        return Err(none(Some(arn)));
    }
    let how = if action == Action::Reject {
        DeploymentLifecycleHookAction::Rollback
    } else {
        DeploymentLifecycleHookAction::Continue
    };
    let mut answered = Vec::new();
    for hook in &waiting {
        match ecs.continue_service_deployment(arn, hook, how.clone()).await? {
            DeploymentAnswer::Accepted => answered.push(hook.clone()),
            DeploymentAnswer::Conflict(why) => tracing::info!("hook {hook} was not answered: {why}"),
        }
    }
    if answered.is_empty() {
        return Err(none(Some(arn)));
    }
    tracing::info!(cluster = %at.cluster, service = %at.service, ?answered, "answered {} with {}", arn, how.as_str());
    let after = ecs.describe_service_deployment(arn).await.ok().flatten().unwrap_or(sd);
    Ok((report(&after, kind, &[]), answered))
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{ContainerDefinition, ContainerImage};

    use super::*;

    fn deployed(image: &str) -> TaskDefinition {
        TaskDefinition::builder()
            .task_definition_arn("arn:aws:ecs:eu-west-1:1:task-definition/web:8")
            .container_definitions(ContainerDefinition::builder().name("app").image(image).build())
            .container_definitions(ContainerDefinition::builder().name("xray").image("xray:3").build())
            .build()
    }

    fn revision(td: &str, image: &str, digest: &str) -> ServiceRevision {
        ServiceRevision::builder()
            .task_definition(format!("arn:aws:ecs:eu-west-1:1:task-definition/{td}"))
            .container_images(ContainerImage::builder().container_name("app").image(image).image_digest(digest).build())
            .build()
    }

    #[test]
    fn the_new_revision_must_run_what_was_deployed() {
        let pinned = "r/web:v2@sha256:aa";
        let cases = [
            ("same tag", deployed("r/web:v2"), revision("web:8", "r/web:v2", "sha256:bb"), None),
            ("same pinned digest", deployed(pinned), revision("web:8", pinned, "sha256:aa"), None),
            ("another digest", deployed(pinned), revision("web:8", pinned, "sha256:cc"), Some("runs sha256:cc")),
            ("another image", deployed("r/web:v2"), revision("web:8", "r/web:v1", "sha256:bb"), Some("runs sha256:bb")),
            ("another revision", deployed("r/web:v2"), revision("web:7", "r/web:v2", "sha256:bb"), Some("runs web:7")),
        ];
        for (name, td, rev, expected) in cases {
            let got = revision_mismatch(&rev, &td);
            match expected {
                None => assert_eq!(got, None, "{name}"),
                Some(part) => assert!(got.as_deref().is_some_and(|g| g.contains(part)), "{name}: {got:?}"),
            }
        }
    }

    #[test]
    fn traffic_percentages_go_in_tenths() {
        for (value, ok) in [(5.0, true), (0.1, true), (33.3, true), (5.05, false), (10.01, false)] {
            assert_eq!(tenths(value), ok, "{value}");
        }
    }

    #[test]
    fn who_rolled_back_is_read_from_the_service_deployment() {
        use aws_sdk_ecs::types::{Rollback, ServiceDeploymentAlarms};
        let rolled = |b: aws_sdk_ecs::types::builders::ServiceDeploymentBuilder| {
            rolled_back_by(&b.status(ServiceDeploymentStatus::RollbackSuccessful).build())
        };
        let alarms = ServiceDeploymentAlarms::builder().triggered_alarm_names("p99").build();
        assert_eq!(rolled(ServiceDeployment::builder().alarms(alarms)), RolledBackBy::EcsAlarms);
        let hook =
            Rollback::builder().reason("Lifecycle hook arn:x returned hookStatus FAILED at PRE_SCALE_UP.").build();
        assert_eq!(rolled(ServiceDeployment::builder().rollback(hook)), RolledBackBy::EcsLifecycleHook);
        let tasks = Rollback::builder().reason("tasks failed to start").build();
        assert_eq!(rolled(ServiceDeployment::builder().rollback(tasks)), RolledBackBy::Ecs);
    }
}
