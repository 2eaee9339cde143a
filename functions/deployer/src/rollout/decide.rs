//! Pure: what to do next with a rollout, given its [`RolloutState`] and one [`Reading`] of it. The one place
//! where a rollout's verdict is made: a followed deploy, a CodePipeline continuation, an EventBridge event and
//! `status` all call it through [`super::drive`], so they agree.

use std::time::Duration;

use contract::result::{RolledBackBy, Status};

use super::state::{Phase, RolloutState};

/// How often a rollout is read: ECS's DescribeServices allows 20/s per account, shared with every other
/// caller, and a rollout moves in tens of seconds. [`super::drive`] adds up to a second of jitter.
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// One reading of a rollout in terms every strategy gives: what its reader made of one DescribeServices,
/// DescribeServiceDeployments or GetDeployment answer. In [`Phase::RollingOut`] it is the new revision's
/// rollout; in the rollback phases, the rollback's.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// Nothing to judge: the rollout's deployment is not known yet, or reading it failed. Never a verdict.
    Unknown {
        why: String,
    },
    /// Under way: the lifecycle stage (native, CodeDeploy) and production traffic on the new revision, percent.
    Moving {
        stage: Option<String>,
        traffic: Option<f64>,
    },
    Completed,
    /// It failed. `rolled_back_by`: ECS or CodeDeploy rolls it back by itself (the circuit breaker, deployment
    /// alarms, a lifecycle hook, CodeDeploy's auto-rollback); `None`: nobody does unless the deployer does.
    /// `rollback_ended`: that rollback has ended, or the strategy does not follow it (then it is reported as far
    /// as it got); `rollback_id`: the rollback's own rollout, where the strategy follows it (CodeDeploy's
    /// rollback deployment).
    Failed {
        reason: String,
        rolled_back_by: Option<RolledBackBy>,
        rollback_ended: bool,
        rollback_id: Option<String>,
    },
    /// Another deployment took over and runs `task_definition` (`family:revision`). `ecs_rollback`: it is
    /// ECS's own rollback, finished between two reads (the failed deployment is gone, the service is back on
    /// the revision before, and the service enables such a rollback).
    Replaced {
        by: String,
        task_definition: String,
        ecs_rollback: Option<RolledBackBy>,
    },
}

/// What the drive does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Read again after this long.
    Wait(Duration),
    /// Do this, then read again.
    Act(Act),
    /// The verdict is in the state's [`Phase::Done`].
    Done,
}

/// A change the drive makes on the decision's behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Put the service back on `to` (`family:revision`) with the rollout's strategy.
    RollBack { to: String },
}

