//! The lifecycle hook: checks the green revision before traffic moves, for CodeDeploy AppSpec hooks and
//! ECS service lifecycle hooks alike.
//!
//! ```text
//! event.rs    the two payloads told apart; the ECS event and answer; rollback re-invocations
//! config.rs   HOOK_* variables read once; what hookDetails.check may change (plan)
//! check.rs    pure: judge one HTTP answer, the alarms, a set of outcomes
//! hook.rs     the handler: CodeDeploy runs every round and reports once; ECS one round per invocation;
//!             each verdict published on HOOK_SNS_TOPIC_ARN
//! ports.rs    the seams: Probe (HTTP), Aws (DescribeAlarms, PutLifecycleEventHookExecutionStatus, Publish)
//! http.rs     HyperProbe: the HTTP client of the checks
//! sdk.rs      SdkAws: the AWS SDK behind Aws
//! error.rs    HookError: stable codes from contract::codes
//! ```

pub mod check;
pub mod config;
pub mod error;
pub mod event;
pub mod hook;
pub mod http;
pub mod ports;
pub mod sdk;

#[cfg(test)]
mod tests;
