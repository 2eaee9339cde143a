//! Stage 6, I/O: reading a rolling update every few seconds until [`crate::verdict::judge`] says it is done,
//! failed or replaced, or until the deadline; and gathering ECS's own words when it failed. [`follow_deploy`]
//! follows a deploy's rollout with its strategy and records the verdict, and any rollback, in its result.

use std::time::Duration;

use aws_sdk_ecs::types::{DesiredStatus, Service};
use contract::result::{
    CodeDeployReport, DeployResult, FailureReport, RollbackReport, RolledBackBy, RolloutReport, RolloutState,
    ServiceDeploymentReport, Status,
};

use crate::error::DeployError;
use crate::plan::{family_revision, same_revision};
use crate::ports::{Clock, Ecs, ServiceLookup};
use crate::request::{DeployTarget, ServiceRef};
use crate::rollback;
use crate::rollout::{drive, Observer, Phase, Reading};
use crate::strategy::{Seen, Strategy};
use crate::verdict::{ecs_rollout_state, judge, last_events, primary, stopped_tasks, EcsRollback, Tracked, Verdict};

/// The one read interval and its jitter, the drive's: the strategies' own follow loops read as often.
pub use crate::rollout::drive::jitter;
pub use crate::rollout::POLL_INTERVAL;

/// How a followed deployment ended, and the service as last seen.
pub struct Followed {
    /// `None`: still in progress when the time ran out.
    pub verdict: Option<Verdict>,
    pub service: Service,
    /// The ECS-native service deployment as last read (BLUE_GREEN, LINEAR, CANARY).
    pub service_deployment: Option<ServiceDeploymentReport>,
    /// When ECS rolled the failure back by itself and the strategy knows who and how far: by whom.
    pub ecs_rollback: Option<EcsRollback>,
    /// The CodeDeploy deployment as last read (CODE_DEPLOY services).
    pub codedeploy: Option<contract::result::CodeDeployReport>,
}

/// Reads the service every few seconds until the tracked deployment completes, fails or is replaced, or
/// until `deadline` on `clock`. A failed read is retried at the next poll.
pub async fn follow<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    at: &ServiceRef,
    tracked: Tracked<'_>,
    deadline: Duration,
) -> Result<Followed, DeployError> {
    let gone = || DeployError::ServiceNotFound { cluster: at.cluster.to_string(), service: at.service.to_string() };
    let mut last: Option<Service> = None;
    loop {
        match ecs.describe_service(&at.cluster, &at.service).await {
            Ok(ServiceLookup::Found(svc)) => {
                let verdict = judge(&svc, &tracked);
                tracing::debug!(?verdict, "rollout");
                if !matches!(verdict, Verdict::InProgress { .. }) {
                    let service = *svc;
                    return Ok(Followed {
                        verdict: Some(verdict),
                        service,
                        service_deployment: None,
                        ecs_rollback: None,
                        codedeploy: None,
                    });
                }
                last = Some(*svc);
            }
            Ok(_) => return Err(gone()),
            Err(e) => tracing::warn!("reading the rollout failed, trying again: {e}"),
        }
        let pause = POLL_INTERVAL + jitter(clock);
        if clock.now() + pause > deadline {
            return last
                .map(|service| Followed {
                    verdict: None,
                    service,
                    service_deployment: None,
                    ecs_rollback: None,
                    codedeploy: None,
                })
                .ok_or_else(gone);
        }
        clock.sleep(pause).await;
    }
}

/// The failure in ECS's words: the reason, the latest service events, and the stopped tasks' reasons.
pub async fn failure_report<E: Ecs>(
    ecs: &E,
    at: &ServiceRef,
    service: &Service,
    failed_arn: &str,
    reason: String,
) -> FailureReport {
    let stopped = match ecs.list_tasks(&at.cluster, &at.service, DesiredStatus::Stopped).await {
        Ok(arns) if !arns.is_empty() => {
            let recent: Vec<String> = arns.into_iter().take(100).collect();
            ecs.describe_tasks(&at.cluster, &recent).await.unwrap_or_default()
        }
        _ => Vec::new(),
    };
    FailureReport { reason, events: last_events(service, 5), stopped_tasks: stopped_tasks(&stopped, failed_arn, 5) }
}