/// Pure: the phase `state` moves to after `reading`, taken at `now` (unix ms), and what to do next.
pub fn decide(state: &RolloutState, reading: &Reading, now: u64) -> (Phase, Next) {
    let wait = (state.phase.clone(), Next::Wait(POLL_INTERVAL));
    let done = |status: Status, rolled_back_by: Option<RolledBackBy>, reason: Option<String>| {
        (Phase::Done { status, rolled_back_by, reason }, Next::Done)
    };
    match (&state.phase, reading) {
        (Phase::Done { .. }, _) => (state.phase.clone(), Next::Done),
        (Phase::RollingOut, Reading::Unknown { .. } | Reading::Moving { .. }) => match state.policy.give_up_at {
            Some(limit) if now >= limit => done(
                Status::Failed,
                None,
                Some(format!(
                    "the rollout of {} was still under way after {}: given up (nothing was rolled back)",
                    state.task_definition,
                    minutes(limit.saturating_sub(state.started_at))
                )),
            ),
            _ => wait,
        },
        (Phase::RollingOut, Reading::Completed) => done(Status::Completed, None, None),
        // ECS's and CodeDeploy's own rollbacks are never repeated: watched to their end where the strategy follows
        // them, else reported as far as they got.
        (Phase::RollingOut, Reading::Failed { reason, rolled_back_by: Some(by), rollback_ended: true, .. }) => {
            done(Status::RolledBack, Some(*by), Some(reason.clone()))
        }
        (
            Phase::RollingOut,
            Reading::Failed { reason, rolled_back_by: Some(by), rollback_ended: false, rollback_id },
        ) => (
            Phase::ServiceRollingBack { by: *by, reason: reason.clone(), id: rollback_id.clone() },
            Next::Wait(POLL_INTERVAL),
        ),
        (Phase::RollingOut, Reading::Failed { reason, rolled_back_by: None, .. }) => {
            match (&state.previous, state.policy.rollback) {
                (Some(previous), true) => (
                    Phase::RollingBack { to: previous.clone(), reason: reason.clone(), id: None },
                    Next::Act(Act::RollBack { to: previous.clone() }),
                ),
                (None, true) => done(
                    Status::Failed,
                    None,
                    Some(format!("{reason}; no revision to go back to is known, so nothing was rolled back")),
                ),
                (_, false) => done(Status::Failed, None, Some(reason.clone())),
            }
        }
        (Phase::RollingOut, Reading::Replaced { by, task_definition, ecs_rollback })
            if ecs_rollback.is_some() && state.previous.as_deref() == Some(task_definition.as_str()) =>
        {
            done(
                Status::RolledBack,
                *ecs_rollback,
                Some(format!(
                    "ECS rolled the rollout back to {task_definition} by itself (deployment {by}) before its failure \
                     could be read"
                )),
            )
        }
        (Phase::RollingOut, Reading::Replaced { by, task_definition, .. }) => done(
            Status::Failed,
            None,
            Some(format!("deployment {by} of {task_definition} replaced it: someone else deployed")),
        ),
        // Watching a rollback, the service's own or the deployer's: it ends rolled back whatever the rollback's own
        // rollout does; that rollout's state goes into the report.
        (Phase::ServiceRollingBack { by, reason, .. }, Reading::Completed | Reading::Failed { .. }) => {
            done(Status::RolledBack, Some(*by), Some(reason.clone()))
        }
        (Phase::RollingBack { reason, .. }, Reading::Completed | Reading::Failed { .. }) => {
            done(Status::RolledBack, Some(RolledBackBy::EcsDeployer), Some(reason.clone()))
        }
        (
            Phase::ServiceRollingBack { .. } | Phase::RollingBack { .. },
            Reading::Unknown { .. } | Reading::Moving { .. },
        ) => wait,
        (
            Phase::ServiceRollingBack { reason, .. } | Phase::RollingBack { reason, .. },
            Reading::Replaced { by, task_definition, .. },
        ) => done(
            Status::Failed,
            None,
            Some(format!("{reason}; then deployment {by} of {task_definition} replaced the rollback")),
        ),
    }
}

