//! Stage 8: the one way a service goes back to an earlier revision, used by every path (after a failed
//! followed rollout, for `all_or_nothing`, on a failed-deployment event, and the explicit `rollback`
//! action), with one deregistration policy: never the target, never a revision that a deployment or a
//! running task still uses. Every rollback stays in the service's task-definition family
//! ([`crate::verdict::admit_rollback_target`]).

use std::time::Duration;

use aws_sdk_ecs::types::{DesiredStatus, Service, TaskDefinitionStatus};
use contract::request::{Action, DeployRequest};
use contract::result::{
    DeployResult, RollbackReport, RollbackResult, RolledBackBy, RolloutReport, RolloutState, Status, Timings,
};

use crate::error::DeployError;
use crate::lock;
use crate::plan::{describe_name, family, family_revision, tag_value, PREVIOUS_TAG, VERSION_TAG};
use crate::ports::{Clock, DescribedTaskDefinition, Ecs, History, Lock, ServiceLookup};
use crate::request::{DeployTarget, Invocation, RollbackTarget, ServiceRef, ANSWER_MARGIN};
use crate::result::millis;
use crate::strategy::{RestoreError, Restored, Strategy};
use crate::verdict::{admit_rollback_target, may_deregister, RollbackRefusal};

/// One rollback: where, how, to what, and what to do with the revision left behind.
pub struct Rollback<'a> {
    pub at: &'a ServiceRef,
    pub strategy: Strategy,
    /// The revision being left. With `discard`, it is deregistered afterwards when nothing uses it any more.
    pub from: &'a str,
    pub discard: bool,
    /// The revision to go back to (an ARN, or `family:revision`).
    pub to: &'a str,
    /// Until when the restoring rollout is followed (`clock.now()`: read once, not waited for).
    pub deadline: Duration,
}

/// The error for a rollback of `at` to `to` that [`admit_rollback_target`] refused.
pub fn refused(at: &ServiceRef, to: &str, refusal: RollbackRefusal) -> DeployError {
    let (service, to) = (at.service.to_string(), family_revision(to).to_owned());
    match refusal {
        RollbackRefusal::OtherFamily { family } => DeployError::RollbackOutsideFamily { service, family, to },
        RollbackRefusal::Untrusted { reason } => DeployError::UntrustedRollbackTarget { service, to, reason },
    }
}

/// Puts the service back on `r.to`, follows that within `r.deadline`, then applies the deregistration
/// policy to `r.from` when asked to discard it. `r.to` of another family than `r.from` is refused
/// (`RollbackOutsideFamily`) before any call.
pub async fn roll_back<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    r: Rollback<'_>,
) -> Result<(RollbackReport, Restored), DeployError> {
    if family(r.to) != family(r.from) {
        let family = family(r.from).to_owned();
        return Err(refused(r.at, r.to, RollbackRefusal::OtherFamily { family }));
    }
    let to = family_revision(r.to).to_owned();
    tracing::warn!(cluster = %r.at.cluster, service = %r.at.service, "rolling back to {to} from {}", family_revision(r.from));
    let restored = match r.strategy.restore(ecs, clock, r.at, r.to, r.deadline).await {
        Ok(restored) => restored,
        Err(RestoreError::Start(source)) if r.discard => {
            return Err(DeployError::RollbackFailed { task_definition: family_revision(r.from).into(), to, source })
        }
        Err(RestoreError::Start(source)) => return Err(source.into()),
        Err(RestoreError::Follow(e)) => return Err(e),
    };
    let deregistered = if r.discard { deregister_if_unused(ecs, r.at, r.from, r.to).await } else { None };
    let from = family_revision(r.from).to_owned();
    let report = RollbackReport { from, to, by: RolledBackBy::EcsDeployer, state: restored.state, deregistered };
    Ok((report, restored))
}

/// Deregisters `candidate` unless it is `keep` or a deployment or running task still uses it.
async fn deregister_if_unused<E: Ecs>(ecs: &E, at: &ServiceRef, candidate: &str, keep: &str) -> Option<String> {
    let service = match ecs.describe_service(&at.cluster, &at.service).await {
        Ok(ServiceLookup::Found(s)) => *s,
        _ => return None,
    };
    let running = ecs.list_tasks(&at.cluster, &at.service, DesiredStatus::Running).await.ok()?;
    let tasks = ecs.describe_tasks(&at.cluster, &running).await.ok()?;
    if !may_deregister(candidate, keep, &service, &tasks) {
        tracing::info!("keeping {}: still in use", family_revision(candidate));
        return None;
    }
    match ecs.deregister_task_definition(candidate).await {
        Ok(()) => Some(family_revision(candidate).to_owned()),
        Err(e) => {
            tracing::warn!("could not deregister {}: {e}", family_revision(candidate));
            None
        }
    }
}

