//! Stage 5b: the changes. RegisterTaskDefinition (finding the revision again when the answer was lost),
//! then the strategy's start; when the start fails, the new revision is cleaned up only if the service
//! certainly does not use it.

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types::{Service, TaskDefinition};
use contract::AwsError;

use crate::error::{Cleanup, DeployError};
use crate::plan::{describe_name, family_revision, same_revision, tag_value, PREVIOUS_TAG, VERSION_TAG};
use crate::ports::{DescribedTaskDefinition, Ecs, ServiceLookup};
use crate::request::ServiceRef;
use crate::strategy::{Started, Strategy};

/// Registers the planned revision. When RegisterTaskDefinition fails in a way that may have registered it
/// anyway (a time-out, a 5xx), reads the family's newest revision: if it is newer than the base and tagged
/// for this very deploy, it is ours and the deploy goes on; otherwise nothing was registered.
pub async fn register<E: Ecs>(
    ecs: &E,
    input: RegisterTaskDefinitionInput,
    base: &DescribedTaskDefinition,
) -> Result<TaskDefinition, DeployError> {
    let family_name = input.family.clone().unwrap_or_default();
    // The deployer's own tags as this request sends them (the base's tags may have left no room for some).
    let ours: Vec<(&str, String)> = [VERSION_TAG, PREVIOUS_TAG]
        .into_iter()
        .filter_map(|key| tag_value(input.tags(), key).map(|v| (key, v.to_owned())))
        .collect();
    let error = match ecs.register_task_definition(input).await {
        Ok(td) => return Ok(td),
        Err(e) if e.certainly_not_applied() => return Err(e.into()),
        Err(e) => e,
    };
    let newest = ecs.describe_task_definition(&family_name).await.ok().flatten();
    // Ours only if it carries this request's own tags, as they were sent.
    let carries_ours =
        |d: &DescribedTaskDefinition| !ours.is_empty() && ours.iter().all(|(k, v)| tag_value(&d.tags, k) == Some(v));
    match newest {
        Some(d) if d.task_definition.revision > base.task_definition.revision && carries_ours(&d) => {
            tracing::warn!(
                "RegisterTaskDefinition failed ({error}) but registered {}",
                describe_name(&d.task_definition)
            );
            Ok(d.task_definition)
        }
        _ => Err(error.into()),
    }
}

/// What a deploy starts: a rollout of the revision it registered, or a new deployment of the revision the
/// service runs (its tag now points to another digest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Registered,
    ForceNewDeployment,
    /// A revision that existed before this deploy (`task_definition`): never deregistered here.
    Existing,
}

/// Starts the rollout of `arn` with the service's strategy. A failed start that may have taken effect is
/// checked by reading the service back: a revision this deploy registered is deregistered only when the
/// service certainly does not use it; the running revision of a forced new deployment never is.
pub async fn start<E: Ecs>(
    ecs: &E,
    strategy: Strategy,
    at: &ServiceRef,
    arn: &str,
    how: Start,
) -> Result<Started, DeployError> {
    if strategy == Strategy::CodeDeploy {
        return start_codedeploy(ecs, at, arn, how == Start::Registered).await;
    }
    match strategy.start(ecs, at, arn, how == Start::ForceNewDeployment).await {
        Ok((_, started)) => Ok(started),
        Err(error) if how != Start::Registered => Err(error.into()),
        Err(error) => {
            let service = after_failed_start(ecs, at, arn, error).await?;
            let deployment_id = crate::strategy::rolling::deployment_for(&service, arn);
            let service_deployment_arn = match strategy {
                Strategy::Native(_) => service.current_service_deployment().map(str::to_owned),
                Strategy::Rolling | Strategy::CodeDeploy => None,
            };
            Ok(Started { deployment_id, service_deployment_arn, codedeploy: None })
        }
    }
}

/// CreateDeployment of `arn` (a CODE_DEPLOY service; never UpdateService). When it fails, the revision this
/// deploy registered (`registered`) is deregistered if CodeDeploy certainly created nothing, else kept
/// (`CodeDeployFailed` says which); a check that failed before CreateDeployment (no group, no load balancer)
/// deregisters it too. A revision that existed before is never deregistered.
async fn start_codedeploy<E: Ecs>(
    ecs: &E,
    at: &ServiceRef,
    arn: &str,
    registered: bool,
) -> Result<Started, DeployError> {
    let error = match crate::strategy::codedeploy::start(ecs, at, arn).await {
        Ok((_, started)) => return Ok(started),
        Err(DeployError::Aws(e)) if e.operation == "CreateDeployment" => e,
        Err(other) => {
            if registered {
                let _ = ecs.deregister_task_definition(arn).await;
            }
            return Err(other);
        }
    };
    let cleanup = if !registered {
        Cleanup::KeptExisting
    } else if error.certainly_not_applied() {
        match ecs.deregister_task_definition(arn).await {
            Ok(()) => Cleanup::Deregistered,
            Err(e) => Cleanup::DeregisterFailed(e.to_string()),
        }
    } else {
        Cleanup::KeptOutcomeUnknown
    };
    let err =
        DeployError::CodeDeployFailed { task_definition: family_revision(arn).to_owned(), cleanup, source: error };
    tracing::error!(code = %err.code(), "{err}");
    Err(err)
}

async fn after_failed_start<E: Ecs>(
    ecs: &E,
    at: &ServiceRef,
    arn: &str,
    error: AwsError,
) -> Result<Service, DeployError> {
    let name = family_revision(arn).to_owned();
    let applied = if error.certainly_not_applied() {
        Some(None)
    } else {
        match ecs.describe_service(&at.cluster, &at.service).await {
            Ok(ServiceLookup::Found(s)) if s.task_definition().is_some_and(|td| same_revision(td, arn)) => {
                Some(Some(*s))
            }
            Ok(ServiceLookup::Found(_)) => Some(None),
            _ => None,
        }
    };
    let cleanup = match applied {
        Some(Some(service)) => {
            tracing::warn!("UpdateService failed ({error}) but the service runs {name}: the update took effect");
            return Ok(service);
        }
        Some(None) => match ecs.deregister_task_definition(arn).await {
            Ok(()) => Cleanup::Deregistered,
            Err(e) => Cleanup::DeregisterFailed(e.to_string()),
        },
        None => Cleanup::KeptOutcomeUnknown,
    };
    let err = DeployError::UpdateFailed { task_definition: name, cleanup, source: error };
    tracing::error!(code = %err.code(), "{err}");
    Err(err)
}
