//! The network-facing front door of ecs-deployer: HTTP (API Gateway REST and HTTP APIs, ALB, Function URLs)
//! and Slack. It authenticates callers, routes their requests and invokes the deployer function through the
//! Lambda Invoke API; it holds no ECS power itself. `main.rs` wires this library to the Lambda runtime.
//!
//! ```text
//! event.rs         the Lambda event told apart (HTTP, continuation, other), HTTP events pre-checked and
//!                  converted, answers shaped for their integration (pure)
//! route.rs         request shape → Command, bodies typed as the contract's DeployRequest (pure)
//! check.rs         the request checked in full: version, names, ARNs of this account, allow-list (pure)
//! auth.rs          IAM from the request context, bearer tokens, Slack signatures, Slack allow-lists
//! slack.rs         the slash command: parsing, jobs, acknowledgements and Block Kit outcomes (pure)
//! continuation.rs  the signed self-invoke that finishes a Slack command after its 3 s acknowledgement
//! replay.rs        the ReplayGuard seam: each Slack request remembered for its window (DynamoDB)
//! aws.rs           the Lambda Invoke seam; the deployer's answer, read as the contract's
//!                  (secrets, SDK configuration, Slack POSTs and the error-code table: crate `contract`)
//! app.rs           the handler: HTTP requests and continuations
//! config.rs        the environment, read once at cold start
//! error.rs         FrontError: one stable code (the contract's) and HTTP status per failure
//! ```

pub mod app;
pub mod auth;
pub mod aws;
pub mod check;
pub mod config;
pub mod continuation;
pub mod error;
pub mod event;
pub mod replay;
pub mod route;
pub mod slack;
