//! What the door asks of AWS besides reading secrets ([`contract::secrets`]): invoking a Lambda function (the
//! deployer, or itself for the Slack continuation), behind a trait so the handler is tested without AWS; and
//! reading what the deployer answered.

use std::future::Future;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{ClassifyRetry, RetryAction};
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

/// Invokes through the Lambda API, and never sends the same invoke twice once it may have run. Lambda runs an
/// invocation to its end even when the caller hung up, so a retried synchronous invoke is a second full
/// execution (a second cleanup, rollback, `continue`). Hence one time limit for the whole call (27 s for HTTP
/// callers, `long_wait` for the continuation) and the same limit per attempt (not the shared configuration's
/// 5 s: the SDK keeps any limit the client's own configuration leaves unset), and a retry only after an
/// answer that says the function did not run: HTTP 429 `TooManyRequestsException` ("the request throughput
/// limit was exceeded", <https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#API_Invoke_Errors>).
/// A time-out, a broken connection, a 5xx or any other error is not retried ([`NoRetryOnceRun`]).
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
                .operation_attempt_timeout(limit)
                .operation_timeout(limit)
                .build();
            aws_sdk_lambda::Client::from_conf(
                aws_sdk_lambda::config::Builder::from(config)
                    .timeout_config(timeouts)
                    .retry_classifier(NoRetryOnceRun)
                    .build(),
            )
        };
        LambdaInvoker { http: client(HTTP_WAIT), long: client(long_wait) }
    }
}

/// Forbids every retry of an invoke except after an HTTP 429 answer (throttled: Lambda did not run the
/// function). Runs with the SDK's own classifiers; a `RetryForbidden` from any classifier wins
/// ([`ClassifyRetry::priority`]), so a time-out or a 5xx that the standard classifiers would retry is not.
#[derive(Debug, Clone, Copy)]
pub struct NoRetryOnceRun;

