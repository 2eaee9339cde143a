//! The door itself: every HTTP request (API Gateway REST and HTTP APIs, ALB, Function URLs, through
//! `lambda_http`) and the Slack continuation (a direct invoke, which `lambda_http`'s `pass_through` hands
//! over as a request whose context is `PassThrough`). It authenticates, routes, checks the allow-list and
//! invokes the deployer; it holds no ECS power itself.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use lambda_http::http::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use lambda_runtime::Diagnostic;
use serde_json::{json, Map, Value};

use crate::auth::{self, Caller};
use crate::aws::{deployer_outcome, CachedSecret, Invoker, Mode, SecretStore};
use crate::config::Config;
use crate::continuation::{self, Continuation};
use crate::error::FrontError;
use crate::route::{self, Command, Door};
use crate::slack::{self, Job, SlashCommand};

/// Unix time in milliseconds.
pub fn system_clock() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

pub struct Front<I, S> {
    pub config: Config,
    invoker: I,
    secrets: S,
    token: CachedSecret,
    signing: CachedSecret,
    clock: fn() -> u64,
}

/// A function error for a direct invoke: the code as `errorType`, the JSON body as `errorMessage`.
pub fn diagnostic(err: &FrontError) -> Diagnostic {
    Diagnostic { error_type: err.code().to_owned(), error_message: err.to_body().to_string() }
}

fn json_response(status: u16, body: &Value) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() =
        lambda_http::http::StatusCode::from_u16(status).unwrap_or(lambda_http::http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(CONTENT_TYPE, lambda_http::http::HeaderValue::from_static("application/json"));
    response
}

fn error_response(err: &FrontError) -> Response<Body> {
    let mut response = json_response(err.http_status(), &err.to_body());
    if let FrontError::MethodNotAllowed { allow, .. } = err {
        response.headers_mut().insert(ALLOW, lambda_http::http::HeaderValue::from_static(allow));
    }
    response
}

/// The path the caller asked for: HTTP APIs on a named stage put the stage in `rawPath`; REST APIs
/// (whose `path` has no stage) and ALBs do not.
fn request_path(request: &Request) -> String {
    let raw = request.raw_http_path();
    let raw = if raw.is_empty() { request.uri().path() } else { raw };
    if let Some(RequestContext::ApiGatewayV2(ctx)) = request.request_context_ref() {
        if let Some(stage) = ctx.stage.as_deref().filter(|s| !s.is_empty() && *s != "$default") {
            if let Some(rest) = raw.strip_prefix(&format!("/{stage}")) {
                if rest.is_empty() || rest.starts_with('/') {
                    return if rest.is_empty() { "/".into() } else { rest.to_owned() };
                }
            }
        }
    }
    raw.to_owned()
}

fn status_url(cluster: &str, service: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("cluster", cluster)
        .append_pair("service", service)
        .finish();
    format!("/status?{query}")
}

impl<I: Invoker, S: SecretStore> Front<I, S> {
    pub fn new(config: Config, invoker: I, secrets: S) -> Self {
        let token = CachedSecret::new(config.token_secret_arn.clone());
        let signing = CachedSecret::new(config.slack_secret_arn.clone());
        Front { config, invoker, secrets, token, signing, clock: system_clock }
    }

    /// Another clock (Unix milliseconds), for tests.
    pub fn with_clock(mut self, clock: fn() -> u64) -> Self {
        self.clock = clock;
        self
    }

    fn now_secs(&self) -> u64 {
        (self.clock)() / 1000
    }

    /// Everything `lambda_http` hands over. A direct invoke is a continuation or a function error; an
    /// HTTP request always gets an HTTP answer.
    pub async fn handle(&self, request: Request) -> Result<Response<Body>, Diagnostic> {
        if let Some(RequestContext::PassThrough) = request.request_context_ref() {
            return match self.continue_slack(request.body().as_ref()).await {
                Ok(summary) => Ok(json_response(200, &summary)),
                Err(err) => {
                    tracing::error!(code = err.code(), "continuation refused: {err}");
                    Err(diagnostic(&err))
                }
            };
        }
        let started = Instant::now();
        let path = request_path(&request);
        let method = request.method().to_string();
        let outcome = match route::door(&path) {
            Door::Slack => self.slack(&request, &path, started).await,
            Door::Api => self.api(&request, &path).await,
        };
        let response = outcome.unwrap_or_else(|err| {
            if err.http_status() >= 500 {
                tracing::error!(code = err.code(), %method, %path, "{err}");
            } else {
                tracing::warn!(code = err.code(), %method, %path, "{err}");
            }
            error_response(&err)
        });
        let (status, ms) = (response.status().as_u16(), started.elapsed().as_millis() as u64);
        tracing::info!(%method, %path, status, ms, "answered");
        Ok(response)
    }

