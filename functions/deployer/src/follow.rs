//! Following a rollout to its end within the Lambda's time, and rolling back when it fails.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_ecs::types::{DesiredStatus, Service};
use serde_json::json;

use crate::aws::{Aws, ServiceLookup};
use crate::engine::{deployment_for, DeployResult, Deployer, RollbackReport, RolloutReport, Status};
use crate::error::DeployError;
use crate::plan::family_revision;
use crate::request::Target;
use crate::rollout::{
    judge, last_events, may_deregister, primary, state_name, stopped_tasks, FailureReport, Tracked, Verdict,
};

/// How often a rollout is read: ECS's DescribeServices allows 20/s per account, shared with every other
/// caller, and a rollout moves in tens of seconds.
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// Up to a second more, so that many deployers polling the same account do not move in lockstep.
fn jitter() -> Duration {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    Duration::from_millis(u64::from(nanos % 1000))
}

/// How a followed deployment ended, and the service as last seen.
pub(crate) struct Followed {
    /// `None`: still in progress when the time ran out.
    pub verdict: Option<Verdict>,
    pub service: Service,
}

impl<A: Aws> Deployer<A> {
    /// Reads the service every few seconds until the tracked deployment completes, fails or is replaced, or
    /// until `deadline` on the seam's clock. A failed read is retried at the next poll.
    pub(crate) async fn follow(
        &self,
        aws: &A,
        cluster: &str,
        service: &str,
        tracked: Tracked<'_>,
        deadline: Duration,
    ) -> Result<Followed, DeployError> {
        let mut last: Option<Service> = None;
        loop {
            match aws.describe_service(cluster, service).await {
                Ok(ServiceLookup::Found(svc)) => {
                    let verdict = judge(&svc, &tracked);
                    tracing::debug!(?verdict, "rollout");
                    if !matches!(verdict, Verdict::InProgress { .. }) {
                        return Ok(Followed { verdict: Some(verdict), service: *svc });
                    }
                    last = Some(*svc);
                }
                Ok(_) => {
                    return Err(DeployError::ServiceNotFound {
                        cluster: cluster.to_owned(),
                        service: service.to_owned(),
                    })
                }
                Err(e) => tracing::warn!("reading the rollout failed, trying again: {e}"),
            }
            let pause = POLL_INTERVAL + jitter();
            if aws.now() + pause > deadline {
                return match last {
                    Some(service) => Ok(Followed { verdict: None, service }),
                    None => {
                        Err(DeployError::ServiceNotFound { cluster: cluster.to_owned(), service: service.to_owned() })
                    }
                };
            }
            aws.sleep(pause).await;
        }
    }

    /// Follows the deployment a deploy started; on failure rolls back to `previous_arn` (unless the circuit
    /// breaker already does, or the caller said no) and records all of it in `result`.
    pub(crate) async fn follow_deploy(
        &self,
        aws: &A,
        t: &Target,
        result: &mut DeployResult,
        new_arn: &str,
        previous_arn: &str,
        deadline: Duration,
    ) -> Result<(), DeployError> {
        let tracked = Tracked {
            deployment_id: result.deployment_id.as_deref(),
            task_definition: new_arn,
            max_failed_tasks: self.defaults.max_failed_tasks,
        };
        let followed = self.follow(aws, &t.cluster, &t.service, tracked, deadline).await?;
        let report = |state: &str| RolloutReport { state: state.into(), failure: None, rollback: None, check: None };
        match followed.verdict {
            Some(Verdict::Completed) => {
                result.status = Status::Completed;
                result.rollout = Some(report("COMPLETED"));
            }
            None | Some(Verdict::InProgress { .. }) => {
                result.status = Status::InProgress;
                result.rollout = Some(RolloutReport {
                    check: Some(json!({"action": "status", "cluster": t.cluster, "service": t.service})),
                    ..report("IN_PROGRESS")
                });
            }
            Some(Verdict::Replaced { by, task_definition }) => {
                result.status = Status::Failed;
                result.rollout = Some(RolloutReport {
                    failure: Some(FailureReport {
                        reason: format!("deployment {by} of {task_definition} replaced it: someone else deployed"),
                        events: last_events(&followed.service, 5),
                        stopped_tasks: Vec::new(),
                    }),
                    ..report("REPLACED")
                });
            }
            Some(Verdict::Failed { reason, ecs_rolls_back }) => {
                let failure = self.failure_report(aws, t, &followed.service, new_arn, reason).await;
                let rollback = if ecs_rolls_back {
                    let primary = primary(&followed.service);
                    let to = primary.and_then(|d| d.task_definition()).map_or("unknown", family_revision).to_owned();
                    result.task_definition = Some(to.clone());
                    let state = primary.and_then(|d| d.rollout_state()).map_or("UNKNOWN", |s| s.as_str()).to_owned();
                    Some(RollbackReport { to, by: "ecs-circuit-breaker".into(), state, deregistered: None })
                } else if t.rollback {
                    Some(self.roll_back_to(aws, t, new_arn, previous_arn, deadline).await?)
                } else {
                    None
                };
                if let Some(r) = &rollback {
                    result.status = Status::RolledBack;
                    result.task_definition = Some(r.to.clone());
                } else {
                    result.status = Status::Failed;
                }
                result.rollout = Some(RolloutReport { failure: Some(failure), rollback, ..report("FAILED") });
            }
        }
        tracing::info!(status = ?result.status, "rollout followed");
        Ok(())
    }

