//! The network-facing front door of ecs-deployer: HTTP (API Gateway REST and HTTP APIs, ALB, Function URLs)
//! and Slack. It authenticates callers, routes their requests and invokes the deployer function through the
//! Lambda Invoke API; it holds no ECS power itself. `main.rs` wires this library to the Lambda runtime.
//!
//! ```text
//! route.rs         request shape → Command (pure)
//! auth.rs          IAM from the request context, bearer tokens, Slack signatures, Slack allow-lists
//! slack.rs         the slash command: parsing, jobs, acknowledgements and Block Kit outcomes (pure)
//! continuation.rs  the signed self-invoke that finishes a Slack command after its 3 s acknowledgement
//! aws.rs           the seams: Lambda Invoke, Secrets Manager (read once per instance)
//! app.rs           the handler: HTTP requests and continuations
//! config.rs        the environment, read once at cold start
//! error.rs         FrontError: one stable code and HTTP status per failure
//! ```

pub mod app;
pub mod auth;
pub mod aws;
pub mod config;
pub mod continuation;
pub mod error;
pub mod route;
pub mod slack;