impl ClassifyRetry for NoRetryOnceRun {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.output_or_error() {
            None | Some(Ok(_)) => RetryAction::NoActionIndicated,
            Some(Err(_)) if ctx.response().is_some_and(|r| r.status().as_u16() == 429) => {
                RetryAction::NoActionIndicated
            }
            Some(Err(_)) => RetryAction::RetryForbidden,
        }
    }

    fn name(&self) -> &'static str {
        "front: no retry of an invoke that may have run"
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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use aws_config::timeout::TimeoutConfig;
    use aws_config::Region;
    use aws_sdk_lambda::config::Credentials;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// How the local Lambda endpoint answers one attempt: after a wait, with a status and error type.
    #[derive(Clone, Copy)]
    struct Reply {
        after: Duration,
        status: u16,
        error_type: Option<&'static str>,
    }

    const OK: Reply = Reply { after: Duration::ZERO, status: 200, error_type: None };

    /// A local Lambda Invoke endpoint answering attempt `i` with `replies[i]` (the last one repeats); counts the
    /// attempts that reached it.
    async fn endpoint(replies: Vec<Reply>) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let attempts = Arc::new(AtomicUsize::new(0));
        let counted = attempts.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let n = counted.fetch_add(1, Ordering::SeqCst);
                let reply = replies[n.min(replies.len() - 1)];
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 4096];
                    // Headers, then as many body bytes as Content-Length says.
                    loop {
                        let Ok(read) = socket.read(&mut buf).await else { return };
                        if read == 0 {
                            return;
                        }
                        request.extend_from_slice(&buf[..read]);
                        let text = String::from_utf8_lossy(&request).to_ascii_lowercase();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let length = text
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            if request.len() >= end + 4 + length {
                                break;
                            }
                        }
                    }
                    tokio::time::sleep(reply.after).await;
                    let body = match reply.error_type {
                        Some(kind) => json!({"Type": "User", "message": kind}).to_string(),
                        None => json!({"status": "cleaned"}).to_string(),
                    };
                    let error_header =
                        reply.error_type.map(|k| format!("x-amzn-errortype: {k}\r\n")).unwrap_or_default();
                    let head = format!(
                        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\n{error_header}content-length: {}\r\n\
                         connection: close\r\n\r\n",
                        reply.status,
                        body.len()
                    );
                    let _ = socket.write_all(head.as_bytes()).await;
                    let _ = socket.write_all(body.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        (url, attempts)
    }

    /// The shared configuration (`config_loader`, with its retries), pointed at `url`, with a per-attempt
    /// limit of `attempt` (shorter than the answers below, as the shared 5 s is shorter than a long cleanup).
    async fn shared_config(url: &str, attempt: Duration) -> SdkConfig {
        contract::aws_error::config_loader()
            .endpoint_url(url)
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(1))
                    .operation_attempt_timeout(attempt)
                    .operation_timeout(Duration::from_secs(20))
                    .build(),
            )
            .load()
            .await
    }

    /// A synchronous invoke slower than the shared per-attempt limit is sent once and its answer awaited
    /// (issue 23, D3: a cleanup longer than 10 s ran twice and the caller got its own first attempt's 409).
    #[tokio::test]
    async fn a_slow_synchronous_invoke_is_sent_once_and_answered() {
        let (url, attempts) = endpoint(vec![Reply { after: Duration::from_millis(900), ..OK }]).await;
        let invoker =
            LambdaInvoker::new(&shared_config(&url, Duration::from_millis(200)).await, Duration::from_secs(5));
        let answer = invoker.invoke("deployer", &json!({"action": "cleanup"}), Mode::WaitLong).await.unwrap();
        assert_eq!(answer, Invoked::Answer(json!({"status": "cleaned"})));
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
    }

    /// An invoke that outlives its whole limit fails as `outcome_known: false`, and was still sent only once.
    #[tokio::test]
    async fn an_invoke_that_times_out_is_not_sent_again() {
        let (url, attempts) = endpoint(vec![Reply { after: Duration::from_secs(5), ..OK }]).await;
        let invoker =
            LambdaInvoker::new(&shared_config(&url, Duration::from_millis(200)).await, Duration::from_millis(600));
        let err = invoker.invoke("deployer", &json!({"version": "v2"}), Mode::WaitLong).await.unwrap_err();
        assert!(!err.certainly_not_applied(), "{err}");
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
    }

    /// A 5xx may come after the function ran: not retried (the standard retry mode alone would retry it).
    #[tokio::test]
    async fn a_server_error_is_not_retried() {
        let reply = Reply { status: 500, error_type: Some("ServiceException"), ..OK };
        let (url, attempts) = endpoint(vec![reply, OK]).await;
        let invoker = LambdaInvoker::new(&shared_config(&url, Duration::from_secs(2)).await, Duration::from_secs(5));
        let err = invoker.invoke("deployer", &json!({"version": "v2"}), Mode::Wait).await.unwrap_err();
        assert_eq!(err.aws_code.as_deref(), Some("ServiceException"));
        assert_eq!(attempts.load(Ordering::SeqCst), 1);
    }

    /// A throttled invoke (429: the function did not run) is retried, and the retry's answer comes back.
    #[tokio::test]
    async fn a_throttled_invoke_is_retried() {
        let reply = Reply { status: 429, error_type: Some("TooManyRequestsException"), ..OK };
        let (url, attempts) = endpoint(vec![reply, OK]).await;
        let invoker = LambdaInvoker::new(&shared_config(&url, Duration::from_secs(2)).await, Duration::from_secs(5));
        let answer = invoker.invoke("deployer", &json!({"version": "v2"}), Mode::Wait).await.unwrap();
        assert_eq!(answer, Invoked::Answer(json!({"status": "cleaned"})));
        assert_eq!(attempts.load(Ordering::SeqCst), 2);
    }

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
