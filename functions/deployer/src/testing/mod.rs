//! Test scaffolding in one place (tests, and the `test-util` feature for the `tests/` crate): an in-process
//! ECS, ECR, lock and clock ([`fake::FakeAws`]), fixtures shaped like real DescribeTaskDefinition answers,
//! and the scenario tests of the pipeline that run on them.

pub mod fake;
pub mod fake_codedeploy;
pub mod fixtures;

pub use fake::{
    defaults, deployer_on, rounds, standard_deployer, FakeAws, FakeDeployer, NativeStep, Recorder, Rollout,
};
pub use fake_codedeploy::{CdDeployment, CdStep};
pub use fixtures::*;

#[cfg(test)]
mod codedeploy_tests;
#[cfg(test)]
mod deploy_tests;
#[cfg(test)]
mod native_tests;
#[cfg(test)]
mod revision_tests;
#[cfg(test)]
mod rollout_tests;
#[cfg(test)]
mod trust_tests;
