//! The Slack slash command: `/deploy <service> <version>`, `/deploy rollback <service> [<family:revision>]`,
//! `/deploy continue <service>`, `/deploy reject <service>`, `/deploy status <service>`,
//! `/deploy history <service> [<N>]`, `/deploy diff <service> <version | family:revision>`,
//! `/deploy cleanup <service> keep <N> [dry-run]`, `/deploy help`. A service is `service` (in the default
//! cluster) or `cluster/service`. Parsing and every message are pure; [`crate::app`] does the I/O.
//!
//! - `diff` tells a version from a revision by its `:`: an image tag never has one, a digest starts with
//!   `sha256:`, so anything else with a `:` (`web:41`, a task-definition ARN) is a revision.
//! - `cleanup` deregisters at once, as the issue asks; `dry-run` at the end shows what would go and changes
//!   nothing, and its answer is shown to the caller only. A real cleanup is posted to the channel.
//! - `history`, `diff` and `status` change nothing: their answers are shown to the caller only.
//! - Every request the door sends for a Slack command says who asked: `slack:<user id>` ([`requested_by`]).

use contract::request::{Action, DeployRequest};
use contract::result::{
    Answer, CleanupResult, CleanupStatus, DiffResult, HistoryResult, KeepReason, ServiceDeploymentReport,
};
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
    History {
        target: String,
        limit: Option<u32>,
    },
    /// `of`: a version, or a revision (`family:revision`, a task-definition ARN).
    Diff {
        target: String,
        of: String,
    },
    Cleanup {
        target: String,
        keep: u32,
        dry_run: bool,
    },
    Help,
}

/// A count as a command writes it: ASCII digits only (no sign, no space).
fn count(word: &str, what: &str) -> Result<u32, String> {
    match word.parse::<u32>() {
        Ok(n) if word.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!("`{}` is not a number of {what}.", mrkdwn_escape(word))),
    }
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
        ["history", target] => Ok(Ask::History { target: (*target).into(), limit: None }),
        ["history", target, n] => Ok(Ask::History { target: (*target).into(), limit: Some(count(n, "entries")?) }),
        ["diff", target, of] => Ok(Ask::Diff { target: (*target).into(), of: (*of).into() }),
        ["cleanup", target, "keep", n] => {
            Ok(Ask::Cleanup { target: (*target).into(), keep: count(n, "revisions")?, dry_run: false })
        }
        ["cleanup", target, "keep", n, "dry-run" | "dry_run"] => {
            Ok(Ask::Cleanup { target: (*target).into(), keep: count(n, "revisions")?, dry_run: true })
        }
        ["rollback" | "status" | "continue" | "reject" | "history" | "diff" | "cleanup"] => {
            Err(format!("`{}` needs a service.", words[0]))
        }
        ["diff", ..] => Err("`diff` takes a service and a version (or a `family:revision`).".into()),
        ["cleanup", ..] => Err("`cleanup` takes a service, `keep` and a number, then `dry-run` if you like.".into()),
        ["history", ..] => Err("`history` takes a service and, if you like, how many entries.".into()),
        [target, version] => Ok(Ask::Deploy { target: (*target).into(), version: (*version).into() }),
        [_] => Err("name a service and a version.".into()),
        _ => Err("too many words.".into()),
    }
}