/// A deploy's rollout as a [`crate::rollout::RolloutState`]: `new_arn` rolled out over `previous_arn` with
/// `strategy`, begun at `started_at` (unix ms); the ids are the result's.
pub fn deploy_state(
    strategy: Strategy,
    t: &DeployTarget,
    result: &DeployResult,
    new_arn: &str,
    previous_arn: &str,
    max_failed_tasks: i32,
    started_at: u64,
) -> crate::rollout::RolloutState {
    // A forced new deployment of the running revision has no earlier revision to go back to: the digest the
    // tasks ran before is no longer what the tag names.
    let previous = (!same_revision(new_arn, previous_arn)).then(|| family_revision(previous_arn).to_owned());
    crate::rollout::RolloutState {
        v: crate::rollout::STATE_VERSION,
        cluster: t.at.cluster.to_string(),
        service: t.at.service.to_string(),
        region: t.at.region.as_ref().map(ToString::to_string),
        strategy: strategy.name(),
        task_definition: family_revision(new_arn).to_owned(),
        previous,
        version: Some(t.version.to_string()),
        deployment_id: result.deployment_id.clone(),
        service_deployment_arn: result.service_deployment.as_ref().map(|sd| sd.arn.clone()),
        codedeploy_deployment_id: result.codedeploy.as_ref().map(|cd| cd.deployment_id.clone()),
        started_at,
        registered: t.revision.is_none(),
        policy: crate::rollout::Policy { rollback: t.options.rollback, max_failed_tasks, give_up_at: None },
        phase: Phase::RollingOut,
        traffic_steps: Vec::new(),
        stage: None,
    }
}

/// Records in `state`'s rollback phase the rollout the way back started (the service deployment, else the
/// ECS or CodeDeploy deployment), which the next reads follow.
fn record_rollback(state: &mut crate::rollout::RolloutState, restored: crate::strategy::Restored) {
    if let Phase::RollingBack { id, .. } = &mut state.phase {
        *id = restored.service_deployment_arn.or(restored.deployment_id);
    }
}

/// The observer of a deploy's own rollout, under the deploy's lock: reads with the strategy; goes back with
/// [`rollback::roll_back`], which follows the way back until `until`.
struct Following<'a, E> {
    ecs: &'a E,
    clock: &'a dyn Clock,
    strategy: Strategy,
    t: &'a DeployTarget,
    new_arn: &'a str,
    previous_arn: &'a str,
    until: Duration,
    rolled: std::sync::Mutex<Option<RollbackReport>>,
    /// The CodeDeploy deployment as the deploy started it, with every read since laid over it.
    codedeploy: std::sync::Mutex<Option<CodeDeployReport>>,
    /// The service as last read (a read of CodeDeploy's rollback deployment alone does not read it).
    service: std::sync::Mutex<Option<Service>>,
}

/// Lays one read of a CodeDeploy deployment (`seen`) over what was known of it (`known`): the names the deploy
/// started it with stay; a read of the rollback deployment alone (no `deployment_id`) adds only its status.
fn merge_codedeploy(known: Option<CodeDeployReport>, seen: CodeDeployReport) -> CodeDeployReport {
    let Some(known) = known else { return seen };
    if seen.deployment_id.is_empty() {
        return CodeDeployReport { rollback_status: seen.rollback_status.or(known.rollback_status.clone()), ..known };
    }
    let keep = |seen: String, known: String| if seen.is_empty() { known } else { seen };
    CodeDeployReport {
        application: keep(seen.application.clone(), known.application),
        deployment_group: keep(seen.deployment_group.clone(), known.deployment_group),
        deployment_config: seen.deployment_config.clone().or(known.deployment_config),
        ..seen
    }
}

