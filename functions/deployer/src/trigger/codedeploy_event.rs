//! "CodeDeploy Deployment State-change Notification" from EventBridge: a CODE_DEPLOY service's deployment
//! ended (SUCCESS, FAILURE, STOP) and the team is told, however it was started. CodeDeploy rolls a failure
//! back itself (auto-rollback): the deployer never rolls back again, it reports the rollback deployment.
//!
//! Events are hints, AWS is the truth: the event must come from the function's account and region; the
//! deployment is read back (GetDeployment) and must belong to a deployment group that deploys a service this
//! deployer may touch (GetDeploymentGroup `ecsServices`, then the allow-list), and its status must be the one
//! the event claims. Event shape:
//! <https://docs.aws.amazon.com/codedeploy/latest/userguide/monitoring-cloudwatch-events.html>.

use aws_sdk_codedeploy::types::{DeploymentCreator, DeploymentStatus};
use contract::result::CodeDeployReport;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{check_origin, ecs_event::ignored, Origin};
use crate::error::DeployError;
use crate::notify::{DeployEvent, Notification};
use crate::pipeline::Deployer;
use crate::plan::{family_revision, tag_value, VERSION_TAG};
use crate::ports::Ecs;
use crate::request::{resolve_service, Invocation};
use crate::rollback::read_service;
use crate::strategy::codedeploy;

/// The `detail` of a "CodeDeploy Deployment State-change Notification".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeDeployDetail {
    /// `START`, `SUCCESS`, `FAILURE`, `STOP`, `READY`.
    pub state: String,
    pub deployment_id: String,
    pub application: String,
    pub deployment_group: String,
}

#[derive(Debug, Clone)]
pub struct CodeDeployEvent {
    pub origin: Origin,
    pub detail: CodeDeployDetail,
}

/// Pure: the status GetDeployment must show for the event's `state`, and the notification it becomes;
/// `None` for the states that need no notification (START, READY, others).
pub fn expected(state: &str) -> Option<DeploymentStatus> {
    match state {
        "SUCCESS" => Some(DeploymentStatus::Succeeded),
        "FAILURE" => Some(DeploymentStatus::Failed),
        "STOP" => Some(DeploymentStatus::Stopped),
        _ => None,
    }
}

/// Pure: the notification of a finished deployment: succeeded, rolled back (CodeDeploy named a rollback
/// deployment) or failed.
pub fn outcome(status: &DeploymentStatus, rolled_back: bool) -> DeployEvent {
    match status {
        DeploymentStatus::Succeeded => DeployEvent::Succeeded,
        _ if rolled_back => DeployEvent::RolledBack,
        _ => DeployEvent::Failed,
    }
}

/// Tells how one CodeDeploy deployment of a service this deployer may touch ended. Errors:
/// `UntrustedEvent` (another account or region), `NotAllowed` (the group deploys a service outside the
/// allow-list), then what reading CodeDeploy or ECS fails with. What AWS does not confirm is answered
/// `{"status": "ignored", "reason"}`; otherwise `{"status": "completed" | "rolled_back" | "failed",
/// "cluster", "service", "codedeploy": {…}}`.
pub async fn on_codedeploy_event<E: Ecs>(
    d: &Deployer<E>,
    event: &CodeDeployEvent,
    inv: &Invocation,
) -> Result<Value, DeployError> {
    let scope = d.scope(inv);
    check_origin(&event.origin, &scope)?;
    let detail = &event.detail;
    let Some(want) = expected(&detail.state) else {
        return Ok(ignored(format!("{} needs no action", detail.state)));
    };
    let ecs = d.ecs();
    let Some(info) = ecs.get_deployment(&detail.deployment_id).await? else {
        return Ok(ignored(format!("CodeDeploy does not know deployment {}", detail.deployment_id)));
    };
    let (application, group) =
        (info.application_name().unwrap_or_default(), info.deployment_group_name().unwrap_or_default());
    if info.status() != Some(&want) {
        return Ok(ignored(format!(
            "the event says deployment {} is {}, but CodeDeploy says {}",
            detail.deployment_id,
            detail.state,
            info.status().map_or("unknown", |s| s.as_str())
        )));
    }
    if info.creator() == Some(&DeploymentCreator::CodeDeployRollback) {
        return Ok(ignored(format!(
            "{} is CodeDeploy's rollback deployment: the failed deployment's event reports it",
            detail.deployment_id
        )));
    }
    let Some(group_info) = ecs.get_deployment_group(application, group).await? else {
        return Ok(ignored(format!("deployment group {application}/{group} no longer exists")));
    };
    let Some(target) = group_info.ecs_services().first() else {
        return Ok(ignored(format!("deployment group {application}/{group} deploys no ECS service")));
    };
    let (cluster, service) = (target.cluster_name().unwrap_or_default(), target.service_name().unwrap_or_default());
    let at = resolve_service(Some(cluster.to_owned()), Some(service.to_owned()), None, d.config(), &scope)?;
    let mut report = CodeDeployReport {
        deployment_id: detail.deployment_id.clone(),
        application: application.to_owned(),
        deployment_group: group.to_owned(),
        ..CodeDeployReport::default()
    };
    codedeploy::observe(&mut report, &info, None);
    let rolled_back = report.rollback_deployment_id.is_some();
    if let Some(id) = &report.rollback_deployment_id {
        report.rollback_status =
            ecs.get_deployment(id).await.ok().flatten().and_then(|r| r.status().map(|s| s.as_str().to_owned()));
    }
    let svc = read_service(ecs, &at).await?;
    let running = svc.task_definition().unwrap_or_default().to_owned();
    let tags = ecs.describe_task_definition(&running).await?.map(|t| t.tags).unwrap_or_default();
    let version = tag_value(&tags, VERSION_TAG).unwrap_or("unknown").to_owned();
    let event_kind = outcome(&want, rolled_back);
    let times = |t: Option<&aws_smithy_types::DateTime>| {
        t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()).unwrap_or_else(|| "?".into())
    };
    let mut reason = format!(
        "CodeDeploy deployment {} of {application}/{group} {} ({} to {})",
        detail.deployment_id,
        want.as_str(),
        times(info.start_time().or(info.create_time())),
        times(info.complete_time())
    );
    if let Some(message) = &report.error_message {
        reason.push_str(&format!(": {message}"));
    }
    if let Some(id) = &report.rollback_deployment_id {
        reason.push_str(&format!(
            "; rollback deployment {id} {}",
            report.rollback_status.as_deref().unwrap_or("unknown")
        ));
    }
    let duration = match (info.start_time().or(info.create_time()), info.complete_time()) {
        (Some(a), Some(b)) => u64::try_from(b.to_millis().unwrap_or(0) - a.to_millis().unwrap_or(0)).ok(),
        _ => None,
    };
    let to = family_revision(&running).to_owned();
    let mut n = Notification::about(event_kind, &at, d.home_region(), &version, None, Some(&to), Some(reason), None);
    n.duration_ms = duration;
    d.send(&n).await;
    let status = match event_kind {
        DeployEvent::Succeeded => "completed",
        DeployEvent::RolledBack => "rolled_back",
        _ => "failed",
    };
    Ok(json!({
        "status": status,
        "cluster": at.cluster.as_str(),
        "service": at.service.as_str(),
        "codedeploy": report,
    }))
}
