//! The seams: every call that leaves the process goes through [`Probe`] (HTTP checks) or [`Aws`]
//! (CloudWatch and CodeDeploy). `http.rs` and `sdk.rs` implement them for real; tests replace them.

use std::future::Future;
use std::time::Duration;

use contract::aws_error::AwsError;
use hyper::header::{HeaderName, HeaderValue};

use crate::check::Observed;
use crate::config::HttpCheck;

/// One HTTP request of a check.
#[derive(Debug, Clone, Copy)]
pub struct ProbeRequest<'a> {
    pub check: &'a HttpCheck,
    /// Sent as they are; never logged.
    pub headers: &'a [(HeaderName, HeaderValue)],
    /// How long the whole exchange (connection, answer, body) may take.
    pub timeout: Duration,
}

/// Makes the HTTP requests of checks.
pub trait Probe: Send + Sync {
    /// The answer, or why there is none (refused, timed out, unreadable). The reason never holds the
    /// URL's query nor a header value.
    fn request(&self, request: ProbeRequest<'_>) -> impl Future<Output = Result<Observed, String>> + Send;
}

/// The status a CodeDeploy hook reports: "only Succeeded and Failed can be passed successfully".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleStatus {
    Succeeded,
    Failed,
}

impl LifecycleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleStatus::Succeeded => "Succeeded",
            LifecycleStatus::Failed => "Failed",
        }
    }
}

/// What became of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    Recorded,
    /// `LifecycleEventAlreadyCompletedException`: an earlier invocation (a retry) reported, or the event
    /// timed out. Nothing more is to be done.
    AlreadyCompleted,
}

/// The AWS calls of the hook.
pub trait Aws: Send + Sync {
    /// `(alarm name, state value)` of each of `names` (at most 100) that exists, metric and composite
    /// alarms alike: CloudWatch DescribeAlarms
    /// (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html>).
    fn alarm_states(&self, names: &[String]) -> impl Future<Output = Result<Vec<(String, String)>, AwsError>> + Send;

    /// SNS Publish of `message` (JSON text) with `subject` to `topic`
    /// (<https://docs.aws.amazon.com/sns/latest/api/API_Publish.html>).
    fn publish(&self, topic: &str, subject: &str, message: &str) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// CodeDeploy PutLifecycleEventHookExecutionStatus
    /// (<https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_PutLifecycleEventHookExecutionStatus.html>).
    fn report(
        &self,
        deployment_id: &str,
        execution_id: &str,
        status: LifecycleStatus,
    ) -> impl Future<Output = Result<Reported, AwsError>> + Send;
}
