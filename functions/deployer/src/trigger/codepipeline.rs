//! A CodePipeline Lambda invoke action: the job's `UserParameters` is a deploy request (JSON); the deployer
//! starts the deploy without waiting and answers the job with
//! [PutJobSuccessResult](https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PutJobSuccessResult.html)
//! and a continuation token while the rollout runs; CodePipeline invokes it again with that token until the
//! rollout completes (success) or fails (PutJobFailureResult). A pipeline follows a long bake without a Lambda
//! waiting. Event shape:
//! <https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-invoke-lambda-function.html>.
//!
//! The job's account must be the function's own (`UntrustedEvent`). A continuation is honoured only for a
//! job CodePipeline itself holds with that very token and `UserParameters`
//! ([GetJobDetails](https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_GetJobDetails.html);
//! else `UntrustedEvent`, the job not answered): CodePipeline's `data.continuationToken` is what the previous
//! run of the action answered with PutJobSuccessResult, so a token replayed on another job, hand-written, or
//! sent with a job id CodePipeline never created is refused, without a key to keep (the token is bound by
//! re-reading, not by signing). The token must then name the service the job's `UserParameters` resolve to
//! (`NotAllowed`), through the allow-list, and a CodeDeploy deployment of that service's own group
//! ([`codedeploy::current_of`]); its state is read from AWS.

use std::time::Duration;

use contract::request::{Action, DeployRequest};
use contract::result::{RolledBackBy, Status};
use serde_json::{json, Value};

use crate::error::DeployError;
use crate::follow::Resuming;
use crate::pipeline::Deployer;
use crate::plan::family_revision;
use crate::ports::{Ecs, JobFacts};
use crate::request::{resolve_service, Invocation};
use crate::rollback::read_service;
use crate::rollout::{drive, Phase, Policy, RolloutState, STATE_VERSION};
use crate::strategy::{codedeploy, Strategy};

/// The parts of a `CodePipeline.job` event the deployer reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineJob {
    pub id: String,
    pub account_id: String,
    pub user_parameters: Option<String>,
    pub continuation_token: Option<String>,
}

impl PipelineJob {
    /// Reads `{"CodePipeline.job": {"id", "accountId", "data": {"actionConfiguration": {"configuration":
    /// {"UserParameters"}}, "continuationToken"}}}`; `InvalidRequest` when the id or account is missing.
    pub fn from_event(event: &Value) -> Result<PipelineJob, DeployError> {
        let job = &event["CodePipeline.job"];
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let (Some(id), Some(account_id)) = (text(&job["id"]), text(&job["accountId"])) else {
            return Err(DeployError::InvalidRequest { reason: "a CodePipeline job without id or accountId".into() });
        };
        Ok(PipelineJob {
            id,
            account_id,
            user_parameters: text(&job["data"]["actionConfiguration"]["configuration"]["UserParameters"]),
            continuation_token: text(&job["data"]["continuationToken"]),
        })
    }
}

/// How a job stands. `Continue` carries the rollout's [`RolloutState`], the job's continuation token.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    Succeeded(String),
    Continue { token: Box<RolloutState>, summary: String },
    Failed(String),
}

/// How long CodePipeline lets a Lambda invoke action run, continuations included: 24 hours
/// (<https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html>, "Action timeout" of the
/// Invoke action type).
pub const ACTION_LIMIT: Duration = Duration::from_secs(24 * 3600);

/// The margin before [`ACTION_LIMIT`] at which a rollout still under way is given up, so that the job fails
/// with its reason before CodePipeline times it out without one (CodePipeline re-invokes a continuing job
/// about once a minute or more slowly; the margin spans several such calls).
pub const GIVE_UP_MARGIN: Duration = Duration::from_secs(30 * 60);

