//! The narrow seam between the deployer and AWS. The engine speaks only to [`Aws`]; `sdk.rs` implements
//! it with the real SDK clients and tests replace it with a fake.

use std::future::Future;

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types::{Cluster, Service, Tag, TaskDefinition};

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
}
