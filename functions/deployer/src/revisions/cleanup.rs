//! `cleanup`: deregister the family's ACTIVE revisions beyond the newest `keep`, except those in use.
//!
//! Two halves. [`decide`] (and [`decide_inactive`]) is pure: from the family's revisions and the facts of
//! use it says what goes and what stays, with every reason. [`run`] gathers those facts in one parallel
//! round, decides, and (unless `dry_run`) deregisters one revision at a time, paced, until its deadline.
//!
//! A revision stays when any of these uses it ([`KeepReason`]):
//! - one of the newest `keep` ACTIVE revisions (`newest`);
//! - a deployment of the service (`deployments[].taskDefinition`: PRIMARY and ACTIVE, which during an
//!   ECS-native blue/green, linear or canary deployment are the green and the blue revision), or a task set of
//!   a CODE_DEPLOY service (`taskSets[].taskDefinition`: blue and green) (`deployment`);
//! - a task of the cluster of the family whose desired status is RUNNING (ListTasks with `family`: RUNNING
//!   and PENDING tasks, whoever started them) (`task`);
//! - an EventBridge rule of the default bus whose ECS target is the cluster; a target naming the family
//!   without a revision runs the newest ACTIVE one, which is kept (`scheduled_task`);
//! - another service of the cluster (its task definition or any of its deployments) (`other_service`);
//! - the revision recorded ([`PREVIOUS_TAG`]) as the rollback target of a revision the service's deployments
//!   run, and the revision the history's newest deploy record of such a revision says the service ran right
//!   before it — what a `rollback` without `to` goes to after a `task_definition` deploy, whose revision
//!   carries the tag of its first deploy (`rollback_target`). One level only: the kept rollback target's own
//!   record is not followed, or a deploy history would keep every revision it ever had.
//!
//! The facts are read once; then, under the service's lock (which every deploy and rollback takes), the
//! service is read again before each deregistration, and a revision one of its deployments now runs is kept
//! (`deployment`): whatever moved the service meanwhile, it never runs an INACTIVE revision because of this.
//!
//! Not looked at: services and tasks of other clusters, EventBridge Scheduler schedules, rules on custom
//! event buses, and anything in other accounts. A revision they run keeps running when it is deregistered
//! (ECS: "existing tasks and services that reference an INACTIVE task definition continue to run"); only new
//! tasks of it can no longer start.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_ecs::types::{Service, Tag, Task, TaskDefinitionStatus};
use contract::result::{CleanupFailure, CleanupResult, CleanupStatus, HistoryEntry, KeepReason, Kept, KeptRevision};
use contract::AwsError;
use tracing::Instrument;

use crate::error::DeployError;
use crate::plan::{family, family_revision, tag_value, PREVIOUS_TAG};
use crate::ports::{Clock, Ecs, History, RuleTarget, ServiceLookup};
use crate::request::{CleanupTarget, ServiceRef};

/// The pause between two DeregisterTaskDefinition calls. DeregisterTaskDefinition shares one throttling
/// bucket with RegisterTaskDefinition per account and region: burst 20, refilled at 1 per second ("Request
/// throttling for the Amazon ECS API",
/// <https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html>, as the project's
/// PITFALLS notes list it). One call a second stays at the sustained rate, so a long cleanup never drains
/// the burst that deploys of the same account and region register with. A throttled call is still retried
/// with backoff by the SDK's standard retry mode.
pub const DEREGISTER_PACE: Duration = Duration::from_secs(1);

/// The most revisions one DeleteTaskDefinitions takes.
pub const DELETE_BATCH: usize = 10;

/// One fact of use: `task_definition` (an ARN, `family:revision`, or a family alone, meaning its newest
/// ACTIVE revision) is used for `reason` by `by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Use {
    pub task_definition: String,
    pub reason: KeepReason,
    pub by: Option<String>,
}

impl Use {
    pub fn new(task_definition: impl Into<String>, reason: KeepReason, by: impl Into<String>) -> Use {
        Use { task_definition: task_definition.into(), reason, by: Some(by.into()) }
    }
}

/// What [`decide`] says of the family's ACTIVE revisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The revisions to deregister (as given, usually ARNs), oldest first.
    pub deregister: Vec<String>,
    /// The revisions that stay, newest first, each with every reason (`family:revision`).
    pub kept: Vec<KeptRevision>,
}