/// The service, or why there is none.
pub async fn read_service<E: Ecs>(ecs: &E, at: &ServiceRef) -> Result<Service, DeployError> {
    match ecs.describe_service(&at.cluster, &at.service).await? {
        ServiceLookup::Found(service) => Ok(*service),
        ServiceLookup::Missing => {
            Err(DeployError::ServiceNotFound { cluster: at.cluster.to_string(), service: at.service.to_string() })
        }
        ServiceLookup::ClusterMissing => Err(DeployError::ClusterNotFound { cluster: at.cluster.to_string() }),
    }
}

/// The revision an explicit rollback of `service` goes to: `to`, else `recorded` (what the history's newest
/// deploy record of the running revision says ran right before it: after a `task_definition` deploy the
/// revision's tag names what ran before its first deploy), else the one recorded in the running revision's
/// [`PREVIOUS_TAG`]. It must be of the service's family (`RollbackOutsideFamily`, checked before
/// the target is read), exist (`TaskDefinitionNotFound`), be ACTIVE (`NoRollbackTarget`) and be vouched for
/// (`UntrustedRollbackTarget`, see [`admit_rollback_target`]).
pub async fn explicit_target<E: Ecs>(
    ecs: &E,
    at: &ServiceRef,
    service: &Service,
    current: &str,
    to: Option<String>,
    recorded: Option<String>,
) -> Result<DescribedTaskDefinition, DeployError> {
    let described = ecs.describe_task_definition(current).await?;
    let tagged = described.as_ref().and_then(|d| tag_value(&d.tags, PREVIOUS_TAG)).map(str::to_owned);
    let recorded = recorded.or(tagged);
    let Some(to) = to.or_else(|| recorded.clone()) else {
        return Err(DeployError::NoRollbackTarget {
            service: at.service.to_string(),
            reason: format!(
                "{} carries no {PREVIOUS_TAG} tag (it was not deployed by ecs-deployer); name one with \"to\"",
                family_revision(current)
            ),
        });
    };
    if family(&to) != family(current) {
        return Err(refused(at, &to, RollbackRefusal::OtherFamily { family: family(current).to_owned() }));
    }
    let target = ecs
        .describe_task_definition(&to)
        .await?
        .ok_or_else(|| DeployError::TaskDefinitionNotFound { task_definition: to.clone() })?;
    if target.task_definition.status() != Some(&TaskDefinitionStatus::Active) {
        return Err(DeployError::NoRollbackTarget {
            service: at.service.to_string(),
            reason: format!("{to} is not ACTIVE"),
        });
    }
    let target_name = describe_name(&target.task_definition);
    admit_rollback_target(&target_name, &target.tags, current, recorded.as_deref(), service)
        .map_err(|refusal| refused(at, &target_name, refusal))?;
    Ok(target)
}

/// Pure: what the newest deploy record of `current` (`records` newest first) says the service ran right
/// before it.
pub fn recorded_previous(records: &[contract::result::HistoryEntry], current: &str) -> Option<String> {
    records
        .iter()
        .find(|r| r.action == "deploy" && r.task_definition.as_deref().map(family_revision) == Some(current))
        .and_then(|r| r.previous_task_definition.clone())
}

