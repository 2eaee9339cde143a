//! An in-process ECS, ECR and lock table for scenario tests: it keeps state like the real services, runs
//! rollouts on a virtual clock (tasks failing, the circuit breaker rolling back), records every call, can be
//! slowed down, and fails the calls it is told to.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::sync::Arc;

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types::{
    Cluster, Container, ContainerImage, Deployment, DeploymentLifecycleHookAction, DeploymentLifecycleHookStatus,
    DeploymentRolloutState, DesiredStatus, Rollback, Service, ServiceDeployment, ServiceDeploymentBrief,
    ServiceDeploymentLifecycleStage, ServiceDeploymentStatus, ServiceEvent, ServiceRevision, ServiceRevisionSummary,
    Task, TaskDefinition, TaskDefinitionStatus,
};
use contract::names::Version;
use contract::{AwsError, AwsErrorKind};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::fixtures::{arn, described, ACCOUNT, REGION, REPOSITORY};
use crate::config::Config;
use crate::pipeline::Deployer;
use crate::plan::family_revision;
use crate::plan::image::ImageRef;
use crate::ports::{
    Clock, Deleted, DeploymentAnswer, DescribedTaskDefinition, Ecs, Events, ImageLookup, ImageQuery, Lock, LockState,
    RuleTarget, ServiceLookup,
};

fn repo_key(account: &str, region: &str, repository: &str) -> RepositoryKey {
    (account.to_owned(), region.to_owned(), repository.to_owned())
}

#[derive(Debug, Clone)]
pub struct Call {
    pub op: &'static str,
    pub arg: String,
    pub started: Instant,
    pub ended: Instant,
}

/// A fault for the next call of one operation. With `applied`, the call takes effect before it fails, like
/// a request whose answer was lost.
#[derive(Debug, Clone)]
pub struct Fault {
    pub error: AwsError,
    pub applied: bool,
}

pub fn error(op: &'static str, kind: AwsErrorKind) -> AwsError {
    AwsError { operation: op, kind, aws_code: Some(format!("{kind:?}Fault")), message: format!("injected {kind:?}") }
}

/// What the rollout started by the next UpdateService does as the virtual clock moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rollout {
    /// All tasks healthy `after` the update.
    Completes { after: Duration },
    /// A task of the new revision dies every `every`; without a circuit breaker the rollout never ends.
    CrashLoop { every: Duration },
    /// The circuit breaker fails the rollout `after` the update and rolls back to the revision before.
    CircuitBreaker { after: Duration },
    /// The deployment alarms go into ALARM `after` the update: ECS fails the rollout and rolls back.
    AlarmRollback { after: Duration },
    /// Never finishes.
    Stuck,
}

const DEFAULT_ROLLOUT: Rollout = Rollout::Completes { after: Duration::from_secs(20) };

struct Tracking {
    rollout: Rollout,
    started: Duration,
    service: String,
    previous: String,
    /// Each container's image digest, resolved when the deployment started (ECS's version consistency).
    digests: Vec<(String, Option<String>)>,
}

/// A fake ECR repository: (registry account, region, repository name).
pub type RepositoryKey = (String, String, String);

/// One image of a fake ECR repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeImage {
    pub digest: String,
    pub tags: Vec<String>,
    /// ECR's `imageStatus`: ACTIVE, ARCHIVED or ACTIVATING.
    pub status: String,
}

#[derive(Default)]
pub struct State {
    /// ECR: registries per account and region, each with its repositories and their images.
    pub registries: BTreeMap<RepositoryKey, Vec<FakeImage>>,
    next_digest: u64,
    pub clusters: BTreeMap<String, Cluster>,
    pub services: BTreeMap<String, Service>,
    pub task_definitions: Vec<DescribedTaskDefinition>,
    /// Per operation, what its next calls do: `None` lets one through, `Some` fails it.
    pub faults: BTreeMap<&'static str, VecDeque<Option<Fault>>>,
    pub calls: Vec<Call>,
    next_deployment: u32,
    /// The virtual clock.
    pub now: Duration,
    /// Rollouts for the next UpdateService calls, in order; then [`DEFAULT_ROLLOUT`].
    pub rollouts: VecDeque<Rollout>,
    tracking: HashMap<String, Tracking>,
    pub running_tasks: Vec<Task>,
    pub stopped_tasks: Vec<Task>,
    /// key → (holder, since, expires)
    pub locks: HashMap<String, (String, Duration, Duration)>,
    /// The history records, as the lock table keeps them.
    pub history: Vec<crate::ports::HistoryRecord>,
    /// ECS-native service deployments by ARN: what DescribeServiceDeployments answers now, and the states it
    /// answers next (one per read; the last one stays).
    pub service_deployments: BTreeMap<String, (ServiceDeployment, VecDeque<ServiceDeployment>)>,
    /// For the next UpdateService calls of a service with an ECS-native strategy, in order: the states its
    /// service deployment walks through, one per DescribeServiceDeployments (default: SUCCESSFUL at once).
    pub native_scripts: VecDeque<Vec<NativeStep>>,
    /// UpdateService answers with the `currentServiceDeployment` the service named before (a stale answer).
    pub stale_current_deployment: bool,
    /// The service revisions by ARN (DescribeServiceRevisions).
    pub service_revisions: BTreeMap<String, ServiceRevision>,
    /// CodeDeploy: groups, configurations and deployments.
    pub codedeploy: super::fake_codedeploy::CdState,
    /// EventBridge: the targets of each rule of the default bus, by rule name.
    pub rules: BTreeMap<String, Vec<RuleTarget>>,
}

/// One state of a scripted ECS-native service deployment.
#[derive(Debug, Clone)]
pub struct NativeStep {
    pub status: ServiceDeploymentStatus,
    pub stage: Option<ServiceDeploymentLifecycleStage>,
    /// The new revision's production traffic, percent.
    pub weight: f64,
    pub rollback_reason: Option<String>,
    /// A hook (id, status) the deployment reports.
    pub hook: Option<(String, DeploymentLifecycleHookStatus)>,
    /// `deploymentCircuitBreaker.status` (none reported when `None`).
    pub breaker: Option<aws_sdk_ecs::types::ServiceDeploymentRollbackMonitorsStatus>,
}

