//! "ECS Deployment State Change" from EventBridge: long rollouts end without a Lambda waiting. A failed
//! deployment that this deployer started is rolled back (unless ECS does it: the circuit breaker, deployment
//! alarms, an ECS-native service deployment); a completed one is reported; an ECS-native one in progress is
//! reported with its lifecycle stage and production traffic.
//!
//! Events are hints, AWS is the truth: anyone allowed to invoke the function can send an event-shaped
//! payload, so the event only says where to look. It must come from the function's account and region,
//! name a service of that account and region (in the allow-list), and ECS is asked what the deployment's
//! `rolloutState` is: only FAILED rolls back, only COMPLETED is reported as succeeded, only IN_PROGRESS as
//! progress.

use aws_sdk_ecs::types::DeploymentRolloutState;
use contract::names::{EcsArn, EcsResource};
use contract::result::{RolledBackBy, Status};
use serde_json::{json, Value};

use super::{check_origin, EcsDeploymentEvent};
use crate::error::DeployError;
use crate::lock;
use crate::notify::{DeployEvent, Notification};
use crate::pipeline::Deployer;
use crate::plan::{describe_name, family, family_revision, tag_value, PREVIOUS_TAG, VERSION_TAG};
use crate::ports::Ecs;
use crate::request::{resolve_service, Invocation};
use crate::rollback::{self, read_service, Rollback};
use crate::strategy::{native, Strategy};
use crate::verdict::{admit_rollback_target, ecs_rollback_by, primary, RollbackRefusal};

/// How long before its deployment a revision registered by the deploy itself can have been registered: the
/// deployer registers and updates within seconds; a revision older than this was deployed again.
const REGISTERED_WITH_ITS_DEPLOY: i64 = 15 * 60;

/// True when `td` was registered well before `deployment` began (both times known): it existed before.
fn registered_long_before(
    td: &aws_sdk_ecs::types::TaskDefinition,
    deployment: &aws_sdk_ecs::types::Deployment,
) -> bool {
    match (td.registered_at(), deployment.created_at()) {
        (Some(registered), Some(created)) => created.secs() - registered.secs() > REGISTERED_WITH_ITS_DEPLOY,
        _ => false,
    }
}

pub(crate) fn ignored(reason: impl Into<String>) -> Value {
    json!({"status": "ignored", "reason": reason.into()})
}

