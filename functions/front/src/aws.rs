//! The two things the door asks of AWS, behind traits so the handler is tested without AWS: invoking a
//! Lambda function (the deployer, or itself for the Slack continuation) and reading a secret. Secrets are
//! read once per Lambda instance and kept in memory, never logged.

use std::future::Future;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use deployer::error::{AwsError, AwsErrorKind};
use deployer::sdk::aws_error;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::error::FrontError;

/// How a function is invoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// RequestResponse for an HTTP caller: the answer must come before API Gateway gives up (29 s).
    Wait,
    /// RequestResponse in the background (the Slack continuation): as long as a rollout takes.
    WaitLong,
    /// Event: Lambda queues the event and answers 202 at once.
    Event,
}

/// What an invoke returned.
#[derive(Debug, Clone, PartialEq)]
pub enum Invoked {
    /// The function's result.
    Answer(Value),
    /// A function error: `{"errorType", "errorMessage"}`.
    FunctionError(Value),
    /// An `Event` invoke was queued.
    Accepted,
}

pub trait Invoker: Send + Sync {
    fn invoke(
        &self,
        function: &str,
        payload: &Value,
        mode: Mode,
    ) -> impl Future<Output = Result<Invoked, AwsError>> + Send;
}

/// A secret's value: kept out of `Debug` and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(value: impl Into<Vec<u8>>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

pub trait SecretStore: Send + Sync {
    fn read(&self, arn: &str) -> impl Future<Output = Result<Secret, AwsError>> + Send;
}

/// One secret, read on first use and kept for the life of the Lambda instance. A failed read is not kept:
/// the next request tries again.
#[derive(Debug, Default)]
pub struct CachedSecret {
    arn: Option<String>,
    value: OnceCell<Secret>,
}

impl CachedSecret {
    pub fn new(arn: Option<String>) -> CachedSecret {
        CachedSecret { arn, value: OnceCell::new() }
    }

    /// The value; `setting` names the variable that configures it, for the error when it does not.
    pub async fn get(&self, store: &impl SecretStore, setting: &str) -> Result<&Secret, FrontError> {
        let arn =
            self.arn.as_deref().ok_or_else(|| FrontError::NotConfigured { what: format!("{setting} is not set") })?;
        self.value.get_or_try_init(|| async { store.read(arn).await.map_err(FrontError::from) }).await
    }
}

/// Converts the deployer's answer into the result or the deployer's typed error.
pub fn deployer_outcome(invoked: Invoked) -> Result<Value, FrontError> {
    match invoked {
        Invoked::Answer(value) => Ok(value),
        Invoked::Accepted => Ok(json!({"status": "accepted"})),
        Invoked::FunctionError(payload) => {
            let code = payload["errorType"].as_str().filter(|c| !c.is_empty()).unwrap_or("Unhandled").to_owned();
            let raw = payload["errorMessage"].as_str().unwrap_or_default();
            let body = match serde_json::from_str::<Value>(raw) {
                Ok(body) if body["error"].is_object() => body,
                _ => json!({"error": {"code": code, "message": raw, "details": {}}}),
            };
            let message = body["error"]["message"].as_str().unwrap_or(raw).to_owned();
            Err(FrontError::Deployer { code, message, body })
        }
    }
}

/// How long an HTTP caller's synchronous invoke may take: API Gateway answers 504 after 29 s.
pub const HTTP_WAIT: Duration = Duration::from_secs(27);

/// Invokes through the Lambda API. A synchronous invoke has one time limit for the whole call (27 s for
/// HTTP callers, `long_wait` for the continuation) and no per-attempt limit, so a slow deploy is never
/// sent a second time by a retry.
#[derive(Debug, Clone)]
pub struct LambdaInvoker {
    http: aws_sdk_lambda::Client,
    long: aws_sdk_lambda::Client,
}

impl LambdaInvoker {
    pub fn new(config: &SdkConfig, long_wait: Duration) -> LambdaInvoker {
        let client = |limit: Duration| {
            let timeouts = aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_timeout(limit)
                .build();
            aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(config).timeout_config(timeouts).build(),
            )
        };
        LambdaInvoker { http: client(HTTP_WAIT), long: client(long_wait) }
    }
}

impl Invoker for LambdaInvoker {
    async fn invoke(&self, function: &str, payload: &Value, mode: Mode) -> Result<Invoked, AwsError> {
        let (client, invocation_type) = match mode {
            Mode::Wait => (&self.http, InvocationType::RequestResponse),
            Mode::WaitLong => (&self.long, InvocationType::RequestResponse),
            Mode::Event => (&self.http, InvocationType::Event),
        };
        let out = client
            .invoke()
            .function_name(function)
            .invocation_type(invocation_type)
            .payload(Blob::new(payload.to_string()))
            .send()
            .await
            .map_err(|e| aws_error("Invoke", &e))?;
        if mode == Mode::Event {
            return Ok(Invoked::Accepted);
        }
        let bytes = out.payload.map(Blob::into_inner).unwrap_or_default();
        let value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Ok(match out.function_error {
            Some(kind) if value.get("errorType").is_none() => {
                Invoked::FunctionError(json!({"errorType": kind, "errorMessage": value.as_str().unwrap_or_default()}))
            }
            Some(_) => Invoked::FunctionError(value),
            None => Invoked::Answer(value),
        })
    }
}

/// Secrets Manager: the secret's string (trimmed), or its binary value.
#[derive(Debug, Clone)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    pub fn new(config: &SdkConfig) -> SecretsManager {
        SecretsManager { client: aws_sdk_secretsmanager::Client::new(config) }
    }
}

impl SecretStore for SecretsManager {
    async fn read(&self, arn: &str) -> Result<Secret, AwsError> {
        let out =
            self.client.get_secret_value().secret_id(arn).send().await.map_err(|e| aws_error("GetSecretValue", &e))?;
        match (out.secret_string, out.secret_binary) {
            (Some(text), _) => Ok(Secret::new(text.trim().as_bytes())),
            (None, Some(blob)) => Ok(Secret::new(blob.into_inner())),
            (None, None) => Err(AwsError {
                operation: "GetSecretValue",
                kind: AwsErrorKind::Rejected,
                aws_code: None,
                message: "the secret has no value".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployer_function_errors_become_typed_errors() {
        let body = json!({"error": {"code": "ServiceNotFound", "message": "service api not found in cluster demo",
                                    "details": {"cluster": "demo", "service": "api"}}});
        let err = deployer_outcome(Invoked::FunctionError(
            json!({"errorType": "ServiceNotFound", "errorMessage": body.to_string()}),
        ))
        .unwrap_err();
        assert_eq!((err.code(), err.http_status()), ("ServiceNotFound", 404));
        assert_eq!(err.to_string(), "service api not found in cluster demo");
        assert_eq!(err.to_body(), body);

        // Lambda's own failures (a time-out, a crash) carry no JSON body.
        let err = deployer_outcome(Invoked::FunctionError(
            json!({"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 30.00 seconds"}),
        ))
        .unwrap_err();
        assert_eq!((err.code(), err.http_status()), ("Sandbox.Timedout", 502));
        assert_eq!(err.to_body()["error"]["message"], "Task timed out after 30.00 seconds");
        assert_eq!(deployer_outcome(Invoked::FunctionError(json!({}))).unwrap_err().code(), "Unhandled");

        assert_eq!(deployer_outcome(Invoked::Answer(json!({"status": "deployed"}))).unwrap()["status"], "deployed");
        assert_eq!(deployer_outcome(Invoked::Accepted).unwrap()["status"], "accepted");
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(redacted)");
    }
}
