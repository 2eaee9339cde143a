//! What the deployer answers: the README's "Result reference". Task definitions are named
//! `family:revision`; durations are milliseconds.

mod revisions;
mod rollout;

use serde::{Deserialize, Serialize};

pub use self::revisions::{
    CleanupFailure, CleanupResult, CleanupStatus, DiffResult, HistoryEntry, HistoryResult, HistorySource, KeepReason,
    Kept, KeptRevision,
};
pub use self::rollout::{CodeDeployReport, HookReport, LifecycleEventReport, ServiceDeploymentReport};
use crate::request::DeployRequest;

/// How a deploy (or a rollback) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Deployed,
    AlreadyDeployed,
    DryRun,
    /// Deployed and followed: the rollout completed.
    Completed,
    /// Deployed and followed until the Lambda's time ran short: the rollout goes on; ask `status` later.
    InProgress,
    /// Deployed, then put back on `previous_task_definition`: the rollout failed (or, with
    /// `all_or_nothing`, another target did).
    RolledBack,
    /// Deployed and followed: the rollout failed and was not rolled back.
    Failed,
}

impl Status {
    /// The status as results spell it: `deployed`, `rolled_back`, ….
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Deployed => "deployed",
            Status::AlreadyDeployed => "already_deployed",
            Status::DryRun => "dry_run",
            Status::Completed => "completed",
            Status::InProgress => "in_progress",
            Status::RolledBack => "rolled_back",
            Status::Failed => "failed",
        }
    }
}

/// Where a followed rollout stands, in ECS's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RolloutState {
    Completed,
    InProgress,
    Failed,
    /// Another deployment took over: someone else deployed meanwhile.
    Replaced,
    /// ECS reported no state.
    Unknown,
}

/// Who rolled a failed rollout back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RolledBackBy {
    /// This deployer, with UpdateService to the revision before.
    EcsDeployer,
    /// The service's deployment circuit breaker, by itself.
    EcsCircuitBreaker,
    /// ECS, by itself, because a CloudWatch deployment alarm went into ALARM (any strategy).
    EcsAlarms,
    /// ECS, by itself, because a lifecycle hook of an ECS-native deployment failed, timed out or was rejected.
    EcsLifecycleHook,
    /// ECS, by itself, for another reason it gives (`service_deployment.rollback_reason`).
    Ecs,
    /// CodeDeploy, with the rollback deployment its auto-rollback created (`codedeploy.rollback_deployment_id`).
    Codedeploy,
}

/// How a followed rollout went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutReport {
    /// COMPLETED, IN_PROGRESS, FAILED or REPLACED.
    pub state: RolloutState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<FailureReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackReport>,
    /// The request that shows how an unfinished rollout ends (`{"action": "status", …}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<DeployRequest>,
}

impl RolloutReport {
    pub fn new(state: RolloutState) -> RolloutReport {
        RolloutReport { state, failure: None, rollback: None, check: None }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackReport {
    /// The revision whose rollout failed, `family:revision`.
    pub from: String,
    /// The revision rolled back to.
    pub to: String,
    pub by: RolledBackBy,
    /// COMPLETED, IN_PROGRESS or FAILED: how the rollback's own rollout went.
    pub state: RolloutState,
    /// The failed revision, when it was deregistered (never the target, nor a revision still in use).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregistered: Option<String>,
}

/// Milliseconds spent in each step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    pub preflight: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<u64>,
    pub total: u64,
}

/// One container that gets the new image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerChange {
    pub container: String,
    pub from: Option<String>,
    pub to: String,
    /// The image digest the service's running tasks report for this container (or the one its reference
    /// pins); `null` when it was not read (the reference changes anyway) or no task runs.
    #[serde(default)]
    pub digest_before: Option<String>,
    /// The `sha256:` digest that `to` resolves to in ECR now.
    #[serde(default)]
    pub digest_after: Option<String>,
}

/// One field in which the revision a deploy registers differs from the one the service runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// The container the field belongs to; `null` for a field of the task definition itself.
    pub container: Option<String>,
    /// The field's name as the ECS API spells it (`environment`, `memory`, `image`, …); `container` for a
    /// container added or removed as a whole.
    pub field: String,
    /// The running revision's value (`null`: unset).
    pub from: serde_json::Value,
    /// The new revision's value (`null`: unset).
    pub to: serde_json::Value,
}

/// A tag the new revision does not carry, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagLeftOut {
    pub key: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoppedTask {
    pub task: String,
    pub stopped_reason: Option<String>,
    /// `name: exit code (reason)` for each container that says something.
    pub containers: Vec<String>,
}