impl NativeStep {
    pub fn new(status: ServiceDeploymentStatus, stage: ServiceDeploymentLifecycleStage, weight: f64) -> NativeStep {
        NativeStep { status, stage: Some(stage), weight, rollback_reason: None, hook: None, breaker: None }
    }
}

/// The target service revision of the service deployment `arn` (`…/service-deployment/prod/web/<N>`):
/// `…/service-revision/prod/web/<N>`, sharing the `<N>` of deployment `ecs-svc/<N>`, as in ECS.
pub fn revision_arn(arn: &str) -> String {
    arn.replace(":service-deployment/", ":service-revision/")
}

/// The state of a service deployment `arn` of `service`, moving `target` (a task definition ARN) at `step`.
fn service_deployment(arn: &str, target: &str, step: &NativeStep) -> ServiceDeployment {
    let n: i64 = arn.rsplit('/').next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let mut sd = ServiceDeployment::builder()
        .service_deployment_arn(arn)
        .created_at(aws_smithy_types::DateTime::from_secs(1_700_000_000 + n))
        .status(step.status.clone())
        .set_lifecycle_stage(step.stage.clone())
        .target_service_revision(
            ServiceRevisionSummary::builder()
                .arn(revision_arn(arn))
                .requested_production_traffic_weight(step.weight)
                .requested_task_count(1)
                // Green's tasks are still starting during SCALE_UP.
                .running_task_count(i32::from(step.stage != Some(ServiceDeploymentLifecycleStage::ScaleUp)))
                .build(),
        );
    if let Some(reason) = &step.rollback_reason {
        sd = sd.rollback(Rollback::builder().reason(reason).build()).status_reason(reason);
    }
    if let Some((id, status)) = &step.hook {
        sd = sd.lifecycle_hook_details(
            aws_sdk_ecs::types::DeploymentLifecycleHookDetail::builder()
                .hook_id(id)
                .target_arn(format!("arn:aws:lambda:eu-west-1:111122223333:function:{id}"))
                .status(status.clone())
                .build(),
        );
    }
    if let Some(status) = &step.breaker {
        sd = sd.deployment_circuit_breaker(
            aws_sdk_ecs::types::ServiceDeploymentCircuitBreaker::builder().status(status.clone()).build(),
        );
    }
    let _ = target;
    sd.build()
}

fn terminal(status: Option<&ServiceDeploymentStatus>) -> bool {
    matches!(
        status,
        Some(
            ServiceDeploymentStatus::Successful
                | ServiceDeploymentStatus::Stopped
                | ServiceDeploymentStatus::RollbackSuccessful
                | ServiceDeploymentStatus::RollbackFailed
        )
    )
}

fn task(family_revision: &str, n: usize, stopped: Option<&str>) -> Task {
    service_task(family_revision, n, stopped, "web", &[])
}

/// A task of `service` running `family_revision`, its containers reporting the digests given.
fn service_task(
    family_revision: &str,
    n: usize,
    stopped: Option<&str>,
    service: &str,
    digests: &[(String, Option<String>)],
) -> Task {
    let mut t = Task::builder()
        .task_arn(format!("arn:aws:ecs:eu-west-1:111122223333:task/prod/{}-{n}", family_revision.replace(':', "-")))
        .task_definition_arn(arn(family_revision))
        .last_status(if stopped.is_some() { "STOPPED" } else { "RUNNING" })
        .group(format!("service:{service}"))
        .started_by("ecs-svc/fake");
    if let Some(reason) = stopped {
        t = t
            .stopped_reason(reason)
            .containers(Container::builder().name("app").exit_code(1).reason("panic: no database").build());
    } else {
        for (name, digest) in digests {
            t = t.containers(Container::builder().name(name).set_image_digest(digest.clone()).build());
        }
    }
    t.build()
}

impl State {
    /// The image in the fake ECR that `reference` names (an ECR host, a tag or a digest).
    pub fn image(&self, reference: &str) -> Option<&FakeImage> {
        let img = ImageRef::parse(reference)?;
        let registry = img.ecr()?;
        let images = self.registries.get(&(registry.account, registry.region, img.repository.clone()))?;
        match (&img.digest, &img.tag) {
            (Some(d), _) => images.iter().find(|i| &i.digest == d),
            (None, Some(tag)) => images.iter().find(|i| i.tags.contains(tag)),
            (None, None) => images.iter().find(|i| i.tags.iter().any(|t| t == "latest")),
        }
    }

