//! The answers to `history`, `cleanup` and `diff`: what a service ran, which revisions went and which stayed
//! (and why), and what a deploy would change.

use serde::{Deserialize, Serialize};

use super::{FieldChange, ReportStatus};

/// Where a history entry comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistorySource {
    /// The record the deployer wrote when it deployed or rolled back (kept for `DEPLOY_HISTORY_DAYS`).
    Record,
    /// A revision registered by the deployer, read from its tags (`ecs-deployer:version`,
    /// `ecs-deployer:previous`) and `registeredAt`: when its record is gone or was never written.
    Tags,
}

/// One deploy or rollback of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// `deploy` or `rollback`.
    pub action: String,
    /// How it ended, as far as the deployer saw: `deployed` (started; its end not seen yet), `completed`,
    /// `rolled_back`, `failed`; `in_progress` for a rollback followed with `wait` whose time ran out;
    /// `registered` for an entry read from tags.
    pub status: String,
    /// The image tag or digest deployed; for a rollback, the version of the revision rolled back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The `sha256:` digest the version resolved to, when the deployer looked it up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The revision deployed (or rolled back to), `family:revision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<String>,
    /// The revision the service ran before, `family:revision`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_task_definition: Option<String>,
    /// When it started (RFC 3339, UTC); for an entry read from tags, when the revision was registered.
    pub at: String,
    /// When the deployer saw it end (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Who asked: the IAM principal or Slack user the front door saw, the trigger (`codebuild:<project>`,
    /// `codepipeline:<job id>`), or `invoke` for a direct invoke that named nobody. For an entry read from
    /// tags, the principal that registered the revision (`registeredBy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// Why it failed or was rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The ECS deployment (or CodeDeploy deployment) it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<String>,
    pub source: HistorySource,
}

/// The answer to `history`: the service's newest deploys and rollbacks first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryResult {
    pub status: ReportStatus,
    pub cluster: String,
    pub service: String,
    pub history: Vec<HistoryEntry>,
}

/// Why `cleanup` kept a revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepReason {
    /// One of the newest `keep` ACTIVE revisions.
    Newest,
    /// A deployment of the service (PRIMARY, ACTIVE) or a service deployment in flight names it.
    Deployment,
    /// A task of the cluster, RUNNING or PENDING (desired), runs it.
    Task,
    /// An EventBridge rule starts tasks of it on a schedule or an event (its ECS target names it).
    ScheduledTask,
    /// Another service of the cluster runs it.
    OtherService,
    /// A revision the service runs, or a kept one, records it as the one to roll back to.
    RollbackTarget,
}

/// One reason a revision stays, with what holds it (a deployment id, a task, a rule, a service, a revision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    pub reason: KeepReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// A revision that stays, and every reason it does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptRevision {
    pub task_definition: String,
    pub reasons: Vec<Kept>,
}

/// A revision that could not be deregistered or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupFailure {
    pub task_definition: String,
    /// The AWS error's code, when AWS gave one.
    pub code: String,
    pub message: String,
}

/// The `status` of a cleanup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CleanupStatus {
    /// Everything listed in `deregistered` and `deleted` is gone.
    Cleaned,
    /// Nothing was changed: `deregistered` and `deleted` say what would go.
    DryRun,
    /// Some revisions could not be deregistered or deleted (`failures`), or time ran short before all of
    /// them were (`remaining`).
    Partial,
}

/// The answer to `cleanup` (also the `cleanup` field of a deploy that cleaned up after itself).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupResult {
    pub status: CleanupStatus,
    pub cluster: String,
    pub service: String,
    pub family: String,
    pub keep: u32,
    /// ACTIVE revisions deregistered (or, with `dry_run`, that would be), oldest first.
    pub deregistered: Vec<String>,
    /// INACTIVE revisions deleted (or that would be), with `delete_inactive`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deleted: Vec<String>,
    /// ACTIVE revisions kept, newest first, with every reason.
    pub kept: Vec<KeptRevision>,
    /// With `delete_inactive`: INACTIVE revisions not deleted because something still uses them, newest
    /// first, with every reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept_inactive: Vec<KeptRevision>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<CleanupFailure>,
    /// Revisions that were to go but were left because the call's time ran short (status `partial`); the
    /// next cleanup takes them. Absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub remaining: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The answer to `diff`: what a deploy would register, against what the service runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffResult {
    /// `changed`, or `unchanged` when the deploy would register nothing new.
    pub status: String,
    pub cluster: String,
    pub service: String,
    /// The version diffed; for a `task_definition`, that revision's `Version` tag (else its image's tag or
    /// digest).
    pub version: String,
    /// The revision the service runs.
    pub running_task_definition: String,
    /// The revision the new one would be cloned from (or the one named by `task_definition`).
    pub base_task_definition: String,
    /// Every field that would change, with both values as JSON (masked where ECS treats a value as secret).
    pub changed_fields: Vec<FieldChange>,
    /// The same, as short text for chat: one line per field.
    pub text: String,
}
