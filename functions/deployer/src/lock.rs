//! The per-service lease around every change: one rule for its length, one way to take it (alongside other
//! work, so a deploy's lock costs no round of its own) and to let go.

use std::future::Future;
use std::time::Duration;

use crate::error::DeployError;
use crate::ports::{Lock, LockState};

/// How much longer than the call may take a lease lasts: a holder that dies loses the lock this long after
/// its Lambda would have been stopped.
pub const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// The lease for a call that may take `budget`.
pub fn lease(budget: Duration) -> Duration {
    budget + LEASE_MARGIN
}

/// A lock this call holds (or, for a forced call or a dry run, did not need).
#[must_use = "release the lock when the work is done"]
pub struct Held<'a> {
    lock: &'a dyn Lock,
    key: String,
    holder: String,
    taken: bool,
}

impl Held<'_> {
    /// Lets go of the lock; a failure only means the lease runs out by itself.
    pub async fn release(self) {
        if !self.taken {
            return;
        }
        if let Err(e) = self.lock.release(&self.key, &self.holder).await {
            tracing::warn!("could not release the lock on {}; it expires with its lease: {e}", self.key);
        }
    }
}

/// Takes `key` for `holder` while `alongside` runs, in the same round; `take: false` takes nothing (a dry
/// run, or `force`). Someone else's unexpired lease is [`DeployError::DeploymentInProgress`] for `service`.
pub async fn acquire_with<'a, T>(
    lock: &'a dyn Lock,
    take: bool,
    key: String,
    holder: &str,
    lease: Duration,
    service: &str,
    alongside: impl Future<Output = T>,
) -> Result<(Held<'a>, T), DeployError> {
    let acquire = async {
        if take {
            lock.acquire(&key, holder, lease).await
        } else {
            Ok(LockState::Acquired)
        }
    };
    let (state, value) = tokio::join!(acquire, alongside);
    let held = Held { lock, key, holder: holder.to_owned(), taken: take };
    match state {
        Ok(LockState::Acquired) => Ok((held, value)),
        Ok(LockState::HeldBy { holder, since }) => {
            Err(DeployError::DeploymentInProgress { service: service.to_owned(), holder, since })
        }
        Err(e) => {
            // The put may have taken effect: let go of what may be ours.
            if !e.certainly_not_applied() {
                held.release().await;
            }
            Err(e.into())
        }
    }
}

/// Runs `work` while holding `key` (unless `take` is false), and lets go of it afterwards.
pub async fn with_lock<T>(
    lock: &dyn Lock,
    take: bool,
    key: String,
    holder: &str,
    lease: Duration,
    service: &str,
    work: impl Future<Output = Result<T, DeployError>>,
) -> Result<T, DeployError> {
    let (held, ()) = acquire_with(lock, take, key, holder, lease, service, async {}).await?;
    let outcome = work.await;
    held.release().await;
    outcome
}
