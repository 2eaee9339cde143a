//! The Slack slash command: `/deploy <service> <version>`, `/deploy rollback <service> [<family:revision>]`,
//! `/deploy continue <service>`, `/deploy reject <service>`,
//! `/deploy status <service>`, `/deploy help`. A service is `service` (in the default cluster) or
//! `cluster/service`. Parsing and every message are pure; [`crate::app`] does the I/O.

use contract::request::{Action, DeployRequest};
use contract::result::{Answer, ServiceDeploymentReport};
use contract::text::{console_url, duration_text, mrkdwn_escape, resource_name, revision_change, truncate};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::aws::read_answer;
use crate::error::FrontError;

/// Slack refuses a text object longer than 3000 characters.
const TEXT_LIMIT: usize = 2900;

/// The fields of a slash command this door uses (Slack sends more; they are ignored).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlashCommand {
    pub command: String,
    pub text: String,
    pub user_id: String,
    pub user_name: String,
    pub channel_id: String,
    pub team_id: String,
    pub response_url: String,
}

impl SlashCommand {
    /// Parses the form-urlencoded body Slack POSTs.
    pub fn parse(body: &[u8]) -> Result<SlashCommand, FrontError> {
        let mut command = SlashCommand::default();
        for (key, value) in form_urlencoded::parse(body) {
            let slot = match key.as_ref() {
                "command" => &mut command.command,
                "text" => &mut command.text,
                "user_id" => &mut command.user_id,
                "user_name" => &mut command.user_name,
                "channel_id" => &mut command.channel_id,
                "team_id" => &mut command.team_id,
                "response_url" => &mut command.response_url,
                _ => continue,
            };
            *slot = value.into_owned();
        }
        if command.user_id.is_empty() || command.channel_id.is_empty() || command.response_url.is_empty() {
            return Err(FrontError::InvalidRequest {
                reason: "not a Slack slash command: user_id, channel_id or response_url is missing".into(),
            });
        }
        Ok(command)
    }
}

/// Who asked, as the deployer's history records a Slack command: `slack:<user id>`.
pub fn requested_by(user_id: &str) -> String {
    crate::auth::requested_by(&format!("slack:{user_id}"), "slack")
}

/// Slack's certificate check (`ssl_check=1`), sent when a command's URL is saved: it wants only a 200.
pub fn is_ssl_check(body: &[u8]) -> bool {
    form_urlencoded::parse(body).any(|(k, v)| k == "ssl_check" && v == "1")
}

/// What the command asks for, before defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ask {
    Deploy {
        target: String,
        version: String,
    },
    Rollback {
        target: String,
        to: Option<String>,
    },
    Status {
        target: String,
    },
    /// `continue` (`go` true) or `reject`: answer a rollout that waits for one.
    Answer {
        target: String,
        go: bool,
    },
    Help,
}

/// The words after the command, split on ASCII whitespace only: a version or a name with any other
/// character in it (a no-break space, say) is kept whole and refused by the checks, never trimmed into
/// another. Anything unexpected is a usage error whose text shows the usage.
pub fn parse_text(text: &str) -> Result<Ask, String> {
    let words: Vec<&str> = text.split_ascii_whitespace().collect();
    match words.as_slice() {
        [] | ["help"] => Ok(Ask::Help),
        ["rollback", target] => Ok(Ask::Rollback { target: (*target).into(), to: None }),
        ["rollback", target, to] => Ok(Ask::Rollback { target: (*target).into(), to: Some((*to).into()) }),
        ["status", target] => Ok(Ask::Status { target: (*target).into() }),
        ["continue", target] => Ok(Ask::Answer { target: (*target).into(), go: true }),
        ["reject", target] => Ok(Ask::Answer { target: (*target).into(), go: false }),
        ["rollback" | "status" | "continue" | "reject"] => Err(format!("`{}` needs a service.", words[0])),
        [target, version] => Ok(Ask::Deploy { target: (*target).into(), version: (*version).into() }),
        [_] => Err("name a service and a version.".into()),
        _ => Err("too many words.".into()),
    }
}