/// The revision of `family` that `named` means, as `family:revision`: `None` for another family, or for
/// the family alone when it has no ACTIVE revision.
fn meant<'a>(named: &'a str, family_name: &str, newest_active: Option<&'a str>) -> Option<&'a str> {
    let fr = family_revision(named);
    if family(fr) != family_name {
        return None;
    }
    if fr == family_name {
        // A family without revision: ECS takes its newest ACTIVE revision.
        return newest_active.map(family_revision);
    }
    Some(fr)
}

/// Every reason `uses` give to keep `revision` (`family:revision`), sorted, without repeats.
fn reasons_for(revision: &str, family_name: &str, newest_active: Option<&str>, uses: &[Use]) -> Vec<Kept> {
    let reasons: BTreeSet<(KeepReason, Option<String>)> = uses
        .iter()
        .filter(|u| meant(&u.task_definition, family_name, newest_active) == Some(revision))
        .map(|u| (u.reason, u.by.clone()))
        .collect();
    reasons.into_iter().map(|(reason, by)| Kept { reason, by }).collect()
}

/// Pure: which of `family`'s ACTIVE revisions (`active`, newest first) go and which stay. The newest `keep`
/// stay whatever uses them; an older one stays when any of `uses` names it. Uses of other families are
/// ignored.
pub fn decide(family_name: &str, active: &[String], keep: u32, uses: &[Use]) -> Decision {
    let newest = active.first().map(String::as_str);
    let mut kept = Vec::new();
    let mut deregister = Vec::new();
    for (i, arn) in active.iter().enumerate() {
        let revision = family_revision(arn);
        let mut reasons = Vec::new();
        if i < keep as usize {
            reasons.push(Kept { reason: KeepReason::Newest, by: None });
        }
        reasons.extend(reasons_for(revision, family_name, newest, uses));
        if reasons.is_empty() {
            deregister.push(arn.clone());
        } else {
            kept.push(KeptRevision { task_definition: revision.to_owned(), reasons });
        }
    }
    deregister.reverse();
    Decision { deregister, kept }
}

/// Pure: which of the family's INACTIVE revisions (`inactive`) may be deleted: those nothing in `uses`
/// names (a family without revision means an ACTIVE one, never these). Answers (to delete, in the order
/// given; kept, each with its reasons).
pub fn decide_inactive(family_name: &str, inactive: &[String], uses: &[Use]) -> (Vec<String>, Vec<KeptRevision>) {
    let mut delete = Vec::new();
    let mut kept = Vec::new();
    for arn in inactive {
        let revision = family_revision(arn);
        let reasons = reasons_for(revision, family_name, None, uses);
        if reasons.is_empty() {
            delete.push(arn.clone());
        } else {
            kept.push(KeptRevision { task_definition: revision.to_owned(), reasons });
        }
    }
    (delete, kept)
}

/// The service's deployments: each revision a deployment names, held by the deployment's id; for a
/// CODE_DEPLOY (or EXTERNAL) service, each task set's (blue and green), held by the task set's id.
pub fn deployment_uses(service: &Service) -> Vec<Use> {
    let deployments = service.deployments().iter().filter_map(|d| {
        let td = d.task_definition()?;
        Some(Use::new(td, KeepReason::Deployment, d.id().unwrap_or("deployment")))
    });
    let task_sets = service.task_sets().iter().filter_map(|t| {
        let td = t.task_definition()?;
        Some(Use::new(td, KeepReason::Deployment, t.id().unwrap_or("task set")))
    });
    let mut uses: Vec<Use> = deployments.chain(task_sets).collect();
    if let Some(td) = service.task_definition() {
        if uses.is_empty() {
            uses.push(Use::new(td, KeepReason::Deployment, service.service_name().unwrap_or("service")));
        }
    }
    uses
}

/// The tasks (RUNNING or PENDING) and the revision each runs, held by the task's id.
pub fn task_uses(tasks: &[Task]) -> Vec<Use> {
    tasks
        .iter()
        .filter(|t| t.last_status() != Some("STOPPED"))
        .filter_map(|t| {
            let td = t.task_definition_arn()?;
            let id = t.task_arn().map(|a| a.rsplit('/').next().unwrap_or(a)).unwrap_or("task");
            Some(Use::new(td, KeepReason::Task, id))
        })
        .collect()
}

/// The EventBridge targets that start tasks in `cluster_arn`, held by their rule's name.
pub fn rule_uses(targets: &[RuleTarget], cluster_arn: &str) -> Vec<Use> {
    targets
        .iter()
        .filter(|t| t.arn == cluster_arn)
        .filter_map(|t| Some(Use::new(t.task_definition.clone()?, KeepReason::ScheduledTask, t.rule.clone())))
        .collect()
}

