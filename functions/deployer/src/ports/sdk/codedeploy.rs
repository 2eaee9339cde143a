//! [`CodeDeploy`] with the real SDK client: CODE_DEPLOY services' applications, groups and deployments.

use contract::aws_error::aws_error;
use contract::AwsError;

use super::SdkEcs;
use crate::ports::codedeploy::{CodeDeploy, NewDeployment};
use crate::ports::DeploymentAnswer;

/// Whether CodeDeploy answered with the exception `code` (modelled or not).
fn is_code(e: &AwsError, codes: &[&str]) -> bool {
    e.aws_code.as_deref().is_some_and(|c| codes.contains(&c))
}

impl CodeDeploy for SdkEcs {
    async fn list_ecs_applications(&self) -> Result<Vec<String>, AwsError> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let out = self.codedeploy().list_applications().set_next_token(token).send().await;
            let out = out.map_err(|e| aws_error("ListApplications", &e))?;
            names.extend(out.applications.unwrap_or_default());
            token = out.next_token;
            if token.is_none() {
                break;
            }
        }
        let mut ecs = Vec::new();
        for chunk in names.chunks(100) {
            let out =
                self.codedeploy().batch_get_applications().set_application_names(Some(chunk.to_vec())).send().await;
            let out = out.map_err(|e| aws_error("BatchGetApplications", &e))?;
            ecs.extend(
                out.applications_info()
                    .iter()
                    .filter(|a| a.compute_platform() == Some(&aws_sdk_codedeploy::types::ComputePlatform::Ecs))
                    .filter_map(|a| a.application_name().map(str::to_owned)),
            );
        }
        Ok(ecs)
    }

    async fn list_deployment_groups(&self, application: &str) -> Result<Vec<String>, AwsError> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let sent = self
                .codedeploy()
                .list_deployment_groups()
                .application_name(application)
                .set_next_token(token)
                .send()
                .await;
            let out = match sent.map_err(|e| aws_error("ListDeploymentGroups", &e)) {
                Ok(out) => out,
                Err(e) if is_code(&e, &["ApplicationDoesNotExistException"]) => return Ok(Vec::new()),
                Err(e) => return Err(e),
            };
            names.extend(out.deployment_groups.unwrap_or_default());
            token = out.next_token;
            if token.is_none() {
                return Ok(names);
            }
        }
    }

    async fn get_deployment_group(
        &self,
        application: &str,
        group: &str,
    ) -> Result<Option<aws_sdk_codedeploy::types::DeploymentGroupInfo>, AwsError> {
        let sent = self
            .codedeploy()
            .get_deployment_group()
            .application_name(application)
            .deployment_group_name(group)
            .send()
            .await;
        match sent.map_err(|e| aws_error("GetDeploymentGroup", &e)) {
            Ok(out) => Ok(out.deployment_group_info),
            Err(e) if is_code(&e, &["ApplicationDoesNotExistException", "DeploymentGroupDoesNotExistException"]) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn list_in_flight_deployments(&self, application: &str, group: &str) -> Result<Vec<String>, AwsError> {
        use aws_sdk_codedeploy::types::DeploymentStatus as S;
        let statuses = vec![S::Created, S::Queued, S::InProgress, S::Baking, S::Ready];
        let out = self
            .codedeploy()
            .list_deployments()
            .application_name(application)
            .deployment_group_name(group)
            .set_include_only_statuses(Some(statuses))
            .send()
            .await;
        let out = out.map_err(|e| aws_error("ListDeployments", &e))?;
        Ok(out.deployments.unwrap_or_default())
    }

    async fn list_succeeded_deployments(&self, application: &str, group: &str) -> Result<Vec<String>, AwsError> {
        let out = self
            .codedeploy()
            .list_deployments()
            .application_name(application)
            .deployment_group_name(group)
            .include_only_statuses(aws_sdk_codedeploy::types::DeploymentStatus::Succeeded)
            .send()
            .await;
        let out = out.map_err(|e| aws_error("ListDeployments", &e))?;
        Ok(out.deployments.unwrap_or_default())
    }

    async fn deployment_config_exists(&self, name: &str) -> Result<bool, AwsError> {
        let sent = self.codedeploy().get_deployment_config().deployment_config_name(name).send().await;
        match sent.map_err(|e| aws_error("GetDeploymentConfig", &e)) {
            Ok(out) => Ok(out.deployment_config_info.is_some()),
            Err(e) if is_code(&e, &["DeploymentConfigDoesNotExistException"]) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn create_deployment(&self, new: NewDeployment) -> Result<String, AwsError> {
        use aws_sdk_codedeploy::types::{
            AppSpecContent, AutoRollbackConfiguration, AutoRollbackEvent, RevisionLocation, RevisionLocationType,
        };
        let revision = RevisionLocation::builder()
            .revision_type(RevisionLocationType::AppSpecContent)
            .app_spec_content(AppSpecContent::builder().content(new.appspec).sha256(new.sha256).build())
            .build();
        let rollback = AutoRollbackConfiguration::builder()
            .enabled(true)
            .events(AutoRollbackEvent::DeploymentFailure)
            .events(AutoRollbackEvent::DeploymentStopOnRequest)
            .build();
        let out = self
            .codedeploy()
            .create_deployment()
            .application_name(new.application)
            .deployment_group_name(new.deployment_group)
            .set_deployment_config_name(new.deployment_config)
            .description(new.description)
            .revision(revision)
            .auto_rollback_configuration(rollback)
            .send()
            .await;
        let out = out.map_err(|e| aws_error("CreateDeployment", &e))?;
        out.deployment_id.ok_or_else(|| AwsError::incomplete("CreateDeployment", "deployment id"))
    }

    async fn get_deployment(&self, id: &str) -> Result<Option<aws_sdk_codedeploy::types::DeploymentInfo>, AwsError> {
        let sent = self.codedeploy().get_deployment().deployment_id(id).send().await;
        match sent.map_err(|e| aws_error("GetDeployment", &e)) {
            Ok(out) => Ok(out.deployment_info),
            Err(e) if is_code(&e, &["DeploymentDoesNotExistException"]) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn get_deployment_target(
        &self,
        id: &str,
        target_id: &str,
    ) -> Result<Option<aws_sdk_codedeploy::types::DeploymentTarget>, AwsError> {
        let sent = self.codedeploy().get_deployment_target().deployment_id(id).target_id(target_id).send().await;
        match sent.map_err(|e| aws_error("GetDeploymentTarget", &e)) {
            Ok(out) => Ok(out.deployment_target),
            Err(e) if is_code(&e, &["DeploymentTargetDoesNotExistException", "DeploymentNotStartedException"]) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn stop_deployment(&self, id: &str) -> Result<DeploymentAnswer, AwsError> {
        let sent = self.codedeploy().stop_deployment().deployment_id(id).auto_rollback_enabled(true).send().await;
        match sent.map_err(|e| aws_error("StopDeployment", &e)) {
            Ok(_) => Ok(DeploymentAnswer::Accepted),
            Err(e) if is_code(&e, &["DeploymentAlreadyCompletedException"]) => {
                Ok(DeploymentAnswer::Conflict(e.message))
            }
            Err(e) => Err(e),
        }
    }

    async fn continue_deployment(
        &self,
        id: &str,
        wait: aws_sdk_codedeploy::types::DeploymentWaitType,
    ) -> Result<DeploymentAnswer, AwsError> {
        let sent = self.codedeploy().continue_deployment().deployment_id(id).deployment_wait_type(wait).send().await;
        match sent.map_err(|e| aws_error("ContinueDeployment", &e)) {
            Ok(_) => Ok(DeploymentAnswer::Accepted),
            Err(e)
                if is_code(
                    &e,
                    &[
                        "DeploymentIsNotInReadyStateException",
                        "DeploymentAlreadyCompletedException",
                        "InvalidDeploymentStatusException",
                    ],
                ) =>
            {
                Ok(DeploymentAnswer::Conflict(e.message))
            }
            Err(e) => Err(e),
        }
    }
}
