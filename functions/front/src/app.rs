//! The door itself: every event the Lambda runtime hands over, told apart by [`crate::event`] before any
//! secret is read: HTTP requests (API Gateway REST and HTTP APIs, ALB, Function URLs, converted by
//! `lambda_http` once they are known to convert), the Slack continuation (a direct invoke), and anything else
//! (a function error). It authenticates, routes, checks the request in full ([`crate::check`]) and invokes the
//! deployer with the request it built; it holds no ECS power itself. A panic while answering an HTTP request
//! is answered 500.

use std::panic::AssertUnwindSafe;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use contract::identity::Home;
use contract::request::{Action, DeployRequest};
use contract::result::Answer;
use contract::secrets::{CachedSecret, SecretStore};
use futures_util::FutureExt;
use lambda_http::http::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::auth::{self, Caller};
use crate::aws::{deployer_outcome, read_answer, request_payload, Invoker, Mode};
use crate::check::{self, Checked};
use crate::config::Config;
use crate::continuation::{self, Continuation, Envelope};
use crate::error::FrontError;
use crate::event::{self, Inbound};
use crate::replay::{self, ReplayGuard};
use crate::route::{self, Command, Door};
use crate::slack::{self, Job, SlashCommand};

/// Unix time in milliseconds.
pub fn system_clock() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

pub struct Front<I, S, R> {
    pub config: Config,
    invoker: I,
    secrets: S,
    /// Remembers Slack requests; `None` without `SLACK_REPLAY_TABLE`, and then `/slack` is not configured.
    replay: Option<R>,
    token: CachedSecret,
    signing: CachedSecret,
    clock: fn() -> u64,
}

/// A function error for a direct invoke: the code as `errorType`, the JSON body as `errorMessage`.
pub fn diagnostic(err: &FrontError) -> Diagnostic {
    Diagnostic { error_type: err.code().to_string(), error_message: err.to_body().to_string() }
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
/// Seconds a deployer invoked synchronously for an HTTP caller has to answer: API Gateway gives up after
/// 29 s and [`crate::aws::HTTP_WAIT`] after 27 s.
pub const HTTP_ANSWER_WITHIN: u32 = 25;
/// Seconds the deployer has to answer a Slack continuation: the front function itself ends after 30 s
/// (infra/template.yaml) and must still post the outcome.
pub const SLACK_ANSWER_WITHIN: u32 = 20;

/// `request` asked to answer within `seconds`, or sooner if its caller asked so.
fn within(request: DeployRequest, seconds: u32) -> DeployRequest {
    let answer_within = Some(request.answer_within.map_or(seconds, |asked| asked.min(seconds)));
    DeployRequest { answer_within, ..request }
}

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

/// The `status` of the deployer's answer (`deployed`, `rolled_back`, `ok`, …), `unknown` for an answer of
/// another shape.
fn answer_status(result: &Value) -> &'static str {
    read_answer(result).as_ref().map_or("unknown", Answer::status)
}

/// `/status?[region=…&]cluster=…&service=…`: where a caller reads how the rollout it started goes; the
/// region only when it is not the function's own.
fn status_url(region: Option<&str>, cluster: &str, service: &str) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(region) = region {
        query.append_pair("region", region);
    }
    let query = query.append_pair("cluster", cluster).append_pair("service", service).finish();
    format!("/status?{query}")
}

impl<I: Invoker, S: SecretStore, R: ReplayGuard> Front<I, S, R> {
    pub fn new(config: Config, invoker: I, secrets: S, replay: Option<R>) -> Self {
        let token = CachedSecret::new(config.token_secret_arn.clone());
        let signing = CachedSecret::new(config.slack_secret_arn.clone());
        Front { config, invoker, secrets, replay, token, signing, clock: system_clock }
    }

    /// Another clock (Unix milliseconds), for tests.
    pub fn with_clock(mut self, clock: fn() -> u64) -> Self {
        self.clock = clock;
        self
    }

    fn now_secs(&self) -> u64 {
        (self.clock)() / 1000
    }

