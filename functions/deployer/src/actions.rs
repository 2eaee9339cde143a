//! The explicit actions beside deploy: `rollback` and `status`.

use std::time::Instant;

use aws_sdk_ecs::types::{Service, TaskDefinitionStatus};
use serde::Serialize;
use serde_json::{json, Value};

use crate::aws::{Aws, ServiceLookup};
use crate::engine::{deployment_for, ms, Deployer, Invocation, RolloutReport, Status, Timings, ANSWER_MARGIN};
use crate::error::DeployError;
use crate::plan::{describe_name, family_revision, tag_value, PREVIOUS_TAG, VERSION_TAG};
use crate::request::{DeployRequest, ServiceRef, Target};
use crate::rollout::{last_events, primary, state_name, Tracked, Verdict};
use crate::version::Version;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollbackResult {
    /// `rolled_back`, `in_progress` (with `wait`, when time ran short) or `already_deployed` (the service
    /// already runs the target).
    pub status: Status,
    pub cluster: String,
    pub service: String,
    pub from: String,
    pub to: String,
    /// The `Version` tag of the revision rolled back to, when it has one.
    pub version: Option<String>,
    pub deployment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutReport>,
    pub timings_ms: Timings,
}

/// Refuses fields that belong to another action, so that a request means one thing.
fn only_service_fields(request: &DeployRequest, action: &str, allow_wait: bool) -> Result<(), DeployError> {
    let stray = [
        ("version", request.version.is_some()),
        ("repository", request.repository.is_some()),
        ("containers", request.containers.is_some()),
        ("base", request.base.is_some()),
        ("dry_run", request.dry_run),
        ("targets", request.targets.is_some()),
        ("all_or_nothing", request.all_or_nothing),
        ("rollback", request.rollback.is_some()),
        ("wait", request.wait && !allow_wait),
        ("force", request.force && !allow_wait),
        ("to", request.to.is_some() && !allow_wait),
    ];
    match stray.iter().find(|(_, set)| *set) {
        Some((field, _)) => {
            Err(DeployError::InvalidRequest { reason: format!("\"{field}\" does not go with action {action}") })
        }
        None => Ok(()),
    }
}

/// `family:revision` (or a task-definition ARN) for `to`.
fn check_revision(to: &str) -> Result<(), DeployError> {
    let name = family_revision(to);
    let ok = name.rsplit_once(':').is_some_and(|(family, revision)| {
        !family.is_empty()
            && family.len() <= 255
            && family.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !revision.is_empty()
            && revision.bytes().all(|b| b.is_ascii_digit())
    });
    if ok {
        Ok(())
    } else {
        Err(DeployError::InvalidRequest { reason: format!("\"to\" is {to:?}; it takes family:revision") })
    }
}

impl<A: Aws> Deployer<A> {
    async fn service(&self, aws: &A, s: &ServiceRef) -> Result<Service, DeployError> {
        match aws.describe_service(&s.cluster, &s.service).await? {
            ServiceLookup::Found(service) => Ok(*service),
            ServiceLookup::Missing => {
                Err(DeployError::ServiceNotFound { cluster: s.cluster.clone(), service: s.service.clone() })
            }
            ServiceLookup::ClusterMissing => Err(DeployError::ClusterNotFound { cluster: s.cluster.clone() }),
        }
    }

    /// Puts the service back on the revision recorded when its current one was deployed, or on `to`.
    pub async fn rollback(&self, request: DeployRequest, inv: &Invocation) -> Result<RollbackResult, DeployError> {
        let started = Instant::now();
        only_service_fields(&request, "rollback", true)?;
        if let Some(to) = &request.to {
            check_revision(to)?;
        }
        let s = ServiceRef::resolve(request.cluster.clone(), request.service.clone(), &self.defaults)?;
        let aws = &*self.home;
        // A rollback is a deploy of an older revision: it takes the same lock, unless forced.
        let target = Target::of_service(&s, Version::Tag("rollback".into()), request.wait, request.force);
        let work = self.roll_back_service(aws, &target, request.to.as_deref(), inv, started);
        self.holding_lock(aws, &target, inv, work).await
    }

