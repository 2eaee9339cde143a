//! The CodePipeline calls of a Lambda invoke action: the job's result.

use std::future::Future;

use contract::AwsError;

/// What CodePipeline itself holds of a job ([GetJobDetails](https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_GetJobDetails.html)):
/// the account, the action's configuration and the continuation token it will send the function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFacts {
    pub account_id: Option<String>,
    /// `data.actionConfiguration.configuration.UserParameters`.
    pub user_parameters: Option<String>,
    /// `data.continuationToken`: what the previous run of the action answered with PutJobSuccessResult.
    pub continuation_token: Option<String>,
}

/// CodePipeline in the function's region.
pub trait CodePipeline: Send + Sync {
    /// [PutJobSuccessResult](https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PutJobSuccessResult.html)
    /// of job `job_id` with an execution summary (at most 2048 characters); with `continuation_token` the
    /// action is still running and CodePipeline invokes the function again with that token.
    fn put_job_success(
        &self,
        job_id: &str,
        continuation_token: Option<String>,
        summary: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// [GetJobDetails](https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_GetJobDetails.html) of
    /// `job_id`; `None` when CodePipeline knows no such job (`JobNotFoundException`).
    fn job_details(&self, job_id: &str) -> impl Future<Output = Result<Option<JobFacts>, AwsError>> + Send;

    /// [PutJobFailureResult](https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PutJobFailureResult.html)
    /// of job `job_id`, type `JobFailed`, with `message` (at most 5000 characters).
    fn put_job_failure(&self, job_id: &str, message: &str) -> impl Future<Output = Result<(), AwsError>> + Send;
}
