//! The `status` action: what a service runs, which version that is, and how its rollout goes, in the words
//! of its rollout strategy.

use contract::request::Action;
use contract::result::{HookAnswer, ReportStatus, ServiceStatus};

use crate::error::DeployError;
use crate::plan::{family_revision, tag_value, PREVIOUS_TAG, VERSION_TAG};
use crate::ports::Ecs;
use crate::request::ServiceRef;
use crate::rollback::read_service;
use crate::strategy::{codedeploy, native, Strategy};
use crate::verdict::last_events;

/// Reads the service and its running revision (two calls).
pub async fn report<E: Ecs>(ecs: &E, at: &ServiceRef) -> Result<ServiceStatus, DeployError> {
    let service = read_service(ecs, at).await?;
    let strategy = Strategy::for_service(&service, &at.service)?;
    let current = service.task_definition().unwrap_or_default();
    let described = ecs.describe_task_definition(current).await?;
    let tags = described.as_ref().map(|d| d.tags.as_slice()).unwrap_or_default();
    let progress = strategy.progress(&service);
    let service_deployment = match strategy {
        Strategy::Native(kind) => native::current(ecs, &service, kind).await.map(Box::new),
        Strategy::Rolling | Strategy::CodeDeploy => None,
    };
    let codedeploy = match strategy {
        Strategy::CodeDeploy => codedeploy::current(ecs, at).await?.map(Box::new),
        _ => None,
    };
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
        service_deployment,
        codedeploy,
    })
}

/// The `continue` and `reject` actions, under no lock (they change no revision): see
/// [`native::answer_hooks`].
pub async fn answer_hooks<E: Ecs>(ecs: &E, at: &ServiceRef, action: Action) -> Result<HookAnswer, DeployError> {
    let span = tracing::info_span!("hooks", cluster = %at.cluster, service = %at.service, action = action.as_str());
    let _entered = span.enter();
    let status = if action == Action::Reject { "rejected" } else { "continued" }.to_owned();
    let service = read_service(ecs, at).await?;
    if Strategy::for_service(&service, &at.service)? == Strategy::CodeDeploy {
        let (id, wait) = codedeploy::answer(ecs, at, action).await?;
        // The id is of the service's own group (answer resolved and checked it); a read that fails after the
        // answer was given only leaves the report out.
        let report = codedeploy::current_of(ecs, at, &id).await.ok().flatten();
        return Ok(HookAnswer {
            status,
            cluster: at.cluster.to_string(),
            service: at.service.to_string(),
            hooks: vec![wait.to_owned()],
            service_deployment: Default::default(),
            codedeploy: report.map(Box::new),
        });
    }
    let (service_deployment, hooks) = native::answer_hooks(ecs, at, action).await?;
    Ok(HookAnswer {
        status,
        cluster: at.cluster.to_string(),
        service: at.service.to_string(),
        hooks,
        service_deployment,
        codedeploy: None,
    })
}