    async fn roll_back_service(
        &self,
        aws: &A,
        t: &Target,
        to: Option<&str>,
        inv: &Invocation,
        started: Instant,
    ) -> Result<RollbackResult, DeployError> {
        let s = ServiceRef { cluster: t.cluster.clone(), service: t.service.clone() };
        let service = self.service(aws, &s).await?;
        let current = service.task_definition().unwrap_or_default().to_owned();
        let described = aws.describe_task_definition(&current).await?;
        let recorded = described.as_ref().and_then(|d| tag_value(&d.tags, PREVIOUS_TAG)).map(str::to_owned);
        let Some(to) = to.map(str::to_owned).or(recorded) else {
            return Err(DeployError::NoRollbackTarget {
                service: t.service.clone(),
                reason: format!(
                    "{} carries no {PREVIOUS_TAG} tag (it was not deployed by ecs-deployer); name one with \"to\"",
                    family_revision(&current)
                ),
            });
        };
        let target = aws
            .describe_task_definition(&to)
            .await?
            .ok_or_else(|| DeployError::TaskDefinitionNotFound { task_definition: to.clone() })?;
        if target.task_definition.status() != Some(&TaskDefinitionStatus::Active) {
            return Err(DeployError::NoRollbackTarget {
                service: t.service.clone(),
                reason: format!("{to} is not ACTIVE"),
            });
        }
        let target_arn = target.task_definition.task_definition_arn().unwrap_or(&to).to_owned();
        let mut result = RollbackResult {
            status: Status::RolledBack,
            cluster: t.cluster.clone(),
            service: t.service.clone(),
            from: family_revision(&current).to_owned(),
            to: describe_name(&target.task_definition),
            version: tag_value(&target.tags, VERSION_TAG).map(str::to_owned),
            deployment_id: None,
            rollout: None,
            timings_ms: Timings::default(),
        };
        if family_revision(&current) == family_revision(&target_arn) {
            result.status = Status::AlreadyDeployed;
        } else {
            let updated = aws.update_service(&t.cluster, &t.service, &target_arn).await?;
            result.deployment_id = deployment_for(&updated, &target_arn);
            tracing::warn!(cluster = %t.cluster, service = %t.service, "rolled back from {} to {}", result.from, result.to);
            if t.wait {
                let deadline = aws.now() + inv.budget.saturating_sub(ANSWER_MARGIN + started.elapsed());
                let tracked = Tracked {
                    deployment_id: result.deployment_id.as_deref(),
                    task_definition: &target_arn,
                    max_failed_tasks: i32::MAX,
                };
                let followed = self.follow(aws, &t.cluster, &t.service, tracked, deadline).await?;
                let state = state_name(followed.verdict.as_ref());
                if matches!(followed.verdict, None | Some(Verdict::InProgress { .. })) {
                    result.status = Status::InProgress;
                }
                result.rollout = Some(RolloutReport {
                    state: state.into(),
                    failure: None,
                    rollback: None,
                    check: (result.status == Status::InProgress)
                        .then(|| json!({"action": "status", "cluster": t.cluster, "service": t.service})),
                });
            }
        }
        result.timings_ms.total = ms(started);
        Ok(result)
    }

    /// What the service runs and how its rollout is going.
    pub async fn status(&self, request: DeployRequest) -> Result<Value, DeployError> {
        only_service_fields(&request, "status", false)?;
        let s = ServiceRef::resolve(request.cluster, request.service, &self.defaults)?;
        let aws = &*self.home;
        let service = self.service(aws, &s).await?;
        let current = service.task_definition().unwrap_or_default();
        let described = aws.describe_task_definition(current).await?;
        let tags = described.as_ref().map(|d| d.tags.as_slice()).unwrap_or_default();
        let primary = primary(&service);
        Ok(json!({
            "status": "ok",
            "cluster": s.cluster,
            "service": s.service,
            "task_definition": family_revision(current),
            "version": tag_value(tags, VERSION_TAG),
            "previous_task_definition": tag_value(tags, PREVIOUS_TAG),
            "rollout_state": primary.and_then(|d| d.rollout_state()).map(|r| r.as_str()),
            "running_count": service.running_count,
            "desired_count": service.desired_count,
            "pending_count": service.pending_count,
            "deployments": service.deployments().iter().map(|d| json!({
                "id": d.id(),
                "status": d.status(),
                "task_definition": d.task_definition().map(family_revision),
                "rollout_state": d.rollout_state().map(|r| r.as_str()),
                "rollout_state_reason": d.rollout_state_reason(),
                "running_count": d.running_count,
                "desired_count": d.desired_count,
                "failed_tasks": d.failed_tasks,
            })).collect::<Vec<_>>(),
            "events": last_events(&service, 5),
        }))
    }
}