/// One resolved job, carried by the continuation: every name known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Job {
    Deploy {
        cluster: String,
        service: String,
        version: String,
    },
    Rollback {
        cluster: String,
        service: String,
        to: Option<String>,
    },
    Status {
        cluster: String,
        service: String,
    },
    Continue {
        cluster: String,
        service: String,
    },
    Reject {
        cluster: String,
        service: String,
    },
    History {
        cluster: String,
        service: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// Exactly one of `version` and `task_definition`.
    Diff {
        cluster: String,
        service: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        task_definition: Option<String>,
    },
    Cleanup {
        cluster: String,
        service: String,
        keep: u32,
        dry_run: bool,
    },
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
            Ask::History { target, limit } => {
                let (cluster, service) = split(&target)?;
                Job::History { cluster, service, limit }
            }
            Ask::Diff { target, of } => {
                let (cluster, service) = split(&target)?;
                // A tag has no `:` and a digest starts with `sha256:`: anything else with a `:` is a revision.
                if of.contains(':') && !of.starts_with("sha256:") {
                    Job::Diff { cluster, service, version: None, task_definition: Some(of) }
                } else {
                    Job::Diff { cluster, service, version: Some(of), task_definition: None }
                }
            }
            Ask::Cleanup { target, keep, dry_run } => {
                let (cluster, service) = split(&target)?;
                Job::Cleanup { cluster, service, keep, dry_run }
            }
        }))
    }

    fn at(&self) -> (&str, &str) {
        match self {
            Job::Deploy { cluster, service, .. }
            | Job::Rollback { cluster, service, .. }
            | Job::Status { cluster, service }
            | Job::Continue { cluster, service }
            | Job::Reject { cluster, service }
            | Job::History { cluster, service, .. }
            | Job::Diff { cluster, service, .. }
            | Job::Cleanup { cluster, service, .. } => (cluster, service),
        }
    }

    pub fn cluster(&self) -> &str {
        self.at().0
    }

    pub fn service(&self) -> &str {
        self.at().1
    }

    /// Whether the outcome is shown to the caller only: what changes nothing (status, history, diff, a
    /// cleanup's dry run).
    fn private(&self) -> bool {
        matches!(self, Job::Status { .. } | Job::History { .. } | Job::Diff { .. } | Job::Cleanup { dry_run: true, .. })
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
            Job::History { limit, .. } => {
                DeployRequest { action: Action::History, cluster, service, limit: *limit, ..DeployRequest::default() }
            }
            Job::Diff { version, task_definition, .. } => DeployRequest {
                action: Action::Diff,
                cluster,
                service,
                version: version.clone(),
                task_definition: task_definition.clone(),
                ..DeployRequest::default()
            },
            Job::Cleanup { keep, dry_run, .. } => DeployRequest {
                action: Action::Cleanup,
                cluster,
                service,
                keep: Some(*keep),
                dry_run: *dry_run,
                ..DeployRequest::default()
            },
        }
    }

    /// The job as checked ([`crate::check`]): a rollback's `to` and a diff's `task_definition` as the
    /// `family:revision` they were resolved to.
    pub fn checked(self, request: &DeployRequest) -> Job {
        match self {
            Job::Rollback { cluster, service, .. } => Job::Rollback { cluster, service, to: request.to.clone() },
            Job::Diff { cluster, service, version, .. } => {
                Job::Diff { cluster, service, version, task_definition: request.task_definition.clone() }
            }
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
            Job::History { cluster, service, .. } => format!(":scroll: Looking up the history of `{cluster}/{service}`…"),
            Job::Diff { cluster, service, version, task_definition } => format!(
                ":mag: Comparing `{}` with what `{cluster}/{service}` runs…",
                mrkdwn_escape(version.as_deref().or(task_definition.as_deref()).unwrap_or("?"))
            ),
            Job::Cleanup { cluster, service, keep, dry_run: false } => format!(
                ":broom: Cleaning up the revisions of `{cluster}/{service}`, keeping the newest {keep} and any in use… the outcome will be posted here."
            ),
            Job::Cleanup { cluster, service, keep, dry_run: true } => format!(
                ":memo: Dry run: which revisions of `{cluster}/{service}` would go, keeping the newest {keep} and any in use…"
            ),
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
        "`/deploy history <service> [<N>]`: the last N deploys and rollbacks (default 20), and who asked",
        "`/deploy diff <service> <version>`: what a deploy of the version would change (or `<family:revision>`)",
        "`/deploy cleanup <service> keep <N> [dry-run]`: deregister the revisions beyond the newest N, except those in use; `dry-run` shows what would go",
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
/// plain-text `text` and Block Kit `blocks`): deploys, rollbacks and cleanups are posted to the channel;
/// status, history, diff and a cleanup's dry run to the caller only. A history is a short list (when,
/// version, revision, by whom, status), a diff the deployer's `text` (at most [`DIFF_LINES`] lines), a
/// cleanup its counts, the kept revisions with their reasons and, for a dry run, what would go. `outcome` is
/// the deployer's JSON answer, read as the contract's [`Answer`] (an answer of another shape shows as status
/// `unknown`), or the error; `elapsed_ms` is shown when the answer carries no `timings_ms.total`; `region`
/// is for the console link.
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
    // What the answers to history, diff and cleanup list, below the fields.
    let mut listing = None;
    let (headline, reason) = match outcome {
        Ok(result) => {
            let answer = read_answer(result);
            let duration = |ms: u64| field("Duration", duration_text(ms));
            match (job, answer.as_ref()) {
                (Job::History { .. }, Some(Answer::History(h))) => {
                    fields.push(field("Entries", h.history.len().to_string()));
                    fields.push(duration(elapsed_ms));
                    listing = Some(history_listing(h));
                    (format!(":scroll: *History* of {target}"), None)
                }
                (Job::Diff { .. }, Some(Answer::Diff(d))) => {
                    fields.push(field("Diff of", code(&d.version)));
                    fields.push(field(
                        "Revision",
                        mrkdwn_escape(&format!("runs {}, base {}", d.running_task_definition, d.base_task_definition)),
                    ));
                    fields.push(field("Changes", d.changed_fields.len().to_string()));
                    fields.push(duration(elapsed_ms));
                    listing = diff_listing(d);
                    let headline = if d.status == "unchanged" {
                        ":ballot_box_with_check: *No change* for"
                    } else {
                        ":mag: *Diff* for"
                    };
                    (format!("{headline} {target}"), None)
                }
                (Job::Cleanup { .. }, Some(Answer::Cleanup(c))) => {
                    let dry = c.status == CleanupStatus::DryRun;
                    fields.push(field("Family", code(&c.family)));
                    fields.push(field("Kept", format!("{} (newest {} and those in use)", c.kept.len(), c.keep)));
                    let (gone, deleted) =
                        if dry { ("Would deregister", "Would delete") } else { ("Deregistered", "Deleted") };
                    fields.push(field(gone, c.deregistered.len().to_string()));
                    if !c.deleted.is_empty() {
                        fields.push(field(deleted, c.deleted.len().to_string()));
                    }
                    if !c.failures.is_empty() {
                        fields.push(field("Failed", c.failures.len().to_string()));
                    }
                    fields.push(duration(elapsed_ms));
                    listing = Some(cleanup_listing(c));
                    let headline = match c.status {
                        CleanupStatus::Cleaned => ":broom: *Cleaned up* the revisions of",
                        CleanupStatus::DryRun => ":memo: *Cleanup dry run* for",
                        CleanupStatus::Partial => ":warning: *Cleanup partly failed* on",
                    };
                    (format!("{headline} {target}"), None)
                }
                _ => {
                    let facts = Facts::of(answer.as_ref());
                    let status = answer.as_ref().map_or("unknown", Answer::status);
                    let version = facts.version.or(match job {
                        Job::Deploy { version, .. } => Some(version.as_str()),
                        Job::Diff { version, task_definition, .. } => version.as_deref().or(task_definition.as_deref()),
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
            }
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
    if let Some(listing) = listing {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&listing, TEXT_LIMIT)}}));
    }
    if let Some(reason) = reason {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": truncate(&format!("*Reason*\n{}", mrkdwn_escape(&reason)), TEXT_LIMIT)}}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
        "Asked by <@{}> · <{}|Open in the ECS console>", mrkdwn_escape(user_id), console_url(region, cluster, service)
    )}]}));
    let response_type = if job.private() { "ephemeral" } else { "in_channel" };
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
        Job::History { .. } => ":x: *History failed* for",
        Job::Diff { .. } => ":x: *Diff failed* for",
        Job::Cleanup { .. } => ":x: *Cleanup failed* on",
    }
}