    /// Each container of `revision` with the digest its image resolves to now.
    fn resolve_digests(&self, revision: &str) -> Vec<(String, Option<String>)> {
        find(self, revision)
            .map(|d| {
                d.task_definition
                    .container_definitions()
                    .iter()
                    .map(|c| {
                        let digest = c.image().and_then(|i| self.image(i)).map(|i| i.digest.clone());
                        (c.name().unwrap_or_default().to_owned(), digest)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Pushes `tag` to a new image of repository `key` (creating the repository), moving the tag if another
    /// image had it; answers the new digest.
    pub fn push(&mut self, key: RepositoryKey, tag: &str) -> String {
        self.next_digest += 1;
        let digest = format!("sha256:{:064x}", self.next_digest);
        let images = self.registries.entry(key).or_default();
        for image in images.iter_mut() {
            image.tags.retain(|t| t != tag);
        }
        images.push(FakeImage { digest: digest.clone(), tags: vec![tag.to_owned()], status: "ACTIVE".into() });
        digest
    }

    /// Moves every tracked rollout to where it is at `self.now`.
    fn advance(&mut self) {
        let now = self.now;
        let mut ids: Vec<String> = self.tracking.keys().cloned().collect();
        ids.sort();
        for id in ids {
            let Tracking { rollout, started, service, previous, digests } = {
                let t = &self.tracking[&id];
                Tracking {
                    rollout: t.rollout,
                    started: t.started,
                    service: t.service.clone(),
                    previous: t.previous.clone(),
                    digests: t.digests.clone(),
                }
            };
            let previous_digests = self.resolve_digests(&previous);
            let Some(svc) = self.services.get_mut(&service) else { continue };
            let mut deployments = svc.deployments().to_vec();
            let Some(ours) = deployments.iter().position(|d| d.id() == Some(id.as_str())) else { continue };
            // Only the PRIMARY deployment moves; the ones it superseded drain away when it completes.
            if deployments[ours].rollout_state() != Some(&DeploymentRolloutState::InProgress)
                || deployments[ours].status() != Some("PRIMARY")
            {
                continue;
            }
            let revision = family_revision(deployments[ours].task_definition().unwrap_or_default()).to_owned();
            let mut events = Vec::new();
            match rollout {
                Rollout::Completes { after } if now >= started + after => {
                    let mut done = deployments[ours].clone();
                    done.rollout_state = Some(DeploymentRolloutState::Completed);
                    done.rollout_state_reason = Some(format!("ECS deployment {id} completed."));
                    done.running_count = done.desired_count;
                    deployments = vec![done];
                    // The service's own tasks are replaced by the deployment's; tasks started by hand stay.
                    let group = format!("service:{service}");
                    self.running_tasks
                        .retain(|t| t.started_by() != Some("ecs-svc/fake") || t.group() != Some(group.as_str()));
                    self.running_tasks.push(service_task(&revision, 0, None, &service, &digests));
                    events.push(format!("(service {service}) has reached a steady state."));
                }
                Rollout::CrashLoop { every } => {
                    let failed = ((now - started).as_secs() / every.as_secs().max(1)) as i32;
                    deployments[ours].failed_tasks = failed;
                    let have = self
                        .stopped_tasks
                        .iter()
                        .filter(|t| t.task_definition_arn() == Some(arn(&revision).as_str()))
                        .count();
                    for n in have..failed as usize {
                        self.stopped_tasks.push(task(&revision, n, Some("Essential container in task exited")));
                        events.push(format!("(service {service}) has stopped 1 running tasks: (task {n})."));
                    }
                }
                Rollout::CircuitBreaker { after } | Rollout::AlarmRollback { after } if now >= started + after => {
                    deployments[ours].status = Some("ACTIVE".into());
                    deployments[ours].rollout_state = Some(DeploymentRolloutState::Failed);
                    deployments[ours].rollout_state_reason =
                        Some(if matches!(rollout, Rollout::AlarmRollback { .. }) {
                            "ECS deployment alarms triggered: p99.".into()
                        } else {
                            "ECS deployment circuit breaker: tasks failed to start.".into()
                        });
                    for d in &mut deployments {
                        if d.status() == Some("PRIMARY") {
                            d.status = Some("ACTIVE".into());
                        }
                    }
                    self.next_deployment += 1;
                    let rollback = format!("ecs-svc/{}", self.next_deployment);
                    deployments.insert(
                        0,
                        Deployment::builder()
                            .id(rollback.clone())
                            .status("PRIMARY")
                            .task_definition(previous.clone())
                            .rollout_state(DeploymentRolloutState::InProgress)
                            .build(),
                    );
                    self.tracking.insert(
                        rollback,
                        Tracking {
                            rollout: Rollout::Completes { after: Duration::from_secs(15) },
                            started: now,
                            service: service.clone(),
                            previous: previous.clone(),
                            digests: previous_digests,
                        },
                    );
                    svc.task_definition = Some(previous.clone());
                    events.push(format!(
                        "(service {service}) rolling back to {}: circuit breaker",
                        family_revision(&previous)
                    ));
                }
                _ => {}
            }
            svc.deployments = Some(deployments);
            for message in events {
                svc.events.get_or_insert_with(Vec::new).insert(
                    0,
                    ServiceEvent::builder()
                        .message(message)
                        .created_at(aws_smithy_types::DateTime::from_secs(1_760_000_000 + now.as_secs() as i64))
                        .build(),
                );
            }
        }
    }
}

#[derive(Default)]
pub struct FakeAws {
    pub state: Mutex<State>,
    /// How long every call takes.
    pub latency: Duration,
}

/// The deployer's configuration for the standard fake world: cluster `prod`, service `web`, repository
/// [`REPOSITORY`].
pub fn defaults() -> Config {
    Config::for_service("prod", "web", REPOSITORY).expect("valid names")
}

/// A deployer whose ECS, lock and clock are all one fake.
pub type FakeDeployer = Deployer<FakeAws>;

/// `fake` as every port of a deployer configured with `config`.
pub fn deployer_on(fake: FakeAws, config: Config) -> FakeDeployer {
    let fake = Arc::new(fake);
    Deployer::shared(fake.clone(), config, REGION).with_lock(fake.clone()).with_history(fake.clone()).with_clock(fake)
}

/// A deployer on the standard fake world: `web` runs `web:7` with the app at v1; ECR has v1 and v2.
pub fn standard_deployer() -> FakeDeployer {
    deployer_on(FakeAws::world(REPOSITORY, &["v1", "v2"], vec![described(7, "v1")]), defaults())
}

impl FakeAws {
    /// A world with repository `repository` (of account [`ACCOUNT`] in [`REGION`]) holding `tags`, an ACTIVE
    /// cluster `prod` and service `web` that runs the first of `revisions` (each registered in order) in one
    /// task whose containers report the digests their images resolve to.
    pub fn world(repository: &str, tags: &[&str], revisions: Vec<DescribedTaskDefinition>) -> FakeAws {
        let fake = FakeAws::default();
        {
            let mut s = fake.state.lock().unwrap();
            s.registries.insert(repo_key(ACCOUNT, REGION, repository), Vec::new());
            for t in tags {
                s.push(repo_key(ACCOUNT, REGION, repository), t);
            }
            // The fixtures' envoy sidecar (`fixtures::sidecars`), in AWS's own registry: a `task_definition`
            // deploy checks every private-ECR image its tasks pull.
            s.push(repo_key("840364872350", "eu-west-1", "aws-appmesh-envoy"), "v1.29.6.0-prod");
            s.clusters.insert(
                "prod".into(),
                Cluster::builder().cluster_name("prod").cluster_arn(CLUSTER_ARN).status("ACTIVE").build(),
            );
            let running = revisions[0].task_definition.task_definition_arn.clone().unwrap();
            s.task_definitions = revisions;
            let digests = s.resolve_digests(&running);
            s.running_tasks.push(service_task(family_revision(&running), 0, None, "web", &digests));
            s.services.insert(
                "web".into(),
                Service::builder()
                    .service_name("web")
                    .status("ACTIVE")
                    .task_definition(running.clone())
                    .deployments(
                        Deployment::builder().id("ecs-svc/0").status("PRIMARY").task_definition(running).build(),
                    )
                    .build(),
            );
        }
        fake
    }

    /// Pushes `tag` to repository `repository` of registry `account` in `region` (created if missing); a tag
    /// pushed again moves to the new image. Answers the image's digest.
    pub fn push(&self, account: &str, region: &str, repository: &str, tag: &str) -> String {
        self.state.lock().unwrap().push(repo_key(account, region, repository), tag)
    }

    /// An empty repository.
    pub fn create_repository(&self, account: &str, region: &str, repository: &str) {
        self.state.lock().unwrap().registries.entry(repo_key(account, region, repository)).or_default();
    }

    /// Sets ECR's `imageStatus` of the image `tag` names (ARCHIVED, ACTIVATING, ACTIVE).
    pub fn set_image_status(&self, account: &str, region: &str, repository: &str, tag: &str, status: &str) {
        let mut s = self.state.lock().unwrap();
        let images = s.registries.get_mut(&repo_key(account, region, repository)).expect("a repository");
        let image = images.iter_mut().find(|i| i.tags.iter().any(|t| t == tag)).expect("an image with that tag");
        image.status = status.to_owned();
    }

    /// The digest `tag` points to now.
    pub fn digest(&self, account: &str, region: &str, repository: &str, tag: &str) -> String {
        let s = self.state.lock().unwrap();
        let images = &s.registries[&repo_key(account, region, repository)];
        images.iter().find(|i| i.tags.iter().any(|t| t == tag)).expect("an image with that tag").digest.clone()
    }

    /// Scripts the rollouts that the next UpdateService calls start.
    pub fn rollouts(&self, rollouts: impl IntoIterator<Item = Rollout>) {
        self.state.lock().unwrap().rollouts.extend(rollouts);
    }

    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    pub fn fail_next(&self, op: &'static str, kind: AwsErrorKind, applied: bool) {
        let mut s = self.state.lock().unwrap();
        s.faults.entry(op).or_default().push_back(Some(Fault { error: error(op, kind), applied }));
    }

    /// Lets the next call of `op` through; with [`FakeAws::fail_next`], fails a later call.
    pub fn pass_next(&self, op: &'static str) {
        self.state.lock().unwrap().faults.entry(op).or_default().push_back(None);
    }

    pub fn ops(&self) -> Vec<&'static str> {
        self.state.lock().unwrap().calls.iter().map(|c| c.op).collect()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn service(&self, name: &str) -> Service {
        self.state.lock().unwrap().services[name].clone()
    }

    pub fn revisions(&self, family_name: &str) -> Vec<DescribedTaskDefinition> {
        let s = self.state.lock().unwrap();
        s.task_definitions.iter().filter(|d| d.task_definition.family() == Some(family_name)).cloned().collect()
    }

    /// Runs one call: waits the latency, records it, then either fails it or applies `body`.
    pub(crate) async fn call<T>(
        &self,
        op: &'static str,
        arg: &str,
        body: impl FnOnce(&mut State) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let started = Instant::now();
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let mut s = self.state.lock().unwrap();
        s.advance();
        s.calls.push(Call { op, arg: arg.to_owned(), started, ended: Instant::now() });
        match s.faults.get_mut(op).and_then(VecDeque::pop_front).flatten() {
            Some(Fault { error, applied: true }) => {
                let _ = body(&mut s);
                Err(error)
            }
            Some(Fault { error, applied: false }) => Err(error),
            None => body(&mut s),
        }
    }
}

fn find<'a>(s: &'a State, name: &str) -> Option<&'a DescribedTaskDefinition> {
    let wanted = family_revision(name);
    if wanted.contains(':') {
        s.task_definitions
            .iter()
            .find(|d| family_revision(d.task_definition.task_definition_arn().unwrap_or_default()) == wanted)
    } else {
        s.task_definitions
            .iter()
            .filter(|d| d.task_definition.family() == Some(wanted))
            .filter(|d| d.task_definition.status() == Some(&TaskDefinitionStatus::Active))
            .max_by_key(|d| d.task_definition.revision)
    }
}

impl Ecs for FakeAws {
    async fn list_service_deployments(
        &self,
        _cluster: &str,
        service: &str,
        statuses: &[ServiceDeploymentStatus],
    ) -> Result<Vec<ServiceDeploymentBrief>, AwsError> {
        self.call("ListServiceDeployments", service, |s| {
            let prefix = format!("/{service}/");
            Ok(s.service_deployments
                .iter()
                .rev()
                .filter(|(arn, _)| arn.contains(&prefix))
                .filter(|(_, (sd, _))| statuses.is_empty() || sd.status().is_some_and(|st| statuses.contains(st)))
                .map(|(arn, (sd, _))| {
                    ServiceDeploymentBrief::builder()
                        .service_deployment_arn(arn)
                        .set_status(sd.status().cloned())
                        .set_created_at(sd.created_at().cloned())
                        .set_target_service_revision_arn(sd.target_service_revision().and_then(|t| t.arn.clone()))
                        .build()
                })
                .collect())
        })
        .await
    }

    async fn describe_service_deployment(&self, arn: &str) -> Result<Option<ServiceDeployment>, AwsError> {
        self.call("DescribeServiceDeployments", arn, |s| {
            let Some((now, next)) = s.service_deployments.get_mut(arn) else { return Ok(None) };
            let answer = now.clone();
            if let Some(following) = next.pop_front() {
                *now = following;
            }
            Ok(Some(answer))
        })
        .await
    }

    async fn describe_service_revision(&self, arn: &str) -> Result<Option<ServiceRevision>, AwsError> {
        self.call("DescribeServiceRevisions", arn, |s| Ok(s.service_revisions.get(arn).cloned())).await
    }

    async fn stop_service_deployment(&self, arn: &str) -> Result<DeploymentAnswer, AwsError> {
        self.call("StopServiceDeployment", arn, |s| {
            let Some((now, next)) = s.service_deployments.get_mut(arn) else {
                return Err(error("StopServiceDeployment", AwsErrorKind::Rejected));
            };
            if terminal(now.status()) {
                return Ok(DeploymentAnswer::Conflict(format!("{arn} is {:?}", now.status())));
            }
            let reason = "Service deployment rolled back because of a StopServiceDeployment request.";
            let mut step = NativeStep::new(
                ServiceDeploymentStatus::RollbackInProgress,
                ServiceDeploymentLifecycleStage::BakeTime,
                0.0,
            );
            step.rollback_reason = Some(reason.into());
            *now = service_deployment(arn, "", &step);
            step.status = ServiceDeploymentStatus::RollbackSuccessful;
            next.clear();
            next.push_back(service_deployment(arn, "", &step));
            // Blue takes all traffic again: the service is back on the revision it ran before.
            let service = arn.rsplit('/').nth(1).unwrap_or_default().to_owned();
            if let Some(svc) = s.services.get_mut(&service) {
                let blue = svc.deployments().iter().find(|d| d.status() == Some("ACTIVE")).cloned();
                if let Some(mut blue) = blue {
                    blue.status = Some("PRIMARY".into());
                    blue.rollout_state = Some(DeploymentRolloutState::Completed);
                    svc.task_definition = blue.task_definition.clone();
                    svc.deployments = Some(vec![blue]);
                }
            }
            Ok(DeploymentAnswer::Accepted)
        })
        .await
    }

    async fn continue_service_deployment(
        &self,
        arn: &str,
        hook_id: &str,
        action: DeploymentLifecycleHookAction,
    ) -> Result<DeploymentAnswer, AwsError> {
        self.call("ContinueServiceDeployment", &format!("{hook_id} {}", action.as_str()), |s| {
            let Some((now, next)) = s.service_deployments.get_mut(arn) else {
                return Err(error("ContinueServiceDeployment", AwsErrorKind::Rejected));
            };
            if terminal(now.status()) {
                return Ok(DeploymentAnswer::Conflict(format!("{arn} is finished")));
            }
            let status = if action == DeploymentLifecycleHookAction::Rollback {
                ServiceDeploymentStatus::RollbackSuccessful
            } else {
                ServiceDeploymentStatus::Successful
            };
            *now =
                service_deployment(arn, "", &NativeStep::new(status, ServiceDeploymentLifecycleStage::CleanUp, 100.0));
            next.clear();
            Ok(DeploymentAnswer::Accepted)
        })
        .await
    }

    async fn describe_image(&self, at: &ImageQuery, version: &Version) -> Result<ImageLookup, AwsError> {
        let account = at.registry_id.clone().unwrap_or_else(|| ACCOUNT.to_owned());
        let arg = format!("{account}/{}/{}:{version}", at.region, at.repository);
        self.call("DescribeImages", &arg, |s| {
            let Some(images) = s.registries.get(&repo_key(&account, &at.region, &at.repository)) else {
                return Ok(ImageLookup::RepositoryMissing);
            };
            let wanted = version.to_string();
            Ok(match images.iter().find(|i| i.digest == wanted || i.tags.contains(&wanted)) {
                Some(i) => ImageLookup::Found {
                    registry_id: account.clone(),
                    digest: Some(i.digest.clone()),
                    status: Some(i.status.clone()),
                },
                None => ImageLookup::ImageMissing,
            })
        })
        .await
    }

    async fn describe_cluster(&self, cluster: &str) -> Result<Option<Cluster>, AwsError> {
        self.call("DescribeClusters", cluster, |s| Ok(s.clusters.get(cluster).cloned())).await
    }

    async fn describe_service(&self, cluster: &str, service: &str) -> Result<ServiceLookup, AwsError> {
        self.call("DescribeServices", service, |s| {
            Ok(if !s.clusters.contains_key(cluster) {
                ServiceLookup::ClusterMissing
            } else {
                s.services
                    .get(service)
                    .map_or(ServiceLookup::Missing, |svc| ServiceLookup::Found(Box::new(svc.clone())))
            })
        })
        .await
    }

    async fn describe_task_definition(&self, name: &str) -> Result<Option<DescribedTaskDefinition>, AwsError> {
        self.call("DescribeTaskDefinition", name, |s| Ok(find(s, name).cloned())).await
    }

    async fn register_task_definition(&self, input: RegisterTaskDefinitionInput) -> Result<TaskDefinition, AwsError> {
        let family_name = input.family.clone().unwrap_or_default();
        self.call("RegisterTaskDefinition", &family_name, |s| {
            let revision = s
                .task_definitions
                .iter()
                .filter(|d| d.task_definition.family() == Some(family_name.as_str()))
                .map(|d| d.task_definition.revision)
                .max()
                .unwrap_or(0)
                + 1;
            #[allow(deprecated)] // inference_accelerators is stored like every other field
            let td = TaskDefinition::builder()
                .task_definition_arn(arn(&format!("{family_name}:{revision}")))
                .family(family_name.clone())
                .revision(revision)
                .status(TaskDefinitionStatus::Active)
                .set_container_definitions(input.container_definitions)
                .set_task_role_arn(input.task_role_arn)
                .set_execution_role_arn(input.execution_role_arn)
                .set_network_mode(input.network_mode)
                .set_volumes(input.volumes)
                .set_placement_constraints(input.placement_constraints)
                .set_requires_compatibilities(input.requires_compatibilities)
                .set_cpu(input.cpu)
                .set_memory(input.memory)
                .set_pid_mode(input.pid_mode)
                .set_ipc_mode(input.ipc_mode)
                .set_proxy_configuration(input.proxy_configuration)
                .set_inference_accelerators(input.inference_accelerators)
                .set_ephemeral_storage(input.ephemeral_storage)
                .set_runtime_platform(input.runtime_platform)
                .set_enable_fault_injection(input.enable_fault_injection)
                .build();
            s.task_definitions
                .push(DescribedTaskDefinition { task_definition: td.clone(), tags: input.tags.unwrap_or_default() });
            Ok(td)
        })
        .await
    }

    async fn update_service(
        &self,
        _cluster: &str,
        service: &str,
        task_definition_arn: &str,
        force_new_deployment: bool,
    ) -> Result<Service, AwsError> {
        let arg =
            if force_new_deployment { format!("{task_definition_arn} (force)") } else { task_definition_arn.into() };
        self.call("UpdateService", &arg, |s| {
            let active = find(s, task_definition_arn)
                .is_some_and(|d| d.task_definition.status() == Some(&TaskDefinitionStatus::Active));
            if !active {
                return Err(error("UpdateService", AwsErrorKind::Rejected));
            }
            let digests = s.resolve_digests(task_definition_arn);
            s.next_deployment += 1;
            let id = format!("ecs-svc/{}", s.next_deployment);
            let rollout = s.rollouts.pop_front().unwrap_or(DEFAULT_ROLLOUT);
            let now = s.now;
            let previous = s.services.get(service).and_then(|svc| svc.task_definition.clone()).unwrap_or_default();
            let tracking = Tracking { rollout, started: now, service: service.to_owned(), previous, digests };
            s.tracking.insert(id.clone(), tracking);
            let svc = s.services.get_mut(service).ok_or_else(|| error("UpdateService", AwsErrorKind::Rejected))?;
            let mut deployments: Vec<Deployment> = svc.deployments().to_vec();
            for d in &mut deployments {
                d.status = Some("ACTIVE".into());
            }
            deployments.insert(
                0,
                Deployment::builder()
                    .id(id)
                    .status("PRIMARY")
                    .task_definition(task_definition_arn)
                    .rollout_state(DeploymentRolloutState::InProgress)
                    .desired_count(2)
                    .build(),
            );
            svc.deployments = Some(deployments);
            svc.task_definition = Some(task_definition_arn.to_owned());
            let native = svc
                .deployment_configuration()
                .and_then(|c| c.strategy())
                .is_some_and(|st| crate::strategy::native::Kind::of(st).is_some());
            if native {
                let n = s.next_deployment;
                let arn = format!("arn:aws:ecs:eu-west-1:111122223333:service-deployment/prod/{service}/{n}");
                let steps = s.native_scripts.pop_front().unwrap_or_else(|| {
                    vec![NativeStep::new(
                        ServiceDeploymentStatus::Successful,
                        ServiceDeploymentLifecycleStage::CleanUp,
                        100.0,
                    )]
                });
                let mut states: VecDeque<ServiceDeployment> =
                    steps.iter().map(|st| service_deployment(&arn, task_definition_arn, st)).collect();
                let first = states.pop_front().expect("a scripted state");
                s.service_revisions.insert(
                    revision_arn(&arn),
                    ServiceRevision::builder()
                        .service_revision_arn(revision_arn(&arn))
                        .task_definition(task_definition_arn)
                        .set_container_images(Some(
                            find(s, task_definition_arn)
                                .map(|d| {
                                    d.task_definition
                                        .container_definitions()
                                        .iter()
                                        .map(|c| {
                                            ContainerImage::builder()
                                                .set_container_name(c.name.clone())
                                                .set_image(c.image.clone())
                                                .build()
                                        })
                                        .collect()
                                })
                                .unwrap_or_default(),
                        ))
                        .build(),
                );
                s.service_deployments.insert(arn.clone(), (first, states));
                let stale = s.stale_current_deployment;
                let svc = s.services.get_mut(service).expect("the service");
                let before = svc.current_service_deployment.replace(arn);
                let mut answer = svc.clone();
                if stale {
                    answer.current_service_deployment = before;
                }
                return Ok(answer);
            }
            Ok(svc.clone())
        })
        .await
    }

    async fn deregister_task_definition(&self, task_definition_arn: &str) -> Result<(), AwsError> {
        self.call("DeregisterTaskDefinition", task_definition_arn, |s| {
            let wanted = family_revision(task_definition_arn).to_owned();
            let found = s
                .task_definitions
                .iter_mut()
                .find(|d| family_revision(d.task_definition.task_definition_arn().unwrap_or_default()) == wanted);
            match found {
                Some(d) => {
                    d.task_definition.status = Some(TaskDefinitionStatus::Inactive);
                    Ok(())
                }
                None => Err(error("DeregisterTaskDefinition", AwsErrorKind::Rejected)),
            }
        })
        .await
    }

    async fn list_task_definitions(
        &self,
        family_name: &str,
        status: TaskDefinitionStatus,
    ) -> Result<Vec<String>, AwsError> {
        self.call("ListTaskDefinitions", family_name, |s| {
            let mut found: Vec<(i32, String)> = s
                .task_definitions
                .iter()
                .map(|d| &d.task_definition)
                .filter(|td| td.family() == Some(family_name) && td.status() == Some(&status))
                .map(|td| (td.revision(), td.task_definition_arn().unwrap_or_default().to_owned()))
                .collect();
            found.sort_by_key(|f| std::cmp::Reverse(f.0));
            Ok(found.into_iter().map(|(_, arn)| arn).collect())
        })
        .await
    }

    async fn list_tasks(
        &self,
        _cluster: &str,
        _service: &str,
        desired: DesiredStatus,
    ) -> Result<Vec<String>, AwsError> {
        self.call("ListTasks", desired.as_str(), |s| {
            let tasks = if desired == DesiredStatus::Stopped { &s.stopped_tasks } else { &s.running_tasks };
            Ok(tasks.iter().filter_map(|t| t.task_arn.clone()).collect())
        })
        .await
    }

    async fn list_family_tasks(&self, _cluster: &str, family_name: &str) -> Result<Vec<String>, AwsError> {
        self.call("ListTasks", &format!("family={family_name}"), |s| {
            Ok(s.running_tasks
                .iter()
                .filter(|t| crate::plan::family(t.task_definition_arn().unwrap_or_default()) == family_name)
                .filter_map(|t| t.task_arn.clone())
                .collect())
        })
        .await
    }

    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        self.call("ListServices", cluster, |s| Ok(s.services.keys().map(|name| service_arn(name)).collect())).await
    }

    async fn describe_services(&self, _cluster: &str, services: &[String]) -> Result<Vec<Service>, AwsError> {
        let mut found = Vec::new();
        // Ten at a time, as ECS takes them.
        for batch in services.chunks(10) {
            let batch_found = self
                .call("DescribeServices", &batch.len().to_string(), |s| {
                    Ok(batch
                        .iter()
                        .filter_map(|name| s.services.get(name.rsplit('/').next().unwrap_or_default()).cloned())
                        .collect::<Vec<_>>())
                })
                .await?;
            found.extend(batch_found);
        }
        Ok(found)
    }

    async fn delete_task_definitions(&self, task_definition_arns: &[String]) -> Result<Deleted, AwsError> {
        let names: Vec<&str> = task_definition_arns.iter().map(|a| family_revision(a)).collect();
        self.call("DeleteTaskDefinitions", &names.join(","), |s| {
            if task_definition_arns.len() > 10 {
                return Err(error("DeleteTaskDefinitions", AwsErrorKind::Rejected));
            }
            let mut answer = Deleted::default();
            for wanted in task_definition_arns {
                let found = s.task_definitions.iter_mut().find(|d| {
                    family_revision(d.task_definition.task_definition_arn().unwrap_or_default())
                        == family_revision(wanted)
                });
                match found {
                    Some(d) if d.task_definition.status() == Some(&TaskDefinitionStatus::Inactive) => {
                        d.task_definition.status = Some(TaskDefinitionStatus::DeleteInProgress);
                        answer.deleted.push(d.task_definition.task_definition_arn().unwrap_or_default().to_owned());
                    }
                    Some(_) => answer.failures.push((wanted.clone(), "The task definition must be INACTIVE".into())),
                    None => answer.failures.push((wanted.clone(), "MISSING".into())),
                }
            }
            Ok(answer)
        })
        .await
    }

    async fn describe_tasks(&self, _cluster: &str, task_arns: &[String]) -> Result<Vec<Task>, AwsError> {
        self.call("DescribeTasks", &task_arns.len().to_string(), |s| {
            Ok(s.running_tasks
                .iter()
                .chain(&s.stopped_tasks)
                .filter(|t| t.task_arn().is_some_and(|a| task_arns.iter().any(|x| x == a)))
                .cloned()
                .collect())
        })
        .await
    }
}

impl FakeAws {
    /// Scripts the service deployments that the next UpdateService calls of an ECS-native service start.
    pub fn native_scripts(&self, scripts: impl IntoIterator<Item = Vec<NativeStep>>) {
        self.state.lock().unwrap().native_scripts.extend(scripts);
    }

    /// A service deployment already in flight on `service`, started by someone else.
    pub fn in_flight(&self, service: &str) -> String {
        let arn = format!("arn:aws:ecs:eu-west-1:111122223333:service-deployment/prod/{service}/foreign");
        let step =
            NativeStep::new(ServiceDeploymentStatus::InProgress, ServiceDeploymentLifecycleStage::BakeTime, 100.0);
        let sd = service_deployment(&arn, "web:6", &step);
        self.state.lock().unwrap().service_deployments.insert(arn.clone(), (sd, VecDeque::new()));
        arn
    }

    async fn take(&self, key: &str, holder: &str, lease: Duration) -> Result<LockState, AwsError> {
        self.call("PutItem", key, |s| {
            let now = s.now;
            match s.locks.get(key) {
                Some((other, since, expires)) if *expires > now && other != holder => {
                    Ok(LockState::HeldBy { holder: other.clone(), since: format!("t+{}s", since.as_secs()) })
                }
                _ => {
                    s.locks.insert(key.to_owned(), (holder.to_owned(), now, now + lease));
                    Ok(LockState::Acquired)
                }
            }
        })
        .await
    }

    async fn let_go(&self, key: &str, holder: &str) -> Result<(), AwsError> {
        self.call("DeleteItem", key, |s| {
            if s.locks.get(key).is_some_and(|(h, _, _)| h == holder) {
                s.locks.remove(key);
            }
            Ok(())
        })
        .await
    }
}

impl Lock for FakeAws {
    fn acquire<'a>(
        &'a self,
        key: &'a str,
        holder: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<LockState, AwsError>> {
        self.take(key, holder, lease).boxed()
    }

    fn release<'a>(&'a self, key: &'a str, holder: &'a str) -> BoxFuture<'a, Result<(), AwsError>> {
        self.let_go(key, holder).boxed()
    }
}

