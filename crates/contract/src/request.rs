//! The request the deployer takes (a direct invoke, the front door, CodeBuild): what the README's "Request"
//! section (under "Usage") documents. Unknown fields are refused, so a misspelt `dry_run` never deploys.

use serde::{Deserialize, Serialize};

/// Which revision the new one is cloned from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Base {
    /// The newest ACTIVE revision of the service's task-definition family.
    #[default]
    Latest,
    /// The revision the service runs now.
    Service,
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    #[default]
    Deploy,
    /// Put the service back on the revision it ran before the last deploy, or on `to`.
    Rollback,
    /// Report what the service runs and how its rollout is going.
    Status,
    /// Let an ECS-native service deployment go on past its PAUSE hooks awaiting action
    /// (ContinueServiceDeployment with CONTINUE).
    Continue,
    /// Roll back an ECS-native service deployment held by its PAUSE hooks awaiting action
    /// (ContinueServiceDeployment with ROLLBACK).
    Reject,
    /// The service's last deploys and rollbacks: the deployer's records, else its revisions' tags.
    History,
    /// Deregister the family's ACTIVE revisions beyond the newest `keep`, except those still in use.
    Cleanup,
    /// What a deploy of `version` (or of `task_definition`) would change, field by field; nothing is
    /// registered or updated.
    Diff,
}

impl Action {
    /// The action's name as requests spell it: `deploy`, `rollback`, `status`, `continue`, `reject`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deploy => "deploy",
            Action::Rollback => "rollback",
            Action::Status => "status",
            Action::Continue => "continue",
            Action::Reject => "reject",
            Action::History => "history",
            Action::Cleanup => "cleanup",
            Action::Diff => "diff",
        }
    }
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// A request, as JSON. Fields left out take the function's configured defaults. `region`, `cluster`,
/// `service`, `repository` and `containers` make one envelope that every action takes (each uses what it
/// needs), so a pipeline can send the same fields to deploy, roll back and ask for status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    #[serde(default, skip_serializing_if = "is_default")]
    pub action: Action,
    /// The image tag or `sha256:` digest to deploy; required to deploy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The region of the service, when it is not the function's own; every action takes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Cluster name or ARN (default `DEPLOY_CLUSTER`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Service name or ARN (default `DEPLOY_SERVICE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The ECR repository whose image is deployed (default `DEPLOY_REPOSITORY`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The containers that get the new image (default `DEPLOY_CONTAINERS`, else those running `repository`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<Base>,
    /// Register the tag with the digest it resolves to now (`repo:tag@sha256:…`), so that no later
    /// deployment or rollback of that revision can pull a re-pushed tag (default `DEPLOY_PIN_DIGEST`, else
    /// false). Containers whose `versionConsistency` is `disabled` keep the bare tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_digest: Option<bool>,
    /// Check and plan only: register and update nothing.
    #[serde(default, skip_serializing_if = "is_default")]
    pub dry_run: bool,
    /// Deploy the same version to several services at once, instead of `cluster`/`service`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<TargetSpec>>,
    /// With `targets`: when one target fails, roll back the ones that were deployed.
    #[serde(default, skip_serializing_if = "is_default")]
    pub all_or_nothing: bool,
    /// Follow the rollout until it completes, fails or the Lambda's time runs short.
    #[serde(default, skip_serializing_if = "is_default")]
    pub wait: bool,
    /// When a followed rollout fails, put the service back on the revision it ran before
    /// (default: `DEPLOY_ROLLBACK`, else true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<bool>,
    /// Deploy even though ECS shows a rollout in progress that this deployer did not start.
    #[serde(default, skip_serializing_if = "is_default")]
    pub force: bool,
    /// With `action: rollback`: the revision to go back to, `family:revision`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// For services on the CODE_DEPLOY controller: the CodeDeploy names to use instead of the configured ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codedeploy: Option<CodeDeployOptions>,
    /// Deploy (or diff) this existing revision, `family:revision` or an ARN, instead of a `version`: nothing
    /// is registered; its images are checked as a version's are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_definition: Option<String>,
    /// With `cleanup`: how many of the family's newest ACTIVE revisions to keep (1 to 1000). With a deploy:
    /// clean up so after it completes (default `DEPLOY_KEEP_REVISIONS`; unset: no cleanup after deploys).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep: Option<u32>,
    /// With `cleanup`: also delete the family's INACTIVE revisions (DeleteTaskDefinitions), except those
    /// still in use.
    #[serde(default, skip_serializing_if = "is_default")]
    pub delete_inactive: bool,
    /// With `history`: how many entries, newest first (1 to 100, default 20).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// Answer within this many seconds (1 to 900), when the caller cannot wait as long as the Lambda may run:
    /// a followed rollout then answers `in_progress` in time, a cleanup stops and reports `remaining`. The
    /// front door sets it on every request it waits for (it cannot wait longer than API Gateway or its own
    /// time limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer_within: Option<u32>,
    /// Who asked, as the history records it. The front door sets it from the caller it authenticated (an
    /// IAM principal ARN, `slack:<user id>`, `bearer-token`), replacing any value sent to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

