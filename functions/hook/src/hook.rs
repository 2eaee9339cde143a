//! The handler: one event in, the checks run, one answer out.
//!
//! - CodeDeploy: every round of checks in this invocation (within the time budget), then exactly one
//!   PutLifecycleEventHookExecutionStatus, `Succeeded` when every check passed and `Failed` otherwise, a
//!   bad configuration included. The function's own answer (ignored by CodeDeploy) is
//!   `{"status", "reported", "summary", "outcomes"}`.
//! - ECS: one round per invocation. While rounds remain it answers `IN_PROGRESS` with `callBackDelay` =
//!   the interval and its progress in `hookDetails.ecsDeployerHook`; `SUCCEEDED` once every round passed;
//!   `FAILED` at the first failed check, or when the rounds have taken longer than
//!   `HOOK_MAX_DURATION_SECONDS`. A rollback's re-invocation is answered `SUCCEEDED` without checks (blue is
//!   what serves). It never answers with an error: ECS reads one as a failure with no reason.
//! - Either way, a verdict (never IN_PROGRESS) is published on `HOOK_SNS_TOPIC_ARN` when it is set:
//!   `{"hook", "deployment_id" | "service_deployment", "stage", "status", "summary", "outcomes"}`.

use std::time::{Duration, Instant};

use aws_lambda_events::event::codedeploy::CodeDeployLifecycleEvent;
use contract::env::ConfigError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tracing::{info, warn, Instrument};

use crate::check::{judge_alarms, judge_response, summary, verdict, Outcome, Verdict};
use crate::config::{plan, Config, Plan};
use crate::error::HookError;
use crate::event::{parse, parse_raw, EcsAnswer, EcsHookEvent, HookStatus, Invocation};
use crate::ports::{Aws, LifecycleStatus, Probe, ProbeRequest, Reported};

/// The key of `hookDetails` under which the hook keeps its progress between ECS invocations.
pub const STATE_KEY: &str = "ecsDeployerHook";
/// Time kept back from the invocation's deadline for the report and the answer.
const DEADLINE_MARGIN: Duration = Duration::from_secs(3);

/// The progress of an ECS hook, kept in `hookDetails` between invocations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The deployment, stage and traffic step the rounds belong to: another key starts afresh.
    pub key: String,
    /// Rounds done, of `of`.
    pub round: u32,
    pub of: u32,
    /// When the first round of this key ran, in seconds since the Unix epoch.
    pub started_at: u64,
    pub summary: String,
    /// The outcomes of the last round.
    pub outcomes: Vec<Outcome>,
}

/// The lifecycle hook, over its ports.
pub struct Hook<A, P> {
    config: Result<Config, ConfigError>,
    pub(crate) aws: A,
    pub(crate) probe: P,
}

impl<A: Aws, P: Probe> Hook<A, P> {
    /// A configuration error is kept and answered (`Failed`/`FAILED`) by every invocation.
    pub fn new(config: Result<Config, ConfigError>, aws: A, probe: P) -> Self {
        Hook { config, aws, probe }
    }

    /// Answers one event. `time_left` is what remains of the invocation (from the Lambda context), `now`
    /// the time in seconds since the Unix epoch. Errors: [`HookError::InvalidEvent`] for an event of
    /// neither shape; for CodeDeploy, [`HookError::Aws`] when PutLifecycleEventHookExecutionStatus failed.
    pub async fn handle(&self, event: Value, time_left: Option<Duration>, now: u64) -> Result<Value, HookError> {
        self.answer(parse(event)?, time_left, now).await
    }

    /// [`Hook::handle`] of the payload as the runtime hands it over (raw JSON text, so that no limit of the
    /// runtime's own parsing turns into a function error): a payload that cannot be read is answered `Failed`
    /// (CodeDeploy, when its ids can be read) or `FAILED` (ECS) with the reason ([`crate::event::parse_raw`]).
    /// Errors: as [`Hook::handle`].
    pub async fn handle_raw(&self, raw: &str, time_left: Option<Duration>, now: u64) -> Result<Value, HookError> {
        self.answer(parse_raw(raw)?, time_left, now).await
    }

    async fn answer(&self, invocation: Invocation, time_left: Option<Duration>, now: u64) -> Result<Value, HookError> {
        match invocation {
            Invocation::CodeDeploy(e) => {
                let span = tracing::info_span!("codedeploy_hook", deployment_id = %e.deployment_id);
                self.codedeploy(e, time_left).instrument(span).await
            }
            Invocation::CodeDeployUnreadable { deployment_id, execution_id, reason } => {
                let span = tracing::info_span!("codedeploy_hook", deployment_id = %deployment_id);
                let outcomes = vec![failed("event", reason)];
                self.report_codedeploy(&deployment_id, &execution_id, outcomes).instrument(span).await
            }
            Invocation::Ecs(e) => {
                let stage = e.as_ref().map(|e| e.lifecycle_stage.clone()).unwrap_or_default();
                let span = tracing::info_span!("ecs_hook", stage = %stage);
                let answer = self.ecs(e, time_left, now).instrument(span).await;
                Ok(serde_json::to_value(answer).unwrap_or_else(|_| json!({"hookStatus": "FAILED"})))
            }
        }
    }

