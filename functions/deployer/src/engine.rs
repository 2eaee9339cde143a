//! The deploy pipeline: one parallel preflight round, the pure plan, then RegisterTaskDefinition and
//! UpdateService. Everything it asks of AWS goes through [`Aws`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::future::Future;
use std::pin::Pin;

use futures_util::stream::{self, StreamExt};

use aws_sdk_ecs::types::{DeploymentControllerType, Service};
use serde::Serialize;
use serde_json::Value;
use tracing::Instrument;

use crate::aws::{Aws, DescribedTaskDefinition, ImageLookup, LockState, ServiceLookup};
use crate::error::{AwsError, AwsErrorKind, Cleanup, DeployError};
use crate::image::ecr_registry_host;
use crate::notify::{Event as NotifyEvent, Notification, Notifier};
use crate::plan::{
    describe_name, family, family_revision, plan, same_revision, tag_value, Action, ContainerChange, PlanInput,
    PREVIOUS_TAG,
};
use crate::request::{resource_name, Action as RequestAction, Base, Defaults, DeployRequest, Target};
use crate::rollout::{primary, rollout_in_progress, FailureReport};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Deployed,
    AlreadyDeployed,
    DryRun,
    /// Deployed and followed: the rollout completed.
    Completed,
    /// Deployed and followed until the Lambda's time ran short: the rollout goes on; ask `status` later.
    InProgress,
    /// Deployed, then put back on `previous_task_definition`: the rollout failed (or, with
    /// `all_or_nothing`, another target did).
    RolledBack,
    /// Deployed and followed: the rollout failed and was not rolled back.
    Failed,
}

/// How a followed rollout went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RolloutReport {
    /// COMPLETED, IN_PROGRESS, FAILED or REPLACED.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackReport>,
    /// What to call to see how an unfinished rollout ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollbackReport {
    pub to: String,
    /// `ecs-deployer`, or `ecs-circuit-breaker` when the service's circuit breaker rolled back by itself.
    pub by: String,
    /// COMPLETED, IN_PROGRESS or FAILED: how the rollback's own rollout went.
    pub state: String,
    /// The failed revision, when it was deregistered (never the target, nor a revision still in use).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deregistered: Option<String>,
}

/// What the Lambda runtime says about this call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Names the holder of the service's lock.
    pub request_id: String,
    /// How long this call may take before it must answer.
    pub budget: Duration,
}

impl Default for Invocation {
    fn default() -> Self {
        Invocation { request_id: "local".into(), budget: Duration::from_secs(60) }
    }
}

/// Time kept back from following a rollout, to roll back, clean up and answer before the Lambda ends.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Timings {
    pub preflight: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update: Option<u64>,
    pub total: u64,
}

/// What a deploy did. Task definitions are named `family:revision`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployResult {
    pub status: Status,
    pub cluster: String,
    pub service: String,
    pub version: String,
    pub image: String,
    /// The revision the new one was cloned from.
    pub base_task_definition: String,
    /// The revision the service ran before this call.
    pub previous_task_definition: String,
    /// The revision the service runs after this call (`null` for a dry run).
    pub task_definition: Option<String>,
    /// The ECS deployment that UpdateService started, when ECS reported one.
    pub deployment_id: Option<String>,
    pub containers_updated: Vec<ContainerChange>,
    pub timings_ms: Timings,
    /// With `wait`: how the rollout went.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutReport>,
}

/// What the preflight learnt: everything the plan needs.
struct Checked {
    registry_id: String,
    service: Service,
    base: DescribedTaskDefinition,
    running: DescribedTaskDefinition,
}

/// Builds the AWS seam for another region; called at most once per region per process.
pub type RegionFactory<A> = Box<dyn Fn(&str) -> A + Send + Sync>;

/// How many targets of one request are deployed at the same time. ECS's RegisterTaskDefinition bucket
/// bursts to 20; the SDK's adaptive retry absorbs what goes beyond.
pub const PARALLEL_TARGETS: usize = 20;