/// How long a listing (history, diff, cleanup) may be: the section's text, less room for its last line.
const LISTING_LIMIT: usize = 2700;
/// The most lines of a diff shown; the whole diff is in `POST /diff`'s answer.
const DIFF_LINES: usize = 30;

/// `lines` under `title`, one a line, as many as fit in [`LISTING_LIMIT`]; then how many were left out.
fn listing(title: &str, lines: &[String], more: &str) -> String {
    let mut text = title.to_owned();
    for (shown, line) in lines.iter().enumerate() {
        if text.chars().count() + line.chars().count() + 1 > LISTING_LIMIT {
            text.push_str(&format!("\n… and {} more {more}", lines.len() - shown));
            return text;
        }
        text.push('\n');
        text.push_str(line);
    }
    text
}

/// `2026-12-03T11:40:05Z` as `2026-12-03 11:40`; anything else as it came.
fn short_time(at: &str) -> String {
    let b = at.as_bytes();
    if at.len() >= 16 && b[10] == b'T' && at.is_char_boundary(16) {
        format!("{} {}", &at[..10], &at[11..16])
    } else {
        at.to_owned()
    }
}

/// Who asked, for people: a Slack user as a mention, an IAM ARN as its resource (`user/ci`,
/// `assumed-role/deployer/session`), anything else as it is.
fn who(by: Option<&str>) -> String {
    match by {
        None => "?".into(),
        Some(by) => match by.strip_prefix("slack:") {
            Some(id) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()) => format!("<@{id}>"),
            _ if by.starts_with("arn:") => mrkdwn_escape(by.splitn(6, ':').nth(5).unwrap_or(by)),
            _ => mrkdwn_escape(by),
        },
    }
}