    fn budget(&self, time_left: Option<Duration>) -> Duration {
        let configured = self.config.as_ref().map(|c| c.budget).unwrap_or(Duration::from_secs(60));
        time_left.map_or(configured, |left| configured.min(left.saturating_sub(DEADLINE_MARGIN)))
    }

    async fn codedeploy(&self, e: CodeDeployLifecycleEvent, time_left: Option<Duration>) -> Result<Value, HookError> {
        let outcomes = match &self.config {
            Err(c) => vec![failed("configuration", c.to_string())],
            Ok(config) => match plan(config, None) {
                Err(err) => vec![failed("configuration", err.to_string())],
                Ok(plan) => self.all_rounds(&plan, self.budget(time_left)).await,
            },
        };
        self.report_codedeploy(&e.deployment_id, &e.lifecycle_event_hook_execution_id, outcomes).await
    }

    /// The one PutLifecycleEventHookExecutionStatus of a CodeDeploy invocation: `Succeeded` when every outcome
    /// passed, `Failed` otherwise; then the notice and the function's own answer.
    async fn report_codedeploy(
        &self,
        deployment_id: &str,
        execution_id: &str,
        outcomes: Vec<Outcome>,
    ) -> Result<Value, HookError> {
        // Every round ran unless one failed or the time ran out, which leaves a failed outcome.
        let status = if !outcomes.is_empty() && outcomes.iter().all(|o| o.passed) {
            LifecycleStatus::Succeeded
        } else {
            LifecycleStatus::Failed
        };
        let text = summary(&outcomes);
        let reported = self.aws.report(deployment_id, execution_id, status).await?;
        match status {
            LifecycleStatus::Succeeded => info!(status = status.as_str(), ?reported, "{text}"),
            LifecycleStatus::Failed => warn!(status = status.as_str(), ?reported, "{text}"),
        }
        let reported = match reported {
            Reported::Recorded => "recorded",
            Reported::AlreadyCompleted => "already_completed",
        };
        let answer = json!({"status": status.as_str(), "reported": reported, "summary": text, "outcomes": outcomes});
        let notice = json!({"hook": "codedeploy", "deployment_id": deployment_id, "status": status.as_str(),
                            "summary": text, "outcomes": outcomes});
        self.notify(&format!("ecs-deployer hook {}", status.as_str()), &notice).await;
        Ok(answer)
    }

    /// Every round of `plan`, `interval` apart, until one fails or the budget runs out.
    async fn all_rounds(&self, plan: &Plan, budget: Duration) -> Vec<Outcome> {
        let deadline = Instant::now() + budget;
        let (total, interval) = plan.http.as_ref().map_or((1, Duration::ZERO), |h| (h.requests, h.interval));
        let mut all = Vec::new();
        for n in 1..=total {
            if n > 1 {
                if Instant::now() + interval >= deadline {
                    all.push(out_of_time(budget, n - 1, total));
                    break;
                }
                tokio::time::sleep(interval).await;
            }
            let Some(outcomes) = self.round(plan, n, deadline).await else {
                all.push(out_of_time(budget, n - 1, total));
                break;
            };
            let failed = outcomes.iter().any(|o| !o.passed);
            all.extend(outcomes);
            if failed {
                break;
            }
        }
        all
    }

    /// Round `n`: one request of the HTTP check and one look at the alarms; `None` when the deadline passed.
    async fn round(&self, plan: &Plan, n: u32, deadline: Instant) -> Option<Vec<Outcome>> {
        let left = deadline.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
        let headers = self.config.as_ref().map(|c| c.headers.as_slice()).unwrap_or_default();
        let work = async {
            let mut outcomes = Vec::new();
            if let Some(http) = &plan.http {
                let timeout = http.max_latency.saturating_add(Duration::from_millis(1)).min(left);
                let seen = self.probe.request(ProbeRequest { check: http, headers, timeout }).await;
                outcomes.push(judge_response(http, n, &seen));
            }
            if !plan.alarms.is_empty() {
                match self.aws.alarm_states(&plan.alarms).await {
                    Ok(states) => outcomes.extend(judge_alarms(&plan.alarms, &states)),
                    Err(e) => outcomes.push(failed("alarms", e.to_string())),
                }
            }
            outcomes
        };
        tokio::time::timeout(left, work).await.ok()
    }

    /// Publishes a final outcome to `HOOK_SNS_TOPIC_ARN`, if set; a failure is logged and changes nothing.
    async fn notify(&self, subject: &str, message: &Value) {
        let Some(topic) = self.config.as_ref().ok().and_then(|c| c.topic.as_deref()) else { return };
        if let Err(e) = self.aws.publish(topic, subject, &message.to_string()).await {
            warn!(error = %e, "the outcome notification was not sent");
        }
    }

