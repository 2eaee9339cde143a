//! "CodeBuild Build State Change" from EventBridge: a SUCCEEDED build of a configured project, in this
//! function's account and region, deploys the version in its environment, checked exactly as sent.
//!
//! The build is not re-read from CodeBuild (BatchGetBuilds): that would take the CodeBuild SDK crate and a
//! permission for a check the deploy itself repeats — the version must be an image that exists in the ECR
//! repository, and the service the configured one, as for any direct request.

use aws_lambda_events::codebuild::CodeBuildEvent;
use contract::names::{Arn, Home};
use contract::request::DeployRequest;
use serde_json::Value;

use super::ecs_event::ignored;
use super::{build_variable, check_origin, Origin};
use crate::error::DeployError;
use crate::pipeline::Deployer;
use crate::ports::Ecs;
use crate::request::Invocation;

fn untrusted(reason: String) -> DeployError {
    DeployError::UntrustedEvent { reason }
}

/// Refuses (`UntrustedEvent`) a build of a project not in `projects` (`DEPLOY_BUILD_PROJECTS`; empty: no
/// project), and a build whose ARN (`detail.build-id`, `arn:<partition>:codebuild:<region>:<account>:build/
/// <project>:<id>`) is not of that project in `home`'s partition, account and region. Pure.
pub fn check_build(event: &CodeBuildEvent, projects: &[String], home: &Home) -> Result<(), DeployError> {
    let project = event.detail.project_name.as_deref().unwrap_or_default();
    if !projects.iter().any(|p| p == project) {
        return Err(untrusted(if projects.is_empty() {
            format!("CodeBuild project {project:?}: no build deploys until DEPLOY_BUILD_PROJECTS names its project")
        } else {
            format!("CodeBuild project {project:?} is not in DEPLOY_BUILD_PROJECTS")
        }));
    }
    let build_id = event.detail.build_id.as_deref().unwrap_or_default();
    let arn = Arn::parse(build_id).map_err(|_| untrusted(format!("the build id {build_id:?} is not a build ARN")))?;
    let of_project = arn.resource().strip_prefix("build/").and_then(|rest| rest.split_once(':'));
    let in_home = arn.service() == "codebuild"
        && arn.partition() == home.partition()
        && arn.account() == Some(home.account())
        && arn.region() == Some(home.region());
    if !in_home || !of_project.is_some_and(|(p, id)| p == project && !id.is_empty()) {
        return Err(untrusted(format!(
            "the build {build_id:?} is not a build of project {project} in this function's account and region"
        )));
    }
    Ok(())
}

/// Deploys the build's `DEPLOY_BUILD_VERSION_VARIABLE` (default `IMAGE_TAG`) to the configured service.
/// Errors: `UntrustedEvent` (see [`check_build`] and [`check_origin`]), `InvalidRequest` (no such
/// variable), `InvalidVersion` (its value is not a tag or digest exactly as it stands), then any deploy
/// error.
pub async fn on_build<E: Ecs>(
    d: &Deployer<E>,
    origin: &Origin,
    event: &CodeBuildEvent,
    inv: &Invocation,
) -> Result<Value, DeployError> {
    let scope = d.scope(inv);
    check_origin(origin, &scope)?;
    let home = scope.home().ok_or_else(|| untrusted("the function's account is unknown".into()))?;
    check_build(event, &d.config().build_projects, home)?;
    let project = event.detail.project_name.as_deref().unwrap_or_default();
    if event.detail.build_status.as_deref() != Some("SUCCEEDED") {
        return Ok(ignored(format!("build of {project} did not succeed")));
    }
    let variable = &d.config().build_version_variable;
    let version = build_variable(event, variable).ok_or_else(|| DeployError::InvalidRequest {
        reason: format!("the build of {project} has no {variable} environment variable to deploy"),
    })?;
    let request = DeployRequest {
        version: Some(version.to_owned()),
        requested_by: Some(format!("codebuild:{project}")),
        ..DeployRequest::default()
    };
    d.execute(request, inv).await
}
