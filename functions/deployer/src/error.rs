//! The deployer's one error type. Every variant has a stable code that scripts match on; the
//! message is for people and the details for machines.

use serde_json::{json, Value};

/// How an AWS call failed, as far as the caller needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// Throttled even after the SDK's retries: the request was refused, nothing changed.
    Throttled,
    /// The caller's role may not make this call: nothing changed.
    AccessDenied,
    /// The service answered with a client error: nothing changed.
    Rejected,
    /// A 5xx, a time-out or a broken connection: the request may or may not have taken effect.
    Unknown,
}

/// A failed AWS call, with the SDK's full error chain rendered once.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{operation} failed: {message}")]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: AwsErrorKind,
    /// The service's error code (`ThrottlingException`, `InvalidParameterException`, …) when it sent one.
    pub aws_code: Option<String>,
    pub message: String,
}

impl AwsError {
    /// True when the request certainly did not change anything in AWS.
    pub fn certainly_not_applied(&self) -> bool {
        self.kind != AwsErrorKind::Unknown
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("invalid request: {reason}")]
    InvalidRequest { reason: String },

    #[error("invalid version {version:?}: {reason}")]
    InvalidVersion { version: String, reason: &'static str },

    #[error("this deployer may not touch service {service} in cluster {cluster}")]
    NotAllowed { cluster: String, service: String },

    #[error("a deployment of service {service} is in progress ({holder}, since {since}); pass \"force\": true to deploy anyway")]
    DeploymentInProgress { service: String, holder: String, since: String },

    #[error("no revision to roll {service} back to: {reason}")]
    NoRollbackTarget { service: String, reason: String },

    #[error("image {version} not found in ECR repository {repository}")]
    ImageNotFound { repository: String, version: String },

    #[error("ECR repository {repository} not found")]
    RepositoryNotFound { repository: String },

    #[error("cluster {cluster} not found")]
    ClusterNotFound { cluster: String },

    #[error("cluster {cluster} is {status}, not ACTIVE")]
    ClusterNotActive { cluster: String, status: String },

    #[error("service {service} not found in cluster {cluster}")]
    ServiceNotFound { cluster: String, service: String },

    #[error("service {service} in cluster {cluster} is {status}, not ACTIVE")]
    ServiceNotActive { cluster: String, service: String, status: String },

    #[error(
        "service {service} uses the {controller} deployment controller: its task definition is changed by \
         {owner}, not by UpdateService, so this deployer cannot ship it"
    )]
    UnsupportedDeploymentController { service: String, controller: String, owner: &'static str },

    #[error("task definition {task_definition} not found")]
    TaskDefinitionNotFound { task_definition: String },

    #[error("no container to deploy in {task_definition}: {reason}")]
    NoTargetContainer { task_definition: String, reason: String, containers: Vec<String> },

    #[error("{} preflight checks failed: {}", .0.len(), join_messages(.0))]
    Preflight(Vec<DeployError>),

    #[error(transparent)]
    Aws(#[from] AwsError),

    #[error(
        "{} of {} targets failed{}",
        .0.targets.iter().filter(|t| matches!(t, crate::engine::TargetOutcome::Failed { .. })).count(),
        .0.targets.len(),
        if .0.status == crate::engine::FanOutStatus::RolledBack { "; the others were rolled back" } else { "" }
    )]
    TargetsFailed(Box<crate::engine::FanOutResult>),

    #[error(
        "the rollout of {} failed ({}) and the service was rolled back to {}",
        .0.task_definition.as_deref().unwrap_or("the new revision"),
        failure_reason(.0),
        .0.previous_task_definition
    )]
    RolledBack(Box<crate::engine::DeployResult>),

    #[error(
        "the rollout of {} failed: {}",
        .0.task_definition.as_deref().unwrap_or("the new revision"),
        failure_reason(.0)
    )]
    DeploymentFailed(Box<crate::engine::DeployResult>),

    #[error("could not roll {task_definition} back to {to}: {source}")]
    RollbackFailed { task_definition: String, to: String, source: AwsError },

    #[error(
        "registered {task_definition} but could not update the service ({source}); {}",
        cleanup.describe(task_definition)
    )]
    UpdateFailed { task_definition: String, cleanup: Cleanup, source: AwsError },
}

