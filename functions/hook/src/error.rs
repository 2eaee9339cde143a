//! The hook's one error type. Every variant has a stable code from the contract's table
//! ([`contract::codes`]); the Lambda runtime shows it as the `errorType`.
//!
//! Only CodeDeploy invocations ever end in an error, and only when PutLifecycleEventHookExecutionStatus
//! itself failed (Lambda then retries the asynchronous invocation, which reports again). Every other
//! problem, a malformed check in `hookDetails` included, becomes a `Failed`/`FAILED` answer that names it.

use contract::aws_error::AwsError;
use contract::codes::Code;
use contract::env::ConfigError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum HookError {
    /// The event is neither a CodeDeploy hook event (`DeploymentId`, `LifecycleEventHookExecutionId`) nor an
    /// ECS one (`lifecycleStage`). Code `InvalidRequest`.
    #[error("invalid event: {reason}")]
    InvalidEvent { reason: String },

    /// A check asked for by `hookDetails` that the configuration does not allow, or that is malformed
    /// (a host not in `HOOK_ALLOWED_HOSTS`, an unknown field, a count over the limit). Code `NotAllowed`.
    #[error("hookDetails: {reason}")]
    NotAllowed { reason: String },

    /// A `HOOK_*` variable is missing or malformed. Code `NotConfigured`.
    #[error("not configured: {0}")]
    NotConfigured(#[from] ConfigError),

    /// PutLifecycleEventHookExecutionStatus or DescribeAlarms failed. Code `AwsThrottled`,
    /// `AwsAccessDenied` or `AwsCallFailed`.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl HookError {
    /// The stable code, as scripts and the Lambda `errorType` see it.
    pub fn code(&self) -> Code {
        match self {
            HookError::InvalidEvent { .. } => Code::InvalidRequest,
            HookError::NotAllowed { .. } => Code::NotAllowed,
            HookError::NotConfigured(_) => Code::NotConfigured,
            HookError::Aws(e) => e.code(),
        }
    }
}

impl From<HookError> for lambda_runtime::Diagnostic {
    fn from(e: HookError) -> Self {
        lambda_runtime::Diagnostic { error_type: e.code().as_str().to_owned(), error_message: e.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use contract::AwsErrorKind;

    use super::*;

    #[test]
    fn every_variant_has_a_stable_code() {
        let aws = AwsError {
            operation: "DescribeAlarms",
            kind: AwsErrorKind::AccessDenied,
            aws_code: None,
            message: "x".into(),
        };
        let cases = [
            (HookError::InvalidEvent { reason: "x".into() }, "InvalidRequest"),
            (HookError::NotAllowed { reason: "x".into() }, "NotAllowed"),
            (HookError::NotConfigured(ConfigError::new("HOOK_HTTP_URL", "is bad")), "NotConfigured"),
            (HookError::Aws(aws), "AwsAccessDenied"),
        ];
        for (err, code) in cases {
            let d = lambda_runtime::Diagnostic::from(err.clone());
            assert_eq!(d.error_type, code, "{err}");
        }
    }
}
