//! A rollout as data: its [`state::RolloutState`], the one pure [`decide::decide`] that judges it, and the
//! drive that reads, decides and acts until a verdict or a deadline.

pub mod decide;
pub mod drive;
pub mod state;

pub use decide::{decide, Act, Next, Reading, POLL_INTERVAL};
pub use drive::{drive, Observer};
pub use state::{Phase, Policy, RolloutState, StateError, StrategyName, STATE_VERSION};