/// What became of a revision registered for an update that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleanup {
    Deregistered,
    DeregisterFailed(String),
    /// The update's outcome is unknown, so the revision is kept: the service may already use it.
    KeptOutcomeUnknown,
}

impl Cleanup {
    fn describe(&self, task_definition: &str) -> String {
        match self {
            Cleanup::Deregistered => format!("{task_definition} was deregistered again"),
            Cleanup::DeregisterFailed(e) => {
                format!("deregistering {task_definition} failed too ({e}): deregister it by hand")
            }
            Cleanup::KeptOutcomeUnknown => {
                format!("the service could not be read back, so {task_definition} was kept in case the service uses it")
            }
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Cleanup::Deregistered => "deregistered",
            Cleanup::DeregisterFailed(_) => "deregister_failed",
            Cleanup::KeptOutcomeUnknown => "kept_outcome_unknown",
        }
    }
}

fn failure_reason(result: &crate::engine::DeployResult) -> String {
    result
        .rollout
        .as_ref()
        .and_then(|r| r.failure.as_ref())
        .map_or_else(|| "no reason given".to_owned(), |f| f.reason.clone())
}

fn join_messages(errors: &[DeployError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

impl DeployError {
    /// The stable code: the Lambda error type and the `error.code` of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            DeployError::InvalidRequest { .. } => "InvalidRequest",
            DeployError::InvalidVersion { .. } => "InvalidVersion",
            DeployError::NotAllowed { .. } => "NotAllowed",
            DeployError::DeploymentInProgress { .. } => "DeploymentInProgress",
            DeployError::NoRollbackTarget { .. } => "NoRollbackTarget",
            DeployError::ImageNotFound { .. } => "ImageNotFound",
            DeployError::RepositoryNotFound { .. } => "RepositoryNotFound",
            DeployError::ClusterNotFound { .. } => "ClusterNotFound",
            DeployError::ClusterNotActive { .. } => "ClusterNotActive",
            DeployError::ServiceNotFound { .. } => "ServiceNotFound",
            DeployError::ServiceNotActive { .. } => "ServiceNotActive",
            DeployError::UnsupportedDeploymentController { .. } => "UnsupportedDeploymentController",
            DeployError::TaskDefinitionNotFound { .. } => "TaskDefinitionNotFound",
            DeployError::NoTargetContainer { .. } => "NoTargetContainer",
            DeployError::Preflight(all) => all.first().map_or("PreflightFailed", DeployError::code),
            DeployError::Aws(e) => aws_code(e),
            DeployError::UpdateFailed { .. } => "UpdateServiceFailed",
            DeployError::TargetsFailed(_) => "TargetsFailed",
            DeployError::RolledBack(_) => "RolledBack",
            DeployError::DeploymentFailed(_) => "DeploymentFailed",
            DeployError::RollbackFailed { .. } => "RollbackFailed",
        }
    }

    /// Machine-readable facts about the error.
    pub fn details(&self) -> Value {
        match self {
            DeployError::InvalidRequest { .. } => json!({}),
            DeployError::InvalidVersion { version, .. } => json!({ "version": version }),
            DeployError::NotAllowed { cluster, service } => json!({ "cluster": cluster, "service": service }),
            DeployError::DeploymentInProgress { service, holder, since } => {
                json!({ "service": service, "holder": holder, "since": since })
            }
            DeployError::NoRollbackTarget { service, .. } => json!({ "service": service }),
            DeployError::ImageNotFound { repository, version } => {
                json!({ "repository": repository, "version": version })
            }
            DeployError::RepositoryNotFound { repository } => json!({ "repository": repository }),
            DeployError::ClusterNotFound { cluster } => json!({ "cluster": cluster }),
            DeployError::ClusterNotActive { cluster, status } => json!({ "cluster": cluster, "status": status }),
            DeployError::ServiceNotFound { cluster, service } => json!({ "cluster": cluster, "service": service }),
            DeployError::ServiceNotActive { cluster, service, status } => {
                json!({ "cluster": cluster, "service": service, "status": status })
            }
            DeployError::UnsupportedDeploymentController { service, controller, .. } => {
                json!({ "service": service, "deployment_controller": controller })
            }
            DeployError::TaskDefinitionNotFound { task_definition } => json!({ "task_definition": task_definition }),
            DeployError::NoTargetContainer { task_definition, containers, .. } => {
                json!({ "task_definition": task_definition, "containers": containers })
            }
            DeployError::Preflight(all) => json!({
                "failures": all.iter().map(|e| json!({
                    "code": e.code(), "message": e.to_string(), "details": e.details(),
                })).collect::<Vec<_>>()
            }),
            DeployError::Aws(e) => aws_details(e),
            DeployError::TargetsFailed(result) => serde_json::to_value(result).unwrap_or_default(),
            DeployError::RolledBack(result) | DeployError::DeploymentFailed(result) => {
                serde_json::to_value(result).unwrap_or_default()
            }
            DeployError::RollbackFailed { task_definition, to, source } => json!({
                "task_definition": task_definition,
                "rollback_to": to,
                "cause": aws_details(source),
            }),
            DeployError::UpdateFailed { task_definition, cleanup, source } => json!({
                "task_definition": task_definition,
                "cleanup": cleanup.code(),
                "cause": aws_details(source),
            }),
        }
    }

    /// `{"error": {"code", "message", "details"}}`
    pub fn to_body(&self) -> Value {
        json!({ "error": { "code": self.code(), "message": self.to_string(), "details": self.details() } })
    }

    /// Errors that the caller caused, as opposed to AWS failing: the HTTP front door maps these to 4xx.
    pub fn is_caller_error(&self) -> bool {
        !matches!(
            self,
            DeployError::Aws(_)
                | DeployError::UpdateFailed { .. }
                | DeployError::TargetsFailed(_)
                | DeployError::RolledBack(_)
                | DeployError::DeploymentFailed(_)
                | DeployError::RollbackFailed { .. }
        )
    }
}

