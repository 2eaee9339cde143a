//! The seams between the pipeline and the world, one trait per role, each with its real adapter beside it:
//!
//! ```text
//! Ecs     the ECS and ECR calls of a deploy     sdk/ (SdkEcs, EcrClients)   testing::FakeAws
//! CodeDeploy  CODE_DEPLOY services' deployments sdk/codedeploy.rs (SdkEcs) testing::FakeAws (a supertrait of Ecs)
//! Events  EventBridge rules' ECS targets (cleanup) sdk/events.rs (SdkEcs)  testing::FakeAws (a supertrait of Ecs)
//! Lock    one lease per service                 dynamodb_lock.rs (DynamoLock, NoLock)
//! History a record per deploy and rollback      dynamodb_history.rs (DynamoHistory, NoHistory) testing::FakeAws
//! Clock   monotonic time, sleeping, wall time   clock.rs (SystemClock)     testing::FakeAws (virtual)
//! ```
//! Notifications have their port in [`crate::notify`]; secrets in [`contract::secrets`].

pub mod clock;
pub mod codedeploy;
pub mod codepipeline;
pub mod dynamodb_history;
pub mod dynamodb_lock;
pub mod events;
pub mod sdk;

use std::future::Future;
use std::time::Duration;

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types::{
    Cluster, DeploymentLifecycleHookAction, DesiredStatus, Service, ServiceDeployment, ServiceDeploymentBrief,
    ServiceDeploymentStatus, ServiceRevision, Tag, Task, TaskDefinition, TaskDefinitionStatus,
};
use contract::names::Version;
use contract::AwsError;
use futures_util::future::BoxFuture;

pub use clock::SystemClock;
pub use codedeploy::{CodeDeploy, NewDeployment};
pub use codepipeline::{CodePipeline, JobFacts};
pub use dynamodb_history::{DynamoHistory, NoHistory};
pub use dynamodb_lock::{DynamoLock, NoLock};
pub use events::{Events, RuleTarget};
pub use sdk::{EcrClients, SdkEcs};

/// Where to look for an image: a repository of one ECR registry in one region.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageQuery {
    /// The registry's account id (ECR's `registryId`); `None`: the caller's own registry.
    pub registry_id: Option<String>,
    /// The registry's region: DescribeImages goes to an ECR client of this region.
    pub region: String,
    /// The repository path inside the registry, e.g. `team/web`.
    pub repository: String,
}

/// What ECR knows of the image being deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageLookup {
    Found {
        /// The account id of the registry that answered.
        registry_id: String,
        /// The `sha256:` digest of the image manifest the tag points to.
        digest: Option<String>,
        /// ECR's `imageStatus`: `ACTIVE`, `ARCHIVED`, `ACTIVATING` (`None` when ECR sends none: ACTIVE).
        status: Option<String>,
    },
    ImageMissing,
    RepositoryMissing,
}

/// What DescribeServices says of one service.
#[derive(Debug, Clone)]
pub enum ServiceLookup {
    Found(Box<Service>),
    Missing,
    /// DescribeServices named the cluster as missing; DescribeClusters reports that.
    ClusterMissing,
}

/// A task definition as DescribeTaskDefinition returns it with `include: [TAGS]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DescribedTaskDefinition {
    pub task_definition: TaskDefinition,
    pub tags: Vec<Tag>,
}

/// The ECS calls the deployer makes, in the region of the services it deploys, and the ECR calls, in the
/// region of each registry an image comes from. Lookups turn "not found" into a value; every other failure is an [`AwsError`] that says whether it may have taken effect.
pub trait Ecs: CodeDeploy + CodePipeline + Events + Send + Sync {
    /// [DescribeImages](https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_DescribeImages.html) of one
    /// tag or digest in `at.repository` of registry `at.registry_id` (`registryId`), through an ECR client of
    /// `at.region` (built once per region and reused). A missing repository or image is a value, not an error.
    fn describe_image(
        &self,
        at: &ImageQuery,
        version: &Version,
    ) -> impl Future<Output = Result<ImageLookup, AwsError>> + Send;

