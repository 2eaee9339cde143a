//! Stage 6, I/O: reading a rolling update every few seconds until [`crate::verdict::judge`] says it is done,
//! failed or replaced, or until the deadline; and gathering ECS's own words when it failed. [`follow_deploy`]
//! follows a deploy's rollout with its strategy and records the verdict, and any rollback, in its result.

use std::time::Duration;

use aws_sdk_ecs::types::{DesiredStatus, Service};
use contract::result::{
    DeployResult, FailureReport, RollbackReport, RolledBackBy, RolloutReport, RolloutState, ServiceDeploymentReport,
    Status,
};

use crate::error::DeployError;
use crate::plan::family_revision;
use crate::ports::{Clock, Ecs, ServiceLookup};
use crate::request::{DeployTarget, ServiceRef};
use crate::rollback;
use crate::strategy::Strategy;
use crate::verdict::{
    ecs_rollback_by, ecs_rolled_back_unseen, judge, last_events, rollout_state, stopped_tasks, EcsRollback, Tracked,
    Verdict,
};

/// How often a rollout is read: ECS's DescribeServices allows 20/s per account, shared with every other
/// caller, and a rollout moves in tens of seconds.
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// Up to a second more, so that many deployers polling the same account do not move in lockstep.
fn jitter(clock: &dyn Clock) -> Duration {
    Duration::from_millis(clock.unix_millis() % 1000)
}

/// How a followed deployment ended, and the service as last seen.
pub struct Followed {
    /// `None`: still in progress when the time ran out.
    pub verdict: Option<Verdict>,
    pub service: Service,
    /// The ECS-native service deployment as last read (BLUE_GREEN, LINEAR, CANARY).
    pub service_deployment: Option<ServiceDeploymentReport>,
    /// When ECS rolled the failure back by itself and the strategy knows who and how far: by whom.
    pub ecs_rollback: Option<EcsRollback>,
    /// The CodeDeploy deployment as last read (CODE_DEPLOY services).
    pub codedeploy: Option<contract::result::CodeDeployReport>,
}

/// Reads the service every few seconds until the tracked deployment completes, fails or is replaced, or
/// until `deadline` on `clock`. A failed read is retried at the next poll.
pub async fn follow<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    at: &ServiceRef,
    tracked: Tracked<'_>,
    deadline: Duration,
) -> Result<Followed, DeployError> {
    let gone = || DeployError::ServiceNotFound { cluster: at.cluster.to_string(), service: at.service.to_string() };
    let mut last: Option<Service> = None;
    loop {
        match ecs.describe_service(&at.cluster, &at.service).await {
            Ok(ServiceLookup::Found(svc)) => {
                let verdict = judge(&svc, &tracked);
                tracing::debug!(?verdict, "rollout");
                if !matches!(verdict, Verdict::InProgress { .. }) {
                    let service = *svc;
                    return Ok(Followed {
                        verdict: Some(verdict),
                        service,
                        service_deployment: None,
                        ecs_rollback: None,
                        codedeploy: None,
                    });
                }
                last = Some(*svc);
            }
            Ok(_) => return Err(gone()),
            Err(e) => tracing::warn!("reading the rollout failed, trying again: {e}"),
        }
        let pause = POLL_INTERVAL + jitter(clock);
        if clock.now() + pause > deadline {
            return last
                .map(|service| Followed {
                    verdict: None,
                    service,
                    service_deployment: None,
                    ecs_rollback: None,
                    codedeploy: None,
                })
                .ok_or_else(gone);
        }
        clock.sleep(pause).await;
    }
}

/// The failure in ECS's words: the reason, the latest service events, and the stopped tasks' reasons.
pub async fn failure_report<E: Ecs>(
    ecs: &E,
    at: &ServiceRef,
    service: &Service,
    failed_arn: &str,
    reason: String,
) -> FailureReport {
    let stopped = match ecs.list_tasks(&at.cluster, &at.service, DesiredStatus::Stopped).await {
        Ok(arns) if !arns.is_empty() => {
            let recent: Vec<String> = arns.into_iter().take(100).collect();
            ecs.describe_tasks(&at.cluster, &recent).await.unwrap_or_default()
        }
        _ => Vec::new(),
    };
    FailureReport { reason, events: last_events(service, 5), stopped_tasks: stopped_tasks(&stopped, failed_arn, 5) }
}

