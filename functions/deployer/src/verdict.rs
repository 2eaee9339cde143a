//! Stage 7, pure: judging a rolling update from what ECS reports. Is *our* deployment done, failed, being
//! rolled back by the circuit breaker, or replaced by someone else's? Which revision may be deregistered?

use aws_sdk_ecs::types::{Deployment, DeploymentRolloutState, Service, Tag, Task};
use contract::result::{RolledBackBy, RolloutState, StoppedTask};

use crate::plan::{family, family_revision, same_revision, tag_value, PREVIOUS_TAG};

/// The deployment a deploy started: its id when ECS reported one, and always its task definition.
#[derive(Debug, Clone, Copy)]
pub struct Tracked<'a> {
    pub deployment_id: Option<&'a str>,
    /// The ECS-native service deployment's ARN, when the strategy has one.
    pub service_deployment_arn: Option<&'a str>,
    /// The CodeDeploy deployment created, when the strategy is CODE_DEPLOY.
    pub codedeploy: Option<&'a contract::result::CodeDeployReport>,
    pub task_definition: &'a str,
    /// Without the circuit breaker, the rollout counts as failed once this many of its tasks failed.
    pub max_failed_tasks: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    InProgress {
        running: i32,
        desired: i32,
        failed_tasks: i32,
    },
    Completed,
    /// The rollout failed. `ecs_rolls_back`: the service's circuit breaker is putting it back itself.
    Failed {
        reason: String,
        ecs_rolls_back: bool,
    },
    /// Another deployment took over: someone else deployed meanwhile.
    Replaced {
        by: String,
        task_definition: String,
    },
}

/// A rollback ECS made by itself: who made it and, when known, how its own rollout went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsRollback {
    pub by: RolledBackBy,
    pub state: Option<RolloutState>,
}

/// Whether the service's deployment alarms roll a failed rollout back by itself.
pub fn alarms_roll_back(service: &Service) -> bool {
    service
        .deployment_configuration()
        .and_then(|c| c.alarms())
        .is_some_and(|a| a.enable && a.rollback && !a.alarm_names().is_empty())
}

/// Whether a rolling deployment that failed with `reason` failed on its deployment alarms. ECS says so only
/// in `rolloutStateReason` ("… alarms triggered …"); with alarm rollback off, it is not ECS's rollback anyway.
fn failed_on_alarms(service: &Service, reason: &str) -> bool {
    alarms_roll_back(service) && reason.to_ascii_lowercase().contains("alarm")
}

/// Who rolls back a rolling deployment that failed with `reason`, if ECS does by itself: its deployment
/// alarms or its circuit breaker.
pub fn ecs_rollback_by(service: &Service, reason: &str) -> Option<RolledBackBy> {
    if failed_on_alarms(service, reason) {
        Some(RolledBackBy::EcsAlarms)
    } else if circuit_breaker_rolls_back(service) {
        Some(RolledBackBy::EcsCircuitBreaker)
    } else {
        None
    }
}

/// Who of ECS would have rolled a rolling update back by itself, when the failed deployment is already gone
/// (ECS drops it once its rollback completes): the deployment alarms or the circuit breaker, whichever the
/// service enables with rollback (both: the latest service events say whether an alarm fired). `None` when
/// neither is enabled.
pub fn ecs_rolled_back_unseen(service: &Service) -> Option<RolledBackBy> {
    match (alarms_roll_back(service), circuit_breaker_rolls_back(service)) {
        (true, false) => Some(RolledBackBy::EcsAlarms),
        (false, true) => Some(RolledBackBy::EcsCircuitBreaker),
        (true, true) if last_events(service, 5).iter().any(|e| e.to_ascii_lowercase().contains("alarm")) => {
            Some(RolledBackBy::EcsAlarms)
        }
        (true, true) => Some(RolledBackBy::EcsCircuitBreaker),
        (false, false) => None,
    }
}

/// Whether the service's circuit breaker rolls a failed rollout back by itself.
pub fn circuit_breaker_rolls_back(service: &Service) -> bool {
    service
        .deployment_configuration()
        .and_then(|c| c.deployment_circuit_breaker())
        .is_some_and(|cb| cb.enable && cb.rollback)
}