    /// [DescribeClusters](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeClusters.html); `None` when it is missing.
    fn describe_cluster(&self, cluster: &str) -> impl Future<Output = Result<Option<Cluster>, AwsError>> + Send;

    /// [DescribeServices](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html) of one service.
    fn describe_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> impl Future<Output = Result<ServiceLookup, AwsError>> + Send;

    /// [DescribeTaskDefinition](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTaskDefinition.html)
    /// with its tags. `task_definition` is a family (its newest ACTIVE revision), `family:revision` or an ARN.
    fn describe_task_definition(
        &self,
        task_definition: &str,
    ) -> impl Future<Output = Result<Option<DescribedTaskDefinition>, AwsError>> + Send;

    /// [RegisterTaskDefinition](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html).
    fn register_task_definition(
        &self,
        input: RegisterTaskDefinitionInput,
    ) -> impl Future<Output = Result<TaskDefinition, AwsError>> + Send;

    /// [UpdateService](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html) with a
    /// task definition only; `force_new_deployment` starts a deployment even when the revision is the one the
    /// service runs (its tasks pull their images again).
    fn update_service(
        &self,
        cluster: &str,
        service: &str,
        task_definition_arn: &str,
        force_new_deployment: bool,
    ) -> impl Future<Output = Result<Service, AwsError>> + Send;