/// `ecs-deployer`, `ecs-circuit-breaker`, …: who rolled back, as results name them.
fn by_name(by: RolledBackBy) -> String {
    serde_json::to_value(by).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Pure: the job's answer once `state` was driven: success on completion, failure with the verdict's reason
/// (rolled back, failed, given up at the action's limit), else a continuation with the state.
pub fn outcome(state: RolloutState) -> JobOutcome {
    let what = format!("{}/{}: {}", state.cluster, state.service, state.task_definition);
    match &state.phase {
        Phase::Done { status: Status::Completed, .. } => JobOutcome::Succeeded(format!("{what} completed")),
        Phase::Done { status: Status::RolledBack, rolled_back_by, reason } => JobOutcome::Failed(format!(
            "{what} failed and was rolled back by {}: {}",
            rolled_back_by.map_or_else(|| "ECS".to_owned(), by_name),
            reason.as_deref().unwrap_or("the rollout failed")
        )),
        Phase::Done { reason, .. } => {
            JobOutcome::Failed(format!("{what} failed: {}", reason.as_deref().unwrap_or("the rollout failed")))
        }
        Phase::RollingOut => {
            let summary = match (&state.stage, state.traffic_steps.last()) {
                (Some(stage), Some(w)) => format!("rolling out {what} ({stage}, {w}% of production traffic)"),
                (Some(stage), None) => format!("rolling out {what} ({stage})"),
                _ => format!("rolling out {what}"),
            };
            JobOutcome::Continue { token: Box::new(state.clone()), summary }
        }
        Phase::RollingBack { reason, .. } | Phase::ServiceRollingBack { reason, .. } => {
            let summary = format!("{what} failed ({reason}); rolling back");
            JobOutcome::Continue { token: Box::new(state.clone()), summary }
        }
    }
}

async fn start<E: Ecs>(d: &Deployer<E>, job: &PipelineJob, inv: &Invocation) -> Result<JobOutcome, DeployError> {
    let parameters = job.user_parameters.as_deref().unwrap_or("{}");
    let mut request: DeployRequest = serde_json::from_str(parameters)
        .map_err(|e| DeployError::InvalidRequest { reason: format!("UserParameters is not a deploy request: {e}") })?;
    if request.action != Action::Deploy || request.targets.is_some() {
        return Err(DeployError::InvalidRequest { reason: "UserParameters must be a deploy to one service".into() });
    }
    request.wait = false;
    // The pipeline's job is who asked, whatever UserParameters says.
    request.requested_by = Some(format!("codepipeline:{}", job.id));
    let (region, rollback, registered) = (request.region.clone(), request.rollback, request.task_definition.is_none());
    let started_at = d.clock().unix_millis();
    let result = d.deploy_with(request, inv).await?;
    let deployed = result.task_definition.clone().unwrap_or_default();
    if result.status != Status::Deployed {
        return Ok(JobOutcome::Succeeded(format!("{deployed}: {}", result.status.as_str())));
    }
    let parsed_region = region.as_deref().map(contract::names::Region::parse).transpose()?;
    let at = resolve_service(
        Some(result.cluster.clone()),
        Some(result.service.clone()),
        parsed_region,
        d.config(),
        &d.scope(inv),
    )?;
    let ecs = d.ecs_for(at.region.as_ref())?;
    let strategy = Strategy::for_service(&read_service(&*ecs, &at).await?, &at.service)?;
    let previous = (!result.previous_task_definition.is_empty()
        && family_revision(&result.previous_task_definition) != family_revision(&deployed))
    .then(|| family_revision(&result.previous_task_definition).to_owned());
    let limit = u64::try_from((ACTION_LIMIT - GIVE_UP_MARGIN).as_millis()).unwrap_or(u64::MAX);
    let state = RolloutState {
        v: STATE_VERSION,
        cluster: result.cluster.clone(),
        service: result.service.clone(),
        region,
        strategy: strategy.name(),
        task_definition: family_revision(&deployed).to_owned(),
        previous,
        version: Some(result.version.clone()),
        deployment_id: result.deployment_id.clone(),
        service_deployment_arn: result.service_deployment.as_ref().map(|sd| sd.arn.clone()).filter(|a| !a.is_empty()),
        codedeploy_deployment_id: result.codedeploy.as_ref().map(|c| c.deployment_id.clone()),
        started_at,
        registered,
        policy: Policy {
            rollback: rollback.unwrap_or(d.config().rollback),
            max_failed_tasks: d.config().max_failed_tasks,
            give_up_at: Some(started_at.saturating_add(limit)),
        },
        phase: Phase::RollingOut,
        traffic_steps: Vec::new(),
        stage: None,
    };
    Ok(JobOutcome::Continue { token: Box::new(state), summary: format!("rolling out {deployed} ({})", result.version) })
}

/// Pure: whether CodePipeline's own record of the job (GetJobDetails) is the job as invoked: same account,
/// same `UserParameters`, and the very continuation token the invocation carries.
pub fn bound(job: &PipelineJob, facts: Option<&JobFacts>) -> bool {
    facts.is_some_and(|f| {
        f.account_id.as_deref() == Some(job.account_id.as_str())
            && f.user_parameters == job.user_parameters
            && f.continuation_token.is_some()
            && f.continuation_token == job.continuation_token
    })
}

async fn check<E: Ecs>(
    d: &Deployer<E>,
    job: &PipelineJob,
    token: &str,
    inv: &Invocation,
) -> Result<JobOutcome, DeployError> {
    let mut state = RolloutState::from_json(token)
        .map_err(|e| DeployError::InvalidRequest { reason: format!("not this deployer's continuation token: {e}") })?;
    let scope = d.scope(inv);
    let region = state.region.as_deref().map(contract::names::Region::parse).transpose()?;
    let at = resolve_service(Some(state.cluster.clone()), Some(state.service.clone()), region, d.config(), &scope)?;
    // The job's own target: the service its UserParameters deploy to (CodePipeline sends the same action
    // configuration with every run of the action).
    let parameters = job.user_parameters.as_deref().unwrap_or("{}");
    let request: DeployRequest = serde_json::from_str(parameters)
        .map_err(|e| DeployError::InvalidRequest { reason: format!("UserParameters is not a deploy request: {e}") })?;
    let own_region = request.region.as_deref().map(contract::names::Region::parse).transpose()?;
    let own = resolve_service(request.cluster, request.service, own_region, d.config(), &scope)?;
    let home = scope.region();
    if own.lock_key(home) != at.lock_key(home) {
        return Err(DeployError::NotAllowed {
            cluster: at.cluster.name().to_owned(),
            service: at.service.name().to_owned(),
            reason: format!(
                "the continuation token names {}, but the job's UserParameters deploy to {}",
                at.lock_key(home),
                own.lock_key(home)
            ),
        });
    }
    let ecs = d.ecs_for(at.region.as_ref())?;
    let strategy = Strategy::named(state.strategy);
    // A CodeDeploy deployment the token names must be of the service's own group (`NotAllowed`), before it is
    // read any further.
    for id in codedeploy_ids(&state) {
        codedeploy::current_of(&*ecs, &own, &id).await?;
    }
    let observer =
        Resuming { ecs: &*ecs, clock: d.clock(), lock: d.lock(), home_region: d.home_region(), inv, strategy, at: &at };
    let now = d.clock().now();
    drive(&observer, d.clock(), &mut state, now).await?;
    Ok(outcome(state))
}

/// The CodeDeploy deployments a state names: the one it rolled out, and the rollback it watches.
fn codedeploy_ids(state: &RolloutState) -> Vec<String> {
    if Strategy::named(state.strategy) != Strategy::CodeDeploy {
        return Vec::new();
    }
    let rollback = match &state.phase {
        Phase::RollingBack { id, .. } | Phase::ServiceRollingBack { id, .. } => id.clone(),
        _ => None,
    };
    state.codedeploy_deployment_id.iter().cloned().chain(rollback).collect()
}

/// Runs one invocation of a CodePipeline job and answers the job. Errors: `UntrustedEvent` (another
/// account's job; not answered), then a failed PutJob*Result call. Answers `{"status": "succeeded" |
/// "continuing" | "failed", "job_id", "summary"}`.
pub async fn on_job<E: Ecs>(d: &Deployer<E>, job: &PipelineJob, inv: &Invocation) -> Result<Value, DeployError> {
    let scope = d.scope(inv);
    let home_account = scope.home().map(|h| h.account().to_owned());
    if home_account.as_deref() != Some(job.account_id.as_str()) {
        return Err(DeployError::UntrustedEvent {
            reason: format!("CodePipeline job {} is of account {}, not this function's", job.id, job.account_id),
        });
    }
    let pipeline = d.ecs();
    let outcome = match &job.continuation_token {
        None => start(d, job, inv).await,
        Some(token) => {
            if !bound(job, pipeline.job_details(&job.id).await?.as_ref()) {
                return Err(DeployError::UntrustedEvent {
                    reason: format!(
                        "CodePipeline holds no job {} with this continuation token and UserParameters (GetJobDetails): not answered",
                        job.id
                    ),
                });
            }
            check(d, job, token, inv).await
        }
    };
    let (status, summary) = match outcome {
        Ok(JobOutcome::Succeeded(summary)) => {
            pipeline.put_job_success(&job.id, None, &summary).await?;
            ("succeeded", summary)
        }
        Ok(JobOutcome::Continue { token, summary }) => {
            pipeline.put_job_success(&job.id, Some(token.to_json()), &summary).await?;
            ("continuing", summary)
        }
        Ok(JobOutcome::Failed(message)) => {
            pipeline.put_job_failure(&job.id, &message).await?;
            ("failed", message)
        }
        Err(e) => {
            let message = format!("{}: {e}", e.code());
            pipeline.put_job_failure(&job.id, &message).await?;
            ("failed", message)
        }
    };
    tracing::info!(job = %job.id, status, "CodePipeline job answered");
    Ok(json!({"status": status, "job_id": job.id, "summary": summary}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::state::tests::rolling;

    #[test]
    fn a_job_is_answered_from_the_rollouts_verdict() {
        let done = |status, rolled_back_by, reason: &str| RolloutState {
            phase: Phase::Done { status, rolled_back_by, reason: Some(reason.into()) },
            ..rolling()
        };
        assert_eq!(
            outcome(done(Status::Completed, None, "")),
            JobOutcome::Succeeded("prod/web: web:8 completed".into())
        );
        assert_eq!(
            outcome(done(Status::RolledBack, Some(RolledBackBy::EcsCircuitBreaker), "3 tasks failed")),
            JobOutcome::Failed(
                "prod/web: web:8 failed and was rolled back by ecs-circuit-breaker: 3 tasks failed".into()
            )
        );
        assert_eq!(
            outcome(done(Status::Failed, None, "given up")),
            JobOutcome::Failed("prod/web: web:8 failed: given up".into())
        );
        let mut moving = rolling();
        moving.stage = Some("BAKE_TIME".into());
        moving.traffic_steps = vec![10.0, 100.0];
        let JobOutcome::Continue { token, summary } = outcome(moving.clone()) else { panic!("continues") };
        assert_eq!(
            (*token, summary.as_str()),
            (moving, "rolling out prod/web: web:8 (BAKE_TIME, 100% of production traffic)")
        );
        let back = RolloutState {
            phase: Phase::RollingBack { to: "web:7".into(), reason: "it broke".into(), id: None },
            ..rolling()
        };
        assert!(
            matches!(outcome(back), JobOutcome::Continue { summary, .. } if summary.ends_with("(it broke); rolling back"))
        );
    }
}