fn aws_code(e: &AwsError) -> &'static str {
    match e.kind {
        AwsErrorKind::Throttled => "AwsThrottled",
        AwsErrorKind::AccessDenied => "AwsAccessDenied",
        AwsErrorKind::Rejected | AwsErrorKind::Unknown => "AwsCallFailed",
    }
}

fn aws_details(e: &AwsError) -> Value {
    json!({ "operation": e.operation, "aws_code": e.aws_code, "outcome_known": e.certainly_not_applied() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflight_reports_every_failure_and_takes_the_first_code() {
        let err = DeployError::Preflight(vec![
            DeployError::ClusterNotFound { cluster: "c".into() },
            DeployError::ImageNotFound { repository: "app".into(), version: "v9".into() },
        ]);
        let body = err.to_body();
        assert_eq!(body["error"]["code"], "ClusterNotFound");
        let failures = body["error"]["details"]["failures"].as_array().unwrap();
        let codes: Vec<_> = failures.iter().map(|f| f["code"].as_str().unwrap()).collect();
        assert_eq!(codes, ["ClusterNotFound", "ImageNotFound"]);
        assert_eq!(failures[1]["details"]["repository"], "app");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("cluster c not found") && message.contains("image v9 not found in ECR repository app")
        );
    }

    #[test]
    fn aws_errors_carry_operation_and_whether_anything_changed() {
        let err = DeployError::from(AwsError {
            operation: "UpdateService",
            kind: AwsErrorKind::Unknown,
            aws_code: None,
            message: "dispatch failure: connection reset".into(),
        });
        let body = err.to_body();
        assert_eq!(body["error"]["code"], "AwsCallFailed");
        assert_eq!(body["error"]["details"]["operation"], "UpdateService");
        assert_eq!(body["error"]["details"]["outcome_known"], false);
        assert!(body["error"]["message"].as_str().unwrap().contains("connection reset"));
    }
}