/// The other services of the cluster (any but `ours`): the revision each runs and those its deployments
/// name, held by the service's name.
pub fn other_service_uses(services: &[Service], ours: &str) -> Vec<Use> {
    let mut uses = Vec::new();
    for svc in services {
        let name = svc.service_name().unwrap_or_default();
        if name == ours || svc.status() == Some("INACTIVE") {
            continue;
        }
        let named =
            svc.task_definition().into_iter().chain(svc.deployments().iter().filter_map(|d| d.task_definition()));
        for td in named {
            uses.push(Use::new(td, KeepReason::OtherService, name));
        }
    }
    uses
}

/// The rollback targets recorded ([`PREVIOUS_TAG`]) on the revisions the service runs: (revision, its tags)
/// → a use of the target held by that revision.
pub fn rollback_uses(in_use: &[(String, Vec<Tag>)]) -> Vec<Use> {
    in_use
        .iter()
        .filter_map(|(holder, tags)| {
            let target = tag_value(tags, PREVIOUS_TAG)?;
            Some(Use::new(target, KeepReason::RollbackTarget, family_revision(holder)))
        })
        .collect()
}

/// How many of the service's newest history records [`run`] reads for [`recorded_uses`].
pub const HISTORY_LOOKBACK: u32 = 10;

/// The revisions the service's history records as what it ran right before a deploy of a revision it runs
/// (`in_use`, `family:revision`): for each, the newest deploy record of it names its `previous_task_definition`,
/// a use held by that revision. `records` are newest first.
pub fn recorded_uses(records: &[HistoryEntry], in_use: &BTreeSet<&str>) -> Vec<Use> {
    let mut seen = BTreeSet::new();
    let mut uses = Vec::new();
    for r in records.iter().filter(|r| r.action == "deploy") {
        let Some(td) = r.task_definition.as_deref().map(family_revision) else { continue };
        if !in_use.contains(td) || !seen.insert(td) {
            continue;
        }
        if let Some(previous) = &r.previous_task_definition {
            uses.push(Use::new(previous.clone(), KeepReason::RollbackTarget, td));
        }
    }
    uses
}

/// The facts [`run`] gathers, besides the service itself.
struct Facts {
    active: Vec<String>,
    inactive: Vec<String>,
    uses: Vec<Use>,
}

/// Reads everything that decides, in one parallel round (each branch pages and batches on its own).
async fn gather<E: Ecs>(
    ecs: &E,
    cluster: &str,
    cluster_arn: &str,
    service: &Service,
    family_name: &str,
    delete_inactive: bool,
    records: &[HistoryEntry],
) -> Result<Facts, AwsError> {
    let ours = service.service_name().unwrap_or_default();
    let deployments = deployment_uses(service);
    let in_use: BTreeSet<&str> = deployments
        .iter()
        .map(|u| family_revision(&u.task_definition))
        .filter(|fr| family(fr) == family_name)
        .collect();
    let active = ecs.list_task_definitions(family_name, TaskDefinitionStatus::Active);
    let inactive = async {
        if delete_inactive {
            ecs.list_task_definitions(family_name, TaskDefinitionStatus::Inactive).await
        } else {
            Ok(Vec::new())
        }
    };
    let tasks = async {
        let arns = ecs.list_family_tasks(cluster, family_name).await?;
        if arns.is_empty() {
            return Ok(Vec::new());
        }
        ecs.describe_tasks(cluster, &arns).await
    };
    let services = async {
        let arns = ecs.list_services(cluster).await?;
        // Our own service is already read.
        let others: Vec<String> = arns.into_iter().filter(|a| a.rsplit('/').next() != Some(ours)).collect();
        if others.is_empty() {
            return Ok(Vec::new());
        }
        ecs.describe_services(cluster, &others).await
    };
    let rules = async {
        let names = ecs.list_rule_names_by_target(cluster_arn).await?;
        let listed = futures_util::future::try_join_all(names.iter().map(|r| ecs.list_targets_by_rule(r))).await?;
        Ok::<_, AwsError>(listed.into_iter().flatten().collect::<Vec<_>>())
    };
    let tags = futures_util::future::try_join_all(in_use.iter().map(|fr| async move {
        let described = ecs.describe_task_definition(fr).await?;
        Ok::<_, AwsError>(((*fr).to_owned(), described.map(|d| d.tags).unwrap_or_default()))
    }));
    let (active, inactive, tasks, services, rules, tags) = tokio::join!(active, inactive, tasks, services, rules, tags);
    let recorded = recorded_uses(records, &in_use);
    let mut uses = deployments;
    uses.extend(task_uses(&tasks?));
    uses.extend(rule_uses(&rules?, cluster_arn));
    uses.extend(other_service_uses(&services?, ours));
    uses.extend(rollback_uses(&tags?));
    uses.extend(recorded);
    Ok(Facts { active: active?, inactive: inactive?, uses })
}

