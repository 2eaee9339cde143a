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
use crate::rollout::{Phase, Reading, StrategyName};
use crate::verdict::{Tracked, Verdict};

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

/// What one read of a rollout saw, beside its [`Reading`]: what the face's answer reports.
#[derive(Debug, Default)]
pub struct Seen {
    /// The service as last read.
    pub service: Option<Service>,
    /// The ECS-native service deployment (BLUE_GREEN, LINEAR, CANARY).
    pub service_deployment: Option<contract::result::ServiceDeploymentReport>,
    /// The CodeDeploy deployment (CODE_DEPLOY).
    pub codedeploy: Option<contract::result::CodeDeployReport>,
    /// How far the service's own rollback got, when ECS or CodeDeploy rolls back by itself and says so.
    pub service_rollback: Option<RolloutState>,
}

/// What `status` shows of a service's rollouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub rollout_state: Option<String>,
    pub deployments: Vec<DeploymentSummary>,
}

impl Strategy {
    /// The strategy's name in a [`crate::rollout::RolloutState`].
    pub fn name(self) -> StrategyName {
        match self {
            Strategy::Rolling => StrategyName::Rolling,
            Strategy::Native(native::Kind::BlueGreen) => StrategyName::BlueGreen,
            Strategy::Native(native::Kind::Linear) => StrategyName::Linear,
            Strategy::Native(native::Kind::Canary) => StrategyName::Canary,
            Strategy::CodeDeploy => StrategyName::CodeDeploy,
        }
    }

    /// The strategy a [`crate::rollout::RolloutState`] names.
    pub fn named(name: StrategyName) -> Strategy {
        match name {
            StrategyName::Rolling => Strategy::Rolling,
            StrategyName::BlueGreen => Strategy::Native(native::Kind::BlueGreen),
            StrategyName::Linear => Strategy::Native(native::Kind::Linear),
            StrategyName::Canary => Strategy::Native(native::Kind::Canary),
            StrategyName::CodeDeploy => Strategy::CodeDeploy,
        }
    }