/// One resolved job, carried by the continuation: every name known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Job {
    Deploy { cluster: String, service: String, version: String },
    Rollback { cluster: String, service: String, to: Option<String> },
    Status { cluster: String, service: String },
    Continue { cluster: String, service: String },
    Reject { cluster: String, service: String },
}

impl Job {
    /// `service` or `cluster/service`, with the default cluster.
    pub fn resolve(ask: Ask, default_cluster: Option<&str>) -> Result<Option<Job>, String> {
        let split = |target: &str| -> Result<(String, String), String> {
            let (cluster, service) = match target.split_once('/') {
                Some((c, s)) => (Some(c), s),
                None => (default_cluster, target),
            };
            let cluster = cluster.filter(|c| !c.is_empty()).ok_or_else(|| {
                format!("which cluster? Write `cluster/{service}` (no default cluster is configured).")
            })?;
            let ok = |s: &str| {
                !s.is_empty()
                    && s.len() <= 255
                    && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            };
            if !ok(cluster) || !ok(service) {
                return Err(format!(
                    "`{}` is not a service name (`service` or `cluster/service`).",
                    mrkdwn_escape(target)
                ));
            }
            Ok((cluster.to_owned(), service.to_owned()))
        };
        Ok(Some(match ask {
            Ask::Help => return Ok(None),
            Ask::Deploy { target, version } => {
                let (cluster, service) = split(&target)?;
                Job::Deploy { cluster, service, version }
            }
            Ask::Rollback { target, to } => {
                let (cluster, service) = split(&target)?;
                Job::Rollback { cluster, service, to }
            }
            Ask::Status { target } => {
                let (cluster, service) = split(&target)?;
                Job::Status { cluster, service }
            }
            Ask::Answer { target, go } => {
                let (cluster, service) = split(&target)?;
                if go {
                    Job::Continue { cluster, service }
                } else {
                    Job::Reject { cluster, service }
                }
            }
        }))
    }

    pub fn cluster(&self) -> &str {
        match self {
            Job::Deploy { cluster, .. }
            | Job::Rollback { cluster, .. }
            | Job::Status { cluster, .. }
            | Job::Continue { cluster, .. }
            | Job::Reject { cluster, .. } => cluster,
        }
    }

    pub fn service(&self) -> &str {
        match self {
            Job::Deploy { service, .. }
            | Job::Rollback { service, .. }
            | Job::Status { service, .. }
            | Job::Continue { service, .. }
            | Job::Reject { service, .. } => service,
        }
    }

    /// The deployer's request for this job; `wait` asks deploys and rollbacks to follow the rollout.
    pub fn request(&self, wait: bool) -> DeployRequest {
        let (cluster, service) = (Some(self.cluster().to_owned()), Some(self.service().to_owned()));
        match self {
            Job::Deploy { version, .. } => {
                DeployRequest { version: Some(version.clone()), cluster, service, wait, ..DeployRequest::default() }
            }
            Job::Rollback { to, .. } => DeployRequest {
                action: Action::Rollback,
                cluster,
                service,
                to: to.clone(),
                wait,
                ..DeployRequest::default()
            },
            Job::Status { .. } => {
                DeployRequest { action: Action::Status, cluster, service, ..DeployRequest::default() }
            }
            Job::Continue { .. } => {
                DeployRequest { action: Action::Continue, cluster, service, ..DeployRequest::default() }
            }
            Job::Reject { .. } => {
                DeployRequest { action: Action::Reject, cluster, service, ..DeployRequest::default() }
            }
        }
    }

    /// The job as checked ([`crate::check`]): a rollback's `to` as the `family:revision` it was resolved to.
    pub fn checked(self, request: &DeployRequest) -> Job {
        match self {
            Job::Rollback { cluster, service, .. } => Job::Rollback { cluster, service, to: request.to.clone() },
            other => other,
        }
    }

