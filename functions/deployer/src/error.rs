//! The deployer's one error type. Every variant has a stable [`Code`] (from the contract's single table)
//! that scripts match on; the message is for people and the details for machines. It reaches Lambda as a
//! [`Diagnostic`] whose `errorType` is the code and whose `errorMessage` is the JSON body.

use contract::env::ConfigError;
use contract::names::InputError;
use contract::result::{DeployResult, FanOutResult, FanOutStatus, TargetOutcome};
use contract::{AwsError, Code};
use lambda_runtime::Diagnostic;
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("invalid request: {reason}")]
    InvalidRequest { reason: String },

    #[error("invalid version {version:?}: {reason}")]
    InvalidVersion { version: String, reason: &'static str },

    #[error("this deployer may not touch service {service} in cluster {cluster}: {reason}")]
    NotAllowed { cluster: String, service: String, reason: String },

    #[error(
        "{to} is not a revision of {family}, the task-definition family of service {service}: a rollback stays \
         in the service's family"
    )]
    RollbackOutsideFamily { service: String, family: String, to: String },

    #[error("{to} is not a revision to roll service {service} back to: {reason}")]
    UntrustedRollbackTarget { service: String, to: String, reason: String },

    #[error("event refused: {reason}")]
    UntrustedEvent { reason: String },

    /// `holder`: another call's request id (it holds the service's lock: wait for it; `force` does not pass a
    /// lock), or `ECS deployment <id> of <family:revision>` (a rollout this deployer did not start: wait, or
    /// deploy over it with `"force": true`).
    #[error("a deployment of service {service} is in progress ({holder}, since {since})")]
    DeploymentInProgress { service: String, holder: String, since: String },

    #[error("no revision to roll {service} back to: {reason}")]
    NoRollbackTarget { service: String, reason: String },

    #[error("image {version} not found in ECR repository {repository} ({})", registry_named(registry_id.as_deref(), region))]
    ImageNotFound { registry_id: Option<String>, region: String, repository: String, version: String },

    #[error("ECR repository {repository} not found ({})", registry_named(registry_id.as_deref(), region))]
    RepositoryNotFound { registry_id: Option<String>, region: String, repository: String },

    #[error(
        "image {version} in ECR repository {repository} ({}) is {status}: ECS cannot pull it until it is ACTIVE \
         (restore it, or push it again)",
        registry_named(Some(registry_id), region)
    )]
    ImageNotPullable { registry_id: String, region: String, repository: String, version: String, status: String },

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

    #[error("service {service} rolls out with the {strategy} strategy, which this deployer cannot follow yet")]
    UnsupportedDeploymentStrategy { service: String, strategy: String },

    #[error(
        "service {service} in cluster {cluster} uses the CODE_DEPLOY deployment controller, but no CodeDeploy \
         deployment group deploys it (tried {tried})"
    )]
    DeploymentGroupNotFound { cluster: String, service: String, tried: String },

    #[error("CodeDeploy deployment configuration {config} not found")]
    DeploymentConfigNotFound { config: String },

    #[error(
        "service {service} uses the CODE_DEPLOY deployment controller but has no load balancer: its AppSpec names \
         the container and port that take traffic"
    )]
    LoadBalancerRequired { service: String },

    #[error(
        "registered {task_definition} but CodeDeploy's CreateDeployment failed ({source}); {}",
        cleanup.describe(task_definition)
    )]
    CodeDeployFailed { task_definition: String, cleanup: Cleanup, source: AwsError },

    #[error("task definition {task_definition} not found")]
    TaskDefinitionNotFound { task_definition: String },

    #[error(
        "service {service} rolls out with the BLUE_GREEN strategy but has no bakeTimeInMinutes: set one (0-1440) \
         with UpdateService before deploying"
    )]
    BakeTimeRequired { service: String },

    #[error(
        "service {service} rolls out with the {strategy} strategy, but its load balancer (target group \
         {target_group}) has no {missing} in advancedConfiguration and the service does not use Service Connect: \
         ECS could not shift traffic and would roll back mid-way"
    )]
    AdvancedConfigurationRequired { service: String, strategy: String, target_group: String, missing: String },

    #[error("service {service} rolls out with the {strategy} strategy, but {setting} is {value}: ECS takes {range}")]
    TrafficShiftOutOfRange { service: String, strategy: String, setting: String, value: String, range: String },

    #[error("no lifecycle hook of service {service} awaits action{}", service_deployment.as_deref().map(|a| format!(" (service deployment {a})")).unwrap_or_default())]
    NoHookAwaitingAction { service: String, service_deployment: Option<String> },

    #[error("no container to deploy in {task_definition}: {reason}")]
    NoTargetContainer { task_definition: String, reason: String, containers: Vec<String> },

    #[error("{} preflight checks failed: {}", .0.len(), join_messages(.0))]
    Preflight(Vec<DeployError>),

    #[error(transparent)]
    Aws(#[from] AwsError),

    #[error(
        "{} of {} targets failed{}",
        .0.targets.iter().filter(|t| matches!(t, TargetOutcome::Failed { .. })).count(),
        .0.targets.len(),
        if .0.status == FanOutStatus::RolledBack { "; the others were rolled back" } else { "" }
    )]
    TargetsFailed(Box<FanOutResult>),

    #[error(
        "the rollout of {} failed ({}) and the service was rolled back to {}",
        failed_revision(.0),
        failure_reason(.0),
        rollback_target(.0)
    )]
    RolledBack(Box<DeployResult>),

    #[error(
        "the rollout of {} failed: {}",
        .0.task_definition.as_deref().unwrap_or("the new revision"),
        failure_reason(.0)
    )]
    DeploymentFailed(Box<DeployResult>),

    #[error("could not roll {task_definition} back to {to}: {source}")]
    RollbackFailed { task_definition: String, to: String, source: AwsError },

    #[error(
        "registered {task_definition} but could not update the service ({source}); {}",
        cleanup.describe(task_definition)
    )]
    UpdateFailed { task_definition: String, cleanup: Cleanup, source: AwsError },

    /// The function's configuration is missing or malformed.
    #[error("the deployer is not configured: {0}")]
    Config(#[from] ConfigError),

    /// A failure no input explains: a result that cannot be rendered, a request the SDK cannot build.
    #[error("internal error: {reason}")]
    Internal { reason: String },
}