/// Acts on one deployment state change of a service this deployer may touch. Errors: `UntrustedEvent`
/// (another account or region), `InvalidRequest` (a service ARN in the old format), `NotAllowed`,
/// `RollbackOutsideFamily` / `UntrustedRollbackTarget` (the recorded previous revision is not one to go
/// back to), then what reading the service or rolling back fails with. What ECS does not confirm is
/// answered `{"status": "ignored", "reason"}`.
pub async fn on_deployment_event<E: Ecs>(
    d: &Deployer<E>,
    event: &EcsDeploymentEvent,
    inv: &Invocation,
) -> Result<Value, DeployError> {
    let scope = d.scope(inv);
    check_origin(&event.origin, &scope)?;
    let detail = &event.detail;
    let arn = EcsArn::parse(&event.service_arn)?;
    let EcsResource::Service { cluster: Some(cluster), .. } = arn.resource() else {
        return Err(DeployError::InvalidRequest {
            reason: format!("the event's service ARN {} names no cluster (old format)", event.service_arn),
        });
    };
    // The service ARN is checked against the function's home, its cluster against the path, the pair
    // against the allow-list: as if a request had named them.
    let at = resolve_service(Some(cluster.clone()), Some(event.service_arn.clone()), None, d.config(), &scope)?;
    let (state, confirmed_by) = match detail.event_name.as_str() {
        "SERVICE_DEPLOYMENT_IN_PROGRESS" => ("in_progress", DeploymentRolloutState::InProgress),
        "SERVICE_DEPLOYMENT_COMPLETED" => ("completed", DeploymentRolloutState::Completed),
        "SERVICE_DEPLOYMENT_FAILED" => ("failed", DeploymentRolloutState::Failed),
        other => return Ok(ignored(format!("{other} needs no action"))),
    };
    let ecs = d.ecs();
    let svc = read_service(ecs, &at).await?;
    let Some(deployment) = svc.deployments().iter().find(|x| x.id() == Some(detail.deployment_id.as_str())) else {
        return Ok(ignored(format!("deployment {} is no longer listed by the service", detail.deployment_id)));
    };
    let ecs_state = deployment.rollout_state();
    if ecs_state != Some(&confirmed_by) {
        return Ok(ignored(format!(
            "the event says deployment {} {state}, but ECS says its rollout is {}",
            detail.deployment_id,
            ecs_state.map_or("unknown", |s| s.as_str())
        )));
    }
    let failed_arn = deployment.task_definition().unwrap_or_default().to_owned();
    let revision = family_revision(&failed_arn).to_owned();
    let ended = state != "in_progress";
    let (described, record) = tokio::join!(ecs.describe_task_definition(&failed_arn), async {
        if ended {
            d.open_record(&at, &revision).await
        } else {
            None
        }
    });
    let described = described?;
    let tags = described.as_ref().map(|x| x.tags.as_slice()).unwrap_or_default();
    let tag = |key: &str| tag_value(tags, key).map(str::to_owned);
    // A revision deployed again (`task_definition`) existed long before its deployment: it is not this
    // rollout's to deregister, and its tag names what ran before it was first deployed, not now.
    let existing = described.as_ref().is_some_and(|x| registered_long_before(&x.task_definition, deployment));
    // The history's record of this deploy knows what the service ran right before it.
    let recorded_previous = record.as_ref().and_then(|r| r.entry.previous_task_definition.clone());
    let previous = match (recorded_previous, tag(PREVIOUS_TAG)) {
        (Some(recorded), _) => recorded,
        (None, Some(tagged)) if !existing => tagged,
        (None, Some(_)) => {
            return Ok(ignored(format!(
                "{revision} existed before this deployment and no history record says what ran before it: roll back \
                 with action rollback and \"to\""
            )))
        }
        (None, None) => return Ok(ignored(format!("{revision} was not deployed by ecs-deployer"))),
    };
    let version = tag(VERSION_TAG).unwrap_or_else(|| "unknown".into());
    if family(&previous) != family(&failed_arn) {
        let family = family(&failed_arn).to_owned();
        return Err(rollback::refused(&at, &previous, RollbackRefusal::OtherFamily { family }));
    }
    let mut outcome = json!({
        "status": state,
        "cluster": at.cluster.as_str(),
        "service": at.service.as_str(),
        "deployment_id": detail.deployment_id,
        "task_definition": revision,
        "version": tag(VERSION_TAG),
        "reason": detail.reason,
    });
    let strategy = Strategy::for_service(&svc, &at.service)?;
    if state != "failed" {
        // A rolling update's start was told by the deploy itself; an ECS-native one says where it stands.
        let (event, progress) = match (state, strategy) {
            ("completed", Strategy::Native(kind)) => (DeployEvent::Succeeded, native::current(ecs, &svc, kind).await),
            ("completed", _) => (DeployEvent::Succeeded, None),
            (_, Strategy::Native(kind)) => (DeployEvent::Progress, native::current(ecs, &svc, kind).await),
            _ => return Ok(ignored(format!("{} needs no action on a rolling update", detail.event_name))),
        };
        tracing::info!(cluster = %at.cluster, service = %at.service, "deployment {} {state}", detail.deployment_id);
        let mut n =
            Notification::about(event, &at, d.home_region(), &version, Some(&previous), Some(&revision), None, None);
        if let Some(sd) = progress {
            n.stage = sd.lifecycle_stage.clone();
            n.production_traffic_percent = sd.production_traffic_percent;
            if event == DeployEvent::Progress && sd.status.as_deref() != Some("IN_PROGRESS") {
                n.reason = sd.status.as_ref().map(|status| format!("the service deployment is {status}"));
            }
            outcome["service_deployment"] = serde_json::to_value(&sd).unwrap_or_default();
        }
        if event == DeployEvent::Succeeded {
            tokio::join!(d.send(&n), d.end_record(record, Status::Completed, None, &detail.deployment_id));
        } else {
            d.send(&n).await;
        }
        return Ok(outcome);
    }
    let failure = deployment.rollout_state_reason().or(detail.reason.as_deref()).unwrap_or("the rollout failed");
    // ECS's own rollbacks are never repeated: the circuit breaker's, the deployment alarms' (any strategy), and
    // every rollback of an ECS-native service deployment, which ECS runs itself.
    let by = match strategy {
        Strategy::Native(_) => Some(RolledBackBy::Ecs),
        // CodeDeploy's auto-rollback deployment, never repeated.
        Strategy::CodeDeploy => Some(RolledBackBy::Codedeploy),
        Strategy::Rolling => ecs_rollback_by(&svc, failure),
    };
    if let Some(by) = by {
        outcome["status"] = json!("rolled_back");
        outcome["rollback"] = json!({ "by": by });
        let mut progress = String::new();
        if let Strategy::Native(kind) = strategy {
            // ECS runs the whole service deployment: say where it stands (stage, traffic, hooks).
            if let Some(sd) = native::current(ecs, &svc, kind).await {
                progress = format!(
                    "; {} at {}, {}% of production traffic on the new revision",
                    sd.status.as_deref().unwrap_or("unknown"),
                    sd.lifecycle_stage.as_deref().unwrap_or("an unknown stage"),
                    sd.production_traffic_percent.unwrap_or(0.0)
                );
                outcome["service_deployment"] = serde_json::to_value(&sd).unwrap_or_default();
            }
        }
        let who = match by {
            RolledBackBy::EcsAlarms => "its deployment alarms roll back",
            RolledBackBy::EcsCircuitBreaker => "the circuit breaker rolls back",
            _ => "ECS rolls back",
        };
        let reason = format!("{} ({who}{progress})", detail.reason.as_deref().unwrap_or("the rollout failed"));
        let told = d.tell(
            DeployEvent::RolledBack,
            &at,
            &version,
            Some(&revision),
            Some(&previous),
            Some(reason.clone()),
            None,
        );
        tokio::join!(told, d.end_record(record, Status::RolledBack, Some(reason), &detail.deployment_id));
        return Ok(outcome);
    }
    let primary = primary(&svc);
    if primary.and_then(|p| p.id()) != Some(detail.deployment_id.as_str()) {
        return Ok(ignored(format!(
            "the service has moved on to deployment {}",
            primary.and_then(|p| p.id()).unwrap_or("unknown")
        )));
    }
    let work = async {
        let target = ecs
            .describe_task_definition(&previous)
            .await?
            .ok_or_else(|| DeployError::TaskDefinitionNotFound { task_definition: previous.clone() })?;
        let previous_arn = target
            .task_definition
            .task_definition_arn
            .clone()
            .unwrap_or_else(|| describe_name(&target.task_definition));
        admit_rollback_target(&previous_arn, &target.tags, &failed_arn, Some(&previous), &svc)
            .map_err(|refusal| rollback::refused(&at, &previous_arn, refusal))?;
        // Do not wait for the rollback's rollout here: its own events report how it ends.
        let r = Rollback {
            at: &at,
            strategy,
            from: &failed_arn,
            discard: !existing,
            to: &previous_arn,
            deadline: d.clock().now(),
        };
        rollback::roll_back(ecs, d.clock(), r).await
    };
    let key = at.lock_key(d.home_region());
    let (rolled, _) =
        lock::with_lock(d.lock(), true, key, &inv.request_id, lock::lease(inv.budget), &at.service, work).await?;
    let reason = detail.reason.clone().unwrap_or_else(|| "the rollout failed".into());
    let told =
        d.tell(DeployEvent::RolledBack, &at, &version, Some(&revision), Some(&rolled.to), Some(reason.clone()), None);
    tokio::join!(told, d.end_record(record, Status::RolledBack, Some(reason), &detail.deployment_id));
    outcome["status"] = json!("rolled_back");
    outcome["rollback"] = serde_json::to_value(rolled).unwrap_or_default();
    Ok(outcome)
}
