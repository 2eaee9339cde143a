//! The one loop that takes a rollout to its verdict: read it with its strategy, [`decide`], then act or wait,
//! until the verdict or a deadline. A followed deploy drives until its answer time; a CodePipeline
//! continuation, an EventBridge event and `status` drive with a deadline of now (read once, act once), each
//! keeping the [`RolloutState`] where its platform keeps state.

use std::future::Future;
use std::time::Duration;

use super::decide::{decide, Act, Next, Reading};
use super::state::RolloutState;
use crate::error::DeployError;
use crate::ports::Clock;

/// What a drive needs of a strategy for one rollout: one read of it, and the way back.
pub trait Observer: Sync {
    /// The strategy's own view of the last read (the service, its service deployment, the CodeDeploy
    /// deployment), which the face turns into its answer.
    type Seen: Send + Default;

    /// Reads the rollout once (the new revision's in [`super::Phase::RollingOut`], the rollback's in the
    /// rollback phases); what it identifies on the way (a service deployment, the traffic steps) it records in
    /// `state`. A failed read is [`Reading::Unknown`], not an error: the next read may work. Errors: the
    /// rollout cannot be read any more (the service is gone).
    fn observe(
        &self,
        state: &mut RolloutState,
    ) -> impl Future<Output = Result<(Reading, Self::Seen), DeployError>> + Send;

    /// Puts the service back on `to` (`family:revision`) and records the rollback's own rollout in `state`;
    /// answers the rollback's first reading when the way back already read it. An error says whether the
    /// service was moved.
    fn roll_back(
        &self,
        state: &mut RolloutState,
        to: &str,
    ) -> impl Future<Output = Result<Option<Reading>, DeployError>> + Send;
}

/// Up to a second more between reads, so that many deployers polling one account do not move in lockstep.
pub fn jitter(clock: &dyn Clock) -> Duration {
    Duration::from_millis(clock.unix_millis() % 1000)
}