impl From<InputError> for DeployError {
    fn from(e: InputError) -> Self {
        match e {
            InputError::Version { version, reason } => DeployError::InvalidVersion { version, reason },
            InputError::Invalid { reason } => DeployError::InvalidRequest { reason },
        }
    }
}

/// What became of a revision registered for an update that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleanup {
    Deregistered,
    DeregisterFailed(String),
    /// The update's outcome is unknown, so the revision is kept: the service may already use it.
    KeptOutcomeUnknown,
    /// The revision existed before this deploy (`task_definition`): it is never deregistered.
    KeptExisting,
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
            Cleanup::KeptExisting => format!("{task_definition} existed before this deploy and was kept"),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Cleanup::Deregistered => "deregistered",
            Cleanup::DeregisterFailed(_) => "deregister_failed",
            Cleanup::KeptOutcomeUnknown => "kept_outcome_unknown",
            Cleanup::KeptExisting => "kept_existing",
        }
    }
}

/// The revision whose rollout failed: the rollback names it; the result's `task_definition` is where the
/// service went afterwards.
fn failed_revision(result: &DeployResult) -> &str {
    result
        .rollout
        .as_ref()
        .and_then(|r| r.rollback.as_ref())
        .map(|b| b.from.as_str())
        .or(result.task_definition.as_deref())
        .unwrap_or("the new revision")
}

/// Where the service was rolled back to.
fn rollback_target(result: &DeployResult) -> &str {
    result
        .rollout
        .as_ref()
        .and_then(|r| r.rollback.as_ref())
        .map_or(result.previous_task_definition.as_str(), |b| b.to.as_str())
}

fn failure_reason(result: &DeployResult) -> String {
    result
        .rollout
        .as_ref()
        .and_then(|r| r.failure.as_ref())
        .map_or_else(|| "no reason given".to_owned(), |f| f.reason.clone())
}

