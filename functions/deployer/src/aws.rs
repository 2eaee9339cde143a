//! The narrow seam between the deployer and AWS. The engine speaks only to [`Aws`]; `sdk.rs` implements
//! it with the real SDK clients and tests replace it with a fake.

use std::future::Future;
use std::time::Duration;

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types::{Cluster, DesiredStatus, Service, Tag, Task, TaskDefinition};

use crate::error::AwsError;
use crate::version::Version;

/// What ECR knows of the image being deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageLookup {
    Found { registry_id: String, digest: Option<String> },
    ImageMissing,
    RepositoryMissing,
}

#[derive(Debug, Clone)]
pub enum ServiceLookup {
    Found(Box<Service>),
    Missing,
    /// DescribeServices named the cluster as missing; DescribeClusters reports that.
    ClusterMissing,
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

/// A task definition as DescribeTaskDefinition returns it with `include: [TAGS]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DescribedTaskDefinition {
    pub task_definition: TaskDefinition,
    pub tags: Vec<Tag>,
}

/// The AWS calls the deployer makes. Lookups turn "not found" into a value; every other failure is an
/// [`AwsError`].
pub trait Aws: Send + Sync {
    fn describe_image(
        &self,
        repository: &str,
        version: &Version,
    ) -> impl Future<Output = Result<ImageLookup, AwsError>> + Send;

    fn describe_cluster(&self, cluster: &str) -> impl Future<Output = Result<Option<Cluster>, AwsError>> + Send;

    fn describe_service(
        &self,
        cluster: &str,
        service: &str,
    ) -> impl Future<Output = Result<ServiceLookup, AwsError>> + Send;

    /// `task_definition` is a family (its newest ACTIVE revision), `family:revision` or an ARN.
    fn describe_task_definition(
        &self,
        task_definition: &str,
    ) -> impl Future<Output = Result<Option<DescribedTaskDefinition>, AwsError>> + Send;

    fn register_task_definition(
        &self,
        input: RegisterTaskDefinitionInput,
    ) -> impl Future<Output = Result<TaskDefinition, AwsError>> + Send;

    fn update_service(
        &self,
        cluster: &str,
        service: &str,
        task_definition_arn: &str,
    ) -> impl Future<Output = Result<Service, AwsError>> + Send;

    fn deregister_task_definition(
        &self,
        task_definition_arn: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Every task of the service with that desired status (all pages).
    fn list_tasks(
        &self,
        cluster: &str,
        service: &str,
        desired: DesiredStatus,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// The tasks named (any number: the implementation batches by 100).
    fn describe_tasks(
        &self,
        cluster: &str,
        task_arns: &[String],
    ) -> impl Future<Output = Result<Vec<Task>, AwsError>> + Send;

    /// Takes the lock `key` for `lease` unless someone else holds an unexpired lease on it. A holder that dies
    /// loses the lock when its lease runs out.
    fn acquire_lock(
        &self,
        key: &str,
        holder: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<LockState, AwsError>> + Send;

    /// Lets go of `key` if `holder` still holds it.
    fn release_lock(&self, key: &str, holder: &str) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Time on the seam's clock since it was made. Following a rollout reads time here and waits with
    /// [`Aws::sleep`], so tests run rollouts on a virtual clock.
    fn now(&self) -> Duration;

    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send;
}
