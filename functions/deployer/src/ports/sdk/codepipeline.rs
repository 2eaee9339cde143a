//! [`CodePipeline`] with the real SDK client: a job's result reported back.

use contract::aws_error::aws_error;
use contract::AwsError;

use super::SdkEcs;
use crate::ports::codepipeline::{CodePipeline, JobFacts};

/// Cuts `text` to at most `max` characters.
fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

impl CodePipeline for SdkEcs {
    async fn put_job_success(
        &self,
        job_id: &str,
        continuation_token: Option<String>,
        summary: &str,
    ) -> Result<(), AwsError> {
        let details = aws_sdk_codepipeline::types::ExecutionDetails::builder().summary(cut(summary, 2048)).build();
        let out = self
            .codepipeline()
            .put_job_success_result()
            .job_id(job_id)
            .set_continuation_token(continuation_token)
            .execution_details(details)
            .send()
            .await;
        out.map(|_| ()).map_err(|e| aws_error("PutJobSuccessResult", &e))
    }

    async fn job_details(&self, job_id: &str) -> Result<Option<JobFacts>, AwsError> {
        let sent = self.codepipeline().get_job_details().job_id(job_id).send().await;
        let out = match sent.map_err(|e| aws_error("GetJobDetails", &e)) {
            Ok(out) => out,
            Err(e) if e.aws_code.as_deref() == Some("JobNotFoundException") => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(job) = out.job_details else { return Ok(None) };
        let data = job.data();
        let configuration = data.and_then(|d| d.action_configuration()).and_then(|a| a.configuration());
        let setting = |key: &str| configuration.and_then(|c| c.get(key)).cloned();
        Ok(Some(JobFacts {
            account_id: job.account_id().map(str::to_owned),
            user_parameters: setting("UserParameters"),
            continuation_token: data.and_then(|d| d.continuation_token()).map(str::to_owned),
        }))
    }

    async fn put_job_failure(&self, job_id: &str, message: &str) -> Result<(), AwsError> {
        let details = aws_sdk_codepipeline::types::FailureDetails::builder()
            .r#type(aws_sdk_codepipeline::types::FailureType::JobFailed)
            .message(cut(message, 5000))
            .build()
            .map_err(|_| AwsError::incomplete("PutJobFailureResult", "failure details"))?;
        let out = self.codepipeline().put_job_failure_result().job_id(job_id).failure_details(details).send().await;
        out.map(|_| ()).map_err(|e| aws_error("PutJobFailureResult", &e))
    }
}
