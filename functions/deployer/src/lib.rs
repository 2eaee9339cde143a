//! ecs-deployer: ships an image version to an ECS service. `main.rs` wires this library to the Lambda
//! runtime; everything that decides lives here.

pub mod actions;
pub mod aws;
pub mod engine;
pub mod error;
pub mod events;
pub mod follow;
pub mod handler;
pub mod image;
pub mod inbound;
pub mod notify;
pub mod plan;
pub mod request;
pub mod rollout;
pub mod sdk;
pub mod version;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod scenarios;
#[cfg(test)]
mod testing;