fn failure(arn: &str, e: &AwsError) -> CleanupFailure {
    CleanupFailure {
        task_definition: family_revision(arn).to_owned(),
        code: e.aws_code.clone().unwrap_or_else(|| format!("{:?}", e.kind)),
        message: e.message.clone(),
    }
}

/// Cleans up the family of `target.at`'s service. `history` holds the service's records under `key` (its
/// lock key). `deadline` is a time on `clock` ([`Clock::now`]): no deregistration or deletion starts after
/// it, and what is left is counted in `remaining`. Takes no lock: the caller holds the service's (the
/// `cleanup` action takes it; a deploy cleaning up after itself already holds it).
///
/// Errors: `ServiceNotFound`, `ClusterNotFound`, and an AWS error while reading the facts or the history
/// (then nothing was changed: a rollback target the history knows is never lost to a failed read). A
/// revision that fails to go is a `failures` entry (status `partial`), and the others still go.
pub async fn run<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    history: &dyn History,
    key: &str,
    target: &CleanupTarget,
    deadline: Duration,
) -> Result<CleanupResult, DeployError> {
    let at = &target.at;
    let span = tracing::info_span!(
        "cleanup",
        cluster = %at.cluster,
        service = %at.service,
        keep = target.keep,
        dry_run = target.dry_run,
        family = tracing::field::Empty,
    );
    async {
        let (cluster, service) = (at.cluster.name(), at.service.name());
        let (looked_up, described_cluster, records) = tokio::join!(
            ecs.describe_service(cluster, service),
            ecs.describe_cluster(cluster),
            history.recent(key, HISTORY_LOOKBACK)
        );
        let svc = match looked_up? {
            ServiceLookup::Found(s) => s,
            ServiceLookup::Missing => {
                return Err(DeployError::ServiceNotFound { cluster: cluster.to_owned(), service: service.to_owned() })
            }
            ServiceLookup::ClusterMissing => return Err(DeployError::ClusterNotFound { cluster: cluster.to_owned() }),
        };
        let Some(cluster_arn) = described_cluster?.and_then(|c| c.cluster_arn) else {
            return Err(DeployError::ClusterNotFound { cluster: cluster.to_owned() });
        };
        let running = svc.task_definition().unwrap_or_default();
        let family_name = family(running).to_owned();
        if family_name.is_empty() {
            return Err(DeployError::TaskDefinitionNotFound {
                task_definition: format!("(service {service} names none)"),
            });
        }
        tracing::Span::current().record("family", family_name.as_str());
        let records: Vec<HistoryEntry> = records?.into_iter().map(|r| r.entry).collect();
        let facts = gather(ecs, cluster, &cluster_arn, &svc, &family_name, target.delete_inactive, &records).await?;
        let decision = decide(&family_name, &facts.active, target.keep, &facts.uses);
        let (to_delete, kept_inactive) = if target.delete_inactive {
            decide_inactive(&family_name, &facts.inactive, &facts.uses)
        } else {
            (Vec::new(), Vec::new())
        };
        let mut result = CleanupResult {
            status: CleanupStatus::DryRun,
            cluster: cluster.to_owned(),
            service: service.to_owned(),
            family: family_name.clone(),
            keep: target.keep,
            deregistered: Vec::new(),
            deleted: Vec::new(),
            kept: decision.kept,
            kept_inactive,
            failures: Vec::new(),
            remaining: 0,
        };
        if target.dry_run {
            result.deregistered = decision.deregister.iter().map(|a| family_revision(a).to_owned()).collect();
            result.deleted = to_delete.iter().map(|a| family_revision(a).to_owned()).collect();
            tracing::info!(
                would_deregister = result.deregistered.len(),
                would_delete = result.deleted.len(),
                "cleanup dry run"
            );
            return Ok(result);
        }
        deregister_paced(ecs, clock, at, &decision.deregister, deadline, &mut result).await;
        delete_batches(ecs, clock, &to_delete, deadline, &mut result).await;
        result.status = if result.failures.is_empty() && result.remaining == 0 {
            CleanupStatus::Cleaned
        } else {
            CleanupStatus::Partial
        };
        tracing::info!(
            deregistered = result.deregistered.len(),
            deleted = result.deleted.len(),
            failures = result.failures.len(),
            remaining = result.remaining,
            "cleanup finished"
        );
        Ok(result)
    }
    .instrument(span)
    .await
}