fn minutes(ms: u64) -> String {
    match ms / 60_000 {
        m if m >= 120 => format!("{} h", m / 60),
        m => format!("{m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::state::tests::rolling;
    use crate::rollout::state::StrategyName;

    fn failed(by: Option<RolledBackBy>) -> Reading {
        Reading::Failed { reason: "it broke".into(), rolled_back_by: by, rollback_ended: true, rollback_id: None }
    }

    fn failed_rolling_back(by: RolledBackBy) -> Reading {
        Reading::Failed {
            reason: "it broke".into(),
            rolled_back_by: Some(by),
            rollback_ended: false,
            rollback_id: Some("d-ROLLBACK".into()),
        }
    }

    fn moving() -> Reading {
        Reading::Moving { stage: Some("BAKE_TIME".into()), traffic: Some(100.0) }
    }

    fn replaced(td: &str, ecs: Option<RolledBackBy>) -> Reading {
        Reading::Replaced { by: "ecs-svc/9".into(), task_definition: td.into(), ecs_rollback: ecs }
    }

    fn finished(status: Status, by: Option<RolledBackBy>) -> Phase {
        Phase::Done { status, rolled_back_by: by, reason: None }
    }

    /// The phase's kind and the verdict's status and author, without the reasons' wording.
    fn shape(phase: &Phase) -> String {
        match phase {
            Phase::RollingOut => "rolling_out".into(),
            Phase::ServiceRollingBack { by, id, .. } => format!("service_rolling_back({by:?}, {id:?})"),
            Phase::RollingBack { to, .. } => format!("rolling_back({to})"),
            Phase::Done { status, rolled_back_by, .. } => format!("done({}, {rolled_back_by:?})", status.as_str()),
        }
    }

    /// Every phase × every reading, for each strategy and both rollback policies: the strategy never changes
    /// the decision (its reader turned ECS's or CodeDeploy's words into the reading).
    #[test]
    fn every_phase_and_reading() {
        use RolledBackBy::{Codedeploy, EcsAlarms, EcsCircuitBreaker, EcsDeployer, EcsLifecycleHook};
        let rolling_back = Phase::RollingBack { to: "web:7".into(), reason: "it broke".into(), id: None };
        let by_service = Phase::ServiceRollingBack { by: Codedeploy, reason: "it broke".into(), id: None };
        // (phase, reading, rollback policy, expected phase, expected next)
        let cases: Vec<(Phase, Reading, bool, &str, Next)> = vec![
            (
                Phase::RollingOut,
                Reading::Unknown { why: "not listed yet".into() },
                true,
                "rolling_out",
                Next::Wait(POLL_INTERVAL),
            ),
            (Phase::RollingOut, moving(), true, "rolling_out", Next::Wait(POLL_INTERVAL)),
            (Phase::RollingOut, Reading::Completed, true, "done(completed, None)", Next::Done),
            (
                Phase::RollingOut,
                failed(None),
                true,
                "rolling_back(web:7)",
                Next::Act(Act::RollBack { to: "web:7".into() }),
            ),
            (Phase::RollingOut, failed(None), false, "done(failed, None)", Next::Done),
            (
                Phase::RollingOut,
                failed(Some(EcsCircuitBreaker)),
                true,
                "done(rolled_back, Some(EcsCircuitBreaker))",
                Next::Done,
            ),
            (Phase::RollingOut, failed(Some(EcsAlarms)), false, "done(rolled_back, Some(EcsAlarms))", Next::Done),
            (
                Phase::RollingOut,
                failed(Some(EcsLifecycleHook)),
                true,
                "done(rolled_back, Some(EcsLifecycleHook))",
                Next::Done,
            ),
            (Phase::RollingOut, failed(Some(Codedeploy)), true, "done(rolled_back, Some(Codedeploy))", Next::Done),
            (
                Phase::RollingOut,
                failed_rolling_back(Codedeploy),
                true,
                "service_rolling_back(Codedeploy, Some(\"d-ROLLBACK\"))",
                Next::Wait(POLL_INTERVAL),
            ),
            (by_service.clone(), moving(), true, "service_rolling_back(Codedeploy, None)", Next::Wait(POLL_INTERVAL)),
            (by_service.clone(), Reading::Completed, true, "done(rolled_back, Some(Codedeploy))", Next::Done),
            (by_service.clone(), failed(None), false, "done(rolled_back, Some(Codedeploy))", Next::Done),
            (by_service.clone(), replaced("web:9", None), true, "done(failed, None)", Next::Done),
            (
                Phase::RollingOut,
                replaced("web:7", Some(EcsCircuitBreaker)),
                true,
                "done(rolled_back, Some(EcsCircuitBreaker))",
                Next::Done,
            ),
            (Phase::RollingOut, replaced("web:9", Some(EcsCircuitBreaker)), true, "done(failed, None)", Next::Done),
            (Phase::RollingOut, replaced("web:7", None), true, "done(failed, None)", Next::Done),
            (rolling_back.clone(), moving(), true, "rolling_back(web:7)", Next::Wait(POLL_INTERVAL)),
            (rolling_back.clone(), Reading::Completed, true, "done(rolled_back, Some(EcsDeployer))", Next::Done),
            (rolling_back.clone(), failed(None), true, "done(rolled_back, Some(EcsDeployer))", Next::Done),
            (rolling_back.clone(), replaced("web:9", None), true, "done(failed, None)", Next::Done),
            (
                rolling_back.clone(),
                Reading::Unknown { why: "read failed".into() },
                true,
                "rolling_back(web:7)",
                Next::Wait(POLL_INTERVAL),
            ),
            (finished(Status::Completed, None), failed(None), true, "done(completed, None)", Next::Done),
            (
                finished(Status::RolledBack, Some(EcsDeployer)),
                Reading::Completed,
                true,
                "done(rolled_back, Some(EcsDeployer))",
                Next::Done,
            ),
        ];
        let strategies = [
            StrategyName::Rolling,
            StrategyName::BlueGreen,
            StrategyName::Linear,
            StrategyName::Canary,
            StrategyName::CodeDeploy,
        ];
        for strategy in strategies {
            for (phase, reading, rollback, expected, next) in &cases {
                let mut state = rolling();
                state.strategy = strategy;
                state.policy.rollback = *rollback;
                state.phase = phase.clone();
                let (got, got_next) = decide(&state, reading, 2_000_000);
                let case = format!("{strategy:?}: {} + {reading:?} (rollback {rollback})", shape(phase));
                assert_eq!(shape(&got), *expected, "{case}");
                assert_eq!(&got_next, next, "{case}");
            }
        }
    }

    #[test]
    fn verdicts_say_why() {
        let state = rolling();
        let reason = |phase: Phase| match phase {
            Phase::Done { reason, .. } => reason.unwrap_or_default(),
            other => panic!("not done: {other:?}"),
        };
        let (phase, _) = decide(&state, &replaced("web:9", None), 0);
        assert_eq!(reason(phase), "deployment ecs-svc/9 of web:9 replaced it: someone else deployed");
        let (phase, _) = decide(&state, &replaced("web:7", Some(RolledBackBy::EcsAlarms)), 0);
        assert!(reason(phase).contains("ECS rolled the rollout back to web:7 by itself (deployment ecs-svc/9)"));
        let mut no_previous = rolling();
        no_previous.previous = None;
        let (phase, _) = decide(&no_previous, &failed(None), 0);
        assert_eq!(reason(phase), "it broke; no revision to go back to is known, so nothing was rolled back");
        let rolled = RolloutState {
            phase: Phase::RollingBack { to: "web:7".into(), reason: "3 tasks failed".into(), id: None },
            ..rolling()
        };
        let (phase, _) = decide(&rolled, &Reading::Completed, 0);
        assert_eq!(reason(phase), "3 tasks failed");
    }

    /// A caller's limit (a CodePipeline action's 24 hours) ends a rollout still under way as failed, at the
    /// limit and not a read later, and rolls nothing back; a rollout that ended first is judged as usual.
    #[test]
    fn a_rollout_past_the_callers_limit_is_given_up() {
        let mut state = rolling();
        state.policy.give_up_at = Some(state.started_at + 24 * 3_600_000);
        let limit = state.policy.give_up_at.unwrap();
        assert_eq!(decide(&state, &moving(), limit - 1).1, Next::Wait(POLL_INTERVAL));
        let (phase, next) = decide(&state, &moving(), limit);
        assert_eq!(next, Next::Done);
        let Phase::Done { status: Status::Failed, rolled_back_by: None, reason: Some(reason) } = phase else {
            panic!("{phase:?}")
        };
        assert_eq!(reason, "the rollout of web:8 was still under way after 24 h: given up (nothing was rolled back)");
        assert_eq!(decide(&state, &Reading::Completed, limit + 1).0, finished(Status::Completed, None));
    }
}
