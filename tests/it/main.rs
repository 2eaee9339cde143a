//! The integration tests, one binary: each module is one subject (`cargo test -p deployer-tests --test it
//! native::` runs one). Every module starts its own local AWS (tests/localaws) per test.

mod cleanup;
mod codedeploy;
mod codepipeline;
mod front;
mod hook;
mod lambda;
mod moto;
mod native;
mod release;
mod revisions;
mod rollouts;