    /// [DeregisterTaskDefinition](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeregisterTaskDefinition.html).
    fn deregister_task_definition(
        &self,
        task_definition_arn: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// [ListTaskDefinitions](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTaskDefinitions.html)
    /// of one family (`familyPrefix`, then only exact matches kept) with that status, newest first, every
    /// page: task-definition ARNs.
    fn list_task_definitions(
        &self,
        family: &str,
        status: TaskDefinitionStatus,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// Every task of the service with that desired status (all pages of ListTasks).
    fn list_tasks(
        &self,
        cluster: &str,
        service: &str,
        desired: DesiredStatus,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// [ListTasks](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTasks.html) of the cluster
    /// with `family` and `desiredStatus` RUNNING (which includes PENDING tasks), every page: task ARNs of any
    /// revision of the family, whoever started them (services, schedules, RunTask).
    fn list_family_tasks(
        &self,
        cluster: &str,
        family: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// [ListServices](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListServices.html) of the
    /// cluster, every page: service ARNs.
    fn list_services(&self, cluster: &str) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// [DescribeServices](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServices.html) of
    /// any number of services (the adapter asks for 10 at a time, ECS's most); missing ones are left out.
    fn describe_services(
        &self,
        cluster: &str,
        services: &[String],
    ) -> impl Future<Output = Result<Vec<Service>, AwsError>> + Send;

    /// [DeleteTaskDefinitions](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DeleteTaskDefinitions.html)
    /// of at most 10 INACTIVE revisions (ECS's most per call): which went, and which ECS refused and why.
    fn delete_task_definitions(
        &self,
        task_definition_arns: &[String],
    ) -> impl Future<Output = Result<Deleted, AwsError>> + Send;

    /// The tasks named (any number: the adapter batches DescribeTasks by 100).
    fn describe_tasks(
        &self,
        cluster: &str,
        task_arns: &[String],
    ) -> impl Future<Output = Result<Vec<Task>, AwsError>> + Send;

    /// [ListServiceDeployments](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListServiceDeployments.html)
    /// of one service, newest first, its first page (20); `statuses` empty: every status.
    fn list_service_deployments(
        &self,
        cluster: &str,
        service: &str,
        statuses: &[ServiceDeploymentStatus],
    ) -> impl Future<Output = Result<Vec<ServiceDeploymentBrief>, AwsError>> + Send;

    /// [DescribeServiceDeployments](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceDeployments.html)
    /// of one service deployment ARN; `None` when ECS lists it in `failures[]` (MISSING).
    fn describe_service_deployment(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<ServiceDeployment>, AwsError>> + Send;

    /// [DescribeServiceRevisions](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeServiceRevisions.html)
    /// of one service revision ARN; `None` when ECS lists it in `failures[]`.
    fn describe_service_revision(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<Option<ServiceRevision>, AwsError>> + Send;

    /// [StopServiceDeployment](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_StopServiceDeployment.html)
    /// with `stopType` ROLLBACK. A `ConflictException` (finished, or already stopping) is an answer, not an error.
    fn stop_service_deployment(&self, arn: &str) -> impl Future<Output = Result<DeploymentAnswer, AwsError>> + Send;

    /// [ContinueServiceDeployment](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ContinueServiceDeployment.html)
    /// of the hook `hook_id` awaiting action, with CONTINUE or ROLLBACK. A `ConflictException` is an answer.
    fn continue_service_deployment(
        &self,
        arn: &str,
        hook_id: &str,
        action: DeploymentLifecycleHookAction,
    ) -> impl Future<Output = Result<DeploymentAnswer, AwsError>> + Send;
}

/// What one DeleteTaskDefinitions answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// The revisions now DELETE_IN_PROGRESS, as ECS named them (ARNs).
    pub deleted: Vec<String>,
    /// The revisions ECS refused (`failures[]`): ARN, reason and detail.
    pub failures: Vec<(String, String)>,
}

/// How ECS took a request that acts on a service deployment (StopServiceDeployment,
/// ContinueServiceDeployment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeploymentAnswer {
    Accepted,
    /// `ConflictException`: the service deployment is finished or already stopping; read it again.
    Conflict(String),
}

/// The answer to a lock request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    Acquired,
    /// Someone else holds an unexpired lease: who, and since when.
    HeldBy {
        holder: String,
        since: String,
    },
}

/// A lease per service, so two deploys never race.
pub trait Lock: Send + Sync {
    /// Takes the lock `key` for `lease` unless someone else holds an unexpired lease on it. A holder that dies
    /// loses the lock when its lease runs out.
    fn acquire<'a>(
        &'a self,
        key: &'a str,
        holder: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<LockState, AwsError>>;

    /// Lets go of `key` if `holder` still holds it.
    fn release<'a>(&'a self, key: &'a str, holder: &'a str) -> BoxFuture<'a, Result<(), AwsError>>;
}

/// One deploy or rollback as the history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRecord {
    /// The service: `<region>/<cluster>/<service>` (its lock key).
    pub service: String,
    /// Unique within the service: `<started unix ms>/<request id>`. Writing the same id again replaces the
    /// record (a deploy's end replaces its start).
    pub id: String,
    /// When it started, unix milliseconds.
    pub at_ms: u64,
    /// When the record may go, unix seconds.
    pub expires_at: u64,
    pub entry: contract::result::HistoryEntry,
}

/// Where deploys and rollbacks are recorded. A failed write never fails a deploy: the caller logs it.
pub trait History: Send + Sync {
    /// Writes `record`, replacing the one with the same service and id.
    fn put<'a>(&'a self, record: &'a HistoryRecord) -> BoxFuture<'a, Result<(), AwsError>>;

    /// The service's newest `limit` records, newest first.
    fn recent<'a>(&'a self, service: &'a str, limit: u32) -> BoxFuture<'a, Result<Vec<HistoryRecord>, AwsError>>;
}

/// Time as the pipeline reads it: following a rollout reads [`Clock::now`] and waits with [`Clock::sleep`],
/// so tests run rollouts on a virtual clock.
pub trait Clock: Send + Sync {
    /// Monotonic time since the clock was made.
    fn now(&self) -> Duration;

    fn sleep(&self, duration: Duration) -> BoxFuture<'_, ()>;

    /// Wall-clock time: milliseconds since the Unix epoch.
    fn unix_millis(&self) -> u64;
}
