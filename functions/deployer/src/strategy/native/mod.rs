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

mod follow;
mod preflight;

use std::time::Duration;

use aws_sdk_ecs::types::{
    DeploymentLifecycleHookAction, DeploymentLifecycleHookStatus, DeploymentStrategy, Service, ServiceDeploymentStatus,
};
use contract::request::Action;
use contract::result::{RolloutState, ServiceDeploymentReport};
use contract::AwsError;

use self::follow::watch;
pub use self::follow::{follow, judge, report, revision_mismatch, rolled_back_by};
pub use self::preflight::{refusals, refuse_in_flight};
use super::{RestoreError, Restored, Started};
use crate::error::DeployError;
use crate::ports::{Clock, DeploymentAnswer, Ecs};
use crate::request::ServiceRef;
use crate::rollback::read_service;
use crate::strategy::rolling;
use crate::verdict::Verdict;

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

/// The `<N>` of a deployment id `ecs-svc/<N>`, which the target service revision ARN ends with.
fn revision_number(deployment_id: &str) -> Option<&str> {
    deployment_id.rsplit('/').next().filter(|n| !n.is_empty())
}

/// Whether a service deployment's target service revision ARN (`…/service-revision/<cluster>/<service>/<N>`)
/// is the one of deployment `ecs-svc/<N>`.
fn targets(revision_arn: Option<&str>, deployment_id: &str) -> bool {
    let n = revision_number(deployment_id);
    n.is_some() && revision_arn.and_then(|r| r.rsplit('/').next()) == n
}

/// The service deployment of the deployment `deployment_id` (`ecs-svc/<N>`) that UpdateService started: the
/// one ListServiceDeployments lists whose target service revision ends in the same `<N>` (the match
/// terraform-provider-aws's findPrimaryDeploymentARN makes). The `currentServiceDeployment` of UpdateService's
/// answer is not taken on its word: the API documents it only as "The ARN of the current service deployment",
/// not that it already names the new one, and a stale one would have a healthy deploy judged by the
/// deployment before it (FIDELITY.md U1). `None` until ECS lists it: wait, never judge.
async fn identify<E: Ecs>(ecs: &E, at: &ServiceRef, deployment_id: Option<&str>) -> Option<String> {
    let id = deployment_id?;
    revision_number(id)?;
    let listed = ecs.list_service_deployments(&at.cluster, &at.service, &[]).await.ok()?;
    listed
        .iter()
        .find(|b| targets(b.target_service_revision_arn(), id))
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
    let service_deployment_arn = identify(ecs, at, deployment_id.as_deref()).await;
    tracing::info!(service_deployment = ?service_deployment_arn, "ECS service deployment started");
    Ok((updated, Started { deployment_id, service_deployment_arn, codedeploy: None }))
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
    // The newest one in flight: an older one is being replaced, and stopping it would not put the service back.
    let newest = moving.iter().max_by_key(|b| b.created_at().map(|t| (t.secs(), t.subsec_nanos())));
    if let Some(arn) = newest.and_then(|b| b.service_deployment_arn()) {
        match ecs.stop_service_deployment(arn).await.map_err(RestoreError::Start)? {
            DeploymentAnswer::Accepted => tracing::warn!("stopping service deployment {arn} with ROLLBACK"),
            DeploymentAnswer::Conflict(why) => tracing::info!("service deployment {arn} could not be stopped: {why}"),
        }
        let seen = watch(ecs, clock, arn, None, deadline).await;
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
            let seen = watch(ecs, clock, arn, None, deadline).await;
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
    use aws_sdk_ecs::types::{ContainerDefinition, ContainerImage, ServiceDeployment, ServiceRevision, TaskDefinition};
    use contract::result::RolledBackBy;

    use super::preflight::tenths;
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
            rolled_back_by(&b.status(ServiceDeploymentStatus::RollbackSuccessful).build(), false)
        };
        let alarms = ServiceDeploymentAlarms::builder().triggered_alarm_names("p99").build();
        assert_eq!(rolled(ServiceDeployment::builder().alarms(alarms)), RolledBackBy::EcsAlarms);
        let failed = aws_sdk_ecs::types::DeploymentLifecycleHookDetail::builder()
            .hook_id("h1")
            .status(DeploymentLifecycleHookStatus::Failed)
            .build();
        assert_eq!(rolled(ServiceDeployment::builder().lifecycle_hook_details(failed)), RolledBackBy::EcsLifecycleHook);
        // The reason text is not documented: a text that names a hook decides nothing.
        let text =
            Rollback::builder().reason("Lifecycle hook arn:x returned hookStatus FAILED at PRE_SCALE_UP.").build();
        assert_eq!(rolled(ServiceDeployment::builder().rollback(text)), RolledBackBy::Ecs);
        let breaker = aws_sdk_ecs::types::ServiceDeploymentCircuitBreaker::builder()
            .status(aws_sdk_ecs::types::ServiceDeploymentRollbackMonitorsStatus::Triggered)
            .build();
        assert_eq!(
            rolled(ServiceDeployment::builder().deployment_circuit_breaker(breaker)),
            RolledBackBy::EcsCircuitBreaker
        );
    }
}