    async fn ecs(&self, e: Result<EcsHookEvent, String>, time_left: Option<Duration>, now: u64) -> EcsAnswer {
        let deployment = e.as_ref().ok().and_then(|e| e.resource_arn.clone());
        let stage = e.as_ref().map(|e| e.lifecycle_stage.clone()).unwrap_or_default();
        let answer = self.ecs_answer(e, time_left, now).await;
        if answer.hook_status != HookStatus::InProgress {
            let status = if answer.hook_status == HookStatus::Succeeded { "SUCCEEDED" } else { "FAILED" };
            let state = &answer.hook_details[STATE_KEY];
            let notice = json!({"hook": "ecs", "service_deployment": deployment, "stage": stage, "status": status,
                                "summary": state["summary"], "outcomes": state["outcomes"]});
            self.notify(&format!("ecs-deployer hook {status} at {stage}"), &notice).await;
        }
        answer
    }

    async fn ecs_answer(&self, e: Result<EcsHookEvent, String>, time_left: Option<Duration>, now: u64) -> EcsAnswer {
        let e = match e {
            Ok(e) => e,
            Err(reason) => return finish(HookStatus::Failed, None, vec![failed("event", reason)], None),
        };
        if e.is_rollback() {
            info!("rollback re-invocation: blue serves again, nothing to check");
            let o = Outcome {
                check: "rollback".into(),
                passed: true,
                saw: "green at 0 %, another revision at 100 %".into(),
            };
            return finish(HookStatus::Succeeded, None, vec![o], None);
        }
        let config = match &self.config {
            Ok(c) => c,
            Err(c) => return finish(HookStatus::Failed, None, vec![failed("configuration", c.to_string())], None),
        };
        let plan = match plan(config, e.hook_details.as_ref()) {
            Ok(p) => p,
            Err(err) => {
                return finish(HookStatus::Failed, None, vec![failed("hookDetails.check", err.to_string())], None)
            }
        };
        let key = state_key(&e);
        let (total, interval) = plan.http.as_ref().map_or((1, Duration::ZERO), |h| (h.requests, h.interval));
        let previous = e
            .hook_details
            .as_ref()
            .and_then(|d| d.get(STATE_KEY))
            .and_then(|s| serde_json::from_value::<State>(s.clone()).ok())
            .filter(|s| s.key == key);
        let (done, started_at) = previous.map_or((0, now), |s| (s.round, s.started_at));
        if now.saturating_sub(started_at) > config.max_duration.as_secs() {
            let o = failed(
                "duration",
                format!("checks still running after {} s (HOOK_MAX_DURATION_SECONDS)", now - started_at),
            );
            return finish(HookStatus::Failed, None, vec![o], None);
        }
        let n = done + 1;
        let deadline = Instant::now() + self.budget(time_left);
        let outcomes = match self.round(&plan, n, deadline).await {
            Some(o) => o,
            None => vec![out_of_time(self.budget(time_left), done, total)],
        };
        let state = |outcomes: &[Outcome]| State {
            key: key.clone(),
            round: n,
            of: total,
            started_at,
            summary: summary(outcomes),
            outcomes: outcomes.to_vec(),
        };
        match verdict(&outcomes, n, total) {
            Verdict::Passed => finish(HookStatus::Succeeded, None, outcomes.clone(), Some(state(&outcomes))),
            Verdict::Failed => finish(HookStatus::Failed, None, outcomes.clone(), Some(state(&outcomes))),
            Verdict::Continue => {
                let delay = interval.as_secs().max(1);
                finish(HookStatus::InProgress, Some(delay), outcomes.clone(), Some(state(&outcomes)))
            }
        }
    }
}

/// The deployment, stage and green's weight: PRODUCTION_TRAFFIC_SHIFT runs once per canary or linear step,
/// and `hookDetails` persists across the stages of one hook.
fn state_key(e: &EcsHookEvent) -> String {
    let weight = e.target_weight().map(|w| w.to_string()).unwrap_or_default();
    format!("{}|{}|{weight}", e.resource_arn.as_deref().unwrap_or_default(), e.lifecycle_stage)
}

fn finish(status: HookStatus, delay: Option<u64>, outcomes: Vec<Outcome>, state: Option<State>) -> EcsAnswer {
    let text = summary(&outcomes);
    match status {
        HookStatus::Failed => warn!(hook_status = ?status, "{text}"),
        _ => info!(hook_status = ?status, "{text}"),
    }
    let state = state.unwrap_or(State { key: String::new(), round: 0, of: 0, started_at: 0, summary: text, outcomes });
    let details = serde_json::to_value(&state).unwrap_or(Value::Null);
    EcsAnswer { hook_status: status, call_back_delay: delay, hook_details: json!({ STATE_KEY: details }) }
}

fn failed(check: &str, saw: String) -> Outcome {
    Outcome { check: check.to_owned(), passed: false, saw }
}

fn out_of_time(budget: Duration, done: u32, total: u32) -> Outcome {
    failed("time", format!("{done} of {total} rounds done when the {} s budget ran out", budget.as_secs()))
}
