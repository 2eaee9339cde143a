//! What the door asks of AWS besides reading secrets ([`contract::secrets`]): invoking a Lambda function (the
//! deployer, or itself for the Slack continuation), behind a trait so the handler is tested without AWS; and
//! reading what the deployer answered.

use std::future::Future;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use contract::aws_error::{aws_error, AwsError};
use contract::request::DeployRequest;
use contract::result::Answer;
use serde::Deserialize;
use serde_json::{json, Value};

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

/// Invokes a Lambda function by name, ARN or `name:alias` with a JSON payload
/// ([Invoke](https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html)). Errors: the call itself failed
/// (a function error is an [`Invoked::FunctionError`], not an `Err`).
pub trait Invoker: Send + Sync {
    fn invoke(
        &self,
        function: &str,
        payload: &Value,
        mode: Mode,
    ) -> impl Future<Output = Result<Invoked, AwsError>> + Send;
}

/// The JSON the deployer is sent for `request`: serialised by serde, defaults left out.
pub fn request_payload(request: &DeployRequest) -> Value {
    // Cannot fail: a request holds strings, booleans and enums, and its map keys are field names.
    serde_json::to_value(request).unwrap_or_default()
}

/// The deployer's answer read as the contract's [`Answer`] (a deploy, rollback, status or multi-target
/// result); `None` when it has another shape, such as that of a deployer newer than this door.
pub fn read_answer(result: &Value) -> Option<Answer> {
    Answer::deserialize(result).ok()
}

/// Converts the deployer's answer into the result (its JSON, unchanged) or the deployer's typed error:
/// [`FrontError::Deployer`] with Lambda's `errorType` as the code (`Unhandled` when it sent none) and the
/// deployer's `{"error": …}` body, or one built from Lambda's own `errorMessage`.
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
        assert_eq!((err.code().as_str(), err.http_status()), ("ServiceNotFound", 404));
        assert_eq!(err.to_string(), "service api not found in cluster demo");
        assert_eq!(err.to_body(), body);

        // Lambda's own failures (a time-out, a crash) carry no JSON body.
        let err = deployer_outcome(Invoked::FunctionError(
            json!({"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 30.00 seconds"}),
        ))
        .unwrap_err();
        assert_eq!((err.code().as_str(), err.http_status()), ("Sandbox.Timedout", 502));
        assert_eq!(err.to_body()["error"]["message"], "Task timed out after 30.00 seconds");
        assert_eq!(deployer_outcome(Invoked::FunctionError(json!({}))).unwrap_err().code(), "Unhandled");

        assert_eq!(deployer_outcome(Invoked::Answer(json!({"status": "deployed"}))).unwrap()["status"], "deployed");
        assert_eq!(deployer_outcome(Invoked::Accepted).unwrap()["status"], "accepted");
    }
}