/// The history, newest first: when (UTC), what, which revision, by whom, how it ended.
fn history_listing(h: &HistoryResult) -> String {
    if h.history.is_empty() {
        return "No deploy or rollback recorded.".into();
    }
    let lines: Vec<String> = h
        .history
        .iter()
        .map(|e| {
            format!(
                "• {} · {} `{}` · {} · by {} · `{}`",
                mrkdwn_escape(&short_time(&e.at)),
                mrkdwn_escape(&e.action),
                mrkdwn_escape(e.version.as_deref().unwrap_or("?")),
                mrkdwn_escape(e.task_definition.as_deref().unwrap_or("?")),
                who(e.by.as_deref()),
                mrkdwn_escape(&e.status),
            )
        })
        .collect();
    listing("*Newest first* (UTC)", &lines, "(GET /history has them all)")
}

/// The diff's own text, at most [`DIFF_LINES`] lines, in a code block; `None` when it has none.
fn diff_listing(d: &DiffResult) -> Option<String> {
    let lines: Vec<&str> = d.text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        return None;
    }
    // A code block ends at three backquotes: none may come from the text.
    let shown: Vec<String> =
        lines.iter().take(DIFF_LINES).map(|l| truncate(&mrkdwn_escape(l).replace('`', "'"), 300)).collect();
    let mut text = format!("```\n{}", shown.join("\n"));
    if text.chars().count() > LISTING_LIMIT {
        text = truncate(&text, LISTING_LIMIT);
    }
    text.push_str("\n```");
    if lines.len() > DIFF_LINES {
        text.push_str(&format!("\n… and {} more lines (POST /diff has them all)", lines.len() - DIFF_LINES));
    }
    Some(text)
}

