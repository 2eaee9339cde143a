//! How an AWS call failed, as far as a caller needs to know: was anything changed? Shared by every SDK
//! client of both functions, with the SDK configuration they all load.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::{json, Value};

use crate::codes::Code;

/// What a failed AWS call means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// Throttled even after the SDK's retries: the request was refused, nothing changed.
    Throttled,
    /// The caller's role may not make this call: nothing changed.
    AccessDenied,
    /// The service answered with a client error: nothing changed.
    Rejected,
    /// A 5xx, a time-out or a broken connection: the request may or may not have taken effect.
    Unknown,
}

/// A failed AWS call, with the SDK's full error chain rendered once.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct AwsError {
    /// The API operation, as AWS names it (`UpdateService`).
    pub operation: &'static str,
    pub kind: AwsErrorKind,
    /// The service's error code (`ThrottlingException`, `InvalidParameterException`, …) when it sent one.
    pub aws_code: Option<String>,
    pub message: String,
}

impl AwsError {
    /// A call that answered without the part the caller needs (a register without its task definition).
    pub fn incomplete(operation: &'static str, what: &str) -> AwsError {
        AwsError {
            operation,
            kind: AwsErrorKind::Unknown,
            aws_code: None,
            message: format!("the response held no {what}"),
        }
    }

    /// True when the request certainly did not change anything in AWS.
    pub fn certainly_not_applied(&self) -> bool {
        self.kind != AwsErrorKind::Unknown
    }

    /// `AwsThrottled`, `AwsAccessDenied` or `AwsCallFailed`.
    pub fn code(&self) -> Code {
        match self.kind {
            AwsErrorKind::Throttled => Code::AwsThrottled,
            AwsErrorKind::AccessDenied => Code::AwsAccessDenied,
            AwsErrorKind::Rejected | AwsErrorKind::Unknown => Code::AwsCallFailed,
        }
    }

    /// `{"operation", "aws_code", "outcome_known"}`: the `details` of an error body.
    pub fn details(&self) -> Value {
        json!({ "operation": self.operation, "aws_code": self.aws_code, "outcome_known": self.certainly_not_applied() })
    }
}

/// Classifies an SDK error (of any AWS SDK client) by what it means for the caller: was anything changed?
pub fn aws_error<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let aws_code = err.code().map(str::to_owned);
    let kind = match err {
        SdkError::ServiceError(ctx) => match aws_code.as_deref().unwrap_or_default() {
            c if c.contains("Throttl") || c == "TooManyRequestsException" || c == "RequestLimitExceeded" => {
                AwsErrorKind::Throttled
            }
            c if c.contains("AccessDenied") || c == "UnrecognizedClientException" || c.contains("NotAuthorized") => {
                AwsErrorKind::AccessDenied
            }
            _ if ctx.raw().status().is_server_error() => AwsErrorKind::Unknown,
            _ => AwsErrorKind::Rejected,
        },
        SdkError::ConstructionFailure(_) => AwsErrorKind::Rejected,
        _ => AwsErrorKind::Unknown,
    };
    AwsError { operation, kind, aws_code, message: DisplayErrorContext(err).to_string() }
}

/// Attempts per call, the first included: a throttled or dropped call is retried at most three times.
pub const MAX_ATTEMPTS: u32 = 4;
/// The backoff before the first retry is drawn from `0..INITIAL_BACKOFF` (full jitter), and doubles for each
/// further retry up to [`MAX_BACKOFF`].
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait before any retry.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// One attempt of a call (ECS, ECR, DynamoDB, … answer in well under a second).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// A whole call, its retries and backoffs included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(15);

/// How every client retries: the SDK's *standard* mode (exponential backoff with full jitter, a retry quota
/// per endpoint), [`MAX_ATTEMPTS`] attempts, waits bounded by [`MAX_BACKOFF`]. Not the *adaptive* mode: its
/// client-side rate limiter, once a throttling answer switches it on, sends at most at the rate it measured,
/// never below 0.5 requests/s (`MIN_FILL_RATE` in aws-smithy-runtime's `client_rate_limiter.rs`), so at a
/// deployer's few calls per second it held each retry back 4–20 s, and every target of a fan-out shares
/// it. The SDKs' reference guide recommends standard mode and calls adaptive mode "appropriate only for
/// specialized use-cases" (<https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html>).
/// The backoff is `rand(0..1) × min(INITIAL_BACKOFF × 2^(retry − 1), MAX_BACKOFF)` (aws-smithy-runtime's
/// `standard.rs`, `calculate_exponential_backoff`). Measured in `make bench`
/// (docs/BENCHMARKS.md, the throttling run).
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}

/// The AWS configuration every client is built from: [`retry_config`], and time-outs short enough that a
/// hung call cannot eat a Lambda's whole life (3 s to connect, [`ATTEMPT_TIMEOUT`] per attempt,
/// [`OPERATION_TIMEOUT`] per call). A client whose calls must not be repeated (the front's synchronous
/// invoke) overrides both. The caller adds region, credentials and endpoint (or leaves them to the
/// environment) and loads it once per cold start.
pub fn config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).retry_config(retry_config()).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use aws_sdk_secretsmanager::error::ErrorMetadata;
    use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    /// Throttling, a 5xx, a time-out and a dropped connection, as the SDK reports them, and what each means.
    #[test]
    fn sdk_errors_say_whether_anything_changed() {
        let service_error = |code: &str, status: u16| -> SdkError<GetSecretValueError, HttpResponse> {
            let meta = ErrorMetadata::builder().code(code).message("injected").build();
            let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
            SdkError::service_error(GetSecretValueError::generic(meta), raw)
        };
        let cases: Vec<(&str, SdkError<GetSecretValueError, HttpResponse>, AwsErrorKind)> = vec![
            ("throttled", service_error("ThrottlingException", 400), AwsErrorKind::Throttled),
            ("access denied", service_error("AccessDeniedException", 400), AwsErrorKind::AccessDenied),
            ("rejected", service_error("InvalidParameterException", 400), AwsErrorKind::Rejected),
            ("5xx", service_error("ServerException", 500), AwsErrorKind::Unknown),
            ("time-out", SdkError::timeout_error("operation timed out"), AwsErrorKind::Unknown),
            (
                "dropped connection",
                SdkError::dispatch_failure(ConnectorError::io("connection reset".into())),
                AwsErrorKind::Unknown,
            ),
        ];
        for (name, err, kind) in cases {
            let classified = aws_error("UpdateService", &err);
            assert_eq!(classified.kind, kind, "{name}");
            assert_eq!(classified.certainly_not_applied(), kind != AwsErrorKind::Unknown, "{name}");
            assert!(
                !classified.message.is_empty() && classified.message != "dispatch failure",
                "{name}: {}",
                classified.message
            );
        }
    }

    #[test]
    fn codes_and_details_follow_the_kind() {
        let err = AwsError {
            operation: "UpdateService",
            kind: AwsErrorKind::Unknown,
            aws_code: None,
            message: "dispatch failure: connection reset".into(),
        };
        assert_eq!(err.code(), Code::AwsCallFailed);
        assert_eq!(err.details(), json!({"operation": "UpdateService", "aws_code": null, "outcome_known": false}));
        assert_eq!(AwsError { kind: AwsErrorKind::Throttled, ..err.clone() }.code(), Code::AwsThrottled);
        assert_eq!(AwsError { kind: AwsErrorKind::AccessDenied, ..err }.code(), Code::AwsAccessDenied);
    }
}