/// `registry 123456789012 in us-west-2`, or the caller's own registry when no account is named.
fn registry_named(registry_id: Option<&str>, region: &str) -> String {
    match registry_id {
        Some(id) => format!("registry {id} in {region}"),
        None => format!("this account's registry in {region}"),
    }
}

fn join_messages(errors: &[DeployError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

impl DeployError {
    /// The stable code: the Lambda error type and the `error.code` of the JSON body.
    pub fn code(&self) -> Code {
        match self {
            DeployError::InvalidRequest { .. } => Code::InvalidRequest,
            DeployError::InvalidVersion { .. } => Code::InvalidVersion,
            DeployError::NotAllowed { .. } => Code::NotAllowed,
            DeployError::RollbackOutsideFamily { .. } => Code::RollbackOutsideFamily,
            DeployError::UntrustedRollbackTarget { .. } => Code::UntrustedRollbackTarget,
            DeployError::UntrustedEvent { .. } => Code::UntrustedEvent,
            DeployError::DeploymentInProgress { .. } => Code::DeploymentInProgress,
            DeployError::NoRollbackTarget { .. } => Code::NoRollbackTarget,
            DeployError::ImageNotFound { .. } => Code::ImageNotFound,
            DeployError::ImageNotPullable { .. } => Code::ImageNotPullable,
            DeployError::RepositoryNotFound { .. } => Code::RepositoryNotFound,
            DeployError::ClusterNotFound { .. } => Code::ClusterNotFound,
            DeployError::ClusterNotActive { .. } => Code::ClusterNotActive,
            DeployError::ServiceNotFound { .. } => Code::ServiceNotFound,
            DeployError::ServiceNotActive { .. } => Code::ServiceNotActive,
            DeployError::UnsupportedDeploymentController { .. } => Code::UnsupportedDeploymentController,
            DeployError::TaskDefinitionNotFound { .. } => Code::TaskDefinitionNotFound,
            DeployError::DeploymentGroupNotFound { .. } => Code::DeploymentGroupNotFound,
            DeployError::DeploymentConfigNotFound { .. } => Code::DeploymentConfigNotFound,
            DeployError::LoadBalancerRequired { .. } => Code::LoadBalancerRequired,
            DeployError::CodeDeployFailed { .. } => Code::CodeDeployFailed,
            DeployError::BakeTimeRequired { .. } => Code::BakeTimeRequired,
            DeployError::AdvancedConfigurationRequired { .. } => Code::AdvancedConfigurationRequired,
            DeployError::TrafficShiftOutOfRange { .. } => Code::TrafficShiftOutOfRange,
            DeployError::NoHookAwaitingAction { .. } => Code::NoHookAwaitingAction,
            DeployError::NoTargetContainer { .. } => Code::NoTargetContainer,
            DeployError::Preflight(all) => all.first().map_or(Code::PreflightFailed, DeployError::code),
            DeployError::Aws(e) => e.code(),
            DeployError::UpdateFailed { .. } => Code::UpdateServiceFailed,
            DeployError::TargetsFailed(_) => Code::TargetsFailed,
            DeployError::RolledBack(_) => Code::RolledBack,
            DeployError::DeploymentFailed(_) => Code::DeploymentFailed,
            DeployError::RollbackFailed { .. } => Code::RollbackFailed,
            DeployError::UnsupportedDeploymentStrategy { .. } => Code::UnsupportedDeploymentStrategy,
            DeployError::Config(_) => Code::NotConfigured,
            DeployError::Internal { .. } => Code::Internal,
        }
    }

    /// Machine-readable facts about the error.
    pub fn details(&self) -> Value {
        match self {
            DeployError::InvalidRequest { .. } => json!({}),
            DeployError::InvalidVersion { version, .. } => json!({ "version": version }),
            DeployError::NotAllowed { cluster, service, .. } => json!({ "cluster": cluster, "service": service }),
            DeployError::RollbackOutsideFamily { service, family, to } => {
                json!({ "service": service, "family": family, "to": to })
            }
            DeployError::UntrustedRollbackTarget { service, to, .. } => json!({ "service": service, "to": to }),
            DeployError::UntrustedEvent { .. } => json!({}),
            DeployError::DeploymentInProgress { service, holder, since } => {
                json!({ "service": service, "holder": holder, "since": since })
            }
            DeployError::NoRollbackTarget { service, .. } => json!({ "service": service }),
            DeployError::ImageNotFound { registry_id, region, repository, version } => {
                json!({ "registry_id": registry_id, "region": region, "repository": repository, "version": version })
            }
            DeployError::RepositoryNotFound { registry_id, region, repository } => {
                json!({ "registry_id": registry_id, "region": region, "repository": repository })
            }
            DeployError::ImageNotPullable { registry_id, region, repository, version, status } => json!({
                "registry_id": registry_id, "region": region, "repository": repository, "version": version,
                "image_status": status,
            }),
            DeployError::ClusterNotFound { cluster } => json!({ "cluster": cluster }),
            DeployError::ClusterNotActive { cluster, status } => json!({ "cluster": cluster, "status": status }),
            DeployError::ServiceNotFound { cluster, service } => json!({ "cluster": cluster, "service": service }),
            DeployError::ServiceNotActive { cluster, service, status } => {
                json!({ "cluster": cluster, "service": service, "status": status })
            }
            DeployError::UnsupportedDeploymentController { service, controller, .. } => {
                json!({ "service": service, "deployment_controller": controller })
            }
            DeployError::UnsupportedDeploymentStrategy { service, strategy } => {
                json!({ "service": service, "strategy": strategy })
            }
            DeployError::Config(e) => json!({ "variable": e.variable }),
            DeployError::Internal { .. } => json!({}),
            DeployError::TaskDefinitionNotFound { task_definition } => json!({ "task_definition": task_definition }),
            DeployError::DeploymentGroupNotFound { cluster, service, tried } => {
                json!({ "cluster": cluster, "service": service, "tried": tried })
            }
            DeployError::DeploymentConfigNotFound { config } => json!({ "deployment_config": config }),
            DeployError::LoadBalancerRequired { service } => json!({ "service": service }),
            DeployError::CodeDeployFailed { task_definition, cleanup, source } => json!({
                "task_definition": task_definition, "cleanup": cleanup.code(), "operation": source.operation,
                "aws_code": source.aws_code,
            }),
            DeployError::BakeTimeRequired { service } => json!({ "service": service, "strategy": "BLUE_GREEN" }),
            DeployError::AdvancedConfigurationRequired { service, strategy, target_group, missing } => json!({
                "service": service, "strategy": strategy, "target_group": target_group, "missing": missing,
            }),
            DeployError::TrafficShiftOutOfRange { service, strategy, setting, value, range } => json!({
                "service": service, "strategy": strategy, "setting": setting, "value": value, "range": range,
            }),
            DeployError::NoHookAwaitingAction { service, service_deployment } => {
                json!({ "service": service, "service_deployment": service_deployment })
            }
            DeployError::NoTargetContainer { task_definition, containers, .. } => {
                json!({ "task_definition": task_definition, "containers": containers })
            }
            DeployError::Preflight(all) => json!({
                "failures": all.iter().map(|e| json!({
                    "code": e.code().as_str(), "message": e.to_string(), "details": e.details(),
                })).collect::<Vec<_>>()
            }),
            DeployError::Aws(e) => e.details(),
            DeployError::TargetsFailed(result) => serde_json::to_value(result).unwrap_or_default(),
            DeployError::RolledBack(result) | DeployError::DeploymentFailed(result) => {
                serde_json::to_value(result).unwrap_or_default()
            }
            DeployError::RollbackFailed { task_definition, to, source } => json!({
                "task_definition": task_definition,
                "rollback_to": to,
                "cause": source.details(),
            }),
            DeployError::UpdateFailed { task_definition, cleanup, source } => json!({
                "task_definition": task_definition,
                "cleanup": cleanup.code(),
                "cause": source.details(),
            }),
        }
    }

    /// `{"error": {"code", "message", "details"}}`
    pub fn to_body(&self) -> Value {
        json!({ "error": { "code": self.code().as_str(), "message": self.to_string(), "details": self.details() } })
    }

    /// Errors that the caller caused, as opposed to AWS or the function failing: the contract's table says
    /// which (the HTTP front door answers them 4xx).
    pub fn is_caller_error(&self) -> bool {
        self.code().is_caller_fault()
    }
}

/// A function error: `errorType` is the stable code, `errorMessage` the JSON error body
/// `{"error": {"code", "message", "details"}}`.
impl From<DeployError> for Diagnostic {
    fn from(err: DeployError) -> Diagnostic {
        Diagnostic { error_type: err.code().as_str().to_owned(), error_message: err.to_body().to_string() }
    }
}

#[cfg(test)]
mod tests {
    use contract::AwsErrorKind;

    use super::*;

    #[test]
    fn preflight_reports_every_failure_and_takes_the_first_code() {
        let err = DeployError::Preflight(vec![
            DeployError::ClusterNotFound { cluster: "c".into() },
            DeployError::ImageNotFound {
                registry_id: Some("111122223333".into()),
                region: "eu-west-1".into(),
                repository: "app".into(),
                version: "v9".into(),
            },
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

    /// Case 9 of issue 11: web:3's rollout failed and the service went back to web:2. After the rollback
    /// the result's `task_definition` and `previous_task_definition` are both web:2; the message must still
    /// name web:3 as the one that failed.
    #[test]
    fn a_rolled_back_rollout_names_the_failed_revision_and_the_target() {
        use contract::result::{
            FailureReport, RollbackReport, RolledBackBy, RolloutReport, RolloutState, Status, Timings,
        };
        let result = DeployResult {
            status: Status::RolledBack,
            cluster: "prod".into(),
            service: "web".into(),
            version: "v3".into(),
            image: "r/web:v3".into(),
            base_task_definition: "web:2".into(),
            previous_task_definition: "web:2".into(),
            task_definition: Some("web:2".into()),
            deployment_id: Some("ecs-svc/9".into()),
            containers_updated: Vec::new(),
            changed_fields: Vec::new(),
            forced_new_deployment: false,
            tags_left_out: Vec::new(),
            timings_ms: Timings::default(),
            service_deployment: None,
            codedeploy: None,
            cleanup: None,
            rollout: Some(RolloutReport {
                failure: Some(FailureReport { reason: "3 tasks failed".into(), ..FailureReport::default() }),
                rollback: Some(RollbackReport {
                    from: "web:3".into(),
                    to: "web:2".into(),
                    by: RolledBackBy::EcsDeployer,
                    state: RolloutState::Completed,
                    deregistered: Some("web:3".into()),
                }),
                ..RolloutReport::new(RolloutState::Failed)
            }),
        };
        let err = DeployError::RolledBack(Box::new(result));
        assert_eq!(
            err.to_string(),
            "the rollout of web:3 failed (3 tasks failed) and the service was rolled back to web:2"
        );
        assert_eq!(err.to_body()["error"]["details"]["rollout"]["rollback"]["from"], "web:3");
    }

    #[test]
    fn image_errors_name_the_registry_region_and_repository_checked() {
        let err = DeployError::ImageNotFound {
            registry_id: Some("123456789012".into()),
            region: "us-west-2".into(),
            repository: "web".into(),
            version: "v1".into(),
        };
        assert_eq!(err.to_string(), "image v1 not found in ECR repository web (registry 123456789012 in us-west-2)");
        let err =
            DeployError::RepositoryNotFound { registry_id: None, region: "us-east-1".into(), repository: "web".into() };
        assert_eq!(err.to_string(), "ECR repository web not found (this account's registry in us-east-1)");
        let err = DeployError::ImageNotPullable {
            registry_id: "123456789012".into(),
            region: "us-east-1".into(),
            repository: "web".into(),
            version: "v1".into(),
            status: "ARCHIVED".into(),
        };
        assert_eq!((err.code().as_str(), err.code().http_status()), ("ImageNotPullable", 409));
        assert!(err.to_string().contains("is ARCHIVED: ECS cannot pull it"), "{err}");
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