impl<E: Ecs> Observer for Following<'_, E> {
    type Seen = Seen;

    async fn observe(&self, state: &mut crate::rollout::RolloutState) -> Result<(Reading, Seen), DeployError> {
        let (reading, mut seen) = self.strategy.observe(self.ecs, self.clock, &self.t.at, state).await?;
        if let Some(read) = seen.codedeploy.take() {
            let mut known = self.codedeploy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let merged = merge_codedeploy(known.take(), read);
            *known = Some(merged.clone());
            seen.codedeploy = Some(merged);
        }
        let mut service = self.service.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &seen.service {
            Some(read) => *service = Some(read.clone()),
            None => seen.service.clone_from(&service),
        }
        Ok((reading, seen))
    }

    async fn roll_back(
        &self,
        state: &mut crate::rollout::RolloutState,
        _to: &str,
    ) -> Result<Option<Reading>, DeployError> {
        // A revision that existed before the deploy (`task_definition`) is not this deploy's to deregister.
        let r = rollback::Rollback {
            at: &self.t.at,
            strategy: self.strategy,
            from: self.new_arn,
            discard: state.registered,
            to: self.previous_arn,
            deadline: self.until,
        };
        let (report, restored) = rollback::roll_back(self.ecs, self.clock, r).await?;
        let way_back = restored.state;
        record_rollback(state, restored);
        let reading = match way_back {
            RolloutState::Completed => Reading::Completed,
            RolloutState::Failed | RolloutState::Replaced => Reading::Failed {
                reason: "the rollback's own rollout failed".into(),
                rolled_back_by: None,
                rollback_ended: true,
                rollback_id: None,
            },
            RolloutState::InProgress | RolloutState::Unknown => Reading::Moving { stage: None, traffic: None },
        };
        *self.rolled.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(report);
        Ok(Some(reading))
    }
}

/// The observer of a rollout that a face resumes from the state it kept (a CodePipeline continuation): reads
/// with the strategy; goes back under the service's lock (`DeploymentInProgress` while another call holds
/// it), reading the way back once: the next resumption follows it.
pub struct Resuming<'a, E> {
    pub ecs: &'a E,
    pub clock: &'a dyn Clock,
    pub lock: &'a dyn crate::ports::Lock,
    pub home_region: &'a str,
    pub inv: &'a crate::request::Invocation,
    pub strategy: Strategy,
    pub at: &'a ServiceRef,
}

impl<E: Ecs> Observer for Resuming<'_, E> {
    type Seen = Seen;

    async fn observe(&self, state: &mut crate::rollout::RolloutState) -> Result<(Reading, Seen), DeployError> {
        self.strategy.observe(self.ecs, self.clock, self.at, state).await
    }

    async fn roll_back(
        &self,
        state: &mut crate::rollout::RolloutState,
        to: &str,
    ) -> Result<Option<Reading>, DeployError> {
        let r = rollback::Rollback {
            at: self.at,
            strategy: self.strategy,
            from: &state.task_definition,
            discard: state.registered,
            to,
            deadline: self.clock.now(),
        };
        let key = self.at.lock_key(self.home_region);
        let lease = crate::lock::lease(self.inv.budget);
        let work = rollback::roll_back(self.ecs, self.clock, r);
        let (report, restored) =
            crate::lock::with_lock(self.lock, true, key, &self.inv.request_id, lease, &self.at.service, work).await?;
        tracing::warn!(to = %report.to, "rolled back from {}", report.from);
        record_rollback(state, restored);
        Ok(None)
    }
}