/// The `rollback` action: the service back on the revision recorded when its current one was deployed (the
/// history's record of that deploy, else the revision's tag), or on `to`, under the service's lock — always,
/// `force` included: a rollback racing a cleanup could land on a revision the cleanup deregisters next
/// (issue 23, D6); a held lock is `DeploymentInProgress`. Followed when asked. The revision left is kept: it
/// did not fail. `history` holds the service's records under its lock key; one that cannot be read is
/// logged and the tag answers alone.
#[allow(clippy::too_many_arguments)]
pub async fn explicit<E: Ecs>(
    ecs: &E,
    lock: &dyn Lock,
    history: &dyn History,
    clock: &dyn Clock,
    home_region: &str,
    r: &RollbackTarget,
    inv: &Invocation,
) -> Result<RollbackResult, DeployError> {
    let started = clock.now();
    let key = r.at.lock_key(home_region);
    let work = async {
        let (service, records) =
            tokio::join!(read_service(ecs, &r.at), history.recent(&key, crate::revisions::cleanup::HISTORY_LOOKBACK));
        let service = service?;
        let records: Vec<_> = records.map(|rs| rs.into_iter().map(|r| r.entry).collect()).unwrap_or_else(|e| {
            tracing::warn!(code = e.code().as_str(), "the history records cannot be read; the tag answers: {e}");
            Vec::new()
        });
        let strategy = Strategy::for_service(&service, &r.at.service)?;
        let current = service.task_definition().unwrap_or_default().to_owned();
        if strategy == Strategy::CodeDeploy {
            if let Some(stopped) = stop_codedeploy_in_flight(ecs, clock, r, &current, started, inv).await? {
                return Ok(stopped);
            }
        }
        let recorded = recorded_previous(&records, family_revision(&current));
        let to = r.to.as_ref().map(ToString::to_string);
        let target = explicit_target(ecs, &r.at, &service, &current, to, recorded).await?;
        let target_arn = target
            .task_definition
            .task_definition_arn()
            .map_or_else(|| describe_name(&target.task_definition), str::to_owned);
        let mut result = RollbackResult {
            status: Status::RolledBack,
            cluster: r.at.cluster.to_string(),
            service: r.at.service.to_string(),
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
            let deadline = if r.wait {
                clock.now() + inv.budget.saturating_sub(ANSWER_MARGIN + (clock.now() - started))
            } else {
                clock.now()
            };
            let rollback = Rollback { at: &r.at, strategy, from: &current, discard: false, to: &target_arn, deadline };
            let (_, restored) = roll_back(ecs, clock, rollback).await?;
            result.deployment_id = restored.deployment_id;
            if r.wait {
                let unfinished = restored.state == RolloutState::InProgress;
                if unfinished {
                    result.status = Status::InProgress;
                }
                result.rollout = Some(RolloutReport {
                    check: unfinished.then(|| status_request(&r.at)),
                    ..RolloutReport::new(restored.state)
                });
            }
        }
        result.timings_ms.total = millis(clock.now() - started);
        Ok(result)
    };
    lock::with_lock(lock, true, key.clone(), &inv.request_id, lock::lease(inv.budget), &r.at.service, work).await
}

/// A CODE_DEPLOY service whose group has a deployment in flight: StopDeployment with auto-rollback, and the
/// rollback deployment CodeDeploy created, followed when asked (read at least once: it may be done already).
/// `None` when nothing is in flight.
async fn stop_codedeploy_in_flight<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    r: &RollbackTarget,
    current: &str,
    started: Duration,
    inv: &Invocation,
) -> Result<Option<RollbackResult>, DeployError> {
    use crate::strategy::codedeploy;
    let group = codedeploy::resolve_group(ecs, &r.at).await?;
    let moving = ecs.list_in_flight_deployments(&group.application, &group.name).await?;
    let Some(id) = moving.first() else { return Ok(None) };
    let deadline = if r.wait {
        clock.now() + inv.budget.saturating_sub(ANSWER_MARGIN + (clock.now() - started))
    } else {
        clock.now()
    };
    let restored = codedeploy::stop(ecs, clock, id, deadline).await.map_err(|e| match e {
        RestoreError::Start(e) => DeployError::from(e),
        RestoreError::Follow(e) => e,
    })?;
    let unfinished = restored.state == RolloutState::InProgress;
    let revision = family_revision(current).to_owned();
    Ok(Some(RollbackResult {
        status: if unfinished && r.wait { Status::InProgress } else { Status::RolledBack },
        cluster: r.at.cluster.to_string(),
        service: r.at.service.to_string(),
        from: revision.clone(),
        to: revision,
        version: None,
        deployment_id: restored.deployment_id,
        rollout: Some(RolloutReport {
            check: unfinished.then(|| status_request(&r.at)),
            ..RolloutReport::new(restored.state)
        }),
        timings_ms: Timings { total: millis(clock.now() - started), ..Timings::default() },
    }))
}

/// The request that shows how an unfinished rollout of `at` ends.
pub fn status_request(at: &ServiceRef) -> DeployRequest {
    DeployRequest {
        action: Action::Status,
        cluster: Some(at.cluster.to_string()),
        service: Some(at.service.to_string()),
        ..DeployRequest::default()
    }
}

/// `all_or_nothing`: puts a deployed target back on the revision it ran before, at once (not followed); the
/// new revision is deregistered when nothing uses it any more.
pub async fn put_back<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    t: &DeployTarget,
    mut deployed: DeployResult,
) -> Result<DeployResult, DeployError> {
    let new = deployed.task_definition.clone().unwrap_or_default();
    let previous = deployed.previous_task_definition.clone();
    let service = read_service(ecs, &t.at).await?;
    let strategy = Strategy::for_service(&service, &t.at.service)?;
    let r = Rollback { at: &t.at, strategy, from: &new, discard: true, to: &previous, deadline: clock.now() };
    roll_back(ecs, clock, r).await?;
    deployed.status = Status::RolledBack;
    deployed.task_definition = Some(previous);
    Ok(deployed)
}
