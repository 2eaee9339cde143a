//! The contract between ecs-deployer's functions: what the front door sends the deployer and what it gets
//! back, typed once and (de)serialised by both sides, plus the few helpers both need.
//!
//! ```text
//! request.rs    DeployRequest, Action, Base, TargetSpec: the wire request (unknown fields refused)
//! result.rs     DeployResult, RollbackResult, ServiceStatus, FanOutResult and their parts: the wire result
//! codes.rs      Code: every stable error code, its HTTP status, and whether the caller caused it
//! names.rs      Version, ClusterName, ServiceName, RepositoryName, Region, TaskDefinitionRef: parsed inputs;
//!               Arn, EcsArn, Home (the function's partition, region, account), AllowedTarget
//! identity.rs   the front door's ARN checks: a name or an ARN resolved to one resource of this account and region
//! aws_error.rs  AwsError and the SDK error classifier; the SDK configuration both functions load
//! secrets.rs    SecretStore (Secrets Manager) and CachedSecret: a secret read once per instance
//! env.rs        Env: typed reads of the environment, ConfigError
//! logging.rs    the log subscriber of both functions: no dependency logs at TRACE, whatever the level
//! text.rs       resource_name, console_url, Slack mrkdwn escaping, durations
//! http.rs       post_json: the one small HTTPS client (webhooks, Slack's response_url)
//! ```

pub mod aws_error;
pub mod codes;
pub mod env;
pub mod http;
pub mod identity;
pub mod logging;
pub mod names;
pub mod request;
pub mod result;
pub mod secrets;
pub mod text;

pub use aws_error::{AwsError, AwsErrorKind};
pub use codes::Code;

#[cfg(any(test, feature = "test-util"))]
pub mod testing;