/// The deployments of `at`'s service, read again just before a deregistration: the uses they make now.
async fn deployments_now<E: Ecs>(ecs: &E, at: &ServiceRef) -> Result<Vec<Use>, AwsError> {
    match ecs.describe_service(at.cluster.name(), at.service.name()).await? {
        ServiceLookup::Found(s) => Ok(deployment_uses(&s)),
        ServiceLookup::Missing | ServiceLookup::ClusterMissing => Ok(Vec::new()),
    }
}

/// Deregisters `arns` in order, one at a time, [`DEREGISTER_PACE`] apart, none started after `deadline`.
/// Before each, `at`'s service is read again: a revision one of its deployments now runs is kept (added to
/// `kept` with reason `deployment`), and one that cannot be checked is a failure, not deregistered.
async fn deregister_paced<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    at: &ServiceRef,
    arns: &[String],
    deadline: Duration,
    result: &mut CleanupResult,
) {
    for (i, arn) in arns.iter().enumerate() {
        if i > 0 {
            if clock.now() + DEREGISTER_PACE > deadline {
                result.remaining += u32::try_from(arns.len() - i).unwrap_or(u32::MAX);
                return;
            }
            clock.sleep(DEREGISTER_PACE).await;
        }
        if clock.now() > deadline {
            result.remaining += u32::try_from(arns.len() - i).unwrap_or(u32::MAX);
            return;
        }
        let revision = family_revision(arn);
        match deployments_now(ecs, at).await {
            Ok(uses) => {
                let now: Vec<Kept> = reasons_for(revision, family(revision), None, &uses);
                if !now.is_empty() {
                    tracing::warn!("keeping {revision}: the service moved onto it since the cleanup decided");
                    result.kept.push(KeptRevision { task_definition: revision.to_owned(), reasons: now });
                    continue;
                }
            }
            Err(e) => {
                tracing::warn!("could not read the service again before deregistering {revision}: {e}");
                result.failures.push(failure(arn, &e));
                continue;
            }
        }
        match ecs.deregister_task_definition(arn).await {
            Ok(()) => result.deregistered.push(revision.to_owned()),
            Err(e) => {
                tracing::warn!("could not deregister {}: {e}", family_revision(arn));
                result.failures.push(failure(arn, &e));
            }
        }
    }
}

/// Deletes `arns` (INACTIVE, unused) [`DELETE_BATCH`] at a time, none started after `deadline`.
async fn delete_batches<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    arns: &[String],
    deadline: Duration,
    result: &mut CleanupResult,
) {
    let batches: Vec<&[String]> = arns.chunks(DELETE_BATCH).collect();
    for (i, batch) in batches.iter().enumerate() {
        if clock.now() > deadline {
            let left: usize = batches[i..].iter().map(|b| b.len()).sum();
            result.remaining += u32::try_from(left).unwrap_or(u32::MAX);
            return;
        }
        match ecs.delete_task_definitions(batch).await {
            Ok(answer) => {
                result.deleted.extend(answer.deleted.iter().map(|a| family_revision(a).to_owned()));
                result.failures.extend(answer.failures.into_iter().map(|(arn, reason)| CleanupFailure {
                    task_definition: family_revision(&arn).to_owned(),
                    code: "DeleteTaskDefinitionsFailure".into(),
                    message: reason,
                }));
            }
            Err(e) => {
                tracing::warn!("could not delete {} INACTIVE revisions: {e}", batch.len());
                result.failures.extend(batch.iter().map(|arn| failure(arn, &e)));
            }
        }
    }
}

/// What a deploy calls once it went well, while it still holds the service's lock: cleans `at`'s family up,
/// keeping `keep` revisions (the deploy's `keep`, from the request or `DEPLOY_KEEP_REVISIONS`), never a
/// dry run, never deleting INACTIVE revisions. `deadline` is a time on `clock`. An error here should be
/// reported beside the deploy's result, not fail the deploy: the new revision is already out.
pub async fn after_deploy<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    history: &dyn History,
    key: &str,
    at: &ServiceRef,
    keep: u32,
    deadline: Duration,
) -> Result<CleanupResult, DeployError> {
    let target = CleanupTarget { at: at.clone(), keep, delete_inactive: false, dry_run: false };
    run(ecs, clock, history, key, &target, deadline).await
}

#[cfg(test)]
mod tests;