fn keep_reason(reason: KeepReason) -> &'static str {
    match reason {
        KeepReason::Newest => "newest",
        KeepReason::Deployment => "deployment",
        KeepReason::Task => "running task",
        KeepReason::ScheduledTask => "scheduled task",
        KeepReason::OtherService => "another service",
        KeepReason::RollbackTarget => "rollback target",
    }
}

/// The revisions kept and why; for a dry run, those that would go; any that could not go.
fn cleanup_listing(c: &CleanupResult) -> String {
    let mut lines: Vec<String> = Vec::new();
    if c.status == CleanupStatus::DryRun {
        let gone: Vec<String> =
            c.deregistered.iter().chain(&c.deleted).map(|r| format!("`{}`", mrkdwn_escape(r))).collect();
        let gone = if gone.is_empty() { "nothing".to_owned() } else { gone.join(", ") };
        lines.push(format!("*Would go:* {}", truncate(&gone, 1200)));
    }
    for f in &c.failures {
        lines.push(format!(
            "• could not remove `{}`: `{}` {}",
            mrkdwn_escape(&f.task_definition),
            mrkdwn_escape(&f.code),
            truncate(&mrkdwn_escape(&f.message), 200)
        ));
    }
    lines.push("*Kept*".into());
    for k in &c.kept {
        let reasons: Vec<String> = k
            .reasons
            .iter()
            .map(|r| match &r.by {
                Some(by) => format!("{} ({})", keep_reason(r.reason), mrkdwn_escape(by)),
                None => keep_reason(r.reason).to_owned(),
            })
            .collect();
        lines.push(format!("• `{}` · {}", mrkdwn_escape(&k.task_definition), reasons.join(", ")));
    }
    let first = lines.remove(0);
    listing(&first, &lines, "(POST /cleanup has them all)")
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
    fn history_diff_and_cleanup_commands_become_asks_jobs_and_requests() {
        let cases: Vec<(&str, Result<Ask, ()>)> = vec![
            ("history web", Ok(Ask::History { target: "web".into(), limit: None })),
            ("history prod/web 5", Ok(Ask::History { target: "prod/web".into(), limit: Some(5) })),
            ("history web five", Err(())),
            ("history web +5", Err(())),
            ("history web 5 6", Err(())),
            ("history", Err(())),
            ("diff web v2", Ok(Ask::Diff { target: "web".into(), of: "v2".into() })),
            ("diff web web:41", Ok(Ask::Diff { target: "web".into(), of: "web:41".into() })),
            ("diff web", Err(())),
            ("diff web v2 v3", Err(())),
            ("cleanup web keep 20", Ok(Ask::Cleanup { target: "web".into(), keep: 20, dry_run: false })),
            ("cleanup web keep 20 dry-run", Ok(Ask::Cleanup { target: "web".into(), keep: 20, dry_run: true })),
            ("cleanup web keep 20 dry_run", Ok(Ask::Cleanup { target: "web".into(), keep: 20, dry_run: true })),
            ("cleanup web 20", Err(())),
            ("cleanup web keep", Err(())),
            ("cleanup web keep twenty", Err(())),
            ("cleanup web keep 20 now", Err(())),
            ("cleanup web", Err(())),
            ("cleanup", Err(())),
            // Another cluster's service called `history` is still deployed by its full name.
            ("prod/history v2", Ok(Ask::Deploy { target: "prod/history".into(), version: "v2".into() })),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_text(text).map_err(|_| ()), expected, "{text:?}");
        }
        assert!(parse_text("history web 5x").unwrap_err().contains("`5x` is not a number"));

        let resolve = |ask| Job::resolve(ask, Some("prod")).unwrap().unwrap();
        let history = resolve(Ask::History { target: "web".into(), limit: Some(5) });
        assert_eq!(history, Job::History { cluster: "prod".into(), service: "web".into(), limit: Some(5) });
        let diff = |of: &str| resolve(Ask::Diff { target: "web".into(), of: of.into() });
        let version = diff("v2");
        let (cluster, service) = ("prod".to_owned(), "web".to_owned());
        assert_eq!(version, Job::Diff { cluster, service, version: Some("v2".into()), task_definition: None });
        let digest = format!("sha256:{}", "a".repeat(64));
        assert!(matches!(diff(&digest), Job::Diff { version: Some(v), task_definition: None, .. } if v == digest));
        let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:41";
        assert!(matches!(diff(arn), Job::Diff { version: None, task_definition: Some(t), .. } if t == arn));
        let revision = diff("web:41");
        let cleanup = resolve(Ask::Cleanup { target: "staging/api".into(), keep: 20, dry_run: true });
        assert_eq!(cleanup, Job::Cleanup { cluster: "staging".into(), service: "api".into(), keep: 20, dry_run: true });
        assert!(Job::resolve(Ask::History { target: "we b".into(), limit: None }, Some("prod")).is_err());

        let wire = |job: &Job| serde_json::to_value(job.request(true)).unwrap();
        assert_eq!(wire(&history), json!({"action": "history", "cluster": "prod", "service": "web", "limit": 5}));
        assert_eq!(wire(&version), json!({"action": "diff", "cluster": "prod", "service": "web", "version": "v2"}));
        assert_eq!(
            wire(&revision),
            json!({"action": "diff", "cluster": "prod", "service": "web", "task_definition": "web:41"})
        );
        assert_eq!(
            wire(&cleanup),
            json!({"action": "cleanup", "cluster": "staging", "service": "api", "keep": 20, "dry_run": true})
        );
        // A diff's ARN is carried on as the revision it was resolved to.
        let checked = DeployRequest { task_definition: Some("web:41".into()), ..diff(arn).request(false) };
        assert_eq!(diff(arn).checked(&checked), revision);
        // Jobs travel in the continuation: they come back as they went, and old ones still read.
        for job in [&history, &version, &revision, &cleanup] {
            let text = serde_json::to_string(job).unwrap();
            assert_eq!(&serde_json::from_str::<Job>(&text).unwrap(), job, "{text}");
        }
        let plain: Job = serde_json::from_value(json!({"action": "history", "cluster": "c", "service": "s"})).unwrap();
        assert_eq!(plain, Job::History { cluster: "c".into(), service: "s".into(), limit: None });
        assert_eq!(requested_by("U1"), "slack:U1");
    }

    fn fields_of(message: &Value) -> Vec<String> {
        let fields = message["blocks"][1]["fields"].as_array().unwrap();
        fields.iter().map(|f| f["text"].as_str().unwrap().to_owned()).collect()
    }

    #[test]
    fn history_outcomes_are_short_lists() {
        let history = Job::History { cluster: "demo".into(), service: "web".into(), limit: None };
        let result = json!({"status": "ok", "cluster": "demo", "service": "web", "history": [
            {"action": "deploy", "status": "deployed", "version": "v2", "task_definition": "web:41",
             "at": "2026-12-03T11:40:05Z", "by": "slack:U1", "source": "record"},
            {"action": "rollback", "status": "rolled_back", "version": "v1", "task_definition": "web:40",
             "at": "2026-12-02T09:05:00Z", "by": "arn:aws:iam::123456789012:user/ci<x>", "source": "record"},
            {"action": "deploy", "status": "registered", "at": "yesterday", "source": "tags"}]});
        let message = outcome_message(&history, &Ok(result), "U1", 300, "us-east-1");
        assert_eq!(message["response_type"], "ephemeral");
        assert_eq!(message["blocks"][0]["text"]["text"], ":scroll: *History* of `demo/web`");
        assert_eq!(fields_of(&message), ["*Entries*\n3", "*Duration*\n300 ms"]);
        assert_eq!(
            message["blocks"][2]["text"]["text"],
            "*Newest first* (UTC)\n\
             • 2026-12-03 11:40 · deploy `v2` · web:41 · by <@U1> · `deployed`\n\
             • 2026-12-02 09:05 · rollback `v1` · web:40 · by user/ci&lt;x&gt; · `rolled_back`\n\
             • yesterday · deploy `?` · ? · by ? · `registered`"
        );
        assert!(message["blocks"][3]["elements"][0]["text"].as_str().unwrap().contains("<@U1>"));
        let empty = json!({"status": "ok", "cluster": "demo", "service": "web", "history": []});
        let message = outcome_message(&history, &Ok(empty), "U1", 300, "us-east-1");
        assert_eq!(message["blocks"][2]["text"]["text"], "No deploy or rollback recorded.");
        // A long history is cut, and says how much was left out.
        let entry = json!({"action": "deploy", "status": "deployed", "version": "v".repeat(100),
            "task_definition": "web:41", "at": "2026-12-03T11:40:05Z", "by": "slack:U1", "source": "record"});
        let long = json!({"status": "ok", "cluster": "demo", "service": "web", "history": vec![entry; 100]});
        let message = outcome_message(&history, &Ok(long), "U1", 300, "us-east-1");
        let text = message["blocks"][2]["text"]["text"].as_str().unwrap();
        assert!(text.chars().count() <= TEXT_LIMIT && text.ends_with("more (GET /history has them all)"), "{text}");
    }

    #[test]
    fn diff_outcomes_show_the_deployers_text_capped() {
        let diff = Job::Diff {
            cluster: "demo".into(),
            service: "web".into(),
            version: Some("v2".into()),
            task_definition: None,
        };
        let changed = |text: String| {
            json!({"status": "changed", "cluster": "demo", "service": "web", "version": "v2",
                "running_task_definition": "web:40", "base_task_definition": "web:41",
                "changed_fields": [{"container": "app", "field": "image", "from": "web:v1", "to": "web:v2"}],
                "text": text})
        };
        let message = outcome_message(&diff, &Ok(changed("app image: web:v1 → web:v2 <&>\n".into())), "U1", 300, "r");
        assert_eq!(message["response_type"], "ephemeral");
        assert_eq!(message["blocks"][0]["text"]["text"], ":mag: *Diff* for `demo/web`");
        assert_eq!(
            fields_of(&message),
            ["*Diff of*\n`v2`", "*Revision*\nruns web:40, base web:41", "*Changes*\n1", "*Duration*\n300 ms"]
        );
        assert_eq!(message["blocks"][2]["text"]["text"], "```\napp image: web:v1 → web:v2 &lt;&amp;&gt;\n```");
        let many: String = (0..50).map(|i| format!("app env.K{i}: a → b ```\n")).collect();
        let message = outcome_message(&diff, &Ok(changed(many)), "U1", 300, "r");
        let text = message["blocks"][2]["text"]["text"].as_str().unwrap();
        assert_eq!(text.matches("```").count(), 2, "{text}");
        assert!(text.ends_with("```\n… and 20 more lines (POST /diff has them all)"), "{text}");
        let unchanged = json!({"status": "unchanged", "cluster": "demo", "service": "web", "version": "v2",
            "running_task_definition": "web:41", "base_task_definition": "web:41", "changed_fields": [], "text": ""});
        let message = outcome_message(&diff, &Ok(unchanged), "U1", 300, "r");
        assert_eq!(message["blocks"][0]["text"]["text"], ":ballot_box_with_check: *No change* for `demo/web`");
        assert_eq!(message["blocks"].as_array().unwrap().len(), 3, "no listing for an empty diff");
        // An answer of another shape still reads, as `unknown`.
        let message = outcome_message(&diff, &Ok(json!({"status": "odd"})), "U1", 300, "r");
        assert_eq!(fields_of(&message), ["*Version*\n`v2`", "*Status*\n`unknown`", "*Duration*\n300 ms"]);
    }

    #[test]
    fn cleanup_outcomes_count_and_say_what_stays_and_why() {
        let cleanup = |dry_run| Job::Cleanup { cluster: "demo".into(), service: "web".into(), keep: 2, dry_run };
        let result = |status: &str| {
            json!({"status": status, "cluster": "demo", "service": "web", "family": "web",
                "keep": 2, "deregistered": ["web:1", "web:2"], "kept": [
                    {"task_definition": "web:5", "reasons": [{"reason": "newest"}]},
                    {"task_definition": "web:4", "reasons": [{"reason": "newest"}]},
                    {"task_definition": "web:3", "reasons": [{"reason": "deployment", "by": "ecs-svc/1"},
                                                             {"reason": "scheduled_task", "by": "nightly"}]}]})
        };
        let message = outcome_message(&cleanup(true), &Ok(result("dry_run")), "U1", 300, "r");
        assert_eq!(message["response_type"], "ephemeral");
        assert_eq!(message["blocks"][0]["text"]["text"], ":memo: *Cleanup dry run* for `demo/web`");
        assert_eq!(
            fields_of(&message),
            ["*Family*\n`web`", "*Kept*\n3 (newest 2 and those in use)", "*Would deregister*\n2", "*Duration*\n300 ms"]
        );
        assert_eq!(
            message["blocks"][2]["text"]["text"],
            "*Would go:* `web:1`, `web:2`\n*Kept*\n• `web:5` · newest\n• `web:4` · newest\n\
             • `web:3` · deployment (ecs-svc/1), scheduled task (nightly)"
        );
        let message = outcome_message(&cleanup(false), &Ok(result("cleaned")), "U1", 300, "r");
        assert_eq!(message["response_type"], "in_channel");
        assert_eq!(message["blocks"][0]["text"]["text"], ":broom: *Cleaned up* the revisions of `demo/web`");
        assert!(!message["blocks"][2]["text"]["text"].as_str().unwrap().contains("Would go"));
        let mut partial = result("partial");
        partial["failures"] = json!([{"task_definition": "web:2", "code": "ClientException", "message": "in use"}]);
        let message = outcome_message(&cleanup(false), &Ok(partial), "U1", 300, "r");
        assert_eq!(message["blocks"][0]["text"]["text"], ":warning: *Cleanup partly failed* on `demo/web`");
        assert!(fields_of(&message).contains(&"*Failed*\n1".to_owned()));
        let listing = message["blocks"][2]["text"]["text"].as_str().unwrap();
        assert!(listing.starts_with("• could not remove `web:2`: `ClientException` in use\n*Kept*"), "{listing}");

        let err = FrontError::Deployer { code: "InvalidRequest".into(), message: "no keep".into(), body: json!({}) };
        let message = outcome_message(&cleanup(false), &Err(err), "U1", 300, "r");
        assert_eq!(message["blocks"][0]["text"]["text"], ":x: *Cleanup failed* on `demo/web`");
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
        for command in ["/deploy history <service>", "/deploy diff <service>", "/deploy cleanup <service> keep <N>"] {
            assert!(usage().contains(command), "{command}");
        }
        let acks = [
            (
                Job::History { cluster: "prod".into(), service: "web".into(), limit: None },
                ":scroll: Looking up the history of `prod/web`…",
            ),
            (
                Job::Diff { cluster: "prod".into(), service: "web".into(), version: None, task_definition: Some("web:41".into()) },
                ":mag: Comparing `web:41` with what `prod/web` runs…",
            ),
            (
                Job::Cleanup { cluster: "prod".into(), service: "web".into(), keep: 20, dry_run: false },
                ":broom: Cleaning up the revisions of `prod/web`, keeping the newest 20 and any in use… the outcome will be posted here.",
            ),
            (
                Job::Cleanup { cluster: "prod".into(), service: "web".into(), keep: 20, dry_run: true },
                ":memo: Dry run: which revisions of `prod/web` would go, keeping the newest 20 and any in use…",
            ),
        ];
        for (job, ack) in acks {
            assert_eq!(job.acknowledgement(), ack);
        }
    }
}
