//! The ECS rolling update: [UpdateService](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html)
//! with the new task definition starts a PRIMARY deployment; its `rolloutState` says how it goes, and the
//! circuit breaker may roll it back by itself.

use std::time::Duration;

use aws_sdk_ecs::types::Service;
use contract::result::DeploymentSummary;
use contract::AwsError;

use super::{Progress, RestoreError, Restored, Seen, Started};
use crate::error::DeployError;
use crate::plan::{family_revision, same_revision};
use crate::ports::{Clock, Ecs, ServiceLookup};
use crate::request::ServiceRef;
use crate::rollout::Reading;
use crate::verdict::{
    ecs_rollback_by, ecs_rolled_back_unseen, ecs_rollout_state, judge, primary, rollout_state, Tracked, Verdict,
};

/// The deployment UpdateService started for `task_definition`. `deployments[0]` is not always it.
pub fn deployment_for(service: &Service, task_definition: &str) -> Option<String> {
    primary(service)
        .filter(|d| d.task_definition().is_some_and(|td| same_revision(td, task_definition)))
        .and_then(|d| d.id().map(str::to_owned))
}

pub async fn start<E: Ecs>(
    ecs: &E,
    at: &ServiceRef,
    task_definition_arn: &str,
    force_new_deployment: bool,
) -> Result<(Service, Started), AwsError> {
    let updated = ecs.update_service(&at.cluster, &at.service, task_definition_arn, force_new_deployment).await?;
    let deployment_id = deployment_for(&updated, task_definition_arn);
    Ok((updated, Started { deployment_id, service_deployment_arn: None, codedeploy: None }))
}

/// UpdateService back to `target_arn`, then follows that rollout. Its own crash count is not ours to judge:
/// it runs what ran before.
pub async fn restore<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    at: &ServiceRef,
    target_arn: &str,
    deadline: Duration,
) -> Result<Restored, RestoreError> {
    let (_, started) = start(ecs, at, target_arn, false).await.map_err(RestoreError::Start)?;
    let tracked = Tracked {
        deployment_id: started.deployment_id.as_deref(),
        service_deployment_arn: None,
        codedeploy: None,
        task_definition: target_arn,
        max_failed_tasks: i32::MAX,
    };
    let followed = crate::follow::follow(ecs, clock, at, tracked, deadline).await.map_err(RestoreError::Follow)?;
    let state = rollout_state(followed.verdict.as_ref());
    Ok(Restored { deployment_id: started.deployment_id, service_deployment_arn: None, state })
}

/// One read of a rolling update (DescribeServices): the deployment `deployment_id` (else the one running
/// `task_definition`) judged by [`judge`]. A failed read is [`Reading::Unknown`]; a missing service or cluster
/// is `ServiceNotFound`. A failure the circuit breaker or the deployment alarms roll back is theirs, reported
/// as far as their rollback got (it is not followed).
pub async fn observe<E: Ecs>(
    ecs: &E,
    at: &ServiceRef,
    deployment_id: Option<&str>,
    task_definition: &str,
    max_failed_tasks: i32,
) -> Result<(Reading, Seen), DeployError> {
    let service = match ecs.describe_service(&at.cluster, &at.service).await {
        Ok(ServiceLookup::Found(service)) => *service,
        Ok(_) => {
            return Err(DeployError::ServiceNotFound {
                cluster: at.cluster.to_string(),
                service: at.service.to_string(),
            })
        }
        Err(e) => {
            tracing::warn!("reading the rollout failed, trying again: {e}");
            return Ok((Reading::Unknown { why: format!("reading the service failed: {e}") }, Seen::default()));
        }
    };
    let tracked =
        Tracked { deployment_id, service_deployment_arn: None, codedeploy: None, task_definition, max_failed_tasks };
    let verdict = judge(&service, &tracked);
    tracing::debug!(?verdict, "rollout");
    let mut service_rollback = None;
    let reading = match verdict {
        Verdict::InProgress { .. } => Reading::Moving { stage: None, traffic: None },
        Verdict::Completed => Reading::Completed,
        Verdict::Failed { reason, ecs_rolls_back } => {
            let by = ecs_rolls_back.then(|| {
                ecs_rollback_by(&service, &reason).unwrap_or(contract::result::RolledBackBy::EcsCircuitBreaker)
            });
            if by.is_some() {
                service_rollback = Some(ecs_rollout_state(primary(&service)));
            }
            Reading::Failed { reason, rolled_back_by: by, rollback_ended: true, rollback_id: None }
        }
        Verdict::Replaced { by, task_definition } => {
            let ecs_rollback = ecs_rolled_back_unseen(&service);
            if ecs_rollback.is_some() {
                service_rollback = Some(ecs_rollout_state(primary(&service)));
            }
            Reading::Replaced { by, task_definition: family_revision(&task_definition).to_owned(), ecs_rollback }
        }
    };
    Ok((reading, Seen { service: Some(service), service_rollback, ..Seen::default() }))
}

pub fn progress(service: &Service) -> Progress {
    Progress {
        rollout_state: primary(service).and_then(|d| d.rollout_state()).map(|r| r.as_str().to_owned()),
        deployments: service
            .deployments()
            .iter()
            .map(|d| DeploymentSummary {
                id: d.id().map(str::to_owned),
                status: d.status().map(str::to_owned),
                task_definition: d.task_definition().map(|td| family_revision(td).to_owned()),
                rollout_state: d.rollout_state().map(|r| r.as_str().to_owned()),
                rollout_state_reason: d.rollout_state_reason().map(str::to_owned),
                running_count: d.running_count,
                desired_count: d.desired_count,
                failed_tasks: d.failed_tasks,
            })
            .collect(),
    }
}