    /// Every event the runtime hands over (see [`crate::event::classify`]). An HTTP event always gets an HTTP
    /// answer in its integration's shape (400 when it cannot be read, 500 when answering it panicked); a
    /// continuation gets its summary or a function error; anything else a function error (`InvalidRequest`).
    /// Where this function runs comes from the invocation's own ARN, else from `FRONT_FUNCTION`.
    pub async fn handle_event(&self, event: LambdaEvent<Box<RawValue>>) -> Result<Value, Diagnostic> {
        let invoked = Home::from_function_arn(&event.context.invoked_function_arn);
        let home = invoked.as_ref().or(self.config.home.as_ref());
        match event::classify(&event.payload) {
            Inbound::Continuation(envelope) => match self.continue_slack(&envelope).await {
                Ok(summary) => Ok(summary),
                Err(err) => {
                    tracing::error!(code = err.code().as_str(), "continuation refused: {err}");
                    Err(diagnostic(&err))
                }
            },
            Inbound::Http { origin, request } => {
                let answered = AssertUnwindSafe(self.handle(*request, home)).catch_unwind().await;
                let response = answered.unwrap_or_else(|_| {
                    let err = FrontError::Internal { reason: "the request could not be answered".into() };
                    tracing::error!(code = err.code().as_str(), "answering the request panicked");
                    error_response(&err)
                });
                Ok(event::respond(origin, response))
            }
            Inbound::Malformed { origin, reason } => {
                let err = FrontError::InvalidRequest { reason };
                tracing::warn!(code = err.code().as_str(), ?origin, "malformed HTTP event: {err}");
                Ok(event::respond(origin, error_response(&err)))
            }
            Inbound::Unknown { reason } => {
                let err = FrontError::InvalidRequest { reason };
                tracing::warn!(code = err.code().as_str(), "{err}");
                Err(diagnostic(&err))
            }
        }
    }

