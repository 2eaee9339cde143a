//! The ECS rolling update: [UpdateService](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html)
//! with the new task definition starts a PRIMARY deployment; its `rolloutState` says how it goes, and the
//! circuit breaker may roll it back by itself.

use std::time::Duration;

use aws_sdk_ecs::types::Service;
use contract::result::DeploymentSummary;
use contract::AwsError;

use super::{Progress, RestoreError, Restored, Started};
use crate::plan::{family_revision, same_revision};
use crate::ports::{Clock, Ecs};
use crate::request::ServiceRef;
use crate::verdict::{primary, rollout_state, Tracked};

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