/// Why a rollout failed, in the words ECS used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FailureReport {
    pub reason: String,
    /// The service's latest events, newest first.
    pub events: Vec<String>,
    pub stopped_tasks: Vec<StoppedTask>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// What a deploy did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployResult {
    pub status: Status,
    pub cluster: String,
    pub service: String,
    pub version: String,
    pub image: String,
    /// The revision the new one was cloned from.
    pub base_task_definition: String,
    /// The revision the service ran before this call.
    pub previous_task_definition: String,
    /// The revision the service runs after this call (`null` for a dry run).
    pub task_definition: Option<String>,
    /// The ECS deployment that UpdateService started, when ECS reported one.
    pub deployment_id: Option<String>,
    pub containers_updated: Vec<ContainerChange>,
    /// Every field in which the new revision differs from the running one (the image too), also for a
    /// `dry_run`; empty when nothing but the image's digest changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_fields: Vec<FieldChange>,
    /// True when the revision stayed the same and UpdateService was sent with `forceNewDeployment`, so the
    /// tasks pull the image again (the tag points to another digest than the running tasks report).
    #[serde(default, skip_serializing_if = "is_false")]
    pub forced_new_deployment: bool,
    /// Tags of the base (or the deployer's own) that the new revision does not carry: ECS allows 50 tags
    /// with values of at most 256 characters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags_left_out: Vec<TagLeftOut>,
    pub timings_ms: Timings,
    /// With `wait`: how the rollout went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutReport>,
    /// With `keep` (or `DEPLOY_KEEP_REVISIONS`): the cleanup after the rollout completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<Box<CleanupResult>>,
    /// The ECS-native service deployment this deploy started (BLUE_GREEN, LINEAR, CANARY), as last read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_deployment: Option<Box<ServiceDeploymentReport>>,
    /// The CodeDeploy deployment this deploy created (CODE_DEPLOY services), as last read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codedeploy: Option<Box<CodeDeployReport>>,
}

/// One entry of a multi-target result: what the target's deploy did, or its error body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TargetOutcome {
    Done(Box<DeployResult>),
    Failed { cluster: String, service: String, region: Option<String>, error: serde_json::Value },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FanOutStatus {
    /// Every target is on the version (or already was, or would be in a dry run).
    Deployed,
    DryRun,
    /// Some targets failed; the others keep the new version.
    Failed,
    /// Some targets failed and, as asked by `all_or_nothing`, the deployed ones were put back.
    RolledBack,
}

impl FanOutStatus {
    /// The status as results spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            FanOutStatus::Deployed => "deployed",
            FanOutStatus::DryRun => "dry_run",
            FanOutStatus::Failed => "failed",
            FanOutStatus::RolledBack => "rolled_back",
        }
    }
}

/// What a multi-target deploy did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FanOutResult {
    pub status: FanOutStatus,
    pub version: String,
    pub targets: Vec<TargetOutcome>,
    pub timings_ms: Timings,
}

/// What an explicit rollback did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackResult {
    /// `rolled_back`, `in_progress` (with `wait`, when time ran short) or `already_deployed` (the service
    /// already runs the target).
    pub status: Status,
    pub cluster: String,
    pub service: String,
    pub from: String,
    pub to: String,
    /// The `Version` tag of the revision rolled back to, when it has one.
    pub version: Option<String>,
    pub deployment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutReport>,
    pub timings_ms: Timings,
}

/// The `status` of a status report: always `ok` (a failure is an error instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    Ok,
}

/// One entry of a service's `deployments`, as ECS lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentSummary {
    pub id: Option<String>,
    /// PRIMARY, ACTIVE or INACTIVE.
    pub status: Option<String>,
    pub task_definition: Option<String>,
    pub rollout_state: Option<String>,
    pub rollout_state_reason: Option<String>,
    pub running_count: i32,
    pub desired_count: i32,
    pub failed_tasks: i32,
}

/// What a service runs and how its rollout goes: the answer to `action: status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub status: ReportStatus,
    pub cluster: String,
    pub service: String,
    pub task_definition: String,
    /// The `Version` tag of the running revision.
    pub version: Option<String>,
    /// The revision recorded when the running one was deployed.
    pub previous_task_definition: Option<String>,
    /// The PRIMARY deployment's rollout state.
    pub rollout_state: Option<String>,
    pub running_count: i32,
    pub desired_count: i32,
    pub pending_count: i32,
    pub deployments: Vec<DeploymentSummary>,
    /// The latest service events, newest first.
    pub events: Vec<String>,
    /// The service's current ECS-native service deployment, with its hooks (those awaiting `continue` or
    /// `reject` show when they expire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_deployment: Option<Box<ServiceDeploymentReport>>,
    /// A CODE_DEPLOY service's CodeDeploy deployment: the one in flight, else the newest that succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codedeploy: Option<Box<CodeDeployReport>>,
}

