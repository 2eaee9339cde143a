//! Many targets of one request, [`PARALLEL_TARGETS`] at a time. Targets fail independently; with
//! `all_or_nothing`, a failure puts the deployed targets back on the revision they ran before.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use contract::names::Region;
use contract::result::{DeployResult, FanOutResult, FanOutStatus, Status, TargetOutcome, Timings};
use futures_util::stream::{self, StreamExt};

use crate::error::DeployError;
use crate::ports::Ecs;
use crate::request::{DeployTarget, Invocation};
use crate::result::millis;

/// What a fan-out needs of the deployer: each region's ECS seam, one target's deploy, and putting a
/// deployed target back on the revision it ran before.
pub trait Fleet: Sync {
    type Ecs: Ecs;

    /// The ECS seam of `region` (`None`: the function's own); an unreachable region is an error.
    fn ecs_for(&self, region: Option<&Region>) -> Result<Arc<Self::Ecs>, DeployError>;

    fn deploy_one<'a>(
        &'a self,
        ecs: &'a Self::Ecs,
        t: &'a DeployTarget,
        inv: &'a Invocation,
    ) -> impl Future<Output = Result<DeployResult, DeployError>> + Send + 'a;

    fn put_back<'a>(
        &'a self,
        ecs: &'a Self::Ecs,
        t: &'a DeployTarget,
        deployed: DeployResult,
    ) -> impl Future<Output = Result<DeployResult, DeployError>> + Send + 'a;

    /// Monotonic time on the deployer's clock.
    fn now(&self) -> Duration;
}

/// How many targets of one request are deployed at the same time. ECS's RegisterTaskDefinition bucket
/// bursts to 20; the SDK's standard retries (`contract::aws_error::retry_config`) absorb what goes beyond.
pub const PARALLEL_TARGETS: usize = 20;

/// Deploys every target and reports each.
pub async fn run<F: Fleet>(
    d: &F,
    targets: Vec<DeployTarget>,
    all_or_nothing: bool,
    dry_run: bool,
    inv: &Invocation,
) -> Result<FanOutResult, DeployError> {
    let started = d.now();
    // Every region's clients before any call: a region this deployer cannot reach refuses the whole request.
    let clients = targets.iter().map(|t| d.ecs_for(t.at.region.as_ref())).collect::<Result<Vec<_>, _>>()?;
    let version = targets.first().map(|t| t.version.to_string()).unwrap_or_default();
    let outcomes: Vec<_> = stream::iter(targets.iter().zip(&clients).map(|(t, ecs)| d.deploy_one(&**ecs, t, inv)))
        .buffered(PARALLEL_TARGETS)
        .collect()
        .await;
    let failed = outcomes.iter().any(Result::is_err);
    let roll_back = failed && all_or_nothing;
    let settled: Vec<_> =
        stream::iter(targets.iter().zip(&clients).zip(outcomes).map(|((t, ecs), outcome)| async move {
            match outcome {
                Ok(result) if roll_back && result.status == Status::Deployed => d.put_back(&**ecs, t, result).await,
                other => other,
            }
        }))
        .buffered(PARALLEL_TARGETS)
        .collect()
        .await;
    let entries = targets
        .iter()
        .zip(settled)
        .map(|(t, outcome): (&DeployTarget, Result<DeployResult, DeployError>)| match outcome {
            Ok(result) => TargetOutcome::Done(Box::new(result)),
            Err(e) => TargetOutcome::Failed {
                cluster: t.at.cluster.to_string(),
                service: t.at.service.to_string(),
                region: t.at.region.as_ref().map(ToString::to_string),
                error: e.to_body()["error"].clone(),
            },
        })
        .collect();
    let status = match (failed, roll_back, dry_run) {
        (true, true, _) => FanOutStatus::RolledBack,
        (true, false, _) => FanOutStatus::Failed,
        (false, _, true) => FanOutStatus::DryRun,
        (false, _, false) => FanOutStatus::Deployed,
    };
    let timings_ms = Timings { total: millis(d.now() - started), ..Timings::default() };
    Ok(FanOutResult { status, version, targets: entries, timings_ms })
}
