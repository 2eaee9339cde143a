//! The CodeDeploy calls of a blue/green deploy of a service on the `CODE_DEPLOY` deployment controller, in
//! CodeDeploy's own terms (application, deployment group, deployment configuration, deployment, target).
//! Lookups turn "does not exist" into `None`; every other failure is an [`AwsError`].

use std::future::Future;

use aws_sdk_codedeploy::types::{DeploymentGroupInfo, DeploymentInfo, DeploymentTarget, DeploymentWaitType};
use contract::AwsError;

use super::DeploymentAnswer;

/// A CreateDeployment request of an ECS blue/green deployment: an AppSpec sent as `AppSpecContent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeployment {
    pub application: String,
    pub deployment_group: String,
    /// Overrides the group's deployment configuration (`None`: the group's).
    pub deployment_config: Option<String>,
    /// At most 512 characters: version and requester.
    pub description: String,
    /// The AppSpec as JSON ([`crate::strategy::codedeploy::appspec`]).
    pub appspec: String,
    /// Lower-case hex SHA-256 of `appspec`.
    pub sha256: String,
}

/// CodeDeploy in one region.
pub trait CodeDeploy: Send + Sync {
    /// [ListApplications](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ListApplications.html),
    /// every page, of the ECS compute platform only (BatchGetApplications in 100s).
    fn list_ecs_applications(&self) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// [ListDeploymentGroups](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ListDeploymentGroups.html)
    /// of `application`, every page; empty when the application does not exist.
    fn list_deployment_groups(&self, application: &str) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// [GetDeploymentGroup](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_GetDeploymentGroup.html);
    /// `None` when the application or the group does not exist.
    fn get_deployment_group(
        &self,
        application: &str,
        group: &str,
    ) -> impl Future<Output = Result<Option<DeploymentGroupInfo>, AwsError>> + Send;

    /// [ListDeployments](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ListDeployments.html) of one
    /// group still in flight (Created, Queued, InProgress, Baking, Ready), first page, newest first.
    fn list_in_flight_deployments(
        &self,
        application: &str,
        group: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// [ListDeployments](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ListDeployments.html) of one
    /// group that Succeeded, first page, newest first.
    fn list_succeeded_deployments(
        &self,
        application: &str,
        group: &str,
    ) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// Whether [GetDeploymentConfig](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_GetDeploymentConfig.html)
    /// knows `name` (built-in or custom).
    fn deployment_config_exists(&self, name: &str) -> impl Future<Output = Result<bool, AwsError>> + Send;

    /// [CreateDeployment](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_CreateDeployment.html) with
    /// an `AppSpecContent` revision and auto-rollback on DEPLOYMENT_FAILURE and DEPLOYMENT_STOP_ON_REQUEST;
    /// answers the deployment id.
    fn create_deployment(&self, new: NewDeployment) -> impl Future<Output = Result<String, AwsError>> + Send;

    /// [GetDeployment](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_GetDeployment.html); `None`
    /// when CodeDeploy does not know the id.
    fn get_deployment(&self, id: &str) -> impl Future<Output = Result<Option<DeploymentInfo>, AwsError>> + Send;

    /// [GetDeploymentTarget](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_GetDeploymentTarget.html)
    /// of `target_id` (`cluster:service` for ECS); `None` when there is none (yet).
    fn get_deployment_target(
        &self,
        id: &str,
        target_id: &str,
    ) -> impl Future<Output = Result<Option<DeploymentTarget>, AwsError>> + Send;

    /// [StopDeployment](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_StopDeployment.html) with
    /// `autoRollbackEnabled`. `DeploymentAlreadyCompletedException` is an answer ([`DeploymentAnswer::Conflict`]).
    fn stop_deployment(&self, id: &str) -> impl Future<Output = Result<DeploymentAnswer, AwsError>> + Send;

    /// [ContinueDeployment](https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_ContinueDeployment.html):
    /// READY_WAIT reroutes traffic now, TERMINATION_WAIT ends the wait before the blue task set is removed. A
    /// deployment in no such wait is an answer ([`DeploymentAnswer::Conflict`]).
    fn continue_deployment(
        &self,
        id: &str,
        wait: DeploymentWaitType,
    ) -> impl Future<Output = Result<DeploymentAnswer, AwsError>> + Send;
}