/// Reads, decides and acts until `state` has its verdict or the next read would come after `until` (on
/// `clock`); answers the last reading and what that read saw. `state.phase` says which of the two it was.
/// Errors: a read the strategy cannot go on from (the service is gone), or a failed rollback.
pub async fn drive<O: Observer>(
    observer: &O,
    clock: &dyn Clock,
    state: &mut RolloutState,
    until: Duration,
) -> Result<(Reading, O::Seen), DeployError> {
    let mut seen = O::Seen::default();
    let mut pending: Option<Reading> = None;
    loop {
        let reading = match pending.take() {
            Some(reading) => reading,
            None => {
                // Boxed: a strategy's read nests deep futures, and the drive's own must stay small enough to poll on a
                // thread's stack in a debug build.
                let (reading, now_seen) = Box::pin(observer.observe(state)).await?;
                seen = now_seen;
                reading
            }
        };
        let (phase, next) = decide(state, &reading, clock.unix_millis());
        if phase != state.phase {
            tracing::info!(from = ?state.phase, to = ?phase, ?reading, "rollout decided");
        }
        state.phase = phase;
        match next {
            Next::Done => return Ok((reading, seen)),
            Next::Act(Act::RollBack { to }) => pending = Box::pin(observer.roll_back(state, &to)).await?,
            Next::Wait(interval) => {
                let pause = interval + jitter(clock);
                if clock.now() + pause > until {
                    return Ok((reading, seen));
                }
                clock.sleep(pause).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use contract::result::{RolledBackBy, Status};
    use futures_util::future::BoxFuture;
    use futures_util::FutureExt;

    use super::*;
    use crate::rollout::state::tests::rolling;
    use crate::rollout::state::Phase;

    /// A clock that moves only when slept on.
    #[derive(Default)]
    struct Virtual(Mutex<Duration>);

    impl Clock for Virtual {
        fn now(&self) -> Duration {
            *self.0.lock().unwrap()
        }
        fn sleep(&self, d: Duration) -> BoxFuture<'_, ()> {
            *self.0.lock().unwrap() += d;
            futures_util::future::ready(()).boxed()
        }
        fn unix_millis(&self) -> u64 {
            5_000_000 + self.now().as_millis() as u64
        }
    }

    /// Answers the scripted readings in order (the last one again when they run out) and logs every call.
    struct Scripted {
        readings: Mutex<Vec<Reading>>,
        calls: Mutex<Vec<String>>,
    }

    impl Scripted {
        fn new(mut readings: Vec<Reading>) -> Scripted {
            readings.reverse();
            Scripted { readings: Mutex::new(readings), calls: Mutex::default() }
        }
        fn calls(&self) -> Vec<String> {
            self.calls.lock().unwrap().clone()
        }
    }

    impl Observer for Scripted {
        type Seen = usize;
        async fn observe(&self, state: &mut RolloutState) -> Result<(Reading, usize), DeployError> {
            let mut readings = self.readings.lock().unwrap();
            let reading = if readings.len() > 1 { readings.pop().unwrap() } else { readings[0].clone() };
            let mut calls = self.calls.lock().unwrap();
            calls.push(format!("observe {:?}", std::mem::discriminant(&state.phase)));
            Ok((reading, calls.len()))
        }
        async fn roll_back(&self, state: &mut RolloutState, to: &str) -> Result<Option<Reading>, DeployError> {
            if let crate::rollout::Phase::RollingBack { id, .. } = &mut state.phase {
                *id = Some("ecs-svc/rollback".into());
            }
            self.calls.lock().unwrap().push(format!("roll back to {to}"));
            Ok(None)
        }
    }

    fn moving() -> Reading {
        Reading::Moving { stage: None, traffic: None }
    }

    #[tokio::test]
    async fn a_rollout_is_read_every_few_seconds_until_it_completes() {
        let (clock, observer) = (Virtual::default(), Scripted::new(vec![moving(), moving(), Reading::Completed]));
        let mut state = rolling();
        let (reading, seen) = drive(&observer, &clock, &mut state, Duration::from_secs(60)).await.unwrap();
        assert_eq!((reading, seen), (Reading::Completed, 3), "the third read saw it complete");
        assert_eq!(state.phase, Phase::Done { status: Status::Completed, rolled_back_by: None, reason: None });
        let waited = clock.now();
        assert!(waited >= Duration::from_secs(10) && waited < Duration::from_secs(12), "{waited:?}");
    }

    #[tokio::test]
    async fn a_failure_is_rolled_back_once_and_the_rollback_followed() {
        // The rollback's id, recorded by the observer, is what the next reads look at.
        let failed = Reading::Failed {
            reason: "3 tasks failed".into(),
            rolled_back_by: None,
            rollback_ended: true,
            rollback_id: None,
        };
        let script = vec![moving(), failed, moving(), Reading::Completed];
        let (clock, observer) = (Virtual::default(), Scripted::new(script));
        let mut state = rolling();
        drive(&observer, &clock, &mut state, Duration::from_secs(60)).await.unwrap();
        let calls = observer.calls();
        assert_eq!(calls.iter().filter(|c| c.starts_with("roll back")).collect::<Vec<_>>(), ["roll back to web:7"]);
        assert_eq!(calls.len(), 5, "two reads, the rollback, two reads of it: {calls:?}");
        assert_eq!(
            state.phase,
            Phase::Done {
                status: Status::RolledBack,
                rolled_back_by: Some(RolledBackBy::EcsDeployer),
                reason: Some("3 tasks failed".into())
            }
        );
    }

    /// A deadline of now reads once and acts once: what a CodePipeline continuation, an event or `status` does.
    #[tokio::test]
    async fn a_deadline_ends_the_drive_with_the_state_to_resume_from() {
        let (clock, observer) = (Virtual::default(), Scripted::new(vec![moving()]));
        let mut state = rolling();
        drive(&observer, &clock, &mut state, clock.now()).await.unwrap();
        assert_eq!((observer.calls().len(), clock.now()), (1, Duration::ZERO));
        assert_eq!(state.phase, Phase::RollingOut);
        let resumed = RolloutState::from_json(&state.to_json()).unwrap();
        let (clock, observer) = (Virtual::default(), Scripted::new(vec![Reading::Completed]));
        let mut state = resumed;
        drive(&observer, &clock, &mut state, clock.now()).await.unwrap();
        assert!(matches!(state.phase, Phase::Done { status: Status::Completed, .. }));
    }
}
