//! The deployer: the stages composed. A request is resolved once (stage 2); a deploy then takes the
//! service's lock alongside the preflight (3), plans (4), registers and starts the rollout with the
//! service's strategy (5), follows it (6, 7) and rolls back when it fails (8). Every AWS call goes through
//! the [`crate::ports`]; time is read only from the [`Clock`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use contract::names::Region;
use contract::request::DeployRequest;
use contract::result::{DeployResult, ServiceDeploymentReport, Status, Timings};
use serde_json::Value;
use tracing::Instrument;

use crate::config::Config;
use crate::error::DeployError;
use crate::fanout::{self, Fleet};
use crate::notify::{DeployEvent, NoNotifier, Notification, Notifier};
use crate::plan::digest::Running;
use crate::plan::{self, describe_name, family_revision, plan, Action, PlanInput};
use crate::ports::{Clock, Ecs, History, ImageQuery, Lock, NoHistory, NoLock, SystemClock};
use crate::preflight::{self, PreflightFacts, ServiceCache};
use crate::request::{self, DeployTarget, Invocation, Resolved, Scope, ServiceRef, ANSWER_MARGIN};
use crate::result::{self, millis};
use crate::rollback;
use crate::strategy::Strategy;
use crate::{apply, follow, lock, status};

/// Builds the ECS seam for another region; called at most once per region per process.
pub type RegionFactory<E> = Box<dyn Fn(&str) -> E + Send + Sync>;

pub struct Deployer<E> {
    home: Arc<E>,
    region: String,
    other_regions: Mutex<HashMap<String, Arc<E>>>,
    factory: Option<RegionFactory<E>>,
    lock: Arc<dyn Lock>,
    history: Arc<dyn History>,
    clock: Arc<dyn Clock>,
    notifier: Box<dyn Notifier>,
    config: Config,
    cache: ServiceCache,
}

/// The change a deploy makes once its checks passed.
pub(crate) enum Change {
    Register(Box<RegisterTaskDefinitionInput>),
    /// The revision stays; its tasks are replaced so that they pull the tag's new digest.
    ForceNewDeployment,
    /// An existing revision (`task_definition`), by ARN: nothing is registered.
    Existing(String),
}

/// What a deploy knows once it decided its change: where it started from and what it reports.
pub(crate) struct Decided {
    pub strategy: Strategy,
    pub base: crate::ports::DescribedTaskDefinition,
    /// The revision the service runs, `family:revision` and ARN.
    pub previous: String,
    pub previous_arn: String,
    pub result: DeployResult,
    pub timings: Timings,
    /// When the deploy began, on the clock.
    pub started: Duration,
}

impl<E: Ecs> Deployer<E> {
    /// A deployer for `region`, the function's own, with no lock, the system clock and no notifications.
    pub fn new(ecs: E, config: Config, region: impl Into<String>) -> Self {
        Deployer::shared(Arc::new(ecs), config, region)
    }

    /// [`Deployer::new`] with an ECS seam that something else holds too (a test's fake).
    pub fn shared(ecs: Arc<E>, config: Config, region: impl Into<String>) -> Self {
        Deployer {
            home: ecs,
            region: region.into(),
            other_regions: Mutex::default(),
            factory: None,
            lock: Arc::new(NoLock),
            history: Arc::new(NoHistory),
            clock: Arc::new(SystemClock::default()),
            notifier: Box::new(NoNotifier),
            config,
            cache: ServiceCache::default(),
        }
    }

    /// Locks services through `lock` (one lock for every region: its key names the region).
    pub fn with_lock(mut self, lock: Arc<dyn Lock>) -> Self {
        self.lock = lock;
        self
    }