    /// IAM when API Gateway or the Function URL verified one; otherwise the bearer token.
    async fn authenticate(&self, request: &Request) -> Result<Caller, FrontError> {
        if let Some(arn) = auth::iam_identity(request.request_context_ref()) {
            return Ok(Caller::Iam { arn });
        }
        if request.headers().get(AUTHORIZATION).is_none() {
            return Err(FrontError::Unauthorized {
                reason: "no credentials: send Authorization: Bearer <token>".into(),
            });
        }
        let token = self.token.get(&self.secrets, "AUTH_TOKEN_SECRET_ARN").await?;
        auth::check_bearer(request.headers(), token.expose())?;
        Ok(Caller::Token)
    }

    async fn api(&self, request: &Request, path: &str) -> Result<Response<Body>, FrontError> {
        let caller = self.authenticate(request).await?;
        let command = route::route(request.method(), path, request.uri().query(), request.body().as_ref())?;
        tracing::info!(caller = caller.describe(), %path, "authenticated");
        match command {
            Command::Deploy(mut body) | Command::Rollback(mut body) => {
                let targets = self.check_targets(&mut body)?;
                let action = body.get("action").and_then(Value::as_str).unwrap_or("deploy").to_owned();
                if body.get("wait") == Some(&Value::Bool(true)) {
                    // Following a rollout takes longer than API Gateway waits (29 s): start it, answer 202.
                    self.invoker.invoke(&self.config.deployer_function, &Value::Object(body), Mode::Event).await?;
                    tracing::info!(%action, ?targets, "accepted: the deployer follows the rollout");
                    let urls: Vec<String> = targets.iter().map(|(c, s)| status_url(c, s)).collect();
                    let mut answer = json!({"status": "accepted", "action": action});
                    match urls.as_slice() {
                        [one] => {
                            answer["cluster"] = json!(targets[0].0);
                            answer["service"] = json!(targets[0].1);
                            answer["status_url"] = json!(one);
                        }
                        [] => answer["status_url"] = json!("/status"),
                        many => answer["status_urls"] = json!(many),
                    }
                    return Ok(json_response(202, &answer));
                }
                let invoked =
                    self.invoker.invoke(&self.config.deployer_function, &Value::Object(body), Mode::Wait).await?;
                let result = deployer_outcome(invoked)?;
                tracing::info!(%action, status = result["status"].as_str().unwrap_or(""), "done");
                Ok(json_response(200, &result))
            }
            Command::Status { cluster, service } => {
                let mut body = Map::new();
                body.insert("action".into(), json!("status"));
                if let Some(c) = cluster {
                    body.insert("cluster".into(), json!(c));
                }
                if let Some(s) = service {
                    body.insert("service".into(), json!(s));
                }
                self.check_targets(&mut body)?;
                let invoked =
                    self.invoker.invoke(&self.config.deployer_function, &Value::Object(body), Mode::Wait).await?;
                Ok(json_response(200, &deployer_outcome(invoked)?))
            }
            Command::Slack => Err(FrontError::NotFound { path: path.to_owned() }),
        }
    }

