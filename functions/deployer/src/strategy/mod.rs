//! Stage 5: how a service rolls out a new task definition, chosen once per service from what
//! DescribeServices says (`deploymentController.type` and `deploymentConfiguration.strategy`).
//!
//! Every strategy answers the same four questions: how to **start** a rollout of a registered revision,
//! how to **follow** it to a verdict, how to **restore** the service to an earlier revision, and how to
//! **describe its progress** for `status`. The ECS rolling update ([`rolling`]) is the first; a controller or
//! strategy without an implementation is refused by [`Strategy::for_service`] before any change.
//!
//! Adding a strategy: a file beside `rolling.rs`, a variant of [`Strategy`], its arm in each method below
//! and in [`Strategy::for_service`]. No other stage changes.

pub mod codedeploy;
pub mod native;
pub mod rolling;

use std::time::Duration;

use aws_sdk_ecs::types::{DeploymentControllerType, DeploymentStrategy, Service};
use contract::result::{DeploymentSummary, RolloutState};
use contract::AwsError;

use crate::error::DeployError;
use crate::follow::Followed;
use crate::ports::{Clock, Ecs};
use crate::request::ServiceRef;
use crate::verdict::Tracked;

/// A rollout strategy with an implementation here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The ECS controller's ROLLING strategy: UpdateService, then deployments with a rollout state.
    Rolling,
    /// The ECS controller's BLUE_GREEN, LINEAR or CANARY strategy: UpdateService, then a service deployment
    /// with lifecycle stages, traffic weights and hooks ([`native`]).
    Native(native::Kind),
    /// The CODE_DEPLOY controller: a CodeDeploy blue/green deployment with an AppSpec ([`codedeploy`]).
    CodeDeploy,
}

/// Where a started rollout can be found again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// ECS's id of the deployment (`ecs-svc/…`), when it reported one.
    pub deployment_id: Option<String>,
    /// The ECS-native service deployment's ARN (BLUE_GREEN, LINEAR, CANARY), when it was identified.
    pub service_deployment_arn: Option<String>,
    /// The CodeDeploy deployment created (CODE_DEPLOY services).
    pub codedeploy: Option<contract::result::CodeDeployReport>,
}

/// A service put back on an earlier revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub deployment_id: Option<String>,
    /// The service deployment stopped or started (ECS-native strategies).
    pub service_deployment_arn: Option<String>,
    /// How the restoring rollout went within the time given (IN_PROGRESS when time ran out).
    pub state: RolloutState,
}

/// What `status` shows of a service's rollouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub rollout_state: Option<String>,
    pub deployments: Vec<DeploymentSummary>,
}

impl Strategy {
    /// The strategy of `service` (named `name` in errors); a controller or strategy this deployer cannot
    /// follow is refused.
    pub fn for_service(service: &Service, name: &str) -> Result<Strategy, DeployError> {
        let name = name.to_owned();
        match service.deployment_controller().map(|c| c.r#type()) {
            None | Some(DeploymentControllerType::Ecs) => {}
            Some(DeploymentControllerType::CodeDeploy) => return Ok(Strategy::CodeDeploy),
            Some(DeploymentControllerType::External) => {
                return Err(DeployError::UnsupportedDeploymentController {
                    service: name,
                    controller: "EXTERNAL".into(),
                    owner: "its task sets",
                })
            }
            Some(other) => {
                return Err(DeployError::UnsupportedDeploymentController {
                    service: name,
                    controller: other.as_str().to_owned(),
                    owner: "a controller this deployer does not know",
                })
            }
        }
        match service.deployment_configuration().and_then(|c| c.strategy()) {
            None | Some(DeploymentStrategy::Rolling) => Ok(Strategy::Rolling),
            Some(other) => match native::Kind::of(other) {
                Some(kind) => Ok(Strategy::Native(kind)),
                None => Err(DeployError::UnsupportedDeploymentStrategy {
                    service: name,
                    strategy: other.as_str().to_owned(),
                }),
            },
        }
    }