/// The history on the fake lock table: PutItem replaces a record, Query reads a service's newest first.
impl crate::ports::History for FakeAws {
    fn put<'a>(&'a self, record: &'a crate::ports::HistoryRecord) -> BoxFuture<'a, Result<(), AwsError>> {
        self.call("PutItem", &record.id, move |s| {
            s.history.retain(|r| !(r.service == record.service && r.id == record.id));
            s.history.push(record.clone());
            Ok(())
        })
        .boxed()
    }

    fn recent<'a>(
        &'a self,
        service: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<crate::ports::HistoryRecord>, AwsError>> {
        self.call("Query", service, move |s| {
            let mut mine: Vec<&crate::ports::HistoryRecord> =
                s.history.iter().filter(|r| r.service == service).collect();
            mine.sort_by_key(|r| std::cmp::Reverse(r.at_ms));
            Ok(mine.into_iter().take(limit as usize).cloned().collect())
        })
        .boxed()
    }
}

/// How many calls of `calls` ran one after another: the longest chain of calls each started after the one
/// before it ended (calls that overlap are one round).
pub fn rounds(calls: &[Call]) -> usize {
    let mut sorted: Vec<&Call> = calls.iter().collect();
    sorted.sort_by_key(|c| c.started);
    let mut levels: Vec<(Instant, usize)> = Vec::with_capacity(sorted.len());
    for c in sorted {
        let level = 1 + levels.iter().filter(|(ended, _)| *ended <= c.started).map(|(_, l)| *l).max().unwrap_or(0);
        levels.push((c.ended, level));
    }
    levels.iter().map(|(_, l)| *l).max().unwrap_or(0)
}

