//! The strategy's own view of a rollout in a result: an ECS-native service deployment with its lifecycle
//! hooks, or a CodeDeploy deployment with its lifecycle events.

use serde::{Deserialize, Serialize};

/// One lifecycle hook of a service deployment as ECS reports it (`lifecycleHookDetails`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookReport {
    /// The id that `continue` and `reject` answer (ContinueServiceDeployment's `hookId`).
    pub hook_id: String,
    /// `AWS_LAMBDA` or `PAUSE`.
    pub target_type: Option<String>,
    /// The Lambda function ARN of an `AWS_LAMBDA` hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `AWAITING_ACTION`, `IN_PROGRESS`, `SUCCEEDED`, `FAILED` or `TIMED_OUT`.
    pub status: Option<String>,
    /// When a hook awaiting action takes its `timeout_action`, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// `ROLLBACK` or `CONTINUE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_action: Option<String>,
}

/// An ECS-native service deployment (BLUE_GREEN, LINEAR, CANARY) as DescribeServiceDeployments reports it.
/// Traffic weights are percentages of the new (green) service revision, 0.0–100.0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ServiceDeploymentReport {
    /// `arn:aws:ecs:…:service-deployment/<cluster>/<service>/<id>`.
    pub arn: String,
    /// `BLUE_GREEN`, `LINEAR` or `CANARY`.
    pub strategy: String,
    /// `PENDING`, `IN_PROGRESS`, `SUCCESSFUL`, `STOPPED`, `STOP_REQUESTED`, `ROLLBACK_REQUESTED`,
    /// `ROLLBACK_IN_PROGRESS`, `ROLLBACK_SUCCESSFUL` or `ROLLBACK_FAILED`.
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// `PRE_SCALE_UP`, `SCALE_UP`, …, `PRODUCTION_TRAFFIC_SHIFT`, `BAKE_TIME`, `CLEAN_UP`.
    pub lifecycle_stage: Option<String>,
    /// The production traffic the new revision was last given, percent.
    pub production_traffic_percent: Option<f64>,
    /// The test traffic the new revision was last given, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_traffic_percent: Option<f64>,
    /// Each production weight the new revision was seen at while followed, in order (canary: 0, 10, 100).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic_steps: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookReport>,
    /// The hook (its target, or its id for a PAUSE hook) whose failure, time-out or rejection rolled back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_hook: Option<String>,
    /// ECS's `rollback.reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_reason: Option<String>,
}

impl Eq for ServiceDeploymentReport {}

impl ServiceDeploymentReport {
    /// No service deployment: its ARN is empty.
    pub fn is_empty(&self) -> bool {
        self.arn.is_empty()
    }
}

/// One lifecycle event of a CodeDeploy ECS deployment target (GetDeploymentTarget `ecsTarget.lifecycleEvents`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleEventReport {
    /// `BeforeInstall`, `Install`, `AfterInstall`, `AllowTestTraffic`, `AfterAllowTestTraffic`,
    /// `BeforeAllowTraffic`, `AllowTraffic`, `AfterAllowTraffic`.
    pub name: String,
    /// `Pending`, `InProgress`, `Succeeded`, `Failed`, `Skipped` or `Unknown`.
    pub status: Option<String>,
}

/// A CodeDeploy blue/green deployment of a CODE_DEPLOY service, as GetDeployment and GetDeploymentTarget
/// report it. Traffic is the percentage of production traffic on the replacement (green) task set, 0.0–100.0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CodeDeployReport {
    /// CodeDeploy's deployment id (`d-XXXXXXXXX`).
    pub deployment_id: String,
    pub application: String,
    pub deployment_group: String,
    /// The deployment configuration (`CodeDeployDefault.ECSAllAtOnce`, …, or a custom one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_config: Option<String>,
    /// `Created`, `Queued`, `InProgress`, `Baking`, `Ready`, `Succeeded`, `Failed` or `Stopped`.
    pub status: Option<String>,
    /// The lifecycle event in progress, else the last one that ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_event: Option<String>,
    /// The production traffic on the replacement task set when last read, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_percent: Option<f64>,
    /// Each traffic percentage seen while followed, in order (canary: 10, 100).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traffic_steps: Vec<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle_events: Vec<LifecycleEventReport>,
    /// CodeDeploy's `errorInformation.code` (`HOOK_EXECUTION_FAILURE`, `MANUAL_STOP`, `ALARM_ACTIVE`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// The lifecycle event whose hook failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_hook: Option<String>,
    /// The deployment CodeDeploy's auto-rollback created (`rollbackInfo.rollbackDeploymentId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_deployment_id: Option<String>,
    /// That rollback deployment's status, read even when it had already finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_status: Option<String>,
}

impl Eq for CodeDeployReport {}
