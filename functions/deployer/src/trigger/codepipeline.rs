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

use contract::request::{Action, DeployRequest};
use contract::result::Status;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::DeployError;
use crate::pipeline::Deployer;
use crate::plan::family_revision;
use crate::ports::{Ecs, JobFacts};
use crate::request::{resolve_service, Invocation};
use crate::strategy::codedeploy;

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

/// Where a started rollout is, carried from one invocation of the job to the next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub cluster: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// `family:revision` deployed.
    pub task_definition: String,
    /// The CodeDeploy deployment (CODE_DEPLOY services).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codedeploy: Option<String>,
}

/// How a job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Succeeded(String),
    Continue { token: Token, summary: String },
    Failed(String),
}

/// Pure: a rolling or ECS-native rollout of `token` as `status` shows the service (the revision it runs,
/// `family:revision`, and its PRIMARY rollout state).
pub fn judge_ecs(token: &Token, running: &str, rollout_state: Option<&str>) -> JobOutcome {
    let summary = format!("{}/{} runs {running} ({})", token.cluster, token.service, rollout_state.unwrap_or("?"));
    match (running == token.task_definition, rollout_state) {
        (true, Some("COMPLETED")) => JobOutcome::Succeeded(summary),
        (_, Some("FAILED")) => {
            JobOutcome::Failed(format!("the rollout of {} failed: {summary}", token.task_definition))
        }
        (false, Some("COMPLETED")) => JobOutcome::Failed(format!(
            "{} is no longer what the service runs (rolled back or replaced): {summary}",
            token.task_definition
        )),
        _ => JobOutcome::Continue { token: token.clone(), summary },
    }
}

/// Pure: a CodeDeploy deployment's `status` (Succeeded, Failed, Stopped, or still moving).
pub fn judge_codedeploy(token: &Token, status: Option<&str>, error: Option<&str>) -> JobOutcome {
    let id = token.codedeploy.as_deref().unwrap_or("?");
    let summary = format!("CodeDeploy deployment {id} of {}: {}", token.task_definition, status.unwrap_or("unknown"));
    match status {
        Some("Succeeded") => JobOutcome::Succeeded(summary),
        Some("Failed" | "Stopped") => {
            JobOutcome::Failed(format!("{summary}: {}", error.unwrap_or("no error information")))
        }
        _ => JobOutcome::Continue { token: token.clone(), summary },
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
    let region = request.region.clone();
    let result = d.deploy_with(request, inv).await?;
    let deployed = result.task_definition.clone().unwrap_or_default();
    match result.status {
        Status::Deployed => {
            let token = Token {
                cluster: result.cluster.clone(),
                service: result.service.clone(),
                region,
                task_definition: family_revision(&deployed).to_owned(),
                codedeploy: result.codedeploy.as_ref().map(|c| c.deployment_id.clone()),
            };
            Ok(JobOutcome::Continue { token, summary: format!("rolling out {deployed} ({})", result.version) })
        }
        other => Ok(JobOutcome::Succeeded(format!("{deployed}: {}", other.as_str()))),
    }
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
    let token: Token = serde_json::from_str(token)
        .map_err(|e| DeployError::InvalidRequest { reason: format!("not this deployer's continuation token: {e}") })?;
    let scope = d.scope(inv);
    let region = token.region.as_deref().map(contract::names::Region::parse).transpose()?;
    let at = resolve_service(Some(token.cluster.clone()), Some(token.service.clone()), region, d.config(), &scope)?;
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
    if let Some(id) = &token.codedeploy {
        let report = codedeploy::current_of(&*ecs, &own, id).await?;
        let status = report.as_ref().and_then(|r| r.status.as_deref());
        let error = report.as_ref().and_then(|r| r.error_message.as_deref());
        return Ok(judge_codedeploy(&token, status, error));
    }
    let shown = crate::status::report(&*ecs, &at).await?;
    Ok(judge_ecs(&token, &shown.task_definition, shown.rollout_state.as_deref()))
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
            let token = serde_json::to_string(&token).map_err(|e| DeployError::Internal { reason: e.to_string() })?;
            pipeline.put_job_success(&job.id, Some(token), &summary).await?;
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

    fn token(codedeploy: Option<&str>) -> Token {
        Token {
            cluster: "prod".into(),
            service: "web".into(),
            region: None,
            task_definition: "web:8".into(),
            codedeploy: codedeploy.map(str::to_owned),
        }
    }

    #[test]
    fn a_rollout_is_judged_from_the_revision_and_its_state() {
        let t = token(None);
        assert!(matches!(judge_ecs(&t, "web:8", Some("COMPLETED")), JobOutcome::Succeeded(_)));
        assert!(matches!(judge_ecs(&t, "web:8", Some("IN_PROGRESS")), JobOutcome::Continue { .. }));
        assert!(matches!(judge_ecs(&t, "web:8", Some("FAILED")), JobOutcome::Failed(_)));
        assert!(matches!(judge_ecs(&t, "web:7", Some("COMPLETED")), JobOutcome::Failed(_)), "rolled back");
        let t = token(Some("d-1"));
        assert!(matches!(judge_codedeploy(&t, Some("Succeeded"), None), JobOutcome::Succeeded(_)));
        assert!(matches!(judge_codedeploy(&t, Some("Ready"), None), JobOutcome::Continue { .. }));
        let JobOutcome::Failed(why) = judge_codedeploy(&t, Some("Stopped"), Some("stopped by the user")) else {
            panic!("stopped is a failure")
        };
        assert!(why.contains("d-1") && why.contains("stopped by the user"), "{why}");
    }
}