    /// The acknowledgement shown at once, to the caller only.
    pub fn acknowledgement(&self) -> String {
        match self {
            Job::Deploy { cluster, service, version } => format!(
                ":hourglass_flowing_sand: Deploying `{}` to `{}/{}`… the outcome will be posted here.",
                mrkdwn_escape(version),
                cluster,
                service
            ),
            Job::Rollback { cluster, service, to } => format!(
                ":hourglass_flowing_sand: Rolling `{cluster}/{service}` back{}… the outcome will be posted here.",
                to.as_deref().map(|t| format!(" to `{}`", mrkdwn_escape(t))).unwrap_or_default()
            ),
            Job::Status { cluster, service } => format!(":mag: Looking at `{cluster}/{service}`…"),
            Job::Continue { cluster, service } => {
                format!(":arrow_forward: Letting the rollout of `{cluster}/{service}` go on… the outcome will be posted here.")
            }
            Job::Reject { cluster, service } => {
                format!(":leftwards_arrow_with_hook: Rejecting the rollout of `{cluster}/{service}`… the outcome will be posted here.")
            }
        }
    }
}

/// What the caller is told when the checks refuse `job` with `err`; `allowed` says whether the service is
/// on the allow-list.
pub fn refusal(job: &Job, err: &FrontError, allowed: bool) -> String {
    match err {
        FrontError::NotAllowed { .. } if !allowed => format!(
            ":no_entry: `{}/{}` is not one of the services this command may act on.",
            job.cluster(),
            job.service()
        ),
        FrontError::NotAllowed { .. } => format!(":no_entry: {}", mrkdwn_escape(&err.to_string())),
        _ => format!(":warning: {}", mrkdwn_escape(&err.to_string())),
    }
}

pub fn usage() -> String {
    [
        "*Usage*",
        "`/deploy <service> <version>`: deploy an image tag or digest, e.g. `/deploy web v1.4.2`",
        "`/deploy rollback <service> [<family:revision>]`: go back to the revision before the last deploy (or to one)",
        "`/deploy status <service>`: what runs now and how the rollout goes",
        "`/deploy continue <service>`: let a rollout waiting for an answer go on (ECS PAUSE hooks, a CodeDeploy reroute)",
        "`/deploy reject <service>`: answer such a rollout with a rollback",
        "`/deploy help`: this text",
        "A service is `service` (in the default cluster) or `cluster/service`.",
    ]
    .join("\n")
}

/// An answer only the caller sees.
pub fn ephemeral(text: &str) -> Value {
    json!({"response_type": "ephemeral", "text": truncate(text, TEXT_LIMIT)})
}