    /// Puts the service back on `target_arn`, follows that rollout too, and deregisters `failed_arn` when
    /// nothing uses it any more.
    pub(crate) async fn roll_back_to(
        &self,
        aws: &A,
        t: &Target,
        failed_arn: &str,
        target_arn: &str,
        deadline: Duration,
    ) -> Result<RollbackReport, DeployError> {
        let to = family_revision(target_arn).to_owned();
        tracing::warn!("rolling back to {to}");
        let updated = aws.update_service(&t.cluster, &t.service, target_arn).await.map_err(|source| {
            DeployError::RollbackFailed { task_definition: family_revision(failed_arn).into(), to: to.clone(), source }
        })?;
        let deployment_id = deployment_for(&updated, target_arn);
        // The rollback's own crash count is not ours to judge: it runs what ran before.
        let tracked = Tracked {
            deployment_id: deployment_id.as_deref(),
            task_definition: target_arn,
            max_failed_tasks: i32::MAX,
        };
        let followed = self.follow(aws, &t.cluster, &t.service, tracked, deadline).await?;
        let state = state_name(followed.verdict.as_ref());
        let deregistered = self.deregister_if_unused(aws, t, failed_arn, target_arn).await;
        Ok(RollbackReport { to, by: "ecs-deployer".into(), state: state.into(), deregistered })
    }

    /// Deregisters `candidate` unless it is the rollback target or a deployment or running task still uses it.
    pub(crate) async fn deregister_if_unused(
        &self,
        aws: &A,
        t: &Target,
        candidate: &str,
        keep: &str,
    ) -> Option<String> {
        let service = match aws.describe_service(&t.cluster, &t.service).await {
            Ok(ServiceLookup::Found(s)) => *s,
            _ => return None,
        };
        let running = aws.list_tasks(&t.cluster, &t.service, DesiredStatus::Running).await.ok()?;
        let tasks = aws.describe_tasks(&t.cluster, &running).await.ok()?;
        if !may_deregister(candidate, keep, &service, &tasks) {
            tracing::info!("keeping {}: still in use", family_revision(candidate));
            return None;
        }
        match aws.deregister_task_definition(candidate).await {
            Ok(()) => Some(family_revision(candidate).to_owned()),
            Err(e) => {
                tracing::warn!("could not deregister {}: {e}", family_revision(candidate));
                None
            }
        }
    }

    /// The failure in ECS's words: the reason, the latest service events, and the stopped tasks' reasons.
    async fn failure_report(
        &self,
        aws: &A,
        t: &Target,
        service: &Service,
        failed_arn: &str,
        reason: String,
    ) -> FailureReport {
        let stopped = match aws.list_tasks(&t.cluster, &t.service, DesiredStatus::Stopped).await {
            Ok(arns) if !arns.is_empty() => {
                let recent: Vec<String> = arns.into_iter().take(100).collect();
                aws.describe_tasks(&t.cluster, &recent).await.unwrap_or_default()
            }
            _ => Vec::new(),
        };
        FailureReport { reason, events: last_events(service, 5), stopped_tasks: stopped_tasks(&stopped, failed_arn, 5) }
    }
}