    /// Records every deploy and rollback in `history` (the lock table, in the function's region).
    pub fn with_history(mut self, history: Arc<dyn History>) -> Self {
        self.history = history;
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Tells `notifier` about every deploy that starts, succeeds, fails or is rolled back.
    pub fn with_notifier(mut self, notifier: impl Notifier + 'static) -> Self {
        self.notifier = Box::new(notifier);
        self
    }

    /// Lets targets name other regions; `factory` builds their ECS seam, once per region.
    pub fn with_regions(mut self, factory: RegionFactory<E>) -> Self {
        self.factory = Some(factory);
        self
    }

    /// The ECS seam of the function's own region.
    pub fn ecs(&self) -> &E {
        &self.home
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    pub(crate) fn lock(&self) -> &dyn Lock {
        &*self.lock
    }

    pub(crate) fn home_region(&self) -> &str {
        &self.region
    }

    /// Where `inv` resolves names: this deployer's region and the home the invocation names.
    pub fn scope<'a>(&'a self, inv: &'a Invocation) -> Scope<'a> {
        Scope::new(&self.region, inv.home.as_ref())
    }

    pub(crate) fn ecs_for(&self, region: Option<&Region>) -> Result<Arc<E>, DeployError> {
        let region = match region {
            None => return Ok(self.home.clone()),
            Some(r) if **r == self.region => return Ok(self.home.clone()),
            Some(r) => r,
        };
        let Some(factory) = &self.factory else {
            return Err(DeployError::InvalidRequest { reason: format!("this deployer cannot reach region {region}") });
        };
        let mut clients = self.other_regions.lock().unwrap_or_else(|p| p.into_inner());
        Ok(clients.entry(region.to_string()).or_insert_with(|| Arc::new(factory(region))).clone())
    }

    /// Runs a request: a deploy to one service or to every entry of `targets`, a rollback or a status. The
    /// JSON is the result the caller gets; a failed rollout is an error whose details are the result.
    pub async fn execute(&self, request: DeployRequest, inv: &Invocation) -> Result<Value, DeployError> {
        // A caller that cannot wait as long as the Lambda may run shortens the time every stage plans with.
        let within = request::answer_within(&request)?;
        let shortened;
        let inv = match within {
            Some(within) if within < inv.budget => {
                shortened = Invocation { budget: within, ..inv.clone() };
                &shortened
            }
            _ => inv,
        };
        match request::resolve(request, &self.config, &self.scope(inv))? {
            Resolved::Deploy(t) => {
                let ecs = self.ecs_for(t.at.region.as_ref())?;
                result::deploy_answer(self.deploy_target(&ecs, &t, inv).await?)
            }
            Resolved::FanOut { targets, all_or_nothing, dry_run } => {
                result::fan_out_answer(fanout::run(self, targets, all_or_nothing, dry_run, inv).await?)
            }
            Resolved::Rollback(r) => {
                let ecs = self.ecs_for(r.at.region.as_ref())?;
                let started_ms = self.clock.unix_millis();
                let rolled =
                    rollback::explicit(&*ecs, &*self.lock, &*self.history, &*self.clock, &self.region, &r, inv).await?;
                if rolled.status != Status::AlreadyDeployed {
                    self.remember(&self.rollback_record(&r, inv, &rolled, started_ms)).await;
                }
                result::render(&rolled)
            }
            Resolved::Status(at) => {
                let ecs = self.ecs_for(at.region.as_ref())?;
                result::render(&status::report(&*ecs, &at).await?)
            }
            Resolved::Hooks { at, action } => {
                let ecs = self.ecs_for(at.region.as_ref())?;
                result::render(&status::answer_hooks(&*ecs, &at, action).await?)
            }
            Resolved::History { at, limit } => {
                let ecs = self.ecs_for(at.region.as_ref())?;
                let key = at.lock_key(&self.region);
                result::render(&crate::revisions::history::read(&*ecs, &*self.history, &at, &key, limit).await?)
            }
            Resolved::Redeploy(r) => {
                let ecs = self.ecs_for(r.at.region.as_ref())?;
                result::deploy_answer(self.redeploy(&ecs, &r, inv).await?)
            }
            Resolved::Diff(t) => {
                let ecs = self.ecs_for(t.at.region.as_ref())?;
                result::render(&crate::revisions::diff::answer(self.deploy_target(&ecs, &t, inv).await?))
            }
            Resolved::DiffRevision(r) => {
                let ecs = self.ecs_for(r.at.region.as_ref())?;
                result::render(&crate::revisions::diff::answer(self.redeploy(&ecs, &r, inv).await?))
            }
            Resolved::Cleanup(c) => result::render(&self.cleanup(&c, inv).await?),
        }
    }

    /// The `cleanup` action. It takes the service's lock as a deploy does (not for a dry run, which changes
    /// nothing): a deploy racing a cleanup could register a revision and move the service onto it between the
    /// cleanup's reading of what is in use and its deregistrations, or the cleanup could deregister the
    /// revision a deploy is about to roll back to. A deploy that cleans up after itself holds the lock
    /// already and calls [`crate::revisions::cleanup::after_deploy`].
    pub async fn cleanup(
        &self,
        c: &request::CleanupTarget,
        inv: &Invocation,
    ) -> Result<contract::result::CleanupResult, DeployError> {
        let ecs = self.ecs_for(c.at.region.as_ref())?;
        let deadline = self.clock.now() + inv.budget.saturating_sub(ANSWER_MARGIN);
        let key = c.at.lock_key(&self.region);
        let work = crate::revisions::cleanup::run(&*ecs, &*self.clock, &*self.history, &key, c, deadline);
        let lease = lock::lease(inv.budget);
        lock::with_lock(&*self.lock, !c.dry_run, key.clone(), &inv.request_id, lease, c.at.service.name(), work).await
    }

    /// Ships `request.version` to one service and answers its result, whatever its status. The invocation
    /// is [`Invocation::default`]: no home, so a request naming an ARN is refused.
    pub async fn deploy(&self, request: DeployRequest) -> Result<DeployResult, DeployError> {
        self.deploy_with(request, &Invocation::default()).await
    }

    /// [`Deployer::deploy`] within the time `inv` gives.
    pub async fn deploy_with(&self, request: DeployRequest, inv: &Invocation) -> Result<DeployResult, DeployError> {
        match request::resolve(request, &self.config, &self.scope(inv))? {
            Resolved::Deploy(t) => {
                let ecs = self.ecs_for(t.at.region.as_ref())?;
                self.deploy_target(&ecs, &t, inv).await
            }
            _ => Err(DeployError::InvalidRequest { reason: "not a deploy to one service".into() }),
        }
    }

    /// The pipeline for one service: lock and preflight in one round, plan, apply, follow, roll back.
    pub(crate) async fn deploy_target(
        &self,
        ecs: &E,
        t: &DeployTarget,
        inv: &Invocation,
    ) -> Result<DeployResult, DeployError> {
        let span = tracing::info_span!(
            "deploy",
            cluster = %t.at.cluster,
            service = %t.at.service,
            version = %t.version,
            task_definition = tracing::field::Empty,
        );
        async {
            let started = self.clock.now();
            let take = !t.options.dry_run;
            let key = t.at.lock_key(&self.region);
            let lease = lock::lease(inv.budget);
            let region = t.at.region.as_deref().unwrap_or(&self.region);
            let checked = preflight::check(ecs, t, region, &self.cache);
            let (held, facts) =
                lock::acquire_with(&*self.lock, take, key, &inv.request_id, lease, &t.at.service, checked).await?;
            let outcome = match facts {
                Ok(facts) => self.run(ecs, t, inv, facts, started).await,
                Err(e) => Err(e),
            };
            held.release().await;
            outcome
        }
        .instrument(span)
        .await
    }

    async fn run(
        &self,
        ecs: &E,
        t: &DeployTarget,
        inv: &Invocation,
        facts: PreflightFacts,
        started: Duration,
    ) -> Result<DeployResult, DeployError> {
        if !t.options.force {
            preflight::refuse_foreign_rollout(t, &facts)?;
        }
        facts.strategy.before_change(ecs, &t.at, t.options.force).await?;
        let region = t.at.region.as_deref().unwrap_or(&self.region);
        let base = &facts.base.task_definition;
        let pull_through = &self.config.pull_through;
        let targets = plan::targets(base, &t.containers, &t.repository, region, pull_through).map_err(|reason| {
            // No container says where the image lives: report it also where it was expected, first.
            let mut failures = preflight::expected_failures(&facts.lookups, &t.version);
            failures.push(DeployError::NoTargetContainer {
                task_definition: describe_name(base),
                reason,
                containers: base.container_definitions().iter().filter_map(|c| c.name.clone()).collect(),
            });
            preflight::one_or_all(failures, t)
        })?;
        let mut queries: Vec<ImageQuery> = Vec::new();
        for target in targets {
            if !queries.contains(&target.query) {
                queries.push(target.query);
            }
        }
        self.cache.put_image_queries(t, &queries);
        let images = preflight::images(ecs, t, &facts.lookups, &queries).await?;
        let mut timings = Timings { preflight: millis(self.clock.now() - started), ..Timings::default() };
        let planned = plan(&PlanInput {
            base: &facts.base,
            running: &facts.running.task_definition,
            containers: &t.containers,
            repository: &t.repository,
            version: &t.version,
            region,
            pull_through,
            images: &images,
            pin_digest: t.pin_digest,
        })?;
        let previous = describe_name(&facts.running.task_definition);
        let previous_arn = facts.running.task_definition.task_definition_arn().unwrap_or(&previous).to_owned();
        let base_name = describe_name(&facts.base.task_definition);
        let (mut result, action) = result::dry_run(t, base_name, previous.clone(), planned);
        let change = match action {
            Action::Register(input) => Some(Change::Register(input)),
            Action::Unchanged => {
                let listed = facts.running_tasks;
                let running =
                    preflight::running_digests(ecs, t, &previous_arn, &mut result.containers_updated, listed).await?;
                if running == Running::Moved {
                    result.forced_new_deployment = true;
                    Some(Change::ForceNewDeployment)
                } else {
                    result.status = Status::AlreadyDeployed;
                    result.task_definition = Some(previous.clone());
                    result.containers_updated.clear();
                    None
                }
            }
        };
        let Some(change) = change.filter(|_| !t.options.dry_run) else {
            timings.total = millis(self.clock.now() - started);
            result.timings_ms = timings;
            tracing::info!(status = ?result.status, "deploy finished");
            return Ok(result);
        };
        let decided =
            Decided { strategy: facts.strategy, base: facts.base, previous, previous_arn, result, timings, started };
        self.roll_out(ecs, t, inv, change, decided).await
    }

    /// Stages 5 to 8 once the change is decided: register (unless the revision exists), start the rollout with
    /// the service's strategy, record it, follow it and roll back when asked; the history records the deploy
    /// as it starts (in the same round as the start) and again when it was followed to its end.
    pub(crate) async fn roll_out(
        &self,
        ecs: &E,
        t: &DeployTarget,
        inv: &Invocation,
        change: Change,
        decided: Decided,
    ) -> Result<DeployResult, DeployError> {
        let Decided { strategy, base, previous, previous_arn, mut result, mut timings, started } = decided;
        let step = self.clock.now();
        let started_notice =
            self.tell(DeployEvent::Started, &t.at, t.version.as_str(), Some(&previous), None, None, Some(started));
        let (arn, how) = match change {
            Change::Register(input) => {
                let (registered, ()) = tokio::join!(apply::register(ecs, *input, &base), started_notice);
                let arn = registered?
                    .task_definition_arn
                    .ok_or_else(|| contract::AwsError::incomplete("RegisterTaskDefinition", "task definition ARN"))?;
                timings.register = Some(millis(self.clock.now() - step));
                (arn, apply::Start::Registered)
            }
            Change::ForceNewDeployment => {
                started_notice.await;
                (previous_arn.clone(), apply::Start::ForceNewDeployment)
            }
            Change::Existing(arn) => {
                started_notice.await;
                (arn, apply::Start::Existing)
            }
        };
        let name = family_revision(&arn).to_owned();
        tracing::Span::current().record("task_definition", name.as_str());
        tracing::info!(forced = result.forced_new_deployment, "rolling out {name}");

        let step = self.clock.now();
        result.task_definition = Some(name.clone());
        let record = self.history_record(t, inv, &result, started);
        let (begun, ()) = tokio::join!(apply::start(ecs, strategy, &t.at, &arn, how), self.remember(&record));
        let begun = match begun {
            Ok(begun) => begun,
            Err(err) => {
                let reason = Some(err.to_string());
                let mut failed = record;
                failed.entry.status = Status::Failed.as_str().to_owned();
                failed.entry.reason.clone_from(&reason);
                failed.entry.ended_at = Some(crate::revisions::history::rfc3339(self.clock.unix_millis()));
                let told = self.tell(
                    DeployEvent::Failed,
                    &t.at,
                    t.version.as_str(),
                    Some(&previous),
                    None,
                    reason,
                    Some(started),
                );
                tokio::join!(told, self.remember(&failed));
                return Err(err);
            }
        };
        timings.update = Some(millis(self.clock.now() - step));
        result.status = Status::Deployed;
        result.deployment_id = begun.deployment_id;
        if let Strategy::Native(kind) = strategy {
            result.service_deployment = begun.service_deployment_arn.map(|arn| {
                Box::new(ServiceDeploymentReport {
                    arn,
                    strategy: kind.as_str().to_owned(),
                    ..ServiceDeploymentReport::default()
                })
            });
        }
        result.codedeploy = begun.codedeploy.map(Box::new);
        result.task_definition = Some(name);
        if t.options.wait {
            let elapsed = self.clock.now() - started;
            let deadline = self.clock.now() + inv.budget.saturating_sub(ANSWER_MARGIN + elapsed);
            let (clock, max_failed) = (&*self.clock, self.config.max_failed_tasks);
            follow::follow_deploy(ecs, clock, max_failed, strategy, t, &mut result, &arn, &previous_arn, deadline)
                .await?;
            let reason = result.rollout.as_ref().and_then(|r| r.failure.as_ref()).map(|f| f.reason.clone());
            let event = match result.status {
                Status::Completed => Some(DeployEvent::Succeeded),
                Status::RolledBack => Some(DeployEvent::RolledBack),
                Status::Failed => Some(DeployEvent::Failed),
                _ => None,
            };
            if let Some(event) = event {
                // A rollback moved the service from the failed revision to its target; anything else from the
                // revision it ran before to the one it runs now.
                let rolled = result.rollout.as_ref().and_then(|r| r.rollback.as_ref());
                let (from, to) = match rolled {
                    Some(b) if result.status == Status::RolledBack => (b.from.clone(), Some(b.to.clone())),
                    _ => (previous.clone(), result.task_definition.clone()),
                };
                let mut ended = record.clone();
                ended.entry.status = result.status.as_str().to_owned();
                ended.entry.reason.clone_from(&reason);
                ended.entry.deployment_id.clone_from(&result.deployment_id);
                ended.entry.ended_at = Some(crate::revisions::history::rfc3339(self.clock.unix_millis()));
                let told =
                    self.tell(event, &t.at, t.version.as_str(), Some(&from), to.as_deref(), reason, Some(started));
                tokio::join!(told, self.remember(&ended));
            }
        }
        if let Some(keep) = t.keep.filter(|_| matches!(result.status, Status::Deployed | Status::Completed)) {
            // Still under the deploy's lock; a cleanup that fails is reported in the log, the deploy stands.
            let deadline = started + inv.budget.saturating_sub(ANSWER_MARGIN);
            let key = t.at.lock_key(&self.region);
            let history = &*self.history;
            match crate::revisions::cleanup::after_deploy(ecs, &*self.clock, history, &key, &t.at, keep, deadline).await
            {
                Ok(cleaned) => result.cleanup = Some(Box::new(cleaned)),
                Err(e) => tracing::warn!(code = e.code().as_str(), "the cleanup after the deploy failed: {e}"),
            }
        }
        timings.total = millis(self.clock.now() - started);
        result.timings_ms = timings;
        tracing::info!(status = ?result.status, "deploy finished");
        Ok(result)
    }

    /// The history record of the deploy `result` describes, begun at `started` on the clock: `deployed`
    /// (written while the rollout starts, so it costs no round of its own) until its end is seen.
    fn history_record(
        &self,
        t: &DeployTarget,
        inv: &Invocation,
        result: &DeployResult,
        started: Duration,
    ) -> crate::ports::HistoryRecord {
        let started_ms = self.clock.unix_millis().saturating_sub(millis(self.clock.now() - started));
        let entry = contract::result::HistoryEntry {
            action: "deploy".into(),
            status: Status::Deployed.as_str().to_owned(),
            version: Some(t.version.to_string()),
            digest: result.containers_updated.iter().find_map(|c| c.digest_after.clone()),
            task_definition: result.task_definition.clone(),
            previous_task_definition: Some(result.previous_task_definition.clone()),
            at: crate::revisions::history::rfc3339(started_ms),
            ended_at: None,
            by: Some(t.requested_by.clone().unwrap_or_else(|| crate::revisions::history::DIRECT_INVOKE.into())),
            reason: None,
            deployment_id: None,
            source: contract::result::HistorySource::Record,
        };
        let key = t.at.lock_key(&self.region);
        crate::revisions::history::record(&key, &inv.request_id, started_ms, self.config.history_days, entry)
    }

    /// The history record of an explicit rollback that moved the service.
    fn rollback_record(
        &self,
        r: &request::RollbackTarget,
        inv: &Invocation,
        rolled: &contract::result::RollbackResult,
        started_ms: u64,
    ) -> crate::ports::HistoryRecord {
        use crate::revisions::history::{record, rfc3339, DIRECT_INVOKE};
        // Without `wait` the rollback's rollout goes on after the answer: its end is not seen here.
        let ended = r.wait && rolled.status != Status::InProgress;
        let entry = contract::result::HistoryEntry {
            action: "rollback".into(),
            status: rolled.status.as_str().to_owned(),
            version: rolled.version.clone(),
            digest: None,
            task_definition: Some(rolled.to.clone()),
            previous_task_definition: Some(rolled.from.clone()),
            at: rfc3339(started_ms),
            ended_at: ended.then(|| rfc3339(self.clock.unix_millis())),
            by: Some(r.requested_by.clone().unwrap_or_else(|| DIRECT_INVOKE.into())),
            reason: rolled.rollout.as_ref().and_then(|o| o.failure.as_ref()).map(|f| f.reason.clone()),
            deployment_id: rolled.deployment_id.clone(),
            source: contract::result::HistorySource::Record,
        };
        record(&r.at.lock_key(&self.region), &inv.request_id, started_ms, self.config.history_days, entry)
    }

    /// The newest record of a deploy of `task_definition` (`family:revision`) to `at` that has not ended, when
    /// the history has one (an unreadable history is logged and answers `None`).
    pub(crate) async fn open_record(
        &self,
        at: &ServiceRef,
        task_definition: &str,
    ) -> Option<crate::ports::HistoryRecord> {
        match self.history.recent(&at.lock_key(&self.region), 10).await {
            Ok(records) => records.into_iter().find(|r| {
                r.entry.action == "deploy"
                    && r.entry.ended_at.is_none()
                    && r.entry.task_definition.as_deref() == Some(task_definition)
            }),
            Err(e) => {
                tracing::warn!(code = e.code().as_str(), "the history records cannot be read: {e}");
                None
            }
        }
    }

    /// Records how the deploy of `record` ended, seen after the deploy answered (an EventBridge event).
    pub(crate) async fn end_record(
        &self,
        record: Option<crate::ports::HistoryRecord>,
        status: Status,
        reason: Option<String>,
        deployment_id: &str,
    ) {
        let Some(mut record) = record else { return };
        record.entry.status = status.as_str().to_owned();
        record.entry.reason = reason;
        record.entry.deployment_id = Some(deployment_id.to_owned());
        record.entry.ended_at = Some(crate::revisions::history::rfc3339(self.clock.unix_millis()));
        self.remember(&record).await;
    }

    /// Writes a history record; a failure is logged, never the deploy's.
    pub(crate) async fn remember(&self, record: &crate::ports::HistoryRecord) {
        if let Err(e) = self.history.put(record).await {
            tracing::warn!(code = e.code().as_str(), "the history record was not written: {e}");
        }
    }

    /// Sends one notification, its duration measured from `started` on the clock; it never fails the deploy.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn tell(
        &self,
        event: DeployEvent,
        at: &ServiceRef,
        version: &str,
        from: Option<&str>,
        to: Option<&str>,
        reason: Option<String>,
        started: Option<Duration>,
    ) {
        let duration_ms = started.map(|s| millis(self.clock.now() - s));
        self.send(&Notification::about(event, at, &self.region, version, from, to, reason, duration_ms)).await;
    }

    /// Sends a notification (built with [`Notification::about`]); it never fails.
    pub(crate) async fn send(&self, n: &Notification) {
        self.notifier.notify(n).await;
    }
}

impl<E: Ecs> Fleet for Deployer<E> {
    type Ecs = E;

    fn ecs_for(&self, region: Option<&Region>) -> Result<Arc<E>, DeployError> {
        Deployer::ecs_for(self, region)
    }

    fn deploy_one<'a>(
        &'a self,
        ecs: &'a E,
        t: &'a DeployTarget,
        inv: &'a Invocation,
    ) -> impl std::future::Future<Output = Result<DeployResult, DeployError>> + Send + 'a {
        self.deploy_target(ecs, t, inv)
    }

    fn put_back<'a>(
        &'a self,
        ecs: &'a E,
        t: &'a DeployTarget,
        deployed: DeployResult,
    ) -> impl std::future::Future<Output = Result<DeployResult, DeployError>> + Send + 'a {
        rollback::put_back(ecs, &*self.clock, t, deployed)
    }

    fn now(&self) -> Duration {
        self.clock.now()
    }
}
