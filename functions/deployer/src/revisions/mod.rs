//! Around task-definition revisions: who deployed what ([`history`]), which revisions can go
//! ([`cleanup`]), deploying one that exists ([`redeploy`]) and what a deploy would change ([`diff`]).

pub mod cleanup;
pub mod diff;
pub mod history;
pub mod redeploy;