    /// An HTTP request, converted and checked by [`crate::event`]; `home` is where this function runs (for
    /// ARNs in the request). Always an HTTP answer.
    pub async fn handle(&self, request: Request, home: Option<&Home>) -> Response<Body> {
        let started = Instant::now();
        let path = request_path(&request);
        let method = request.method().to_string();
        let outcome = match route::door(&path) {
            Door::Slack => self.slack(&request, &path, started, home).await,
            Door::Api => self.api(&request, &path, home).await,
        };
        let response = outcome.unwrap_or_else(|err| {
            if err.http_status() >= 500 {
                tracing::error!(code = err.code().as_str(), %method, %path, "{err}");
            } else {
                tracing::warn!(code = err.code().as_str(), %method, %path, "{err}");
            }
            error_response(&err)
        });
        let (status, ms) = (response.status().as_u16(), started.elapsed().as_millis() as u64);
        tracing::info!(%method, %path, status, ms, "answered");
        response
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

    async fn api(&self, request: &Request, path: &str, home: Option<&Home>) -> Result<Response<Body>, FrontError> {
        let caller = self.authenticate(request).await?;
        let command = route::route(request.method(), path, request.uri().query(), request.body().as_ref())?;
        tracing::info!(caller = caller.describe(), %path, "authenticated");
        // Who asked is who this door authenticated, whatever the body said.
        let requested_by = Some(caller.requested_by());
        match command {
            Command::Deploy(request)
            | Command::Rollback(request)
            | Command::Answer(request)
            | Command::Diff(request)
            | Command::Cleanup(request) => {
                let request = DeployRequest { requested_by, ..request };
                // Everything the deployer would refuse is refused here, before it costs an invoke. A diff or a
                // cleanup never takes `wait` (refused there), so it is always answered synchronously.
                let Checked { request, services, regions } = check::check(request, &self.config, home)?;
                let action = request.action.as_str();
                let payload = request_payload(&request);
                if request.wait {
                    // Following a rollout takes longer than API Gateway waits (29 s): start it, answer 202.
                    self.invoker.invoke(&self.config.deployer_function, &payload, Mode::Event).await?;
                    tracing::info!(%action, ?services, "accepted: the deployer follows the rollout");
                    let urls: Vec<String> =
                        services.iter().zip(&regions).map(|((c, s), r)| status_url(r.as_deref(), c, s)).collect();
                    let mut answer = json!({"status": "accepted", "action": action});
                    match urls.as_slice() {
                        [one] => {
                            answer["cluster"] = json!(services[0].0);
                            answer["service"] = json!(services[0].1);
                            answer["status_url"] = json!(one);
                        }
                        [] => answer["status_url"] = json!("/status"),
                        many => answer["status_urls"] = json!(many),
                    }
                    return Ok(json_response(202, &answer));
                }
                let payload = request_payload(&within(request, HTTP_ANSWER_WITHIN));
                let invoked = self.invoker.invoke(&self.config.deployer_function, &payload, Mode::Wait).await?;
                // The deployer's JSON goes back as it came: fields this door does not know are kept.
                let result = deployer_outcome(invoked)?;
                tracing::info!(%action, status = answer_status(&result), "done");
                Ok(json_response(200, &result))
            }
            Command::Status { region, cluster, service } => {
                let request = DeployRequest {
                    action: Action::Status,
                    region,
                    cluster,
                    service,
                    requested_by,
                    ..DeployRequest::default()
                };
                self.ask(request, home).await
            }
            Command::History { region, cluster, service, limit } => {
                let request = DeployRequest {
                    action: Action::History,
                    region,
                    cluster,
                    service,
                    limit,
                    requested_by,
                    ..DeployRequest::default()
                };
                self.ask(request, home).await
            }
            Command::Slack => Err(FrontError::NotFound { path: path.to_owned() }),
        }
    }

    /// A request that changes nothing (status, history), from a query: checked, then answered with the
    /// deployer's JSON.
    /// A history is shown only when it is the one of the service the caller asked for and may act on (issue
    /// 23, D10): an answer about another service is withheld (`Internal`).
    async fn ask(&self, request: DeployRequest, home: Option<&Home>) -> Result<Response<Body>, FrontError> {
        let Checked { request, services, .. } = check::check(request, &self.config, home)?;
        let payload = request_payload(&within(request.clone(), HTTP_ANSWER_WITHIN));
        let invoked = self.invoker.invoke(&self.config.deployer_function, &payload, Mode::Wait).await?;
        let result = deployer_outcome(invoked)?;
        if request.action == Action::History && !self.config.allowed.is_open() {
            let answered = (result["cluster"].as_str(), result["service"].as_str());
            if !services.iter().any(|(c, s)| answered == (Some(c.as_str()), Some(s.as_str()))) {
                tracing::error!(?answered, ?services, "the deployer answered the history of another service: withheld");
                return Err(FrontError::Internal {
                    reason: "the deployer's history is not the one of the service asked for".into(),
                });
            }
        }
        tracing::info!(action = request.action.as_str(), status = answer_status(&result), "done");
        Ok(json_response(200, &result))
    }

    /// A Slack slash command: verified, checked for a replay, checked in full, answered within Slack's 3 s
    /// with an ephemeral acknowledgement, and continued asynchronously. Whatever is refused is refused in
    /// the acknowledgement, without any invoke.
    async fn slack(
        &self,
        request: &Request,
        path: &str,
        started: Instant,
        home: Option<&Home>,
    ) -> Result<Response<Body>, FrontError> {
        route::route(request.method(), path, None, b"")?;
        let Some(replays) = &self.replay else {
            return Err(FrontError::NotConfigured {
                what: "SLACK_REPLAY_TABLE is not set: Slack requests cannot be checked for replays".into(),
            });
        };
        let body = request.body().as_ref();
        let secret = self.signing.get(&self.secrets, "SLACK_SIGNING_SECRET_ARN").await?;
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
        let (timestamp, signature) = (header("x-slack-request-timestamp"), header("x-slack-signature"));
        auth::verify_slack(secret.expose(), timestamp, signature, body, self.now_secs())?;
        if slack::is_ssl_check(body) {
            // Slack checking the certificate when the command is set up: a 200 is all it wants.
            return Ok(json_response(200, &json!({})));
        }
        // Verified, so both headers are there and the timestamp is a number.
        let (timestamp, signature) = (timestamp.unwrap_or_default(), signature.unwrap_or_default());
        let sent = timestamp.trim().parse::<u64>().unwrap_or_default();
        if !replays.first_sight(&replay::key(timestamp, signature), replay::remember_until(sent)).await? {
            return Err(FrontError::Forbidden {
                reason: "this Slack request was received before: a replay is refused".into(),
            });
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
        // The same checks as an HTTP request's: a bad version or name costs no invoke and no "Deploying…".
        let request = DeployRequest {
            requested_by: Some(slack::requested_by(&command.user_id)),
            ..job.request(self.config.slack_wait)
        };
        let checked = match check::check(request, &self.config, home) {
            Ok(checked) => checked,
            Err(err) => {
                let (cluster, service) = (job.cluster(), job.service());
                let region = home.map_or(self.config.region.as_str(), |h| h.region.as_str());
                tracing::warn!(user = %command.user_id, cluster, service, code = err.code().as_str(), "Slack command refused: {err}");
                return answer(&slack::refusal(
                    &job,
                    &err,
                    self.config.allowed.allows(region, cluster, service, region),
                ));
            }
        };
        let job = job.checked(&checked.request);
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
            tracing::error!(code = err.code().as_str(), "could not start the Slack continuation: {err}");
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

    /// The Slack continuation: verify it, claim it (each sealed continuation runs at most once: a conditional
    /// write in the replay table, issue 23 D7), run the job through the deployer, POST the outcome to Slack.
    /// Once claimed it always succeeds (the outcome is in the message), so Lambda never retries it and a
    /// deploy never runs twice. A continuation claimed before answers `{"status": "already_ran"}` and invokes
    /// and posts nothing. Errors: `Forbidden`, `InvalidRequest` (see [`continuation::open`]), `NotConfigured`
    /// without `SLACK_REPLAY_TABLE`, and an AWS error when the claim could not be written (then nothing ran).
    pub async fn continue_slack(&self, envelope: &Envelope) -> Result<Value, FrontError> {
        let secret = self.signing.get(&self.secrets, "SLACK_SIGNING_SECRET_ARN").await?;
        let c = continuation::open(envelope, secret.expose(), self.now_secs())?;
        if !c.response_url.starts_with(&self.config.response_url_prefix) {
            return Err(FrontError::Forbidden { reason: "response_url outside SLACK_RESPONSE_URL_PREFIX".into() });
        }
        let Some(replays) = &self.replay else {
            return Err(FrontError::NotConfigured {
                what: "SLACK_REPLAY_TABLE is not set: a Slack continuation cannot be claimed".into(),
            });
        };
        let claim = replay::continuation_key(envelope.signature());
        if !replays.first_sight(&claim, envelope.remember_until()).await? {
            tracing::warn!(job = ?c.job, user = %c.user_id, "Slack continuation received again: it ran already");
            return Ok(json!({"job": c.job, "status": "already_ran", "posted": false}));
        }
        let request = DeployRequest {
            requested_by: Some(slack::requested_by(&c.user_id)),
            ..c.job.request(self.config.slack_wait)
        };
        // The continuation runs within this function's own time limit: the deployer answers before it.
        let request = within(request, SLACK_ANSWER_WITHIN);
        let request = request_payload(&request);
        let outcome = match self.invoker.invoke(&self.config.deployer_function, &request, Mode::WaitLong).await {
            Ok(invoked) => deployer_outcome(invoked),
            Err(e) => Err(FrontError::from(e)),
        };
        let elapsed_ms = (self.clock)().saturating_sub(c.received_ms);
        let message = slack::outcome_message(&c.job, &outcome, &c.user_id, elapsed_ms, &self.config.region);
        let status = match &outcome {
            Ok(result) => answer_status(result).to_owned(),
            Err(e) => e.code().to_string(),
        };
        let posted = contract::http::post_json(&c.response_url, &message).await;
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