/// What `continue` or `reject` did: the hooks answered, and the service deployment as read after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookAnswer {
    /// `continued` or `rejected`.
    pub status: String,
    pub cluster: String,
    pub service: String,
    /// The ids of the hooks answered (ContinueServiceDeployment's `hookId`).
    pub hooks: Vec<String>,
    /// The ECS-native service deployment (empty, and left out, for a CODE_DEPLOY service).
    #[serde(default, skip_serializing_if = "ServiceDeploymentReport::is_empty")]
    pub service_deployment: ServiceDeploymentReport,
    /// A CODE_DEPLOY service's CodeDeploy deployment continued or stopped, as read after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codedeploy: Option<Box<CodeDeployReport>>,
}

/// Any answer of the deployer to a request, read back by a caller that knows only the JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    History(HistoryResult),
    Cleanup(CleanupResult),
    Diff(DiffResult),
    FanOut(FanOutResult),
    Status(ServiceStatus),
    Rollback(RollbackResult),
    Deploy(DeployResult),
    Hooks(HookAnswer),
}

impl Answer {
    /// The `status` field as the caller sees it (`deployed`, `rolled_back`, `ok`, …).
    pub fn status(&self) -> &'static str {
        match self {
            Answer::History(_) => "ok",
            Answer::Cleanup(r) => match r.status {
                CleanupStatus::Cleaned => "cleaned",
                CleanupStatus::DryRun => "dry_run",
                CleanupStatus::Partial => "partial",
            },
            Answer::Diff(r) => {
                if r.status == "unchanged" {
                    "unchanged"
                } else {
                    "changed"
                }
            }
            Answer::FanOut(r) => r.status.as_str(),
            Answer::Status(_) => "ok",
            Answer::Rollback(r) => r.status.as_str(),
            Answer::Deploy(r) => r.status.as_str(),
            Answer::Hooks(r) => {
                if r.status == "rejected" {
                    "rejected"
                } else {
                    "continued"
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::request::Action;

    #[test]
    fn status_names_are_their_serialised_names() {
        use Status::*;
        for s in [Deployed, AlreadyDeployed, DryRun, Completed, InProgress, RolledBack, Failed] {
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
        }
        for s in [FanOutStatus::Deployed, FanOutStatus::DryRun, FanOutStatus::Failed, FanOutStatus::RolledBack] {
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
        }
    }

    #[test]
    fn reports_serialise_in_ecs_words() {
        let report = RolloutReport {
            check: Some(DeployRequest {
                action: Action::Status,
                cluster: Some("prod".into()),
                service: Some("web".into()),
                ..DeployRequest::default()
            }),
            rollback: Some(RollbackReport {
                from: "web:8".into(),
                to: "web:7".into(),
                by: RolledBackBy::EcsCircuitBreaker,
                state: RolloutState::InProgress,
                deregistered: None,
            }),
            ..RolloutReport::new(RolloutState::Failed)
        };
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            json!({
                "state": "FAILED",
                "rollback": {"from": "web:8", "to": "web:7", "by": "ecs-circuit-breaker", "state": "IN_PROGRESS"},
                "check": {"action": "status", "cluster": "prod", "service": "web"},
            })
        );
    }

    #[test]
    fn answers_are_told_apart_by_their_fields() {
        let status = json!({"status": "ok", "cluster": "c", "service": "s", "task_definition": "web:2",
            "version": "v2", "previous_task_definition": null, "rollout_state": "COMPLETED", "running_count": 1,
            "desired_count": 1, "pending_count": 0, "deployments": [], "events": []});
        let rollback = json!({"status": "rolled_back", "cluster": "c", "service": "s", "from": "web:2",
            "to": "web:1", "version": "v1", "deployment_id": null, "timings_ms": {"preflight": 0, "total": 3}});
        let deploy = json!({"status": "deployed", "cluster": "c", "service": "s", "version": "v2", "image": "i",
            "base_task_definition": "web:1", "previous_task_definition": "web:1", "task_definition": "web:2",
            "deployment_id": "ecs-svc/1", "containers_updated": [], "timings_ms": {"preflight": 1, "total": 2}});
        let fan_out = json!({"status": "failed", "version": "v2", "timings_ms": {"preflight": 0, "total": 5},
            "targets": [deploy.clone(), {"cluster": "c", "service": "x", "region": null, "error": {"code": "ServiceNotFound"}}]});
        for (value, status, kind) in [
            (status, "ok", "status"),
            (rollback, "rolled_back", "rollback"),
            (deploy, "deployed", "deploy"),
            (fan_out, "failed", "fan-out"),
        ] {
            let answer: Answer = serde_json::from_value(value.clone()).unwrap();
            let got = match &answer {
                Answer::FanOut(_) => "fan-out",
                Answer::Status(_) => "status",
                Answer::Rollback(_) => "rollback",
                Answer::Deploy(_) => "deploy",
                Answer::Hooks(_) => "hooks",
                Answer::History(_) => "history",
                Answer::Cleanup(_) => "cleanup",
                Answer::Diff(_) => "diff",
            };
            assert_eq!((got, answer.status()), (kind, status));
            assert_eq!(serde_json::to_value(&answer).unwrap(), value, "{kind} round-trips");
        }
    }
}
