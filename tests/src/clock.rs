//! The deployer's [`Clock`] joined to the local AWS's manual clock: a world started with
//! [`crate::World::start_stepped`] runs no clock thread (`LOCAL_AWS_MANUAL`), and each time the deployer
//! sleeps between two reads this clock steps the local AWS by as many ticks as the sleep lasts instead of
//! waiting. The rollout moves exactly as it would have moved while the deployer slept, without the wait.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use deployer::ports::Clock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Steps the local AWS at `endpoint` (`POST /_localaws/clock/step?ticks=N`, tests/localaws/server.py) by
/// `tick` seconds of its clock per `tick` of sleep. Time on this clock is wall time plus every sleep.
#[derive(Debug)]
pub struct LocalAwsClock {
    /// `127.0.0.1:<port>` of the local AWS.
    address: String,
    /// Seconds of the local AWS's clock per step (`LOCAL_AWS_TICK`).
    tick: f64,
    origin: Instant,
    state: Mutex<Slept>,
}

#[derive(Debug, Default)]
struct Slept {
    /// Everything slept so far: added to wall time.
    total: Duration,
    /// Sleep not yet stepped (less than a tick): carried over to the next sleep.
    owed: f64,
}

impl LocalAwsClock {
    /// A clock for the local AWS at `endpoint` (`http://127.0.0.1:<port>`) whose steps last `tick` seconds.
    pub fn new(endpoint: &str, tick: f64) -> LocalAwsClock {
        assert!(tick > 0.0, "a tick lasts some time");
        LocalAwsClock {
            address: endpoint.trim_start_matches("http://").trim_end_matches('/').to_owned(),
            tick,
            origin: Instant::now(),
            state: Mutex::new(Slept::default()),
        }
    }

    /// Moves the local AWS's clock `ticks` ticks; answers once they are stepped (with a manual clock the
    /// local AWS also waits for the Lambda hooks those ticks invoked). A failure fails the test.
    pub async fn step(&self, ticks: u64) {
        let mut stream = tokio::net::TcpStream::connect(&self.address).await.expect("connect to the local AWS");
        let request = format!(
            "POST /_localaws/clock/step?ticks={ticks} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.address
        );
        stream.write_all(request.as_bytes()).await.expect("ask the local AWS to step");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.expect("read the step's answer");
        assert!(answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"), "clock/step: {answer}");
    }

    fn slept(&self) -> Duration {
        self.state.lock().expect("clock state").total
    }
}

impl Clock for LocalAwsClock {
    fn now(&self) -> Duration {
        self.origin.elapsed() + self.slept()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let ticks = {
            let mut state = self.state.lock().expect("clock state");
            state.total += duration;
            state.owed += duration.as_secs_f64();
            let ticks = (state.owed / self.tick).floor();
            state.owed -= ticks * self.tick;
            ticks as u64
        };
        Box::pin(async move {
            if ticks > 0 {
                self.step(ticks).await;
            } else {
                tokio::task::yield_now().await;
            }
        })
    }

    fn unix_millis(&self) -> u64 {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + self.slept();
        u64::try_from(wall.as_millis()).unwrap_or(u64::MAX)
    }
}