    /// Reads the rollout `state` describes once, as [`crate::rollout::drive`] asks: the new revision's rollout,
    /// or in a rollback phase the rollback's. What it identifies on the way (the service deployment, traffic
    /// steps, the stage) is recorded in `state`. Errors: the service is gone.
    pub async fn observe<E: Ecs>(
        self,
        ecs: &E,
        clock: &dyn Clock,
        at: &ServiceRef,
        state: &mut crate::rollout::RolloutState,
    ) -> Result<(Reading, Seen), DeployError> {
        if let (Strategy::CodeDeploy, Phase::ServiceRollingBack { id, .. }) = (self, &state.phase) {
            return Ok(codedeploy::observe_rollback(ecs, clock, id.as_deref()).await);
        }
        let rolling_back = match &state.phase {
            Phase::RollingBack { to, id, .. } => Some((to.clone(), id.clone())),
            _ => None,
        };
        let (deployment_id, task_definition, max_failed_tasks) = match &rolling_back {
            Some((to, id)) => (id.clone(), to.clone(), i32::MAX),
            None => (state.deployment_id.clone(), state.task_definition.clone(), state.policy.max_failed_tasks),
        };
        if self == Strategy::Rolling {
            return rolling::observe(ecs, at, deployment_id.as_deref(), &task_definition, max_failed_tasks).await;
        }
        let arn = match &rolling_back {
            Some((_, id)) if matches!(self, Strategy::Native(_)) => id.clone(),
            _ => state.service_deployment_arn.clone(),
        };
        let codedeploy = match &rolling_back {
            Some((_, id)) => id.clone(),
            None => state.codedeploy_deployment_id.clone(),
        }
        .map(|deployment_id| contract::result::CodeDeployReport {
            deployment_id,
            traffic_steps: state.traffic_steps.clone(),
            ..Default::default()
        });
        let tracked = Tracked {
            deployment_id: deployment_id.as_deref(),
            service_deployment_arn: arn.as_deref(),
            codedeploy: codedeploy.as_ref(),
            task_definition: &task_definition,
            max_failed_tasks,
        };
        // One read: the strategy's follow with a deadline of now.
        let mut followed = self.follow(ecs, clock, at, tracked, clock.now()).await?;
        let forward = matches!(followed.verdict, None | Some(Verdict::InProgress { .. }));
        if let Some(sd) = followed.service_deployment.as_mut() {
            if rolling_back.is_none() && !sd.arn.is_empty() {
                state.service_deployment_arn = Some(sd.arn.clone());
            }
            merge_steps(&mut state.traffic_steps, &sd.traffic_steps);
            sd.traffic_steps.clone_from(&state.traffic_steps);
            if forward && sd.status.as_deref() == Some("IN_PROGRESS") {
                state.stage.clone_from(&sd.lifecycle_stage);
            }
        }
        if let Some(cd) = followed.codedeploy.as_mut() {
            // The report was seeded with the steps seen so far, and the read added its own.
            state.traffic_steps.clone_from(&cd.traffic_steps);
            if forward {
                state.stage.clone_from(&cd.lifecycle_event);
            }
        }
        Ok(reading_of(followed, state.stage.as_deref()))
    }

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

/// Appends the weights of `seen` that are new after `steps`' last one.
fn merge_steps(steps: &mut Vec<f64>, seen: &[f64]) {
    for w in seen {
        if steps.last() != Some(w) {
            steps.push(*w);
        }
    }
}

/// Pure: the strategy-neutral reading of what a native or CodeDeploy follow saw in one read. `stage`: the last
/// stage seen moving forward, named in a failure's reason when ECS's reason names none.
fn reading_of(followed: Followed, stage: Option<&str>) -> (Reading, Seen) {
    let Followed { verdict, service, mut service_deployment, ecs_rollback, codedeploy } = followed;
    let reading = match verdict {
        None | Some(Verdict::InProgress { .. }) => Reading::Moving {
            stage: service_deployment
                .as_ref()
                .and_then(|sd| sd.lifecycle_stage.clone())
                .or_else(|| codedeploy.as_ref().and_then(|cd| cd.lifecycle_event.clone())),
            traffic: service_deployment
                .as_ref()
                .and_then(|sd| sd.production_traffic_percent)
                .or_else(|| codedeploy.as_ref().and_then(|cd| cd.traffic_percent)),
        },
        Some(Verdict::Completed) => Reading::Completed,
        Some(Verdict::Failed { mut reason, ecs_rolls_back }) => {
            if let (Some(sd), Some(stage)) = (service_deployment.as_mut(), stage) {
                // Reads are seconds apart: the last stage seen may be earlier than the one ECS names.
                let names_a_stage =
                    aws_sdk_ecs::types::ServiceDeploymentLifecycleStage::values().iter().any(|s| reason.contains(s));
                if !names_a_stage {
                    reason.push_str(&format!(" (at {stage})"));
                }
                sd.lifecycle_stage = sd.lifecycle_stage.take().or(Some(stage.to_owned()));
            }
            let by =
                ecs_rolls_back.then(|| ecs_rollback.as_ref().map_or(contract::result::RolledBackBy::Ecs, |r| r.by));
            let rollback_ended = ecs_rollback.as_ref().and_then(|r| r.state) != Some(RolloutState::InProgress);
            let rollback_id = codedeploy.as_ref().and_then(|cd| cd.rollback_deployment_id.clone());
            Reading::Failed { reason, rolled_back_by: by, rollback_ended, rollback_id }
        }
        Some(Verdict::Replaced { by, task_definition }) => Reading::Replaced {
            by,
            task_definition: crate::plan::family_revision(&task_definition).to_owned(),
            ecs_rollback: None,
        },
    };
    let service_rollback = ecs_rollback.and_then(|r| r.state);
    (reading, Seen { service: Some(service), service_deployment, codedeploy, service_rollback })
}

/// Why a restore failed: the call that should put the service back, or following it.
#[derive(Debug)]
pub enum RestoreError {
    /// The service was not moved.
    Start(AwsError),
    /// The service was moved; reading the rollout afterwards failed.
    Follow(DeployError),
}