/// The service's PRIMARY deployment: `deployments[0]` is not always it.
pub fn primary(service: &Service) -> Option<&Deployment> {
    service.deployments().iter().find(|d| d.status() == Some("PRIMARY"))
}

/// Finds the tracked deployment in one DescribeServices answer and says where it stands.
pub fn judge(service: &Service, tracked: &Tracked<'_>) -> Verdict {
    let ours = service.deployments().iter().find(|d| match tracked.deployment_id {
        Some(id) => d.id() == Some(id),
        None => d.task_definition().is_some_and(|td| same_revision(td, tracked.task_definition)),
    });
    let ecs_rolls_back = circuit_breaker_rolls_back(service);
    let Some(ours) = ours else {
        // ECS drops finished deployments: if the service settled on our revision, the rollout completed.
        return match primary(service) {
            Some(p)
                if p.task_definition().is_some_and(|td| same_revision(td, tracked.task_definition))
                    && p.rollout_state() == Some(&DeploymentRolloutState::Completed) =>
            {
                Verdict::Completed
            }
            Some(p) => Verdict::Replaced {
                by: p.id().unwrap_or("unknown").to_owned(),
                task_definition: family_revision(p.task_definition().unwrap_or("unknown")).to_owned(),
            },
            None => Verdict::Failed { reason: "the service has no deployment any more".into(), ecs_rolls_back },
        };
    };
    match ours.rollout_state() {
        Some(DeploymentRolloutState::Completed) => return Verdict::Completed,
        Some(DeploymentRolloutState::Failed) => {
            let reason = ours.rollout_state_reason().unwrap_or("the rollout failed").to_owned();
            let ecs_rolls_back = ecs_rollback_by(service, &reason).is_some();
            return Verdict::Failed { reason, ecs_rolls_back };
        }
        _ => {}
    }
    if ours.status() != Some("PRIMARY") {
        if let Some(p) = primary(service) {
            return Verdict::Replaced {
                by: p.id().unwrap_or("unknown").to_owned(),
                task_definition: family_revision(p.task_definition().unwrap_or("unknown")).to_owned(),
            };
        }
    }
    if !ecs_rolls_back && ours.failed_tasks >= tracked.max_failed_tasks {
        return Verdict::Failed {
            reason: format!("{} tasks of the new revision failed to start or stay running", ours.failed_tasks),
            ecs_rolls_back: false,
        };
    }
    Verdict::InProgress { running: ours.running_count, desired: ours.desired_count, failed_tasks: ours.failed_tasks }
}

/// The rollout state reported for a followed deployment: COMPLETED, IN_PROGRESS (`None`: time ran out),
/// FAILED or REPLACED.
pub fn rollout_state(verdict: Option<&Verdict>) -> RolloutState {
    match verdict {
        Some(Verdict::Completed) => RolloutState::Completed,
        None | Some(Verdict::InProgress { .. }) => RolloutState::InProgress,
        Some(Verdict::Failed { .. }) => RolloutState::Failed,
        Some(Verdict::Replaced { .. }) => RolloutState::Replaced,
    }
}

/// ECS's rollout state of a deployment, as the result reports it.
pub fn ecs_rollout_state(deployment: Option<&Deployment>) -> RolloutState {
    match deployment.and_then(Deployment::rollout_state) {
        Some(DeploymentRolloutState::Completed) => RolloutState::Completed,
        Some(DeploymentRolloutState::InProgress) => RolloutState::InProgress,
        Some(DeploymentRolloutState::Failed) => RolloutState::Failed,
        _ => RolloutState::Unknown,
    }
}

/// A deployment of the service that is still rolling out, if any: deploying over it races it.
pub fn rollout_in_progress(service: &Service) -> Option<&Deployment> {
    let deployments = service.deployments();
    deployments.iter().find(|d| d.rollout_state() == Some(&DeploymentRolloutState::InProgress)).or_else(|| {
        if deployments.len() > 1 {
            primary(service)
        } else {
            None
        }
    })
}

/// The last `n` service events, newest first.
pub fn last_events(service: &Service, n: usize) -> Vec<String> {
    let mut events: Vec<_> = service.events().iter().collect();
    events.sort_by_key(|e| std::cmp::Reverse(e.created_at().map(|t| (t.secs(), t.subsec_nanos()))));
    events.into_iter().take(n).filter_map(|e| e.message().map(str::to_owned)).collect()
}

