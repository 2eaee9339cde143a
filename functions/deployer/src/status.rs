//! The `status` action: what a service runs, which version that is, and how its rollout goes, in the words
//! of its rollout strategy.

use contract::result::{ReportStatus, ServiceStatus};

use crate::error::DeployError;
use crate::plan::{family_revision, tag_value, PREVIOUS_TAG, VERSION_TAG};
use crate::ports::Ecs;
use crate::request::ServiceRef;
use crate::rollback::read_service;
use crate::strategy::Strategy;
use crate::verdict::last_events;

/// Reads the service and its running revision (two calls).
pub async fn report<E: Ecs>(ecs: &E, at: &ServiceRef) -> Result<ServiceStatus, DeployError> {
    let service = read_service(ecs, at).await?;
    let strategy = Strategy::for_service(&service, &at.service)?;
    let current = service.task_definition().unwrap_or_default();
    let described = ecs.describe_task_definition(current).await?;
    let tags = described.as_ref().map(|d| d.tags.as_slice()).unwrap_or_default();
    let progress = strategy.progress(&service);
    Ok(ServiceStatus {
        status: ReportStatus::Ok,
        cluster: at.cluster.to_string(),
        service: at.service.to_string(),
        task_definition: family_revision(current).to_owned(),
        version: tag_value(tags, VERSION_TAG).map(str::to_owned),
        previous_task_definition: tag_value(tags, PREVIOUS_TAG).map(str::to_owned),
        rollout_state: progress.rollout_state,
        running_count: service.running_count,
        desired_count: service.desired_count,
        pending_count: service.pending_count,
        deployments: progress.deployments,
        events: last_events(&service, 5),
    })
}
