//! Stage 6, I/O: reading a rolling update every few seconds until [`crate::verdict::judge`] says it is done,
//! failed or replaced, or until the deadline; and gathering ECS's own words when it failed.

use std::time::Duration;

use aws_sdk_ecs::types::{DesiredStatus, Service};
use contract::result::{FailureReport, ServiceDeploymentReport};

use crate::error::DeployError;
use crate::ports::{Clock, Ecs, ServiceLookup};
use crate::request::ServiceRef;
use crate::verdict::{judge, last_events, stopped_tasks, EcsRollback, Tracked, Verdict};

/// How often a rollout is read: ECS's DescribeServices allows 20/s per account, shared with every other
/// caller, and a rollout moves in tens of seconds.
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// Up to a second more, so that many deployers polling the same account do not move in lockstep.
fn jitter(clock: &dyn Clock) -> Duration {
    Duration::from_millis(clock.unix_millis() % 1000)
}

/// How a followed deployment ended, and the service as last seen.
pub struct Followed {
    /// `None`: still in progress when the time ran out.
    pub verdict: Option<Verdict>,
    pub service: Service,
    /// The ECS-native service deployment as last read (BLUE_GREEN, LINEAR, CANARY).
    pub service_deployment: Option<ServiceDeploymentReport>,
    /// When ECS rolled the failure back by itself and the strategy knows who and how far: by whom.
    pub ecs_rollback: Option<EcsRollback>,
    /// The CodeDeploy deployment as last read (CODE_DEPLOY services).
    pub codedeploy: Option<contract::result::CodeDeployReport>,
}

/// Reads the service every few seconds until the tracked deployment completes, fails or is replaced, or
/// until `deadline` on `clock`. A failed read is retried at the next poll.
pub async fn follow<E: Ecs>(
    ecs: &E,
    clock: &dyn Clock,
    at: &ServiceRef,
    tracked: Tracked<'_>,
    deadline: Duration,
) -> Result<Followed, DeployError> {
    let gone = || DeployError::ServiceNotFound { cluster: at.cluster.to_string(), service: at.service.to_string() };
    let mut last: Option<Service> = None;
    loop {
        match ecs.describe_service(&at.cluster, &at.service).await {
            Ok(ServiceLookup::Found(svc)) => {
                let verdict = judge(&svc, &tracked);
                tracing::debug!(?verdict, "rollout");
                if !matches!(verdict, Verdict::InProgress { .. }) {
                    let service = *svc;
                    return Ok(Followed {
                        verdict: Some(verdict),
                        service,
                        service_deployment: None,
                        ecs_rollback: None,
                        codedeploy: None,
                    });
                }
                last = Some(*svc);
            }
            Ok(_) => return Err(gone()),
            Err(e) => tracing::warn!("reading the rollout failed, trying again: {e}"),
        }
        let pause = POLL_INTERVAL + jitter(clock);
        if clock.now() + pause > deadline {
            return last
                .map(|service| Followed {
                    verdict: None,
                    service,
                    service_deployment: None,
                    ecs_rollback: None,
                    codedeploy: None,
                })
                .ok_or_else(gone);
        }
        clock.sleep(pause).await;
    }
}

/// The failure in ECS's words: the reason, the latest service events, and the stopped tasks' reasons.
pub async fn failure_report<E: Ecs>(
    ecs: &E,
    at: &ServiceRef,
    service: &Service,
    failed_arn: &str,
    reason: String,
) -> FailureReport {
    let stopped = match ecs.list_tasks(&at.cluster, &at.service, DesiredStatus::Stopped).await {
        Ok(arns) if !arns.is_empty() => {
            let recent: Vec<String> = arns.into_iter().take(100).collect();
            ecs.describe_tasks(&at.cluster, &recent).await.unwrap_or_default()
        }
        _ => Vec::new(),
    };
    FailureReport { reason, events: last_events(service, 5), stopped_tasks: stopped_tasks(&stopped, failed_arn, 5) }
}