pub struct Deployer<A> {
    pub(crate) home: Arc<A>,
    pub(crate) region: String,
    other_regions: Mutex<HashMap<String, Arc<A>>>,
    factory: Option<RegionFactory<A>>,
    pub(crate) defaults: Defaults,
    /// Who hears about deploys starting, succeeding, failing and being rolled back.
    notifier: Option<Box<dyn Notify>>,
    /// The task-definition family of each service seen by this process, so that a warm deploy reads the
    /// base revision in the same round as the service instead of after it.
    families: Mutex<HashMap<FamilyKey, String>>,
}

type FamilyKey = (Option<String>, String, String);

/// One entry of a multi-target result: what the target's deploy did, or its error.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TargetOutcome {
    Done(Box<DeployResult>),
    Failed { cluster: String, service: String, region: Option<String>, error: Value },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FanOutStatus {
    /// Every target is on the version (or already was, or would be in a dry run).
    Deployed,
    DryRun,
    /// Some targets failed; the others keep the new version.
    Failed,
    /// Some targets failed and, as asked by `all_or_nothing`, the deployed ones were put back.
    RolledBack,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FanOutResult {
    pub status: FanOutStatus,
    pub version: String,
    pub targets: Vec<TargetOutcome>,
    pub timings_ms: Timings,
}

pub(crate) fn ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The deployment UpdateService started for `task_definition`. `deployments[0]` is not always it.
pub(crate) fn deployment_for(service: &Service, task_definition: &str) -> Option<String> {
    primary(service)
        .filter(|d| d.task_definition().is_some_and(|td| same_revision(td, task_definition)))
        .and_then(|d| d.id().map(str::to_owned))
}

impl<A: Aws> Deployer<A> {
    /// A deployer for `region`, the function's own. Targets in other regions need [`Deployer::with_regions`].
    pub fn new(aws: A, defaults: Defaults, region: impl Into<String>) -> Self {
        Deployer {
            home: Arc::new(aws),
            region: region.into(),
            other_regions: Mutex::default(),
            factory: None,
            defaults,
            notifier: None,
            families: Mutex::default(),
        }
    }

    /// Tells `notifier` about every deploy that starts, succeeds, fails or is rolled back.
    pub fn with_notifier(mut self, notifier: impl Notifier + 'static) -> Self {
        self.notifier = Some(Box::new(notifier));
        self
    }

    /// Sends one notification; it never fails the deploy.
    pub(crate) async fn tell(
        &self,
        event: NotifyEvent,
        t: &Target,
        from: Option<&str>,
        to: Option<&str>,
        reason: Option<String>,
        started: Option<Instant>,
    ) {
        let Some(notifier) = &self.notifier else { return };
        let n = Notification {
            event,
            cluster: t.cluster.clone(),
            service: t.service.clone(),
            version: t.version.to_string(),
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            reason,
            duration_ms: started.map(ms),
            region: t.region.clone().unwrap_or_else(|| self.region.clone()),
        };
        notifier.send(&n).await;
    }

    /// Lets targets name other regions; `factory` builds their clients, once per region.
    pub fn with_regions(mut self, factory: RegionFactory<A>) -> Self {
        self.factory = Some(factory);
        self
    }

    /// The AWS seam of the function's own region.
    pub fn aws(&self) -> &A {
        &self.home
    }

    pub(crate) fn aws_for(&self, region: Option<&str>) -> Result<Arc<A>, DeployError> {
        let region = match region {
            None => return Ok(self.home.clone()),
            Some(r) if r == self.region => return Ok(self.home.clone()),
            Some(r) => r,
        };
        let Some(factory) = &self.factory else {
            return Err(DeployError::InvalidRequest { reason: format!("this deployer cannot reach region {region}") });
        };
        let mut clients = self.other_regions.lock().unwrap_or_else(|p| p.into_inner());
        Ok(clients.entry(region.to_owned()).or_insert_with(|| Arc::new(factory(region))).clone())
    }

    /// Runs a request: a deploy to one service or to every entry of `targets`, a rollback or a status. The
    /// JSON is the result the caller gets.
    pub async fn execute(&self, request: DeployRequest, inv: &Invocation) -> Result<Value, DeployError> {
        let rendered = match request.action {
            RequestAction::Rollback => serde_json::to_value(self.rollback(request, inv).await?),
            RequestAction::Status => return self.status(request).await,
            RequestAction::Deploy if request.targets.is_some() => {
                let result = self.deploy_many(request, inv).await?;
                if matches!(result.status, FanOutStatus::Failed | FanOutStatus::RolledBack) {
                    return Err(DeployError::TargetsFailed(Box::new(result)));
                }
                serde_json::to_value(result)
            }
            RequestAction::Deploy => {
                let result = self.deploy_with(request, inv).await?;
                match result.status {
                    Status::RolledBack => return Err(DeployError::RolledBack(Box::new(result))),
                    Status::Failed => return Err(DeployError::DeploymentFailed(Box::new(result))),
                    _ => serde_json::to_value(result),
                }
            }
        };
        rendered.map_err(|e| DeployError::InvalidRequest { reason: format!("cannot render the result: {e}") })
    }

    /// Ships `request.version` to one service. Bad input fails before any AWS call; a failed check changes
    /// nothing.
    pub async fn deploy(&self, request: DeployRequest) -> Result<DeployResult, DeployError> {
        self.deploy_with(request, &Invocation::default()).await
    }

    pub async fn deploy_with(&self, request: DeployRequest, inv: &Invocation) -> Result<DeployResult, DeployError> {
        let started = Instant::now();
        let target = Target::resolve(request, &self.defaults)?;
        self.deploy_target(&self.home, &target, inv, started).await
    }

    /// Ships one version to every target, [`PARALLEL_TARGETS`] at a time. Targets fail independently; with
    /// `all_or_nothing`, a failure puts the deployed targets back on the revision they ran before.
    pub async fn deploy_many(&self, request: DeployRequest, inv: &Invocation) -> Result<FanOutResult, DeployError> {
        let started = Instant::now();
        let all_or_nothing = request.all_or_nothing;
        let dry_run = request.dry_run;
        let targets = Target::resolve_all(request, &self.defaults)?;
        // Every region's clients before any call: a region this deployer cannot reach refuses the whole request.
        let clients = targets.iter().map(|t| self.aws_for(t.region.as_deref())).collect::<Result<Vec<_>, _>>()?;
        let version = targets[0].version.to_string();
        let outcomes: Vec<_> =
            stream::iter(targets.iter().zip(&clients).map(|(t, aws)| self.deploy_target(aws, t, inv, Instant::now())))
                .buffered(PARALLEL_TARGETS)
                .collect()
                .await;
        let failed = outcomes.iter().any(Result::is_err);
        let roll_back = failed && all_or_nothing;
        let settled: Vec<_> = stream::iter(targets.iter().zip(outcomes).map(|(t, outcome)| async move {
            match outcome {
                Ok(result) if roll_back && result.status == Status::Deployed => self.roll_back(t, result).await,
                other => other,
            }
        }))
        .buffered(PARALLEL_TARGETS)
        .collect()
        .await;
        let entries = targets
            .iter()
            .zip(settled)
            .map(|(t, outcome)| match outcome {
                Ok(result) => TargetOutcome::Done(Box::new(result)),
                Err(e) => TargetOutcome::Failed {
                    cluster: t.cluster.clone(),
                    service: t.service.clone(),
                    region: t.region.clone(),
                    error: e.to_body()["error"].clone(),
                },
            })
            .collect();
        let status = match (failed, roll_back, dry_run) {
            (true, true, _) => FanOutStatus::RolledBack,
            (true, false, _) => FanOutStatus::Failed,
            (false, _, true) => FanOutStatus::DryRun,
            (false, _, false) => FanOutStatus::Deployed,
        };
        let timings_ms = Timings { total: ms(started), ..Timings::default() };
        Ok(FanOutResult { status, version, targets: entries, timings_ms })
    }

    /// Puts a target that was deployed back on the revision it ran before, and deregisters the new one.
    async fn roll_back(&self, t: &Target, mut result: DeployResult) -> Result<DeployResult, DeployError> {
        let aws = self.aws_for(t.region.as_deref())?;
        let new = result.task_definition.clone().unwrap_or_default();
        let previous = result.previous_task_definition.clone();
        aws.update_service(&t.cluster, &t.service, &previous).await.map_err(|source| DeployError::RollbackFailed {
            task_definition: new.clone(),
            to: previous.clone(),
            source,
        })?;
        if let Err(e) = aws.deregister_task_definition(&new).await {
            tracing::warn!("rolled back to {previous} but could not deregister {new}: {e}");
        }
        tracing::info!(cluster = %t.cluster, service = %t.service, "rolled back from {new} to {previous}");
        result.status = Status::RolledBack;
        result.task_definition = Some(previous);
        Ok(result)
    }

    async fn deploy_target(
        &self,
        aws: &A,
        target: &Target,
        inv: &Invocation,
        started: Instant,
    ) -> Result<DeployResult, DeployError> {
        let span = tracing::info_span!(
            "deploy",
            cluster = %target.cluster,
            service = %target.service,
            version = %target.version,
            task_definition = tracing::field::Empty,
        );
        self.locked(aws, target, inv, started).instrument(span).await
    }

    /// Takes the service's lock in the same round as the preflight, deploys, and lets go of the lock. A dry
    /// run changes nothing and takes no lock.
    async fn locked(
        &self,
        aws: &A,
        t: &Target,
        inv: &Invocation,
        started: Instant,
    ) -> Result<DeployResult, DeployError> {
        let key = lock_key(t, &self.region);
        let lease = if t.wait { inv.budget + Duration::from_secs(30) } else { Duration::from_secs(120) };
        let lock = async {
            if t.dry_run {
                Ok(LockState::Acquired)
            } else {
                aws.acquire_lock(&key, &inv.request_id, lease).await
            }
        };
        let (lock, checked) = tokio::join!(lock, self.preflight(aws, t));
        match lock {
            Ok(LockState::Acquired) => {}
            Ok(LockState::HeldBy { holder, since }) => {
                return Err(DeployError::DeploymentInProgress { service: t.service.clone(), holder, since })
            }
            Err(e) => {
                if !e.certainly_not_applied() {
                    let _ = aws.release_lock(&key, &inv.request_id).await;
                }
                return Err(e.into());
            }
        }
        let outcome = match checked {
            Ok(checked) => self.run(aws, t, inv, checked, started).await,
            Err(e) => Err(e),
        };
        if !t.dry_run {
            if let Err(e) = aws.release_lock(&key, &inv.request_id).await {
                tracing::warn!("could not release the lock on {key}; it expires with its lease: {e}");
            }
        }
        outcome
    }

    async fn run(
        &self,
        aws: &A,
        t: &Target,
        inv: &Invocation,
        checked: Checked,
        started: Instant,
    ) -> Result<DeployResult, DeployError> {
        if !t.force {
            self.refuse_foreign_rollout(t, &checked)?;
        }
        let mut timings = Timings { preflight: ms(started), ..Timings::default() };

        let region = t.region.as_deref().unwrap_or(&self.region);
        let registry_host = ecr_registry_host(&checked.registry_id, region);
        let planned = plan(&PlanInput {
            base: &checked.base,
            running: &checked.running.task_definition,
            containers: &t.containers,
            repository: &t.repository,
            version: &t.version,
            registry_host: &registry_host,
        })?;
        let previous = describe_name(&checked.running.task_definition);
        let mut result = DeployResult {
            status: Status::DryRun,
            cluster: t.cluster.clone(),
            service: t.service.clone(),
            version: t.version.to_string(),
            image: planned.image,
            base_task_definition: describe_name(&checked.base.task_definition),
            previous_task_definition: previous.clone(),
            task_definition: None,
            deployment_id: None,
            containers_updated: planned.changes,
            timings_ms: Timings::default(),
            rollout: None,
        };

        match planned.action {
            Action::AlreadyDeployed => {
                result.status = Status::AlreadyDeployed;
                result.task_definition = Some(previous);
            }
            Action::Register(_) if t.dry_run => {}
            Action::Register(input) => {
                let step = Instant::now();
                let family_name = input.family.clone().unwrap_or_default();
                let (registered, ()) = tokio::join!(
                    aws.register_task_definition(*input),
                    self.tell(NotifyEvent::Started, t, Some(&previous), None, None, Some(started))
                );
                let registered = match registered {
                    Ok(td) => td,
                    Err(e) if e.certainly_not_applied() => return Err(e.into()),
                    Err(e) => self.find_registered(aws, &family_name, t, &previous, &checked.base, e).await?,
                };
                timings.register = Some(ms(step));
                let arn = registered.task_definition_arn.clone().ok_or_else(|| AwsError {
                    operation: "RegisterTaskDefinition",
                    kind: AwsErrorKind::Unknown,
                    aws_code: None,
                    message: "the registered task definition has no ARN".into(),
                })?;
                let name = family_revision(&arn).to_owned();
                tracing::Span::current().record("task_definition", name.as_str());
                tracing::info!("registered {name}");

                let step = Instant::now();
                let updated = match aws.update_service(&t.cluster, &t.service, &arn).await {
                    Ok(service) => service,
                    Err(e) => match self.after_failed_update(aws, t, &arn, e).await {
                        Ok(service) => service,
                        Err(err) => {
                            self.tell(
                                NotifyEvent::Failed,
                                t,
                                Some(&previous),
                                None,
                                Some(err.to_string()),
                                Some(started),
                            )
                            .await;
                            return Err(err);
                        }
                    },
                };
                timings.update = Some(ms(step));
                result.status = Status::Deployed;
                result.deployment_id = deployment_for(&updated, &arn);
                result.task_definition = Some(name);
                if t.wait {
                    let deadline = aws.now() + inv.budget.saturating_sub(ANSWER_MARGIN + started.elapsed());
                    let previous_arn = checked.running.task_definition.task_definition_arn().unwrap_or(&previous);
                    self.follow_deploy(aws, t, &mut result, &arn, previous_arn, deadline).await?;
                    let reason = result.rollout.as_ref().and_then(|r| r.failure.as_ref()).map(|f| f.reason.clone());
                    let event = match result.status {
                        Status::Completed => Some(NotifyEvent::Succeeded),
                        Status::RolledBack => Some(NotifyEvent::RolledBack),
                        Status::Failed => Some(NotifyEvent::Failed),
                        _ => None,
                    };
                    if let Some(event) = event {
                        let to = result.task_definition.clone();
                        self.tell(event, t, Some(&previous), to.as_deref(), reason, Some(started)).await;
                    }
                }
            }
        }
        timings.total = ms(started);
        result.timings_ms = timings;
        tracing::info!(status = ?result.status, "deploy finished");
        Ok(result)
    }

    /// UpdateService failed after the register. When the failure may have taken effect, read the service back
    /// first: the new revision is deregistered only when the service certainly does not use it.
    async fn after_failed_update(
        &self,
        aws: &A,
        t: &Target,
        arn: &str,
        error: AwsError,
    ) -> Result<Service, DeployError> {
        let name = family_revision(arn).to_owned();
        let applied = if error.certainly_not_applied() {
            Some(None)
        } else {
            match aws.describe_service(&t.cluster, &t.service).await {
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
            Some(None) => match aws.deregister_task_definition(arn).await {
                Ok(()) => Cleanup::Deregistered,
                Err(e) => Cleanup::DeregisterFailed(e.to_string()),
            },
            None => Cleanup::KeptOutcomeUnknown,
        };
        let err = DeployError::UpdateFailed { task_definition: name, cleanup, source: error };
        tracing::error!(code = err.code(), "{err}");
        Err(err)
    }

    /// One parallel round: the image in ECR, the cluster, and the service with its task definitions. Every
    /// failed check is reported, not only the first.
    async fn preflight(&self, aws: &A, t: &Target) -> Result<Checked, DeployError> {
        let (image, cluster, service) = tokio::join!(
            aws.describe_image(&t.repository, &t.version),
            aws.describe_cluster(&t.cluster),
            self.service_and_task_definitions(aws, t),
        );
        let mut failures = Vec::new();
        match cluster {
            Ok(Some(c)) if c.status() == Some("ACTIVE") => {}
            Ok(Some(c)) => failures.push(DeployError::ClusterNotActive {
                cluster: t.cluster.clone(),
                status: c.status().unwrap_or("UNKNOWN").to_owned(),
            }),
            Ok(None) => failures.push(DeployError::ClusterNotFound { cluster: t.cluster.clone() }),
            Err(e) => failures.push(e.into()),
        }
        let task_definitions = match service {
            Ok(found) => found,
            Err(errors) => {
                failures.extend(errors);
                None
            }
        };
        let registry_id = match image {
            Ok(ImageLookup::Found { registry_id, .. }) => Some(registry_id),
            Ok(ImageLookup::ImageMissing) => {
                failures.push(DeployError::ImageNotFound {
                    repository: t.repository.clone(),
                    version: t.version.to_string(),
                });
                None
            }
            Ok(ImageLookup::RepositoryMissing) => {
                failures.push(DeployError::RepositoryNotFound { repository: t.repository.clone() });
                None
            }
            Err(e) => {
                failures.push(e.into());
                None
            }
        };
        match (registry_id, task_definitions) {
            (Some(registry_id), Some((service, base, running))) if failures.is_empty() => {
                Ok(Checked { registry_id, service, base, running })
            }
            _ if failures.len() == 1 => Err(failures.remove(0)),
            _ if failures.is_empty() => Err(DeployError::ClusterNotFound { cluster: t.cluster.clone() }),
            _ => Err(DeployError::Preflight(failures)),
        }
    }

    /// The service, checked, then the base revision and the one the service runs (one call when they are the
    /// same revision). When this process has seen the service before, the base revision of its family is read
    /// in the same round as the service and kept only if the service still runs that family.
    /// `Ok(None)` when the cluster is missing: the cluster check reports that.
    async fn service_and_task_definitions(
        &self,
        aws: &A,
        t: &Target,
    ) -> Result<Option<(Service, DescribedTaskDefinition, DescribedTaskDefinition)>, Vec<DeployError>> {
        let key: FamilyKey = (t.region.clone(), t.cluster.clone(), t.service.clone());
        let known_family = match t.base {
            Base::Latest => self.families.lock().unwrap_or_else(|p| p.into_inner()).get(&key).cloned(),
            Base::Service => None,
        };
        let early_base = async {
            match &known_family {
                Some(f) => aws.describe_task_definition(f).await.ok().flatten(),
                None => None,
            }
        };
        let (service, early_base) = tokio::join!(aws.describe_service(&t.cluster, &t.service), early_base);
        let service = match service {
            Ok(ServiceLookup::Found(s)) => s,
            Ok(ServiceLookup::Missing) => {
                return Err(vec![DeployError::ServiceNotFound {
                    cluster: t.cluster.clone(),
                    service: t.service.clone(),
                }])
            }
            Ok(ServiceLookup::ClusterMissing) => return Ok(None),
            Err(e) => return Err(vec![e.into()]),
        };
        let mut failures = Vec::new();
        if service.status() != Some("ACTIVE") {
            failures.push(DeployError::ServiceNotActive {
                cluster: t.cluster.clone(),
                service: t.service.clone(),
                status: service.status().unwrap_or("UNKNOWN").to_owned(),
            });
        }
        match service.deployment_controller().map(|c| c.r#type()) {
            Some(DeploymentControllerType::CodeDeploy) => failures.push(DeployError::UnsupportedDeploymentController {
                service: t.service.clone(),
                controller: "CODE_DEPLOY".into(),
                owner: "a CodeDeploy deployment",
            }),
            Some(DeploymentControllerType::External) => failures.push(DeployError::UnsupportedDeploymentController {
                service: t.service.clone(),
                controller: "EXTERNAL".into(),
                owner: "its task sets",
            }),
            _ => {}
        }
        let Some(current) = service.task_definition() else {
            failures.push(DeployError::TaskDefinitionNotFound { task_definition: format!("(none on {})", t.service) });
            return Err(failures);
        };
        if !failures.is_empty() {
            return Err(failures);
        }
        let base_name = match t.base {
            Base::Latest => family(current),
            Base::Service => current,
        };
        if t.base == Base::Latest {
            let mut families = self.families.lock().unwrap_or_else(|p| p.into_inner());
            families.insert(key, base_name.to_owned());
        }
        let describe = |name: &str| {
            let name = name.to_owned();
            async move {
                match aws.describe_task_definition(&name).await {
                    Ok(Some(found)) => Ok(found),
                    Ok(None) => Err(vec![DeployError::TaskDefinitionNotFound { task_definition: name }]),
                    Err(e) => Err(vec![e.into()]),
                }
            }
        };
        let base = match early_base {
            Some(found) if known_family.as_deref() == Some(base_name) => found,
            _ => describe(base_name).await?,
        };
        let base_arn = base.task_definition.task_definition_arn().unwrap_or_default();
        let running = if same_revision(base_arn, current) { base.clone() } else { describe(current).await? };
        Ok(Some((*service, base, running)))
    }

    /// RegisterTaskDefinition failed in a way that may have registered the revision anyway (a time-out, a
    /// 5xx). Reads the family's newest revision: if it is newer than the base and tagged for this very
    /// deploy, it is ours and the deploy goes on; otherwise nothing was registered and the error stands.
    async fn find_registered(
        &self,
        aws: &A,
        family_name: &str,
        t: &Target,
        previous: &str,
        base: &DescribedTaskDefinition,
        error: AwsError,
    ) -> Result<aws_sdk_ecs::types::TaskDefinition, DeployError> {
        let newest = aws.describe_task_definition(family_name).await.ok().flatten();
        let tagged = |d: &DescribedTaskDefinition, key: &str, value: &str| tag_value(&d.tags, key) == Some(value);
        match newest {
            Some(d)
                if d.task_definition.revision > base.task_definition.revision
                    && tagged(&d, crate::plan::VERSION_TAG, t.version.as_str())
                    && tagged(&d, PREVIOUS_TAG, previous) =>
            {
                tracing::warn!(
                    "RegisterTaskDefinition failed ({error}) but registered {}",
                    describe_name(&d.task_definition)
                );
                Ok(d.task_definition)
            }
            _ => Err(error.into()),
        }
    }

    /// Runs `work` while holding the service's lock (unless `t.force`), and lets go of it afterwards.
    pub(crate) async fn holding_lock<T>(
        &self,
        aws: &A,
        t: &Target,
        inv: &Invocation,
        work: impl Future<Output = Result<T, DeployError>>,
    ) -> Result<T, DeployError> {
        let key = lock_key(t, &self.region);
        if !t.force {
            let lease = inv.budget + Duration::from_secs(30);
            if let LockState::HeldBy { holder, since } = aws.acquire_lock(&key, &inv.request_id, lease).await? {
                return Err(DeployError::DeploymentInProgress { service: t.service.clone(), holder, since });
            }
        }
        let outcome = work.await;
        if !t.force {
            if let Err(e) = aws.release_lock(&key, &inv.request_id).await {
                tracing::warn!("could not release the lock on {key}; it expires with its lease: {e}");
            }
        }
        outcome
    }

    /// Refuses to deploy over a rollout that this deployer did not start (its revision lacks our tag).
    fn refuse_foreign_rollout(&self, t: &Target, checked: &Checked) -> Result<(), DeployError> {
        let Some(rolling) = rollout_in_progress(&checked.service) else {
            return Ok(());
        };
        let ours = rolling.task_definition().is_some_and(|td| {
            same_revision(td, checked.running.task_definition.task_definition_arn().unwrap_or_default())
        }) && tag_value(&checked.running.tags, PREVIOUS_TAG).is_some();
        if ours {
            return Ok(());
        }
        Err(DeployError::DeploymentInProgress {
            service: t.service.clone(),
            holder: format!(
                "ECS deployment {} of {}",
                rolling.id().unwrap_or("unknown"),
                family_revision(rolling.task_definition().unwrap_or("unknown"))
            ),
            since: rolling.created_at().map_or_else(|| "unknown".into(), |t| t.to_string()),
        })
    }
}

/// [`Notifier`] as a trait object, so the deployer needs no type parameter for it.
pub(crate) trait Notify: Send + Sync {
    fn send<'a>(&'a self, n: &'a Notification) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

impl<N: Notifier> Notify for N {
    fn send<'a>(&'a self, n: &'a Notification) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(self.notify(n))
    }
}

/// The lock of one service: region, cluster and service names.
pub(crate) fn lock_key(t: &Target, home_region: &str) -> String {
    format!(
        "{}/{}/{}",
        t.region.as_deref().unwrap_or(home_region),
        resource_name(&t.cluster),
        resource_name(&t.service)
    )
}

#[cfg(test)]
mod tests;