/// Follows the rollout a deploy started and records how it went in `result`; a failure is rolled back
/// as [`rollback::after_failure`] decides.
#[allow(clippy::too_many_arguments)]
pub async fn follow_deploy<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    max_failed_tasks: i32,
    strategy: Strategy,
    t: &DeployTarget,
    result: &mut DeployResult,
    new_arn: &str,
    previous_arn: &str,
    deadline: Duration,
) -> Result<(), DeployError> {
    let arn = result.service_deployment.as_ref().map(|sd| sd.arn.clone());
    let codedeploy = result.codedeploy.as_deref().cloned();
    let tracked = Tracked {
        deployment_id: result.deployment_id.as_deref(),
        service_deployment_arn: arn.as_deref(),
        codedeploy: codedeploy.as_ref(),
        task_definition: new_arn,
        max_failed_tasks,
    };
    let followed = strategy.follow(ecs, clock, &t.at, tracked, deadline).await?;
    if followed.service_deployment.is_some() {
        result.service_deployment = followed.service_deployment.clone().map(Box::new);
    }
    if followed.codedeploy.is_some() {
        result.codedeploy = followed.codedeploy.clone().map(Box::new);
    }
    let state = rollout_state(followed.verdict.as_ref());
    let (status, report) = match followed.verdict {
        Some(Verdict::Completed) => (Status::Completed, RolloutReport::new(state)),
        None | Some(Verdict::InProgress { .. }) => (
            Status::InProgress,
            RolloutReport { check: Some(rollback::status_request(&t.at)), ..RolloutReport::new(state) },
        ),
        Some(Verdict::Replaced { by: replacing, task_definition })
            if strategy == Strategy::Rolling
                && family_revision(&task_definition) == family_revision(previous_arn)
                && ecs_rolled_back_unseen(&followed.service).is_some() =>
        {
            // Ours failed and ECS's own rollback (circuit breaker, deployment alarms) finished between two
            // reads: the service went back to the revision before, by ECS, not by someone else.
            let by = ecs_rolled_back_unseen(&followed.service).unwrap_or(RolledBackBy::EcsCircuitBreaker);
            let events = last_events(&followed.service, 5);
            let reason = format!(
                "ECS rolled the rollout back to {task_definition} by itself (deployment {replacing}) before its \
                 failure could be read"
            );
            let failure = FailureReport { reason, events, stopped_tasks: Vec::new() };
            let rollback = RollbackReport {
                from: family_revision(new_arn).to_owned(),
                to: task_definition.clone(),
                by,
                state: crate::verdict::ecs_rollout_state(crate::verdict::primary(&followed.service)),
                deregistered: None,
            };
            result.task_definition = Some(task_definition);
            (
                Status::RolledBack,
                RolloutReport {
                    failure: Some(failure),
                    rollback: Some(rollback),
                    ..RolloutReport::new(RolloutState::Failed)
                },
            )
        }
        Some(Verdict::Replaced { by, task_definition }) => {
            let failure = FailureReport {
                reason: format!("deployment {by} of {task_definition} replaced it: someone else deployed"),
                events: last_events(&followed.service, 5),
                stopped_tasks: Vec::new(),
            };
            (Status::Failed, RolloutReport { failure: Some(failure), ..RolloutReport::new(state) })
        }
        Some(Verdict::Failed { reason, ecs_rolls_back }) => {
            let ecs_rollback = ecs_rolls_back.then(|| {
                followed.ecs_rollback.clone().unwrap_or_else(|| EcsRollback {
                    by: ecs_rollback_by(&followed.service, &reason).unwrap_or(RolledBackBy::EcsCircuitBreaker),
                    state: None,
                })
            });
            let failure = failure_report(ecs, &t.at, &followed.service, new_arn, reason).await;
            let rollback = rollback::after_failure(
                ecs,
                clock,
                strategy,
                t,
                &followed.service,
                ecs_rollback,
                new_arn,
                previous_arn,
                deadline,
            )
            .await?;
            let status = match &rollback {
                Some(r) => {
                    result.task_definition = Some(r.to.clone());
                    Status::RolledBack
                }
                None => Status::Failed,
            };
            (status, RolloutReport { failure: Some(failure), rollback, ..RolloutReport::new(state) })
        }
    };
    result.status = status;
    result.rollout = Some(report);
    tracing::info!(status = ?result.status, "rollout followed");
    Ok(())
}