/// The virtual clock: it moves only when someone sleeps on it (or a test moves it).
impl Clock for FakeAws {
    fn now(&self) -> Duration {
        self.state.lock().unwrap().now
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()> {
        self.state.lock().unwrap().now += duration;
        tokio::task::yield_now().boxed()
    }

    fn unix_millis(&self) -> u64 {
        FAKE_EPOCH_MS + u64::try_from(self.now().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A notifier that keeps every notification, for tests to read.
#[derive(Clone, Default)]
pub struct Recorder(pub std::sync::Arc<std::sync::Mutex<Vec<crate::notify::Notification>>>);

impl crate::notify::Notifier for Recorder {
    fn notify<'a>(&'a self, n: &'a crate::notify::Notification) -> futures_util::future::BoxFuture<'a, ()> {
        self.0.lock().unwrap().push(n.clone());
        futures_util::future::ready(()).boxed()
    }
}

impl Recorder {
    pub fn events(&self) -> Vec<(&'static str, Option<String>, Option<String>)> {
        self.0.lock().unwrap().iter().map(|n| (n.event.as_str(), n.from.clone(), n.to.clone())).collect()
    }
}

/// The ARN of the fake world's cluster `prod`.
pub const CLUSTER_ARN: &str = "arn:aws:ecs:eu-west-1:111122223333:cluster/prod";

/// The ARN of service `name` of the fake world's cluster.
pub fn service_arn(name: &str) -> String {
    format!("arn:aws:ecs:eu-west-1:111122223333:service/prod/{name}")
}

impl FakeAws {
    /// Another service of the cluster, running `family_revision` in one task.
    pub fn add_service(&self, name: &str, family_revision: &str) {
        let mut s = self.state.lock().unwrap();
        s.running_tasks.push(service_task(family_revision, 0, None, name, &[]));
        s.services.insert(
            name.into(),
            Service::builder()
                .service_name(name)
                .service_arn(service_arn(name))
                .status("ACTIVE")
                .task_definition(arn(family_revision))
                .deployments(
                    Deployment::builder()
                        .id("ecs-svc/other")
                        .status("PRIMARY")
                        .task_definition(arn(family_revision))
                        .build(),
                )
                .build(),
        );
    }

    /// Another service like `web` (same strategy and settings, no deployment in flight) running `family:1`, a
    /// revision like `web:7` of its own family with the app at v1.
    pub fn add_service_of_family(&self, name: &str, family: &str) {
        let mut td = described(1, "v1");
        td.task_definition.family = Some(family.into());
        td.task_definition.task_definition_arn = Some(arn(&format!("{family}:1")));
        let mut s = self.state.lock().unwrap();
        let mut service = s.services["web"].clone();
        service.service_name = Some(name.into());
        service.task_definition = td.task_definition.task_definition_arn.clone();
        service.deployments = None;
        s.services.insert(name.into(), service);
        s.task_definitions.push(td);
    }

    /// A task started outside any service (RunTask, a schedule), running `family_revision`.
    pub fn run_task(&self, family_revision: &str, n: usize) {
        let mut t = task(family_revision, n, None);
        t.group = Some("family:web".into());
        t.started_by = Some("events-rule/nightly".into());
        t.last_status = Some("PENDING".into());
        self.state.lock().unwrap().running_tasks.push(t);
    }

    /// An EventBridge rule `rule` whose ECS target (the cluster) starts `task_definition`: a revision ARN, or
    /// a family ARN without revision.
    pub fn add_rule(&self, rule: &str, task_definition: &str) {
        let target = RuleTarget {
            rule: rule.to_owned(),
            arn: CLUSTER_ARN.to_owned(),
            task_definition: Some(task_definition.to_owned()),
        };
        self.state.lock().unwrap().rules.entry(rule.to_owned()).or_default().push(target);
    }
}

impl Events for FakeAws {
    async fn list_rule_names_by_target(&self, target_arn: &str) -> Result<Vec<String>, AwsError> {
        self.call("ListRuleNamesByTarget", target_arn, |s| {
            Ok(s.rules
                .iter()
                .filter(|(_, ts)| ts.iter().any(|t| t.arn == target_arn))
                .map(|(r, _)| r.clone())
                .collect())
        })
        .await
    }

    async fn list_targets_by_rule(&self, rule: &str) -> Result<Vec<RuleTarget>, AwsError> {
        self.call("ListTargetsByRule", rule, |s| Ok(s.rules.get(rule).cloned().unwrap_or_default())).await
    }
}

/// Where the virtual clock's wall time starts: 2025-10-09.
pub const FAKE_EPOCH_MS: u64 = 1_760_000_000_000;