/// The stop reasons of the tasks that ran `task_definition`.
pub fn stopped_tasks(tasks: &[Task], task_definition: &str, n: usize) -> Vec<StoppedTask> {
    tasks
        .iter()
        .filter(|t| t.task_definition_arn().is_some_and(|td| same_revision(td, task_definition)))
        .take(n)
        .map(|t| StoppedTask {
            task: t.task_arn().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned(),
            stopped_reason: t.stopped_reason().map(str::to_owned),
            containers: t
                .containers()
                .iter()
                .filter(|c| c.exit_code.is_some() || c.reason.is_some())
                .map(|c| {
                    let mut line = format!(
                        "{}: exit {}",
                        c.name().unwrap_or("?"),
                        c.exit_code.map_or("?".into(), |e| e.to_string())
                    );
                    if let Some(reason) = c.reason() {
                        line.push_str(&format!(" ({reason})"));
                    }
                    line
                })
                .collect(),
        })
        .collect()
}

/// Whether a revision may be deregistered: never the rollback target, nor one that a deployment of the
/// service or a running task still uses.
pub fn may_deregister(candidate: &str, rollback_target: &str, service: &Service, running_tasks: &[Task]) -> bool {
    !same_revision(candidate, rollback_target)
        && !service.task_definition().is_some_and(|td| same_revision(td, candidate))
        && !service.deployments().iter().any(|d| {
            d.task_definition().is_some_and(|td| same_revision(td, candidate)) && d.status() != Some("INACTIVE")
        })
        && !running_tasks.iter().any(|t| t.task_definition_arn().is_some_and(|td| same_revision(td, candidate)))
}

/// Why a revision may not be the target of a rollback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackRefusal {
    /// It belongs to another task-definition family than the revision the service runs (`family`).
    OtherFamily { family: String },
    /// It is of the family, but nothing vouches for it (the reason says what was looked for).
    Untrusted { reason: String },
}