/// The follow-up message for a job's outcome, as Slack's `response_url` takes it (`response_type`, a
/// plain-text `text` and Block Kit `blocks`): deploys and rollbacks are posted to the channel, status
/// reports to the caller only. `outcome` is the deployer's JSON answer, read as the contract's
/// [`Answer`] (an answer of another shape shows as status `unknown`), or the error; `elapsed_ms` is shown
/// when the answer carries no `timings_ms.total`; `region` is for the console link.
pub fn outcome_message(
    job: &Job,
    outcome: &Result<Value, FrontError>,
    user_id: &str,
    elapsed_ms: u64,
    region: &str,
) -> Value {
    let code = |s: &str| format!("`{}`", mrkdwn_escape(s));
    let (cluster, service) = (job.cluster(), job.service());
    let target = code(&format!("{}/{}", resource_name(cluster), resource_name(service)));
    let mut fields = Vec::new();
    let field =
        |name: &str, value: String| json!({"type": "mrkdwn", "text": truncate(&format!("*{name}*\n{value}"), 1900)});
    let (headline, reason) = match outcome {
        Ok(result) => {
            let answer = read_answer(result);
            let facts = Facts::of(answer.as_ref());
            let status = answer.as_ref().map_or("unknown", Answer::status);
            let version = facts.version.or(match job {
                Job::Deploy { version, .. } => Some(version.as_str()),
                _ => None,
            });
            if let Some(v) = version {
                fields.push(field("Version", code(v)));
            }
            if let Job::Status { .. } = job {
                if let Some(td) = facts.to {
                    fields.push(field("Task definition", code(td)));
                }
                if let Some(state) = facts.rollout_state {
                    fields.push(field("Rollout", code(state)));
                }
            } else if let Some(change) = revision_change(facts.from, facts.to) {
                fields.push(field("Revision", mrkdwn_escape(&change)));
            }
            if let Some(progress) = &facts.progress {
                fields.push(field("Progress", code(progress)));
            }
            fields.push(field("Status", code(status)));
            fields.push(field("Duration", duration_text(facts.total_ms.unwrap_or(elapsed_ms))));
            (format!("{} {target}", headline(job, status)), None)
        }
        Err(e) => {
            if let Job::Deploy { version, .. } = job {
                fields.push(field("Version", code(version)));
            }
            fields.push(field("Error", code(e.code().as_str())));
            fields.push(field("Duration", duration_text(elapsed_ms)));
            (format!("{} {target}", failure_headline(job)), Some(e.to_string()))
        }
    };
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&headline, TEXT_LIMIT)}}),
        json!({"type": "section", "fields": fields}),
    ];
    if let Some(reason) = reason {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": truncate(&format!("*Reason*\n{}", mrkdwn_escape(&reason)), TEXT_LIMIT)}}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
        "Asked by <@{}> · <{}|Open in the ECS console>", mrkdwn_escape(user_id), console_url(region, cluster, service)
    )}]}));
    let response_type = if matches!(job, Job::Status { .. }) { "ephemeral" } else { "in_channel" };
    json!({
        "response_type": response_type,
        "replace_original": false,
        "text": truncate(&strip_mrkdwn(&headline), TEXT_LIMIT),
        "blocks": blocks,
    })
}

/// What an outcome message shows of the deployer's answer.
#[derive(Debug, Default)]
struct Facts<'a> {
    version: Option<&'a str>,
    /// The revision before (deploy: `previous_task_definition`; rollback: `from`).
    from: Option<&'a str>,
    /// The revision after (deploy, status: `task_definition`; rollback: `to`).
    to: Option<&'a str>,
    rollout_state: Option<&'a str>,
    total_ms: Option<u64>,
    /// An ECS-native service deployment's progress: its status, stage and the new revision's traffic.
    progress: Option<String>,
}

/// `IN_PROGRESS · BAKE_TIME · 100% of production traffic`, and the hooks awaiting `continue` or `reject`.
fn progress(sd: Option<&ServiceDeploymentReport>) -> Option<String> {
    let sd = sd?;
    let mut parts: Vec<String> = [sd.status.clone(), sd.lifecycle_stage.clone()].into_iter().flatten().collect();
    if let Some(w) = sd.production_traffic_percent {
        parts.push(format!("{w}% of production traffic"));
    }
    let waiting = sd.hooks.iter().filter(|h| h.status.as_deref() == Some("AWAITING_ACTION")).count();
    if waiting > 0 {
        parts.push(format!("{waiting} hook(s) awaiting continue or reject"));
    }
    Some(parts.join(" · ")).filter(|p| !p.is_empty())
}