    /// Fills in the door's default cluster and service and checks every named service against
    /// `ALLOWED_TARGETS`. With an allow-list, a request must resolve to services the door can check.
    fn check_targets(&self, body: &mut Map<String, Value>) -> Result<Vec<(String, String)>, FrontError> {
        let text = |v: &Value, what: &str| -> Result<String, FrontError> {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| FrontError::InvalidRequest { reason: format!("\"{what}\" must be a string") })
        };
        let mut targets = Vec::new();
        if let Some(list) = body.get("targets") {
            let list = list
                .as_array()
                .ok_or_else(|| FrontError::InvalidRequest { reason: "\"targets\" must be a list".into() })?;
            for t in list {
                targets.push((text(&t["cluster"], "targets[].cluster")?, text(&t["service"], "targets[].service")?));
            }
        } else {
            let mut resolve = |key: &str, default: &Option<String>| -> Result<Option<String>, FrontError> {
                match body.get(key) {
                    Some(v) => text(v, key).map(Some),
                    None => {
                        if let Some(d) = default {
                            body.insert(key.into(), json!(d));
                        }
                        Ok(default.clone())
                    }
                }
            };
            let cluster = resolve("cluster", &self.config.default_cluster)?;
            let service = resolve("service", &self.config.default_service)?;
            match (cluster, service) {
                (Some(c), Some(s)) => targets.push((c, s)),
                (c, s) if !self.config.allowed.is_open() => {
                    return Err(FrontError::NotAllowed {
                        reason: "name \"cluster\" and \"service\": this door only acts on the services it allows"
                            .into(),
                        cluster: c,
                        service: s,
                    })
                }
                _ => {}
            }
        }
        if let Some((c, s)) = targets.iter().find(|(c, s)| !self.config.allowed.allows(c, s)) {
            return Err(FrontError::NotAllowed {
                reason: format!("service {s} in cluster {c} is not one this door may act on (ALLOWED_TARGETS)"),
                cluster: Some(c.clone()),
                service: Some(s.clone()),
            });
        }
        Ok(targets)
    }

    /// A Slack slash command: verified, answered within Slack's 3 s with an ephemeral acknowledgement,
    /// and continued asynchronously.
    async fn slack(&self, request: &Request, path: &str, started: Instant) -> Result<Response<Body>, FrontError> {
        route::route(request.method(), path, None, b"")?;
        let body = request.body().as_ref();
        let secret = self.signing.get(&self.secrets, "SLACK_SIGNING_SECRET_ARN").await?;
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
        auth::verify_slack(
            secret.expose(),
            header("x-slack-request-timestamp"),
            header("x-slack-signature"),
            body,
            self.now_secs(),
        )?;
        if slack::is_ssl_check(body) {
            // Slack checking the certificate when the command is set up: a 200 is all it wants.
            return Ok(json_response(200, &json!({})));
        }
        let command = SlashCommand::parse(body)?;
        // From here on, every answer is a 200 with text for the person who typed the command.
        let answer = |text: &str| Ok(json_response(200, &slack::ephemeral(text)));
        if let Err(refusal) = auth::slack_allows(
            &self.config.slack_users,
            &self.config.slack_channels,
            &command.user_id,
            &command.channel_id,
        ) {
            tracing::warn!(user = %command.user_id, channel = %command.channel_id, "Slack caller not allowed");
            return answer(&format!(":no_entry: {refusal}"));
        }
        let ask = match slack::parse_text(&command.text) {
            Ok(ask) => ask,
            Err(problem) => return answer(&format!(":warning: {problem}\n{}", slack::usage())),
        };
        let job = match Job::resolve(ask, self.config.default_cluster.as_deref()) {
            Ok(Some(job)) => job,
            Ok(None) => return answer(&slack::usage()),
            Err(problem) => return answer(&format!(":warning: {problem}")),
        };
        if !self.config.allowed.allows(job.cluster(), job.service()) {
            let (cluster, service) = (job.cluster(), job.service());
            tracing::warn!(user = %command.user_id, cluster, service, "Slack target not allowed");
            return answer(&format!(
                ":no_entry: `{}/{}` is not one of the services this command may act on.",
                job.cluster(),
                job.service()
            ));
        }
        if !command.response_url.starts_with(&self.config.response_url_prefix) {
            tracing::warn!(user = %command.user_id, "response_url outside SLACK_RESPONSE_URL_PREFIX: refused");
            return answer(":no_entry: this command cannot answer there (unexpected response_url).");
        }
        let Some(function) = self.config.self_function.as_deref() else {
            return Err(FrontError::NotConfigured {
                what: "FRONT_FUNCTION (or AWS_LAMBDA_FUNCTION_NAME) is not set".into(),
            });
        };
        let continuation = Continuation {
            job: job.clone(),
            user_id: command.user_id.clone(),
            channel_id: command.channel_id.clone(),
            response_url: command.response_url.clone(),
            received_ms: (self.clock)().saturating_sub(started.elapsed().as_millis() as u64),
        };
        let sealed = continuation::seal(&continuation, secret.expose(), self.now_secs());
        if let Err(e) = self.invoker.invoke(function, &sealed, Mode::Event).await {
            let err = FrontError::from(e);
            tracing::error!(code = err.code(), "could not start the Slack continuation: {err}");
            return answer(&format!(":x: could not start (`{}`); try again.", err.code()));
        }
        let ack_ms = started.elapsed().as_millis() as u64;
        tracing::info!(
            ack_ms,
            user = %command.user_id,
            channel = %command.channel_id,
            action = ?job,
            "Slack command acknowledged"
        );
        answer(&job.acknowledgement())
    }

    /// The Slack continuation: verify it, run the job through the deployer, POST the outcome to Slack.
    /// Once verified it always succeeds (the outcome is in the message), so Lambda never retries it and a
    /// deploy never runs twice.
    pub async fn continue_slack(&self, event: &[u8]) -> Result<Value, FrontError> {
        let secret = self.signing.get(&self.secrets, "SLACK_SIGNING_SECRET_ARN").await?;
        let c = continuation::open(event, secret.expose(), self.now_secs())?;
        if !c.response_url.starts_with(&self.config.response_url_prefix) {
            return Err(FrontError::Forbidden { reason: "response_url outside SLACK_RESPONSE_URL_PREFIX".into() });
        }
        let request = c.job.request(self.config.slack_wait);
        let outcome = match self.invoker.invoke(&self.config.deployer_function, &request, Mode::WaitLong).await {
            Ok(invoked) => deployer_outcome(invoked),
            Err(e) => Err(FrontError::from(e)),
        };
        let elapsed_ms = (self.clock)().saturating_sub(c.received_ms);
        let message = slack::outcome_message(&c.job, &outcome, &c.user_id, elapsed_ms, &self.config.region);
        let status = match &outcome {
            Ok(result) => result["status"].as_str().unwrap_or("unknown").to_owned(),
            Err(e) => e.code().to_owned(),
        };
        let posted = deployer::notify::post_json(&c.response_url, &message).await;
        match &posted {
            Ok(http) => tracing::info!(job = ?c.job, %status, elapsed_ms, http, "Slack command done, outcome posted"),
            Err(error) => {
                tracing::error!(job = ?c.job, %status, elapsed_ms, %error, "Slack command done, outcome NOT posted")
            }
        }
        Ok(json!({"job": c.job, "status": status, "elapsed_ms": elapsed_ms, "posted": posted.is_ok()}))
    }
}

#[cfg(test)]
mod tests;