/// The CodeDeploy application, deployment group, deployment configuration and AppSpec hooks of a deploy to a
/// CODE_DEPLOY service. Each field left out takes `DEPLOY_CODEDEPLOY_*`, else the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeDeployOptions {
    /// Default: `AppECS-<cluster>-<service>`, else the ECS application whose group names the service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// Default: `DgpECS-<cluster>-<service>`, else the group whose `ecsServices` names the service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_group: Option<String>,
    /// A built-in ECS configuration (`CodeDeployDefault.ECSAllAtOnce`, `…ECSLinear10PercentEvery1Minutes`, …) or
    /// a custom one; default: the group's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_config: Option<String>,
    /// AppSpec hooks: lifecycle event (`BeforeInstall`, `AfterInstall`, `AfterAllowTestTraffic`,
    /// `BeforeAllowTraffic`, `AfterAllowTraffic`) → Lambda function name or ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks: Option<std::collections::BTreeMap<String, String>>,
}

/// One service of a multi-target request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub cluster: String,
    pub service: String,
    /// Another region than the function's; its clients are built once and reused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containers: Option<Vec<String>>,
}

/// How many targets one request may name.
pub const MAX_TARGETS: usize = 50;
/// The most revisions `keep` takes; ECS keeps every revision anyway, so more would mean "no cleanup".
pub const MAX_KEEP: u32 = 1000;
/// The most entries a `history` answers.
pub const MAX_HISTORY: u32 = 100;
/// The entries a `history` answers when `limit` is left out.
pub const DEFAULT_HISTORY: u32 = 20;
/// The longest `requested_by`, in bytes.
pub const MAX_REQUESTED_BY: usize = 512;
/// The most `answer_within` takes, in seconds: a Lambda runs 15 minutes at most.
pub const MAX_ANSWER_WITHIN: u32 = 900;

impl DeployRequest {
    /// Whether `keep` (1 to [`MAX_KEEP`]), `limit` (1 to [`MAX_HISTORY`]), `answer_within` (1 to
    /// [`MAX_ANSWER_WITHIN`]) and `requested_by` (1 to [`MAX_REQUESTED_BY`] bytes, no control character) are
    /// within range, wherever they are given; `Err` says which is not, for an `InvalidRequest`. Which fields
    /// go with which action is each door's check.
    pub fn check_ranges(&self) -> Result<(), String> {
        let out_of = |field: &str, value: u32, max: u32, unit: &str| {
            Err(format!("\"{field}\" takes 1 to {max}{unit}, not {value}"))
        };
        match (self.keep, self.limit, self.answer_within) {
            (Some(k), _, _) if !(1..=MAX_KEEP).contains(&k) => return out_of("keep", k, MAX_KEEP, " revisions"),
            (_, Some(l), _) if !(1..=MAX_HISTORY).contains(&l) => return out_of("limit", l, MAX_HISTORY, ""),
            (_, _, Some(a)) if !(1..=MAX_ANSWER_WITHIN).contains(&a) => {
                return out_of("answer_within", a, MAX_ANSWER_WITHIN, " seconds")
            }
            _ => {}
        }
        match &self.requested_by {
            Some(by) if by.is_empty() || by.len() > MAX_REQUESTED_BY || by.chars().any(char::is_control) => Err(
                format!("\"requested_by\" takes 1 to {MAX_REQUESTED_BY} characters, none of them control characters"),
            ),
            _ => Ok(()),
        }
    }