impl<'a> Facts<'a> {
    fn of(answer: Option<&'a Answer>) -> Facts<'a> {
        match answer {
            None => Facts::default(),
            Some(Answer::Deploy(r)) => Facts {
                version: Some(&r.version),
                from: Some(&r.previous_task_definition),
                to: r.task_definition.as_deref(),
                rollout_state: None,
                total_ms: Some(r.timings_ms.total),
                progress: progress(r.service_deployment.as_deref()),
            },
            Some(Answer::Rollback(r)) => Facts {
                version: r.version.as_deref(),
                from: Some(&r.from),
                to: Some(&r.to),
                rollout_state: None,
                total_ms: Some(r.timings_ms.total),
                progress: None,
            },
            Some(Answer::Status(r)) => Facts {
                version: r.version.as_deref(),
                from: r.previous_task_definition.as_deref(),
                to: Some(&r.task_definition),
                rollout_state: r.rollout_state.as_deref(),
                total_ms: None,
                progress: progress(r.service_deployment.as_deref()),
            },
            Some(Answer::FanOut(r)) => {
                Facts { version: Some(&r.version), total_ms: Some(r.timings_ms.total), ..Facts::default() }
            }
            Some(Answer::Hooks(r)) => Facts { progress: progress(Some(&r.service_deployment)), ..Facts::default() },
            Some(Answer::History(_) | Answer::Cleanup(_) | Answer::Diff(_)) => Facts::default(),
        }
    }
}

fn headline(job: &Job, status: &str) -> String {
    match (job, status) {
        (Job::Status { .. }, _) => ":information_source: *Status* of".into(),
        (_, "deployed") => ":white_check_mark: *Deployed* to".into(),
        (_, "completed") => ":white_check_mark: *Deployed, rollout completed* on".into(),
        (_, "already_deployed") => ":ballot_box_with_check: *Already running* on".into(),
        (_, "dry_run") => ":memo: *Dry run* for".into(),
        (_, "in_progress") => ":hourglass: *Rollout in progress* on".into(),
        (Job::Rollback { .. }, "rolled_back") => ":leftwards_arrow_with_hook: *Rolled back*".into(),
        (_, "continued") => ":arrow_forward: *Rollout continued* on".into(),
        (_, "rejected") => ":leftwards_arrow_with_hook: *Rollout rejected, rolling back* on".into(),
        (_, "rolled_back") => ":leftwards_arrow_with_hook: *Deploy failed and was rolled back* on".into(),
        (_, "failed") => ":x: *Rollout failed* on".into(),
        (_, other) => format!("*{}* on", mrkdwn_escape(other)),
    }
}

fn failure_headline(job: &Job) -> &'static str {
    match job {
        Job::Deploy { .. } => ":x: *Deploy failed* on",
        Job::Rollback { .. } => ":x: *Rollback failed* on",
        Job::Status { .. } => ":x: *Status failed* for",
        Job::Continue { .. } => ":x: *Continue failed* on",
        Job::Reject { .. } => ":x: *Reject failed* on",
    }
}