/// Whether a rollback of `service`, which runs `current`, may go to `target`: a revision of `current`'s
/// family (else [`RollbackRefusal::OtherFamily`]) that this deployer registered (its `target_tags` carry
/// [`PREVIOUS_TAG`]), or that `current` records as its previous one (`recorded`), or that a deployment of
/// the service still uses (else [`RollbackRefusal::Untrusted`]). Names are ARNs or `family:revision`.
pub fn admit_rollback_target(
    target: &str,
    target_tags: &[Tag],
    current: &str,
    recorded: Option<&str>,
    service: &Service,
) -> Result<(), RollbackRefusal> {
    if family(target) != family(current) {
        return Err(RollbackRefusal::OtherFamily { family: family(current).to_owned() });
    }
    let registered_here = tag_value(target_tags, PREVIOUS_TAG).is_some();
    let recorded_previous = recorded.is_some_and(|r| same_revision(r, target));
    let in_use = service.deployments().iter().any(|d| d.task_definition().is_some_and(|td| same_revision(td, target)));
    if registered_here || recorded_previous || in_use {
        Ok(())
    } else {
        Err(RollbackRefusal::Untrusted {
            reason: format!(
                "ecs-deployer did not register it, {} does not record it as its previous revision, and no deployment \
                 of the service uses it",
                family_revision(current)
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{Container, DeploymentCircuitBreaker, DeploymentConfiguration, ServiceEvent};
    use aws_smithy_types::DateTime;

    use super::*;

    fn deployment(id: &str, status: &str, td: &str, state: DeploymentRolloutState, failed: i32) -> Deployment {
        Deployment::builder()
            .id(id)
            .status(status)
            .task_definition(format!("arn:aws:ecs:eu-west-1:1:task-definition/{td}"))
            .rollout_state(state)
            .rollout_state_reason(format!("{id} says {}", status.to_lowercase()))
            .failed_tasks(failed)
            .desired_count(2)
            .running_count(1)
            .build()
    }

    fn service(deployments: Vec<Deployment>, circuit_breaker: bool) -> Service {
        let td = deployments.iter().find(|d| d.status() == Some("PRIMARY")).and_then(|d| d.task_definition.clone());
        Service::builder()
            .set_deployments(Some(deployments))
            .set_task_definition(td)
            .deployment_configuration(
                DeploymentConfiguration::builder()
                    .deployment_circuit_breaker(
                        DeploymentCircuitBreaker::builder().enable(circuit_breaker).rollback(circuit_breaker).build(),
                    )
                    .build(),
            )
            .build()
    }

    const OURS: Tracked<'static> = Tracked {
        deployment_id: Some("d2"),
        service_deployment_arn: None,
        codedeploy: None,
        task_definition: "web:8",
        max_failed_tasks: 3,
    };
    use DeploymentRolloutState::{Completed, Failed, InProgress};

    #[test]
    fn verdicts() {
        let cases: Vec<(&str, Service, Tracked<'static>, Verdict)> = vec![
            (
                "rolling out",
                service(
                    vec![
                        deployment("d2", "PRIMARY", "web:8", InProgress, 0),
                        deployment("d1", "ACTIVE", "web:7", Completed, 0),
                    ],
                    false,
                ),
                OURS,
                Verdict::InProgress { running: 1, desired: 2, failed_tasks: 0 },
            ),
            (
                "completed",
                service(vec![deployment("d2", "PRIMARY", "web:8", Completed, 0)], false),
                OURS,
                Verdict::Completed,
            ),
            (
                "completed and dropped by ECS",
                service(vec![deployment("d9", "PRIMARY", "web:8", Completed, 0)], false),
                OURS,
                Verdict::Completed,
            ),
            (
                "circuit breaker rolled back: stable, but not our revision",
                service(
                    vec![
                        deployment("d3", "PRIMARY", "web:7", Completed, 0),
                        deployment("d2", "ACTIVE", "web:8", Failed, 4),
                    ],
                    true,
                ),
                OURS,
                Verdict::Failed { reason: "d2 says active".into(), ecs_rolls_back: true },
            ),
            (
                "failed without circuit breaker rollback",
                service(vec![deployment("d2", "PRIMARY", "web:8", Failed, 1)], false),
                OURS,
                Verdict::Failed { reason: "d2 says primary".into(), ecs_rolls_back: false },
            ),
            (
                "crash loop",
                service(
                    vec![
                        deployment("d2", "PRIMARY", "web:8", InProgress, 3),
                        deployment("d1", "ACTIVE", "web:7", Completed, 0),
                    ],
                    false,
                ),
                OURS,
                Verdict::Failed {
                    reason: "3 tasks of the new revision failed to start or stay running".into(),
                    ecs_rolls_back: false,
                },
            ),
            (
                "crash loop left to the circuit breaker",
                service(vec![deployment("d2", "PRIMARY", "web:8", InProgress, 5)], true),
                OURS,
                Verdict::InProgress { running: 1, desired: 2, failed_tasks: 5 },
            ),
            (
                "replaced by another deploy",
                service(
                    vec![
                        deployment("d4", "PRIMARY", "web:9", InProgress, 0),
                        deployment("d2", "ACTIVE", "web:8", InProgress, 0),
                    ],
                    false,
                ),
                OURS,
                Verdict::Replaced { by: "d4".into(), task_definition: "web:9".into() },
            ),
            (
                "gone, service elsewhere",
                service(vec![deployment("d4", "PRIMARY", "web:9", Completed, 0)], false),
                OURS,
                Verdict::Replaced { by: "d4".into(), task_definition: "web:9".into() },
            ),
            (
                "no deployment id: found by revision",
                service(vec![deployment("d2", "PRIMARY", "web:8", Completed, 0)], false),
                Tracked { deployment_id: None, ..OURS },
                Verdict::Completed,
            ),
        ];
        for (name, svc, tracked, expected) in cases {
            assert_eq!(judge(&svc, &tracked), expected, "{name}");
        }
    }

    #[test]
    fn deployments_zero_is_not_always_primary() {
        let svc = service(
            vec![
                deployment("d1", "ACTIVE", "web:7", Completed, 0),
                deployment("d2", "PRIMARY", "web:8", InProgress, 0),
            ],
            false,
        );
        assert_eq!(judge(&svc, &OURS), Verdict::InProgress { running: 1, desired: 2, failed_tasks: 0 });
        assert_eq!(rollout_in_progress(&svc).and_then(|d| d.id()), Some("d2"));
        let settled = service(vec![deployment("d2", "PRIMARY", "web:8", Completed, 0)], false);
        assert!(rollout_in_progress(&settled).is_none());
    }

    #[test]
    fn never_deregister_the_target_or_what_is_in_use() {
        let svc = service(
            vec![deployment("d3", "PRIMARY", "web:7", InProgress, 0), deployment("d2", "ACTIVE", "web:8", Failed, 0)],
            false,
        );
        let task = |td: &str| {
            Task::builder().task_definition_arn(format!("arn:aws:ecs:eu-west-1:1:task-definition/{td}")).build()
        };
        assert!(!may_deregister("web:7", "web:7", &svc, &[]), "the rollback target");
        assert!(!may_deregister("web:8", "web:7", &svc, &[]), "a deployment still uses it");
        let after = service(vec![deployment("d3", "PRIMARY", "web:7", Completed, 0)], false);
        assert!(may_deregister("web:8", "web:7", &after, &[]));
        assert!(!may_deregister("web:8", "web:7", &after, &[task("web:8")]), "a task still runs it");
        assert!(may_deregister("arn:aws:ecs:eu-west-1:1:task-definition/web:8", "web:7", &after, &[task("web:7")]));
    }

    #[test]
    fn reports_say_what_ecs_said() {
        let svc = Service::builder()
            .events(ServiceEvent::builder().message("old").created_at(DateTime::from_secs(10)).build())
            .events(ServiceEvent::builder().message("newest").created_at(DateTime::from_secs(30)).build())
            .events(ServiceEvent::builder().message("middle").created_at(DateTime::from_secs(20)).build())
            .build();
        assert_eq!(last_events(&svc, 2), ["newest", "middle"]);
        let tasks = vec![
            Task::builder()
                .task_arn("arn:aws:ecs:eu-west-1:1:task/prod/abc")
                .task_definition_arn("arn:aws:ecs:eu-west-1:1:task-definition/web:8")
                .stopped_reason("Essential container in task exited")
                .containers(Container::builder().name("app").exit_code(137).reason("OutOfMemoryError").build())
                .containers(Container::builder().name("xray").build())
                .build(),
            Task::builder().task_definition_arn("arn:aws:ecs:eu-west-1:1:task-definition/web:7").build(),
        ];
        assert_eq!(
            stopped_tasks(&tasks, "web:8", 5),
            [StoppedTask {
                task: "abc".into(),
                stopped_reason: Some("Essential container in task exited".into()),
                containers: vec!["app: exit 137 (OutOfMemoryError)".into()],
            }]
        );
    }

    #[test]
    fn a_rollback_stays_in_the_family_on_a_revision_something_vouches_for() {
        let svc = service(
            vec![
                deployment("d2", "PRIMARY", "web:8", InProgress, 0),
                deployment("d1", "ACTIVE", "web:6", Completed, 0),
            ],
            false,
        );
        let ours = [Tag::builder().key(PREVIOUS_TAG).value("web:5").build()];
        let by_hand = [Tag::builder().key("team").value("payments").build()];
        let current = "arn:aws:ecs:eu-west-1:1:task-definition/web:8";
        // (target, the target's tags, the recorded previous revision, expected)
        type Case<'a> = (&'a str, &'a [Tag], Option<&'a str>, Result<(), &'a str>);
        let cases: Vec<Case> = vec![
            ("web:7", &ours, None, Ok(())),             // registered by this deployer
            ("web:7", &by_hand, Some("web:7"), Ok(())), // recorded as previous
            ("arn:aws:ecs:eu-west-1:1:task-definition/web:6", &by_hand, None, Ok(())), // a deployment uses it
            ("web:3", &by_hand, Some("web:7"), Err("untrusted")),
            ("admin-tools:1", &ours, Some("admin-tools:1"), Err("family")),
            ("web-admin:8", &ours, None, Err("family")),
        ];
        for (target, tags, recorded, expected) in cases {
            let got = admit_rollback_target(target, tags, current, recorded, &svc).map_err(|r| match r {
                RollbackRefusal::OtherFamily { family } => {
                    assert_eq!(family, "web");
                    "family"
                }
                RollbackRefusal::Untrusted { reason } => {
                    assert!(reason.contains("web:8 does not record it"), "{reason}");
                    "untrusted"
                }
            });
            assert_eq!(got, expected, "{target}");
        }
    }
}