    /// Pure: what the strategy refuses of `service` before any change (none for ROLLING); see
    /// [`native::refusals`].
    pub fn refusals(self, service: &Service, name: &str) -> Vec<DeployError> {
        match self {
            Strategy::Rolling => Vec::new(),
            Strategy::Native(kind) => native::refusals(service, kind, name),
            Strategy::CodeDeploy => codedeploy::refusals(service, name),
        }
    }

    /// The checks before any change that the preflight's DescribeServices cannot make. Unless `force`, refuses
    /// to start over a rollout still in flight: no call for ROLLING, ListServiceDeployments for the ECS-native
    /// strategies. CODE_DEPLOY: the deployment group and configuration exist, and (unless `force`) none of the
    /// group's deployments is in flight ([`codedeploy::before_change`]).
    pub async fn before_change<E: Ecs>(self, ecs: &E, at: &ServiceRef, force: bool) -> Result<(), DeployError> {
        match self {
            Strategy::Rolling => Ok(()),
            Strategy::Native(_) if force => Ok(()),
            Strategy::Native(_) => native::refuse_in_flight(ecs, at).await,
            Strategy::CodeDeploy => codedeploy::before_change(ecs, at, force).await.map(|_| ()),
        }
    }

    /// Starts rolling out `task_definition_arn`; with `force_new_deployment`, also when the service runs that
    /// revision already (its tasks are replaced and pull their images again). Errors say whether the start
    /// may have taken effect.
    pub async fn start<E: Ecs>(
        self,
        ecs: &E,
        at: &ServiceRef,
        task_definition_arn: &str,
        force_new_deployment: bool,
    ) -> Result<(Service, Started), AwsError> {
        match self {
            Strategy::Rolling => rolling::start(ecs, at, task_definition_arn, force_new_deployment).await,
            Strategy::Native(_) => native::start(ecs, at, task_definition_arn, force_new_deployment).await,
            Strategy::CodeDeploy => {
                codedeploy::start(ecs, at, task_definition_arn).await.map_err(codedeploy::as_aws_error)
            }
        }
    }

    /// Reads the rollout until it reaches a verdict or `deadline` passes on `clock`.
    pub async fn follow<E: Ecs>(
        self,
        ecs: &E,
        clock: &dyn Clock,
        at: &ServiceRef,
        tracked: Tracked<'_>,
        deadline: Duration,
    ) -> Result<Followed, DeployError> {
        match self {
            Strategy::Rolling => crate::follow::follow(ecs, clock, at, tracked, deadline).await,
            Strategy::Native(kind) => native::follow(ecs, clock, at, kind, tracked, deadline).await,
            Strategy::CodeDeploy => codedeploy::follow(ecs, clock, at, tracked, deadline).await,
        }
    }

    /// Puts the service back on `target_arn` and follows that until `deadline`.
    pub async fn restore<E: Ecs>(
        self,
        ecs: &E,
        clock: &dyn Clock,
        at: &ServiceRef,
        target_arn: &str,
        deadline: Duration,
    ) -> Result<Restored, RestoreError> {
        match self {
            Strategy::Rolling => rolling::restore(ecs, clock, at, target_arn, deadline).await,
            Strategy::Native(_) => native::restore(ecs, clock, at, target_arn, deadline).await,
            Strategy::CodeDeploy => codedeploy::restore(ecs, clock, at, target_arn, deadline).await,
        }
    }

    /// The service's rollouts as `status` shows them.
    pub fn progress(self, service: &Service) -> Progress {
        match self {
            Strategy::Rolling | Strategy::Native(_) | Strategy::CodeDeploy => rolling::progress(service),
        }
    }
}

/// Why a restore failed: the call that should put the service back, or following it.
#[derive(Debug)]
pub enum RestoreError {
    /// The service was not moved.
    Start(AwsError),
    /// The service was moved; reading the rollout afterwards failed.
    Follow(DeployError),
}