/// The plain-text fallback of a mrkdwn headline: no emoji codes, no emphasis.
fn strip_mrkdwn(text: &str) -> String {
    let without_emoji: Vec<&str> =
        text.split_whitespace().filter(|w| !(w.starts_with(':') && w.ends_with(':'))).collect();
    without_emoji.join(" ").replace(['*', '`'], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_texts_become_asks() {
        let deploy = |t: &str, v: &str| Ok(Ask::Deploy { target: t.into(), version: v.into() });
        let cases: Vec<(&str, Result<Ask, ()>)> = vec![
            ("web v2", deploy("web", "v2")),
            ("  prod/web   sha256:abc ", deploy("prod/web", "sha256:abc")),
            ("rollback web", Ok(Ask::Rollback { target: "web".into(), to: None })),
            ("rollback prod/web web:7", Ok(Ask::Rollback { target: "prod/web".into(), to: Some("web:7".into()) })),
            ("status prod/web", Ok(Ask::Status { target: "prod/web".into() })),
            ("continue web", Ok(Ask::Answer { target: "web".into(), go: true })),
            ("reject prod/web", Ok(Ask::Answer { target: "prod/web".into(), go: false })),
            ("continue", Err(())),
            ("reject web now", Err(())),
            ("help", Ok(Ask::Help)),
            ("", Ok(Ask::Help)),
            ("web", Err(())),
            ("rollback", Err(())),
            ("status", Err(())),
            ("web v2 now", Err(())),
            ("status a b", Err(())),
            // Only ASCII whitespace separates words: the version keeps its no-break space, and is refused later.
            ("web \u{a0}v2", deploy("web", "\u{a0}v2")),
            ("web v2\u{a0}", deploy("web", "v2\u{a0}")),
            ("web\tv2\n", deploy("web", "v2")),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_text(text).map_err(|_| ()), expected, "{text:?}");
        }
    }

    #[test]
    fn asks_resolve_to_jobs_with_the_default_cluster() {
        let job = Job::resolve(Ask::Deploy { target: "web".into(), version: "v2".into() }, Some("prod")).unwrap();
        assert_eq!(job, Some(Job::Deploy { cluster: "prod".into(), service: "web".into(), version: "v2".into() }));
        let job = Job::resolve(Ask::Status { target: "staging/api".into() }, Some("prod")).unwrap();
        assert_eq!(job, Some(Job::Status { cluster: "staging".into(), service: "api".into() }));
        assert_eq!(Job::resolve(Ask::Help, None).unwrap(), None);
        for (target, cluster) in [
            ("web", None),
            ("/web", Some("prod")),
            ("prod/", Some("prod")),
            ("prod/we b", None),
            ("a/b/c", None),
            ("<!here>", Some("prod")),
        ] {
            assert!(Job::resolve(Ask::Status { target: target.into() }, cluster).is_err(), "{target}");
        }
        let err = Job::resolve(Ask::Status { target: "web".into() }, None).unwrap_err();
        assert!(err.contains("cluster/web"), "{err}");
    }

    #[test]
    fn jobs_become_deployer_requests() {
        let wire = |request: DeployRequest| serde_json::to_value(request).unwrap();
        let deploy = Job::Deploy { cluster: "prod".into(), service: "web".into(), version: "v2".into() };
        assert_eq!(wire(deploy.request(false)), json!({"version": "v2", "cluster": "prod", "service": "web"}));
        assert_eq!(wire(deploy.request(true))["wait"], true);
        let rollback = Job::Rollback { cluster: "prod".into(), service: "web".into(), to: Some("web:7".into()) };
        assert_eq!(
            wire(rollback.request(false)),
            json!({"action": "rollback", "cluster": "prod", "service": "web", "to": "web:7"})
        );
        let status = Job::Status { cluster: "prod".into(), service: "web".into() };
        assert_eq!(wire(status.request(true)), json!({"action": "status", "cluster": "prod", "service": "web"}));
        let go = Job::resolve(Ask::Answer { target: "web".into(), go: true }, Some("prod")).unwrap().unwrap();
        assert_eq!(wire(go.request(true)), json!({"action": "continue", "cluster": "prod", "service": "web"}));
        let no = Job::resolve(Ask::Answer { target: "prod/web".into(), go: false }, None).unwrap().unwrap();
        assert_eq!(wire(no.request(false)), json!({"action": "reject", "cluster": "prod", "service": "web"}));
        // Jobs travel in the continuation: they come back as they went.
        for job in [deploy, rollback, status, go, no] {
            let text = serde_json::to_string(&job).unwrap();
            assert_eq!(serde_json::from_str::<Job>(&text).unwrap(), job);
        }
    }

    #[test]
    fn slash_commands_are_read_from_the_form() {
        let body = concat!(
            "token=x&team_id=T1&channel_id=C1&user_id=U1&user_name=ana&command=%2Fdeploy&text=prod%2Fweb+v2",
            "&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F1%2Fx&trigger_id=1"
        )
        .as_bytes();
        let c = SlashCommand::parse(body).unwrap();
        assert_eq!((c.command.as_str(), c.text.as_str(), c.user_id.as_str()), ("/deploy", "prod/web v2", "U1"));
        assert_eq!(c.response_url, "https://hooks.slack.com/commands/T1/1/x");
        assert_eq!(SlashCommand::parse(b"text=web+v2").unwrap_err().code(), "InvalidRequest");
        assert!(is_ssl_check(b"ssl_check=1&token=x") && !is_ssl_check(body) && !is_ssl_check(b"ssl_check=0"));
    }

    #[test]
    fn outcomes_read_well() {
        let job = Job::Deploy { cluster: "demo".into(), service: "web".into(), version: "v2".into() };
        let result = json!({"status": "deployed", "cluster": "demo", "service": "web", "version": "v2",
            "image": "1.dkr.ecr.us-east-1.amazonaws.com/web:v2", "base_task_definition": "web:1",
            "previous_task_definition": "web:1", "task_definition": "web:2", "deployment_id": "ecs-svc/1",
            "containers_updated": [], "timings_ms": {"preflight": 300, "total": 1234}});
        let message = outcome_message(&job, &Ok(result), "U1", 2000, "us-east-1");
        assert_eq!(message["response_type"], "in_channel");
        assert_eq!(message["text"], "Deployed to demo/web");
        let blocks = message["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["text"]["text"], ":white_check_mark: *Deployed* to `demo/web`");
        let fields: Vec<_> =
            blocks[1]["fields"].as_array().unwrap().iter().map(|f| f["text"].as_str().unwrap()).collect();
        assert_eq!(
            fields,
            ["*Version*\n`v2`", "*Revision*\nweb:1 → web:2", "*Status*\n`deployed`", "*Duration*\n1.2 s"]
        );
        let context = blocks[2]["elements"][0]["text"].as_str().unwrap();
        assert!(context.contains("<@U1>"));
        assert!(context.contains(
            "<https://us-east-1.console.aws.amazon.com/ecs/v2/clusters/demo/services/web|Open in the ECS console>"
        ));

        let err = FrontError::Deployer {
            code: "ImageNotFound".into(),
            message: "image v9 not found in ECR repository <web>".into(),
            body: json!({}),
        };
        let message = outcome_message(&job, &Err(err), "U1", 800, "us-east-1");
        let blocks = message["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["text"]["text"], ":x: *Deploy failed* on `demo/web`");
        assert_eq!(blocks[1]["fields"][1]["text"], "*Error*\n`ImageNotFound`");
        assert_eq!(blocks[2]["text"]["text"], "*Reason*\nimage v9 not found in ECR repository &lt;web&gt;");

        let status = Job::Status { cluster: "demo".into(), service: "web".into() };
        let result = json!({"status": "ok", "cluster": "demo", "service": "web", "task_definition": "web:2",
            "version": "v2", "previous_task_definition": "web:1", "rollout_state": "COMPLETED", "running_count": 1,
            "desired_count": 1, "pending_count": 0, "deployments": [], "events": []});
        let message = outcome_message(&status, &Ok(result), "U1", 300, "us-east-1");
        assert_eq!(message["response_type"], "ephemeral");
        let fields: Vec<_> =
            message["blocks"][1]["fields"].as_array().unwrap().iter().map(|f| f["text"].as_str().unwrap()).collect();
        assert_eq!(
            fields,
            [
                "*Version*\n`v2`",
                "*Task definition*\n`web:2`",
                "*Rollout*\n`COMPLETED`",
                "*Status*\n`ok`",
                "*Duration*\n300 ms"
            ]
        );

        let native = json!({"status": "ok", "cluster": "demo", "service": "web", "task_definition": "web:3",
            "version": "v3", "previous_task_definition": "web:2", "rollout_state": "IN_PROGRESS", "running_count": 2,
            "desired_count": 1, "pending_count": 0, "deployments": [], "events": [],
            "service_deployment": {"arn": "arn:aws:ecs:us-east-1:1:service-deployment/demo/web/x", "strategy": "CANARY",
                "status": "IN_PROGRESS", "lifecycle_stage": "PRODUCTION_TRAFFIC_SHIFT",
                "production_traffic_percent": 10.0,
                "hooks": [{"hook_id": "h1", "target_type": "PAUSE", "status": "AWAITING_ACTION"}]}});
        let message = outcome_message(&status, &Ok(native), "U1", 300, "us-east-1");
        let fields: Vec<_> =
            message["blocks"][1]["fields"].as_array().unwrap().iter().map(|f| f["text"].as_str().unwrap()).collect();
        assert!(
            fields.contains(
                &"*Progress*\n`IN_PROGRESS · PRODUCTION_TRAFFIC_SHIFT · 10% of production traffic · 1 hook(s) awaiting continue or reject`"
            ),
            "{fields:?}"
        );

        let rollback = Job::Rollback { cluster: "demo".into(), service: "web".into(), to: None };
        let result = json!({"status": "rolled_back", "cluster": "demo", "service": "web", "from": "web:2",
            "to": "web:1", "version": "v1", "deployment_id": "ecs-svc/2", "timings_ms": {"preflight": 0, "total": 300}});
        let message = outcome_message(&rollback, &Ok(result), "U1", 300, "us-east-1");
        assert_eq!(message["blocks"][0]["text"]["text"], ":leftwards_arrow_with_hook: *Rolled back* `demo/web`");
        let fields: Vec<_> =
            message["blocks"][1]["fields"].as_array().unwrap().iter().map(|f| f["text"].as_str().unwrap()).collect();
        assert_eq!(
            fields,
            ["*Version*\n`v1`", "*Revision*\nweb:2 → web:1", "*Status*\n`rolled_back`", "*Duration*\n300 ms"]
        );

        let go = Job::Continue { cluster: "demo".into(), service: "web".into() };
        let answer = json!({"status": "continued", "cluster": "demo", "service": "web", "hooks": ["h1"],
            "service_deployment": {"arn": "arn:aws:ecs:us-east-1:1:service-deployment/demo/web/x", "strategy": "CANARY",
                "status": "IN_PROGRESS", "lifecycle_stage": "POST_TEST_TRAFFIC_SHIFT", "production_traffic_percent": 0.0}});
        let message = outcome_message(&go, &Ok(answer), "U1", 300, "us-east-1");
        assert_eq!(message["response_type"], "in_channel");
        assert_eq!(message["blocks"][0]["text"]["text"], ":arrow_forward: *Rollout continued* on `demo/web`");
        assert!(message["blocks"][1].to_string().contains("POST_TEST_TRAFFIC_SHIFT"), "{message}");
        let no = Job::Reject { cluster: "demo".into(), service: "web".into() };
        let err = FrontError::Deployer {
            code: "NoHookAwaitingAction".into(),
            message: "nothing waits".into(),
            body: json!({}),
        };
        let message = outcome_message(&no, &Err(err), "U1", 300, "us-east-1");
        assert_eq!(message["blocks"][0]["text"]["text"], ":x: *Reject failed* on `demo/web`");

        // An answer of a shape this door does not know (a newer deployer's) still reads, as `unknown`.
        let message = outcome_message(&job, &Ok(json!({"status": "teleported"})), "U1", 300, "us-east-1");
        assert_eq!(message["blocks"][0]["text"]["text"], "*unknown* on `demo/web`");
        let fields: Vec<_> =
            message["blocks"][1]["fields"].as_array().unwrap().iter().map(|f| f["text"].as_str().unwrap()).collect();
        assert_eq!(fields, ["*Version*\n`v2`", "*Status*\n`unknown`", "*Duration*\n300 ms"]);
    }

    #[test]
    fn acknowledgements_and_usage_are_ephemeral_text() {
        let job = Job::Rollback { cluster: "prod".into(), service: "web".into(), to: Some("web:7".into()) };
        assert_eq!(
            job.acknowledgement(),
            ":hourglass_flowing_sand: Rolling `prod/web` back to `web:7`… the outcome will be posted here."
        );
        let answer = ephemeral(&usage());
        assert_eq!(answer["response_type"], "ephemeral");
        assert!(answer["text"].as_str().unwrap().contains("/deploy rollback <service>"));
    }
}