    /// With `task_definition`: `Err` names the first field that shapes a new revision or belongs to another
    /// action (an existing revision is deployed as it is), for an `InvalidRequest`.
    pub fn check_revision_fields(&self) -> Result<(), String> {
        let stray = [
            ("version", self.version.is_some()),
            ("base", self.base.is_some()),
            ("pin_digest", self.pin_digest.is_some()),
            ("targets", self.targets.is_some()),
            ("all_or_nothing", self.all_or_nothing),
            ("to", self.to.is_some()),
            ("delete_inactive", self.delete_inactive),
            ("limit", self.limit.is_some()),
        ];
        match stray.iter().find(|(_, set)| *set) {
            Some((field, _)) => Err(format!(
                "\"{field}\" does not go with \"task_definition\": an existing revision is deployed as it is"
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requests_round_trip_and_leave_defaults_out() {
        let request = DeployRequest {
            version: Some("v2".into()),
            cluster: Some("prod".into()),
            wait: true,
            ..DeployRequest::default()
        };
        let value = serde_json::to_value(&request).unwrap();
        assert_eq!(value, json!({"version": "v2", "cluster": "prod", "wait": true}));
        assert_eq!(serde_json::from_value::<DeployRequest>(value).unwrap(), request);
        let rollback = DeployRequest { action: Action::Rollback, to: Some("web:7".into()), ..DeployRequest::default() };
        assert_eq!(serde_json::to_value(&rollback).unwrap(), json!({"action": "rollback", "to": "web:7"}));
        for action in [
            Action::Deploy,
            Action::Rollback,
            Action::Status,
            Action::Continue,
            Action::Reject,
            Action::History,
            Action::Cleanup,
            Action::Diff,
        ] {
            assert_eq!(serde_json::to_value(action).unwrap(), json!(action.as_str()));
        }
    }

    #[test]
    fn ranges_are_checked_wherever_the_field_is_given() {
        let ok =
            DeployRequest { keep: Some(1000), limit: Some(1), answer_within: Some(900), ..DeployRequest::default() };
        assert_eq!(ok.check_ranges(), Ok(()));
        for (bad, says) in [
            (DeployRequest { keep: Some(0), ..DeployRequest::default() }, "\"keep\" takes 1 to 1000 revisions, not 0"),
            (DeployRequest { limit: Some(101), ..DeployRequest::default() }, "\"limit\" takes 1 to 100, not 101"),
            (
                DeployRequest { answer_within: Some(901), ..DeployRequest::default() },
                "\"answer_within\" takes 1 to 900 seconds",
            ),
            (
                DeployRequest { requested_by: Some(String::new()), ..DeployRequest::default() },
                "\"requested_by\" takes 1 to 512",
            ),
            (DeployRequest { requested_by: Some("a\nb".into()), ..DeployRequest::default() }, "control characters"),
            (DeployRequest { requested_by: Some("x".repeat(513)), ..DeployRequest::default() }, "\"requested_by\""),
        ] {
            let err = bad.check_ranges().unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn misspelt_fields_are_refused() {
        assert!(serde_json::from_str::<DeployRequest>(r#"{"version":"v2","dryrun":true}"#).is_err());
        assert!(serde_json::from_str::<DeployRequest>(r#"{"version":"v2","base":"oldest"}"#).is_err());
        assert!(serde_json::from_str::<DeployRequest>(r#"{"targets":[{"cluster":"c","service":"s","x":1}]}"#).is_err());
    }
}