/// Follows the rollout a deploy started with [`crate::rollout::drive`] until its verdict or `deadline`, and
/// records how it went in `result`: a failure nobody else rolls back is rolled back when the request asks.
#[allow(clippy::too_many_arguments)]
pub async fn follow_deploy<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    max_failed_tasks: i32,
    strategy: Strategy,
    t: &DeployTarget,
    result: &mut DeployResult,
    new_arn: &str,
    previous_arn: &str,
    deadline: Duration,
) -> Result<(), DeployError> {
    let mut state = deploy_state(strategy, t, result, new_arn, previous_arn, max_failed_tasks, clock.unix_millis());
    let following = Following {
        ecs,
        clock,
        strategy,
        t,
        new_arn,
        previous_arn,
        until: deadline,
        rolled: std::sync::Mutex::default(),
        codedeploy: std::sync::Mutex::new(result.codedeploy.as_deref().cloned()),
        service: std::sync::Mutex::default(),
    };
    let (reading, seen) = drive(&following, clock, &mut state, deadline).await?;
    let rolled = following.rolled.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    if seen.service_deployment.is_some() {
        result.service_deployment = seen.service_deployment.clone().map(Box::new);
    }
    if seen.codedeploy.is_some() {
        result.codedeploy = seen.codedeploy.clone().map(Box::new);
    }
    let Some(service) = seen.service.clone() else {
        // Nothing was ever read (every read failed before the deadline): still in progress, never judged.
        result.status = Status::InProgress;
        result.rollout = Some(RolloutReport {
            check: Some(rollback::status_request(&t.at)),
            ..RolloutReport::new(RolloutState::InProgress)
        });
        return Ok(());
    };
    let (status, report) = match (&state.phase, &reading) {
        (Phase::RollingOut, _) => (
            Status::InProgress,
            RolloutReport {
                check: Some(rollback::status_request(&t.at)),
                ..RolloutReport::new(RolloutState::InProgress)
            },
        ),
        (Phase::Done { status: Status::Completed, .. }, _) => {
            (Status::Completed, RolloutReport::new(RolloutState::Completed))
        }
        // The deployer's own rollback: the failure as ECS told it, and how the way back went.
        (Phase::RollingBack { reason, .. }, _)
        | (Phase::Done { rolled_back_by: Some(RolledBackBy::EcsDeployer), reason: Some(reason), .. }, _) => {
            let failure = failure_report(ecs, &t.at, &service, new_arn, reason.clone()).await;
            if let Some(r) = &rolled {
                result.task_definition = Some(r.to.clone());
            }
            (
                Status::RolledBack,
                RolloutReport { failure: Some(failure), rollback: rolled, ..RolloutReport::new(RolloutState::Failed) },
            )
        }
        // ECS's own rollback, finished between two reads: the service is back on the revision before.
        (
            Phase::Done { status: Status::RolledBack, rolled_back_by: Some(by), reason },
            Reading::Replaced { task_definition, .. },
        ) => {
            let failure = FailureReport {
                reason: reason.clone().unwrap_or_default(),
                events: last_events(&service, 5),
                stopped_tasks: Vec::new(),
            };
            let rollback = RollbackReport {
                from: family_revision(new_arn).to_owned(),
                to: task_definition.clone(),
                by: *by,
                state: seen.service_rollback.unwrap_or_else(|| ecs_rollout_state(primary(&service))),
                deregistered: None,
            };
            result.task_definition = Some(task_definition.clone());
            (
                Status::RolledBack,
                RolloutReport {
                    failure: Some(failure),
                    rollback: Some(rollback),
                    ..RolloutReport::new(RolloutState::Failed)
                },
            )
        }
        // ECS's or CodeDeploy's own rollback of the failure, as far as it got.
        (Phase::Done { status: Status::RolledBack, rolled_back_by: Some(by), .. }, _)
        | (Phase::ServiceRollingBack { by, .. }, _) => {
            let reason = match &state.phase {
                Phase::ServiceRollingBack { reason, .. } => reason.clone(),
                Phase::Done { reason, .. } => reason.clone().unwrap_or_default(),
                _ => String::new(),
            };
            let failure = failure_report(ecs, &t.at, &service, new_arn, reason).await;
            let to = match strategy {
                // CodeDeploy's rollback deployment puts back the task set that served before: the previous revision.
                Strategy::CodeDeploy => family_revision(previous_arn),
                _ => primary(&service).and_then(|d| d.task_definition()).map_or("unknown", family_revision),
            }
            .to_owned();
            let rollback = RollbackReport {
                from: family_revision(new_arn).to_owned(),
                to: to.clone(),
                by: *by,
                state: seen.service_rollback.unwrap_or_else(|| ecs_rollout_state(primary(&service))),
                deregistered: None,
            };
            result.task_definition = Some(to);
            (
                Status::RolledBack,
                RolloutReport {
                    failure: Some(failure),
                    rollback: Some(rollback),
                    ..RolloutReport::new(RolloutState::Failed)
                },
            )
        }
        // Someone else deployed meanwhile.
        (Phase::Done { reason, .. }, Reading::Replaced { .. }) => {
            let failure = FailureReport {
                reason: reason.clone().unwrap_or_default(),
                events: last_events(&service, 5),
                stopped_tasks: Vec::new(),
            };
            (Status::Failed, RolloutReport { failure: Some(failure), ..RolloutReport::new(RolloutState::Replaced) })
        }
        (Phase::Done { reason, .. }, _) => {
            let reason = reason.clone().unwrap_or_else(|| "the rollout failed".into());
            let failure = failure_report(ecs, &t.at, &service, new_arn, reason).await;
            (Status::Failed, RolloutReport { failure: Some(failure), ..RolloutReport::new(RolloutState::Failed) })
        }
    };
    result.status = status;
    result.rollout = Some(report);
    tracing::info!(status = ?result.status, "rollout followed");
    Ok(())
}
