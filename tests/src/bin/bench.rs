//! `make bench`: the release `bootstrap` driven through a local Lambda Runtime API against moto, with a
//! fixed latency added to every AWS call by a proxy. Prints the figures and, with `--write FILE`, writes
//! them as markdown (next to the issue's targets) plus an SVG plot of the fan-out.
//!
//! Everything it starts (moto, the proxy, the runtime API, the function processes) stops when it ends; every
//! wait is bounded.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use deployer_tests::proxy::{round_levels, rounds, CallRecord, Proxy};
use deployer_tests::runtime_api::RuntimeApi;
use deployer_tests::{repo_root, tool, World};
use serde_json::{json, Value};

const BUILD: &str = "cargo lambda build --release --package deployer --bin deployer --output-format zip";
const USAGE: &str = "usage: bench [--delay-ms N] [--deploys N] [--binary PATH] [--zip PATH] [--write FILE]
             [--cold-starts N] [--throttle-every K] [--throttle-deploys N] [--fanout-repeats N]
             [--front-zip PATH] [--hook-zip PATH] [--wide-targets N] [--fake-only yes]

  --delay-ms N          latency the proxy adds to every AWS call (default 40)
  --deploys N           single-service deploys measured (default 20)
  --binary PATH         the bootstrap to run (default: the one inside the zip, extracted)
  --zip PATH            the release zip (default target/lambda/deployer/bootstrap.zip)
  --write FILE          also write the report as markdown to FILE (and fanout.svg beside it)
  --cold-starts N       process starts measured (default 10)
  --throttle-every K    in the throttling run, every K-th call is throttled (default 5)
  --throttle-deploys N  deploys in the throttling run (default 10)
  --fanout-repeats N    invocations per fan-out size; the median is reported (default 3)
  --front-zip PATH      the front's release zip, whose bootstrap's start is measured (default
                        target/lambda/front/bootstrap.zip; skipped when missing)
  --hook-zip PATH       the hook's release zip (default target/lambda/hook/bootstrap.zip)
  --wide-targets N      services of the fan-out run with throttling (default 50)
  --fake-only yes       only the fan-out on the in-process fake (no release build, no moto)

Build the release zip first:
  cargo lambda build --release --package deployer --bin deployer --output-format zip";

/// The whole bench must finish within this.
const BENCH_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// One invocation must answer within this.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(120);
/// A function process must ask for its first event within this.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const FANOUT_SIZES: [usize; 4] = [1, 5, 10, 20];

// The issue's targets, at 40 ms per call.
const TARGET_WINDOW_MS: f64 = 140.0;
const TARGET_CALLS: usize = 6;
const TARGET_ROUNDS: usize = 3;
const TARGET_READY_MS: f64 = 15.0;
const TARGET_RSS_MB: f64 = 16.0;
const TARGET_ZIP_MB: f64 = 4.0;
const TARGET_FANOUT_RATIO: f64 = 2.0;
/// 20 services against one on the in-process fake (no moto behind the calls).
const TARGET_FAKE_FANOUT_RATIO: f64 = 1.2;
/// With every 5th call throttled: the API window's median and the throttled call → its retry, p95.
const TARGET_THROTTLED_WINDOW_MS: f64 = 2000.0;
const TARGET_RETRY_GAP_MS: f64 = 1500.0;
/// Rounds of a warm `already_deployed` and of a cold first deploy.
const TARGET_WARM_ROUNDS: usize = 3;
const TARGET_COLD_ROUNDS: usize = 3;

#[derive(Debug, Clone)]
struct Args {
    delay_ms: u64,
    deploys: usize,
    binary: Option<PathBuf>,
    zip: PathBuf,
    write: Option<PathBuf>,
    cold_starts: usize,
    throttle_every: u32,
    throttle_deploys: usize,
    fanout_repeats: usize,
    front_zip: PathBuf,
    hook_zip: PathBuf,
    wide_targets: usize,
    fake_only: bool,
}

fn parse_args() -> Result<Args, String> {
    let lambda_dir = repo_root().join("target/lambda/deployer");
    let mut args = Args {
        delay_ms: 40,
        deploys: 20,
        binary: None,
        zip: lambda_dir.join("bootstrap.zip"),
        write: None,
        cold_starts: 10,
        throttle_every: 5,
        throttle_deploys: 10,
        fanout_repeats: 3,
        front_zip: repo_root().join("target/lambda/front/bootstrap.zip"),
        hook_zip: repo_root().join("target/lambda/hook/bootstrap.zip"),
        wide_targets: 50,
        fake_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|_| format!("{flag} takes a number, not {v:?}"));
        match flag.as_str() {
            "--delay-ms" => args.delay_ms = number(&value)?,
            "--deploys" => args.deploys = number(&value)?.clamp(1, 1000) as usize,
            "--binary" => args.binary = Some(PathBuf::from(value)),
            "--zip" => args.zip = PathBuf::from(value),
            "--write" => args.write = Some(PathBuf::from(value)),
            "--cold-starts" => args.cold_starts = number(&value)?.clamp(1, 100) as usize,
            "--throttle-every" => args.throttle_every = number(&value)?.clamp(1, 1000) as u32,
            "--throttle-deploys" => args.throttle_deploys = number(&value)?.clamp(1, 1000) as usize,
            "--fanout-repeats" => args.fanout_repeats = number(&value)?.clamp(1, 100) as usize,
            "--front-zip" => args.front_zip = PathBuf::from(value),
            "--hook-zip" => args.hook_zip = PathBuf::from(value),
            "--wide-targets" => args.wide_targets = number(&value)?.clamp(1, 500) as usize,
            "--fake-only" => args.fake_only = value == "yes",
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------------------
// The function process.

/// The release binary running against a runtime API of its own. Killed when dropped.
struct Function {
    child: Child,
    api: RuntimeApi,
    spawned: Instant,
    log: PathBuf,
}

impl Function {
    async fn start(binary: &Path, env: &[(String, String)], log: PathBuf) -> Result<Function, String> {
        let mut api = RuntimeApi::start().await;
        api.timeout = INVOKE_TIMEOUT;
        let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut command = Command::new(binary);
        command
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", &api.addr)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        let spawned = Instant::now();
        let child = command.spawn().map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        Ok(Function { child, api, spawned, log })
    }

    /// Process start → first `GET /next`.
    async fn ready(&mut self) -> Result<Duration, String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut ready = None;
        while Instant::now() < deadline {
            ready = self.api.wait_first_next(Duration::from_millis(50)).await;
            let exited = matches!(self.child.try_wait(), Ok(Some(_)));
            if ready.is_some() || exited || self.api.init_error().is_some() {
                break;
            }
        }
        match ready {
            Some(at) => Ok(at.duration_since(self.spawned)),
            None => Err(format!(
                "the function did not ask for an event (waited up to {} s; init error: {}; exit: {:?}); see {}",
                READY_TIMEOUT.as_secs(),
                self.api.init_error().unwrap_or(Value::Null),
                self.child.try_wait().ok().flatten(),
                self.log.display()
            )),
        }
    }

    async fn invoke(&mut self, event: Value) -> (Result<Value, Value>, Duration) {
        let api = &self.api;
        let child = &mut self.child;
        let died = async {
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    return status;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::select! {
            answer = api.invoke(event) => answer,
            status = died => (
                Err(json!({"errorType": "Bench.FunctionDied", "errorMessage": format!("the function exited: {status}")})),
                Duration::ZERO,
            ),
        }
    }

    /// (VmHWM, VmRSS) in kB from /proc.
    fn memory_kb(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        };
        Some((field("VmHWM:")?, field("VmRSS:")?))
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn function_env(world: &World, endpoint: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> =
        world.function_env().into_iter().filter(|(k, _)| k != "AWS_ENDPOINT_URL").collect();
    for (k, v) in [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", deployer_tests::REGION),
        ("AWS_LAMBDA_FUNCTION_NAME", "deployer"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ] {
        env.retain(|(name, _)| name != k);
        env.push((k.to_owned(), v.to_owned()));
    }
    env
}

// ---------------------------------------------------------------------------------------------------------
// Measurements.

/// One invocation as seen from outside the function and from the proxy.
#[derive(Debug, Clone)]
struct Sample {
    outcome: Result<Value, Value>,
    invocation: Duration,
    /// First AWS call's start → the last UpdateService's end (the last call's end when there is none).
    window: Duration,
    /// Every call of the invocation, and its rounds.
    calls: usize,
    rounds: usize,
    /// The calls that started inside the API window, and their rounds.
    window_calls: usize,
    window_rounds: usize,
    throttled: usize,
    /// The operations, round by round.
    shape: String,
    /// moto's own time per call (median).
    moto: Duration,
    /// Every call with its start and end relative to the first call's start.
    timeline: String,
    /// For each throttled call: its end → the start of the next call of the same operation (the retry).
    retry_gaps: Vec<Duration>,
}

impl Sample {
    fn status(&self) -> &str {
        match &self.outcome {
            Ok(v) => v["status"].as_str().unwrap_or("?"),
            Err(e) => e["errorType"].as_str().unwrap_or("error"),
        }
    }
}

fn api_window(calls: &[CallRecord]) -> Duration {
    let Some(first) = calls.iter().map(|c| c.start).min() else {
        return Duration::ZERO;
    };
    let updates = calls.iter().filter(|c| c.operation == "UpdateService").map(|c| c.end).max();
    let last = updates.or_else(|| calls.iter().map(|c| c.end).max()).unwrap_or(first);
    last.duration_since(first)
}

/// `DescribeImages+DescribeClusters+DescribeServices → DescribeTaskDefinition → …`, counts for repeats.
fn call_shape(calls: &[CallRecord]) -> String {
    let levels = round_levels(calls);
    let max = levels.iter().copied().max().unwrap_or(0);
    let mut rounds = Vec::new();
    for level in 1..=max {
        let mut ops: Vec<(String, usize)> = Vec::new();
        let mut in_round: Vec<&CallRecord> =
            calls.iter().zip(&levels).filter(|(_, l)| **l == level).map(|(c, _)| c).collect();
        in_round.sort_by(|a, b| a.operation.cmp(&b.operation).then(a.throttled.cmp(&b.throttled)));
        for c in in_round {
            let name = if c.throttled { format!("{} (throttled)", c.operation) } else { c.operation.clone() };
            match ops.iter_mut().find(|(n, _)| *n == name) {
                Some((_, count)) => *count += 1,
                None => ops.push((name, 1)),
            }
        }
        let ops: Vec<String> =
            ops.into_iter().map(|(n, count)| if count > 1 { format!("{count}×{n}") } else { n }).collect();
        rounds.push(ops.join(" + "));
    }
    rounds.join(" → ")
}

/// `DescribeImages 0–45, …, UpdateService (throttled) 130–171` in ms from the first call's start.
fn timeline(calls: &[CallRecord]) -> String {
    let Some(first) = calls.iter().map(|c| c.start).min() else {
        return String::new();
    };
    let mut sorted: Vec<&CallRecord> = calls.iter().collect();
    sorted.sort_by_key(|c| c.start);
    let at = |i: Instant| ms(i.duration_since(first));
    sorted
        .iter()
        .map(|c| {
            let throttled = if c.throttled { " (throttled)" } else { "" };
            format!("{}{throttled} {:.0}–{:.0}", c.operation, at(c.start), at(c.end))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn retry_gaps(calls: &[CallRecord]) -> Vec<Duration> {
    calls
        .iter()
        .filter(|c| c.throttled)
        .filter_map(|t| {
            calls
                .iter()
                .filter(|c| c.operation == t.operation && c.start >= t.end)
                .map(|c| c.start.duration_since(t.end))
                .min()
        })
        .collect()
}

async fn measure(function: &mut Function, proxy: &Proxy, event: Value) -> Sample {
    proxy.reset();
    let (outcome, invocation) = function.invoke(event).await;
    proxy.idle(Duration::from_secs(5)).await;
    let calls = proxy.calls();
    let window = api_window(&calls);
    let in_window: Vec<CallRecord> = match calls.iter().map(|c| c.start).min() {
        Some(first) => calls.iter().filter(|c| c.start < first + window).cloned().collect(),
        None => Vec::new(),
    };
    let mut moto: Vec<Duration> = calls.iter().filter(|c| !c.throttled).map(|c| c.upstream).collect();
    moto.sort();
    Sample {
        outcome,
        invocation,
        window,
        calls: calls.len(),
        rounds: rounds(&calls),
        window_calls: in_window.len(),
        window_rounds: rounds(&in_window),
        throttled: calls.iter().filter(|c| c.throttled).count(),
        shape: call_shape(&calls),
        timeline: timeline(&calls),
        retry_gaps: retry_gaps(&calls),
        moto: moto.get(moto.len() / 2).copied().unwrap_or_default(),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Nearest-rank percentile of `values` (p in 0..=100).
fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The most frequent value and how often it occurs (the first of equals).
fn mode<T: PartialEq + Clone>(values: Vec<T>) -> Option<(T, usize)> {
    let mut best: Option<(T, usize)> = None;
    for v in &values {
        let count = values.iter().filter(|x| *x == v).count();
        if best.as_ref().is_none_or(|(_, c)| count > *c) {
            best = Some((v.clone(), count));
        }
    }
    best
}

/// `6` when every value is 6, else `max 4; 3 in 19 of 20`.
fn spread(values: Vec<usize>) -> String {
    let max = values.iter().copied().max().unwrap_or(0);
    match mode(values.clone()) {
        Some((m, count)) if count == values.len() => m.to_string(),
        Some((m, count)) => format!("max {max}; {m} in {count} of {}", values.len()),
        None => "—".into(),
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1_000_000.0
}

struct Versions {
    next: u32,
}

impl Versions {
    /// Pushes a new image tag to the world's repository and returns it.
    async fn push(&mut self, world: &World) -> String {
        let tag = format!("v{}", self.next);
        self.next += 1;
        world.push_image(&tag).await;
        tag
    }
}

// ---------------------------------------------------------------------------------------------------------
// The report.

#[derive(Default)]
struct Report {
    delay_ms: u64,
    cold_starts: Vec<f64>,
    singles: Vec<Sample>,
    warm: Option<Sample>,
    rss_after_singles_kb: Option<u64>,
    rss_peak_kb: Option<u64>,
    rss_now_kb: Option<u64>,
    binary_bytes: Option<u64>,
    zip_bytes: Option<u64>,
    throttle_every: u32,
    throttled: Vec<Sample>,
    /// (services, samples) or None when this build has no `targets`.
    fanout: Option<Vec<(usize, Vec<Sample>)>>,
    fanout_note: Option<String>,
    /// (services, API windows) on the in-process fake.
    fake_fanout: Vec<(usize, Vec<f64>)>,
    /// The throttled function's VmHWM after the many-service fan-out.
    rss_wide_kb: Option<u64>,
    /// The fan-out to many services with throttling: (services, sample).
    wide: Option<(usize, Sample)>,
    /// The other functions: (name, start → ready times, zip bytes).
    others: Vec<(&'static str, Vec<f64>, Option<u64>)>,
    failures: Vec<String>,
}

struct Row {
    figure: String,
    measured: String,
    target: String,
    verdict: String,
}

fn verdict(measured: f64, target: f64, unit: &str, decimals: usize) -> String {
    if measured.is_nan() {
        "not measured".into()
    } else if measured <= target {
        "met".into()
    } else {
        let unit = if (measured - target - 1.0).abs() < f64::EPSILON { unit.trim_end_matches('s') } else { unit };
        let space = if unit == "×" { "" } else { " " };
        format!(
            "missed by {:.*}{space}{unit} (+{:.0}%)",
            decimals,
            measured - target,
            (measured / target - 1.0) * 100.0
        )
    }
}

impl Report {
    fn single(&self, f: impl Fn(&Sample) -> f64) -> Vec<f64> {
        self.singles.iter().filter(|s| s.status() == "deployed").map(f).collect()
    }

    /// Per size: (services, median window ms, max calls, max rounds, result, moto's median time per call ms).
    fn fanout_medians(&self) -> Vec<(usize, Option<f64>, usize, usize, String, f64)> {
        let Some(fanout) = &self.fanout else {
            return Vec::new();
        };
        fanout
            .iter()
            .map(|(n, samples)| {
                let ok: Vec<&Sample> = samples.iter().filter(|s| s.outcome.is_ok()).collect();
                let windows: Vec<f64> = ok.iter().map(|s| ms(s.window)).collect();
                let calls = ok.iter().map(|s| s.calls).max().unwrap_or(0);
                let rounds = ok.iter().map(|s| s.window_rounds).max().unwrap_or(0);
                let status = if ok.len() == samples.len() {
                    let deployed: Vec<usize> = ok
                        .iter()
                        .map(|s| {
                            s.outcome
                                .as_ref()
                                .ok()
                                .and_then(|v| v["targets"].as_array())
                                .map_or(0, |t| t.iter().filter(|e| e["status"] == "deployed").count())
                        })
                        .collect();
                    format!("{}/{} deployed", deployed.iter().min().copied().unwrap_or(0), n)
                } else {
                    let failed = samples.iter().find(|s| s.outcome.is_err()).map(|s| s.status().to_owned());
                    format!("{} of {} failed ({})", samples.len() - ok.len(), samples.len(), failed.unwrap_or_default())
                };
                let moto: Vec<f64> = ok.iter().map(|s| ms(s.moto)).collect();
                (*n, (!windows.is_empty()).then(|| median(&windows)), calls, rounds, status, median(&moto))
            })
            .collect()
    }

    fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        let windows = self.single(|s| ms(s.window));
        let calls = self.singles.iter().map(|s| s.window_calls).max().unwrap_or(0);
        let rounds = self.singles.iter().map(|s| s.window_rounds).max().unwrap_or(0);
        let (w50, w95) = (median(&windows), percentile(&windows, 95.0));
        rows.push(Row {
            figure: "single deploy: API window, median".into(),
            measured: format!("{w50:.0} ms"),
            target: format!("≤ {TARGET_WINDOW_MS:.0} ms"),
            verdict: verdict(w50, TARGET_WINDOW_MS, "ms", 0),
        });
        rows.push(Row {
            figure: "single deploy: API window, p95".into(),
            measured: format!("{w95:.0} ms"),
            target: format!("≤ {TARGET_WINDOW_MS:.0} ms"),
            verdict: verdict(w95, TARGET_WINDOW_MS, "ms", 0),
        });
        rows.push(Row {
            figure: "single deploy: AWS calls in the window".into(),
            measured: spread(self.singles.iter().map(|s| s.window_calls).collect()),
            target: format!("≤ {TARGET_CALLS}"),
            verdict: verdict(calls as f64, TARGET_CALLS as f64, "calls", 0),
        });
        rows.push(Row {
            figure: "single deploy: sequential rounds in the window".into(),
            measured: spread(self.singles.iter().map(|s| s.window_rounds).collect()),
            target: format!("≤ {TARGET_ROUNDS}"),
            verdict: verdict(rounds as f64, TARGET_ROUNDS as f64, "rounds", 0),
        });
        let ready = median(&self.cold_starts);
        rows.push(Row {
            figure: format!("deployer: process start → ready (median of {})", self.cold_starts.len()),
            measured: format!("{ready:.1} ms"),
            target: format!("≤ {TARGET_READY_MS:.0} ms"),
            verdict: verdict(ready, TARGET_READY_MS, "ms", 1),
        });
        let rss = self.rss_peak_kb.map_or(f64::NAN, |kb| mb(kb * 1024));
        rows.push(Row {
            figure: "deployer: peak RSS (VmHWM) after every run (20-service fan-out and throttling included)".into(),
            measured: format!("{rss:.1} MB"),
            target: format!("≤ {TARGET_RSS_MB:.0} MB"),
            verdict: verdict(rss, TARGET_RSS_MB, "MB", 1),
        });
        let zip = self.zip_bytes.map_or(f64::NAN, mb);
        rows.push(Row {
            figure: "deployer: release zip".into(),
            measured: format!("{zip:.2} MB"),
            target: format!("≤ {TARGET_ZIP_MB:.0} MB"),
            verdict: verdict(zip, TARGET_ZIP_MB, "MB", 2),
        });
        let fan = self.fanout_medians();
        let one = fan.iter().find(|r| r.0 == 1).and_then(|r| r.1);
        let twenty = fan.iter().find(|r| r.0 == 20).and_then(|r| r.1);
        let moto = |n: usize| fan.iter().find(|r| r.0 == n).map_or(f64::NAN, |r| r.5);
        match (one, twenty) {
            (Some(one), Some(twenty)) => {
                let ratio = twenty / one;
                rows.push(Row {
                    figure: "20 services vs one, local AWS: API window (moto's own time per call)".into(),
                    measured: format!(
                        "{twenty:.0} ms vs {one:.0} ms = {ratio:.2}× (moto {:.1} ms vs {:.1} ms per call)",
                        moto(20),
                        moto(1)
                    ),
                    target: format!("≤ {TARGET_FANOUT_RATIO:.0}×"),
                    verdict: verdict(ratio, TARGET_FANOUT_RATIO, "×", 2),
                });
            }
            _ => rows.push(Row {
                figure: "20 services vs one: API window".into(),
                measured: self.fanout_note.clone().unwrap_or_else(|| "fan-out: not available in this build".into()),
                target: format!("≤ {TARGET_FANOUT_RATIO:.0}×"),
                verdict: "not measured".into(),
            }),
        }
        self.more_rows(&mut rows);
        rows
    }

    /// Issue 24's further targets: throttling, the fan-out on the fake and with throttling, rounds, the
    /// other functions.
    fn more_rows(&self, rows: &mut Vec<Row>) {
        let fake = |n: usize| self.fake_fanout.iter().find(|f| f.0 == n).map(|f| median(&f.1));
        if let (Some(one), Some(twenty)) = (fake(1), fake(20)) {
            let ratio = twenty / one;
            rows.push(Row {
                figure: format!("20 services vs one, in-process fake at {} ms per call: API window", self.delay_ms),
                measured: format!("{twenty:.0} ms vs {one:.0} ms = {ratio:.2}×"),
                target: format!("≤ {TARGET_FAKE_FANOUT_RATIO:.1}×"),
                verdict: verdict(ratio, TARGET_FAKE_FANOUT_RATIO, "×", 2),
            });
        }
        if !self.throttled.is_empty() {
            let ok = self.throttled.iter().filter(|s| s.status() == "deployed").count();
            let windows: Vec<f64> = self.throttled.iter().map(|s| ms(s.window)).collect();
            let w50 = median(&windows);
            rows.push(Row {
                figure: format!("throttling (every {}th call): API window, median", self.throttle_every),
                measured: format!("{w50:.0} ms ({ok}/{} deployed)", self.throttled.len()),
                target: format!("≤ {TARGET_THROTTLED_WINDOW_MS:.0} ms, every deploy correct"),
                verdict: if ok == self.throttled.len() {
                    verdict(w50, TARGET_THROTTLED_WINDOW_MS, "ms", 0)
                } else {
                    format!("missed: {} of {} failed", self.throttled.len() - ok, self.throttled.len())
                },
            });
            let gaps: Vec<f64> = self.throttled.iter().flat_map(|s| s.retry_gaps.iter().map(|g| ms(*g))).collect();
            let g95 = percentile(&gaps, 95.0);
            rows.push(Row {
                figure: "throttling: throttled answer → its retry, p95".into(),
                measured: format!("{g95:.0} ms (n = {})", gaps.len()),
                target: format!("≤ {TARGET_RETRY_GAP_MS:.0} ms"),
                verdict: verdict(g95, TARGET_RETRY_GAP_MS, "ms", 0),
            });
        }
        if let Some((n, wide)) = &self.wide {
            let deployed = wide
                .outcome
                .as_ref()
                .ok()
                .and_then(|v| v["targets"].as_array())
                .map_or(0, |t| t.iter().filter(|e| e["status"] == "deployed").count());
            rows.push(Row {
                figure: format!("{n} services, every {}th call throttled, one invocation", self.throttle_every),
                measured: format!(
                    "{deployed}/{n} deployed in {:.0} ms ({} of {} calls throttled)",
                    ms(wide.invocation),
                    wide.throttled,
                    wide.calls
                ),
                target: "all complete in one invocation".into(),
                verdict: if deployed == *n { "met".into() } else { format!("missed: {}", wide.status()) },
            });
        }
        if let Some(w) = &self.warm {
            rows.push(Row {
                figure: format!("warm repeat (`{}`): sequential rounds, every call", w.status()),
                measured: format!("{} ({} calls)", w.rounds, w.calls),
                target: format!("≤ {TARGET_WARM_ROUNDS}"),
                verdict: verdict(w.rounds as f64, TARGET_WARM_ROUNDS as f64, "rounds", 0),
            });
        }
        if let Some(first) = self.singles.first() {
            rows.push(Row {
                figure: "cold first deploy: sequential rounds in the window".into(),
                measured: format!("{}", first.window_rounds),
                target: format!("{TARGET_COLD_ROUNDS}"),
                verdict: verdict(first.window_rounds as f64, TARGET_COLD_ROUNDS as f64, "rounds", 0),
            });
        }
        for (name, starts, zip) in &self.others {
            let ready = if starts.is_empty() { f64::NAN } else { median(starts) };
            rows.push(Row {
                figure: format!("{name}: process start → ready (median of {})", starts.len()),
                measured: format!("{ready:.1} ms"),
                target: format!("≤ {TARGET_READY_MS:.0} ms"),
                verdict: verdict(ready, TARGET_READY_MS, "ms", 1),
            });
            let zip = zip.map_or(f64::NAN, mb);
            rows.push(Row {
                figure: format!("{name}: release zip"),
                measured: format!("{zip:.2} MB"),
                target: format!("≤ {TARGET_ZIP_MB:.0} MB"),
                verdict: verdict(zip, TARGET_ZIP_MB, "MB", 2),
            });
        }
    }

    fn info_rows(&self) -> Vec<(String, String)> {
        let mut info = Vec::new();
        let inv = self.single(|s| ms(s.invocation));
        info.push((
            format!("single deploy: whole invocation, median / p95 (n = {})", inv.len()),
            format!("{:.0} ms / {:.0} ms", median(&inv), percentile(&inv, 95.0)),
        ));
        info.push((
            "single deploy: every call of the invocation (also after the window): calls / rounds".into(),
            format!(
                "{} / {}",
                spread(self.singles.iter().map(|s| s.calls).collect()),
                spread(self.singles.iter().map(|s| s.rounds).collect())
            ),
        ));
        let handler: Vec<f64> =
            self.singles.iter().filter_map(|s| s.outcome.as_ref().ok()?["timings_ms"]["total"].as_f64()).collect();
        info.push((
            "single deploy: the function's own `timings_ms.total`, median".into(),
            format!("{:.0} ms", median(&handler)),
        ));
        if let Some(first) = self.singles.first() {
            info.push((
                "first deploy after the cold start: API window / invocation".into(),
                format!("{:.0} ms / {:.0} ms", ms(first.window), ms(first.invocation)),
            ));
            info.push(("first deploy after the start: the calls, round by round".into(), first.shape.clone()));
        }
        if let Some((shape, count)) = mode(self.singles.iter().skip(1).map(|s| s.shape.clone()).collect()) {
            info.push((
                format!(
                    "later deploys: the calls, round by round ({count} of {})",
                    self.singles.len().saturating_sub(1)
                ),
                shape,
            ));
        }
        let moto: Vec<f64> = self.singles.iter().map(|s| ms(s.moto)).collect();
        info.push(("moto's own time per call (median, inside the window)".into(), format!("{:.1} ms", median(&moto))));
        if let Some(w) = &self.warm {
            info.push((
                format!("warm repeat (`{}`): invocation / API window / calls / rounds", w.status()),
                format!("{:.0} ms / {:.0} ms / {} / {}", ms(w.invocation), ms(w.window), w.calls, w.rounds),
            ));
        }
        if let Some(kb) = self.rss_after_singles_kb {
            info.push(("peak RSS after the single deploys".into(), format!("{:.1} MB", mb(kb * 1024))));
        }
        if let Some(kb) = self.rss_wide_kb {
            let n = self.wide.as_ref().map_or(0, |w| w.0);
            info.push((
                format!("peak RSS of the throttled process after its {n}-service fan-out"),
                format!("{:.1} MB", mb(kb * 1024)),
            ));
        }
        if let Some(kb) = self.rss_now_kb {
            info.push(("RSS at the end (VmRSS)".into(), format!("{:.1} MB", mb(kb * 1024))));
        }
        if let Some(b) = self.binary_bytes {
            info.push(("release binary (`bootstrap`)".into(), format!("{:.2} MB ({b} bytes)", mb(b))));
        }
        if let Some(b) = self.zip_bytes {
            info.push(("release zip (`bootstrap.zip`)".into(), format!("{:.2} MB ({b} bytes)", mb(b))));
        }
        if !self.cold_starts.is_empty() {
            info.push((
                "process start → ready: min / max".into(),
                format!(
                    "{:.1} ms / {:.1} ms",
                    percentile(&self.cold_starts, 0.0),
                    percentile(&self.cold_starts, 100.0)
                ),
            ));
        }
        if !self.throttled.is_empty() {
            let ok: Vec<&Sample> = self.throttled.iter().filter(|s| s.status() == "deployed").collect();
            let windows: Vec<f64> = ok.iter().map(|s| ms(s.window)).collect();
            let throttled: usize = self.throttled.iter().map(|s| s.throttled).sum();
            let calls: usize = self.throttled.iter().map(|s| s.calls).sum();
            info.push((
                format!("throttling run: every {}th call throttled", self.throttle_every),
                format!(
                    "{}/{} deployed; API window median {:.0} ms (max {:.0} ms); {} of {} calls throttled and retried",
                    ok.len(),
                    self.throttled.len(),
                    median(&windows),
                    percentile(&windows, 100.0),
                    throttled,
                    calls
                ),
            ));
            let gaps: Vec<f64> = self.throttled.iter().flat_map(|s| s.retry_gaps.iter().map(|g| ms(*g))).collect();
            if !gaps.is_empty() {
                info.push((
                    "throttling run: throttled answer → its retry, median / min / max".into(),
                    format!(
                        "{:.0} ms / {:.0} ms / {:.0} ms",
                        median(&gaps),
                        percentile(&gaps, 0.0),
                        percentile(&gaps, 100.0)
                    ),
                ));
            }
            if let Some(first) = self.throttled.iter().find(|s| s.throttled > 0) {
                info.push((
                    "throttling run: one deploy's calls (ms from the first call)".into(),
                    first.timeline.clone(),
                ));
            }
        }
        info
    }

    fn text(&self) -> String {
        let mut out = String::new();
        let rows = self.rows();
        let w0 = rows.iter().map(|r| r.figure.chars().count()).max().unwrap_or(0).max(6);
        let w1 = rows.iter().map(|r| r.measured.chars().count()).max().unwrap_or(0).max(8);
        let w2 = rows.iter().map(|r| r.target.chars().count()).max().unwrap_or(0).max(6);
        let _ = writeln!(out, "\nfigures at {} ms per AWS call", self.delay_ms);
        let _ = writeln!(out, "{:w0$}  {:w1$}  {:w2$}  verdict", "figure", "measured", "target");
        for r in &rows {
            let _ = writeln!(out, "{:w0$}  {:w1$}  {:w2$}  {}", r.figure, r.measured, r.target, r.verdict);
        }
        let _ = writeln!(out);
        for (k, v) in self.info_rows() {
            let _ = writeln!(out, "{k}: {v}");
        }
        let _ = writeln!(out, "\nfan-out (one invocation, N services in parallel):");
        match &self.fanout {
            None => {
                let _ = writeln!(
                    out,
                    "  {}",
                    self.fanout_note.as_deref().unwrap_or("fan-out: not available in this build")
                );
            }
            Some(_) => {
                for (n, window, calls, rounds, status, moto) in self.fanout_medians() {
                    let _ = writeln!(
                        out,
                        "  {n:>2} services: API window {}, {calls} calls, {rounds} rounds, moto {moto:.1} ms per call, {status}",
                        window.map_or("—".into(), |w| format!("{w:.0} ms"))
                    );
                }
            }
        }
        for f in &self.failures {
            let _ = writeln!(out, "FAILED: {f}");
        }
        out
    }

    fn markdown(&self, machine: &Machine, args: &Args, svg_name: &str) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Benchmarks\n");
        let _ = writeln!(
            md,
            "Written by `make bench` ({}). The release `bootstrap` (built by `cargo lambda build --release`) runs \
             as a plain process against a local Lambda Runtime API (`tests/src/runtime_api.rs`) and a local AWS \
             (moto); a proxy (`tests/src/proxy.rs`) in front of moto adds **{} ms to every AWS call** — a \
             stand-in for the network round trip to the AWS API — and records each call, so the figures show \
             how many calls the deployer makes and how many of them it waits for one after another.\n",
            machine.date, self.delay_ms
        );
        let _ = writeln!(md, "```sh\nmake bench\n```\n");
        let _ = writeln!(
            md,
            "builds the three functions' release zips (`cargo lambda build --release` for the deployer and the hook, \
             `--profile release-front` for the front, as `make package` does), then \
             `cargo run -p deployer-tests --bin bench -- --write docs/BENCHMARKS.md` (options: `--delay-ms`, \
             `--deploys`, `--binary`, `--zip`, …; see `--help`). The bench runs the `bootstrap` inside each zip.\n"
        );
        let _ = writeln!(md, "## Machine\n");
        let _ = writeln!(md, "| | |\n|---|---|");
        let _ = writeln!(md, "| CPU | {} ({} cores available) |", machine.cpu, machine.cores);
        let _ = writeln!(md, "| memory | {} |", machine.memory);
        let _ = writeln!(md, "| kernel | {} |", machine.kernel);
        let _ = writeln!(md, "| rustc | {} |", machine.rustc);
        let _ = writeln!(md, "| moto | {} |", machine.moto);
        let _ = writeln!(md, "| commit | {} |", machine.commit);
        let _ = writeln!(md, "| date | {} |", machine.date);
        let _ = writeln!(
            md,
            "| runs | {} single deploys, {} process starts, fan-out medians of {} invocations, {} deploys with throttling |\n",
            args.deploys, args.cold_starts, args.fanout_repeats, args.throttle_deploys
        );

        let _ = writeln!(md, "## Against the targets\n");
        let _ = writeln!(
            md,
            "Targets from the issue, at {} ms per call. The **API window** runs from the start of the first AWS \
             call to the end of UpdateService (as the proxy saw them); a **round** is a set of calls that \
             overlap, so the rounds are the length of the longest chain of calls each started after the \
             previous one ended. Calls and rounds against the targets count the calls that start inside the \
             window; calls made after UpdateService (such as releasing the deploy lock) are listed below. \
             Counts show the maximum over the deploys, and the most frequent value when they differ.\n",
            self.delay_ms
        );
        if self.delay_ms != 40 {
            let _ = writeln!(
                md,
                "> These figures were taken at {} ms per call, not the 40 ms the targets assume.\n",
                self.delay_ms
            );
        }
        let _ = writeln!(md, "| figure | measured | target | |\n|---|---|---|---|");
        for r in self.rows() {
            let _ = writeln!(md, "| {} | {} | {} | {} |", r.figure, r.measured, r.target, r.verdict);
        }
        let _ = writeln!(md, "\nMB are 10⁶ bytes; RSS is the process's `VmHWM` from `/proc/<pid>/status`.\n");

        let _ = writeln!(md, "## More figures\n");
        let _ = writeln!(md, "| | |\n|---|---|");
        for (k, v) in self.info_rows() {
            let _ = writeln!(md, "| {k} | {v} |");
        }

        let _ = writeln!(md, "\n## Fan-out\n");
        let _ = writeln!(
            md,
            "One invocation with `\"targets\": [{{\"cluster\": \"demo\", \"service\": \"svc-01\"}}, …]` deploys \
             the version to N services (each its own task-definition family) concurrently; median of {} \
             invocations per size.\n",
            args.fanout_repeats
        );
        match &self.fanout {
            None => {
                let _ =
                    writeln!(md, "{}\n", self.fanout_note.as_deref().unwrap_or("fan-out: not available in this build"));
            }
            Some(_) => {
                let _ = writeln!(
                    md,
                    "| services | API window (median) | AWS calls (whole invocation, max) | rounds in the window (max) | moto's time per call (median) | result |"
                );
                let _ = writeln!(md, "|---|---|---|---|---|---|");
                for (n, window, calls, rounds, status, moto) in self.fanout_medians() {
                    let _ = writeln!(
                        md,
                        "| {n} | {} | {calls} | {rounds} | {moto:.1} ms | {status} |",
                        window.map_or("—".into(), |w| format!("{w:.0} ms"))
                    );
                }
                let _ = writeln!(md);
            }
        }
        let _ = writeln!(md, "![API window against the number of services]({svg_name})\n");
        let _ = writeln!(md, "## Notes\n");
        let _ = writeln!(
            md,
            "- Why a single deploy makes 7 calls, not 6: the seventh is the per-service lock in DynamoDB \
             (`PutItem`), taken in the same round as the preflight so that it costs a call but no round; \
             releasing it (`DeleteItem`) comes after UpdateService. Three rounds at 40 ms are 120 ms; moto's own \
             time per call makes up the rest of the window. The first deploy after a cold start reads the \
             task-definition family named as the service beside DescribeServices (kept only if the service runs \
             it; otherwise the real family costs a fourth round); the family is then remembered for the life of \
             the process. A repeat of the version last asked for reads the service's tasks (ListTasks) in the \
             first round, as `already_deployed` needs them.\n\
             - The in-process fake (`deployer::testing::FakeAws`) answers every call after the same delay and \
             at once otherwise: its fan-out shows the deployer's own share, without moto's.\n\
             - Every call's time is the proxy's delay plus moto's own time (its median is shown). moto is one \
             Python process on this machine's few cores: when many calls arrive at once it answers them \
             largely one after another, so its time per call grows with the fan-out (see the table) in a way \
             real AWS does not; the fan-out windows are therefore an upper bound.\n\
             - Process start → ready is the time from spawning `bootstrap` to its first \
             `GET /runtime/invocation/next`: configuration, AWS clients, the runtime client. It does not include \
             Lambda's own sandbox start.\n\
             - The throttling run uses a separate proxy and function process that answer every {}th call \
             (deterministically) with HTTP 400 `{{\"__type\":\"ThrottlingException\"}}` (also in \
             `x-amzn-ErrorType`), as ECS and ECR do; the SDK classifies that as throttling and retries it. \
             The deployer uses the SDK's standard retry mode (`contract::aws_error::retry_config`): up to 4 \
             attempts, a backoff drawn from 0–250 ms before the first retry, doubling up to 1 s. The adaptive \
             mode it used before also switched on the SDK's client-side rate limiter at the first throttling \
             answer, which then sent at most 0.5 requests/s at a deployer's rates (`MIN_FILL_RATE` in \
             aws-smithy-runtime's `client_rate_limiter.rs`): a throttled deploy's window was 22.3 s (median).\n\
             - Every figure comes from this machine at the date above; rerun `make bench` to refresh it.",
            self.throttle_every
        );
        if !self.failures.is_empty() {
            let _ = writeln!(md, "\n## Failures\n");
            for f in &self.failures {
                let _ = writeln!(md, "- {f}");
            }
        }
        md
    }
}

/// A hand-written SVG: API window (ms) against the number of services.
fn fanout_svg(points: &[(usize, f64)], one_service: Option<f64>, delay_ms: u64, note: Option<&str>) -> String {
    let (w, h) = (640.0, 400.0);
    let (left, right, top, bottom) = (70.0, 30.0, 50.0, 60.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let limit = one_service.map(|o| o * TARGET_FANOUT_RATIO);
    let top_value = points.iter().map(|p| p.1).chain(limit).fold(100.0_f64, f64::max) * 1.1;
    let step = [50.0, 100.0, 200.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0]
        .into_iter()
        .find(|s| top_value / s <= 8.0)
        .unwrap_or(20000.0);
    let y_max = (top_value / step).ceil() * step;
    let x = |n: f64| left + (n / 20.0) * pw;
    let y = |v: f64| top + ph - (v / y_max) * ph;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="15" font-weight="bold">Fan-out: API window against services deployed ({delay_ms} ms per AWS call)</text>"#,
        w / 2.0
    );
    let mut v = 0.0;
    while v <= y_max + 0.5 {
        let yy = y(v);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#e5e5e5"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v:.0}</text>"##,
            left + pw,
            left - 8.0,
            yy + 4.0
        );
        v += step;
    }
    for n in FANOUT_SIZES {
        let xx = x(n as f64);
        let _ = writeln!(
            s,
            r##"<line x1="{xx:.1}" y1="{:.1}" x2="{xx:.1}" y2="{:.1}" stroke="#333"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle">{n}</text>"##,
            top + ph,
            top + ph + 5.0,
            top + ph + 20.0
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{left}" y1="{top}" x2="{left}" y2="{:.1}" stroke="#333"/><line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#333"/>"##,
        top + ph,
        top + ph,
        left + pw,
        top + ph
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">services deployed in one invocation</text>"#,
        left + pw / 2.0,
        h - 15.0
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">API window (ms)</text>"#,
        top + ph / 2.0,
        top + ph / 2.0
    );
    if let Some(limit) = limit {
        let yy = y(limit);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#c0392b" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#c0392b">target: 2 × one service ({limit:.0} ms)</text>"##,
            left + pw,
            left + pw - 4.0,
            yy - 6.0
        );
    }
    if points.is_empty() {
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#888">{}</text>"##,
            left + pw / 2.0,
            top + ph / 2.0,
            note.unwrap_or("fan-out: not available in this build")
        );
    } else {
        let path: Vec<String> = points.iter().map(|(n, v)| format!("{:.1},{:.1}", x(*n as f64), y(*v))).collect();
        let _ =
            writeln!(s, r##"<polyline points="{}" fill="none" stroke="#2c6fbb" stroke-width="2"/>"##, path.join(" "));
        let _ = writeln!(
            s,
            r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#2c6fbb" stroke-width="2"/><text x="{:.1}" y="{:.1}">API window, median per size</text>"##,
            left + 12.0,
            top + 12.0,
            left + 36.0,
            top + 12.0,
            left + 42.0,
            top + 16.0
        );
        for (n, v) in points {
            let _ = writeln!(
                s,
                r##"<circle cx="{:.1}" cy="{:.1}" r="4" fill="#2c6fbb"/><text x="{:.1}" y="{:.1}" text-anchor="middle">{v:.0} ms</text>"##,
                x(*n as f64),
                y(*v),
                x(*n as f64),
                y(*v) - 10.0
            );
        }
    }
    let _ = writeln!(s, "</svg>");
    s
}

// ---------------------------------------------------------------------------------------------------------
// The machine.

struct Machine {
    cores: usize,
    cpu: String,
    memory: String,
    kernel: String,
    rustc: String,
    moto: String,
    commit: String,
    date: String,
}

fn command_line(program: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(program)
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
fn civil_date(secs: u64) -> String {
    let days = (secs / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown".into(), |(_, v)| v.trim().to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or("unknown".into(), |kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0));
    let kernel =
        std::fs::read_to_string("/proc/sys/kernel/osrelease").map_or("unknown".into(), |k| k.trim().to_owned());
    let commit = command_line(Path::new("git"), &["rev-parse", "--short", "HEAD"]).map_or("unknown".into(), |c| {
        let dirty = command_line(Path::new("git"), &["status", "--porcelain", "--untracked-files=no"]).is_some();
        if dirty {
            format!("{c} (with uncommitted changes)")
        } else {
            c
        }
    });
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    Machine {
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu,
        memory,
        kernel,
        rustc: command_line(Path::new("rustc"), &["-V"]).unwrap_or_else(|| "unknown".into()),
        moto: command_line(&tool("python"), &["-c", "import moto; print(moto.__version__)"])
            .unwrap_or_else(|| "unknown".into()),
        commit,
        date: civil_date(secs),
    }
}

// ---------------------------------------------------------------------------------------------------------
// The runs.

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("deployer-bench-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// The `bootstrap` inside the release zip, extracted into `dir`: exactly what Lambda would run.
fn extract_bootstrap(zip: &Path, dir: &Path) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let status = Command::new(tool("python"))
        .args(["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract('bootstrap', sys.argv[2])"])
        .arg(zip)
        .arg(dir)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run python to unzip {}: {e}", zip.display()))?;
    let binary = dir.join("bootstrap");
    if !status.success() || !binary.exists() {
        return Err(format!("{} holds no bootstrap", zip.display()));
    }
    std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    Ok(binary)
}

fn is_targets_unsupported(error: &Value) -> bool {
    error["errorType"] == "InvalidRequest" && error["errorMessage"].as_str().is_some_and(|m| m.contains("targets"))
}

async fn run(args: &Args, report: &mut Report) -> Result<(), String> {
    if args.fake_only {
        return run_fake(args, report).await;
    }
    if !args.zip.exists() {
        return Err(format!("{} not found: build it first with\n  {BUILD}", args.zip.display()));
    }
    let dir = temp_dir();
    let binary = match &args.binary {
        Some(b) if b.exists() => b.clone(),
        Some(b) => return Err(format!("{} not found", b.display())),
        None => extract_bootstrap(&args.zip, &dir)?,
    };
    report.binary_bytes = std::fs::metadata(&binary).ok().map(|m| m.len());
    report.zip_bytes = std::fs::metadata(&args.zip).ok().map(|m| m.len());
    let delay = Duration::from_millis(args.delay_ms);

    println!("== starting a local AWS (moto) and a proxy adding {} ms per call", args.delay_ms);
    let world = World::start().await;
    let proxy = Proxy::start(&world.endpoint, delay, None).await;
    let env = function_env(&world, &proxy.endpoint);
    let mut versions = Versions { next: 3 };

    println!("== {} process starts of {}", args.cold_starts, binary.display());
    let mut function = None;
    for i in 0..args.cold_starts {
        let mut f = Function::start(&binary, &env, dir.join(format!("function-{i}.log"))).await?;
        let ready = f.ready().await?;
        report.cold_starts.push(ms(ready));
        println!("   start {}: ready after {:.1} ms", i + 1, ms(ready));
        function = Some(f); // the previous one is dropped (killed); the last one serves the runs
    }
    let mut function = function.ok_or("no function process")?;
    for (name, zip) in [("front", &args.front_zip), ("hook", &args.hook_zip)] {
        let zip_bytes = std::fs::metadata(zip).ok().map(|m| m.len());
        if zip_bytes.is_none() {
            println!("== {name}: {} not found, its start is not measured", zip.display());
            report.others.push((name, Vec::new(), None));
            continue;
        }
        let own = dir.join(name);
        let _ = std::fs::create_dir_all(&own);
        let binary = extract_bootstrap(zip, &own)?;
        let env = other_env(&world, &proxy.endpoint, name);
        let mut starts = Vec::new();
        for i in 0..args.cold_starts {
            let mut f = Function::start(&binary, &env, dir.join(format!("{name}-{i}.log"))).await?;
            starts.push(ms(f.ready().await?));
        }
        println!("== {name}: {} process starts, median ready after {:.1} ms", starts.len(), median(&starts));
        report.others.push((name, starts, zip_bytes));
    }

    println!("== {} single-service deploys", args.deploys);
    for i in 0..args.deploys {
        let version = versions.push(&world).await;
        let sample = measure(&mut function, &proxy, json!({"version": version})).await;
        println!(
            "   {:>2} {version}: {} — API window {:.0} ms, invocation {:.0} ms, {} calls, {} rounds",
            i + 1,
            sample.status(),
            ms(sample.window),
            ms(sample.invocation),
            sample.calls,
            sample.rounds
        );
        if sample.status() != "deployed" {
            report.failures.push(format!(
                "single deploy of {version}: {}",
                match &sample.outcome {
                    Ok(v) | Err(v) => v.to_string(),
                }
            ));
        }
        report.singles.push(sample);
    }

    let last = format!("v{}", versions.next - 1);
    let warm = measure(&mut function, &proxy, json!({"version": last})).await;
    println!(
        "== warm repeat of {last}: {} — invocation {:.0} ms, {} calls",
        warm.status(),
        ms(warm.invocation),
        warm.calls
    );
    if warm.status() != "already_deployed" {
        report.failures.push(format!("repeat of {last} was {}, not already_deployed", warm.status()));
    }
    report.warm = Some(warm);
    report.rss_after_singles_kb = function.memory_kb().map(|m| m.0);

    println!("== fan-out to 1, 5, 10, 20 services");
    for i in 1..=20 {
        let name = format!("svc-{i:02}");
        world.add_service(&name, &name).await;
    }
    let mut fanout = Vec::new();
    'sizes: for n in FANOUT_SIZES {
        let targets: Vec<Value> =
            (1..=n).map(|i| json!({"cluster": world.shape.cluster, "service": format!("svc-{i:02}")})).collect();
        let mut samples = Vec::new();
        for _ in 0..args.fanout_repeats {
            let version = versions.push(&world).await;
            let sample = measure(&mut function, &proxy, json!({"version": version, "targets": targets})).await;
            if let Err(e) = &sample.outcome {
                if is_targets_unsupported(e) {
                    println!("   fan-out: not available in this build ({})", e["errorMessage"]);
                    report.fanout_note = Some("fan-out: not available in this build".into());
                    fanout.clear();
                    break 'sizes;
                }
            }
            println!(
                "   {n:>2} services, {version}: {} — API window {:.0} ms, {} calls, {} rounds",
                sample.status(),
                ms(sample.window),
                sample.calls,
                sample.rounds
            );
            samples.push(sample);
        }
        fanout.push((n, samples));
    }
    report.fanout = (!fanout.is_empty()).then_some(fanout);
    if let Some((hwm, rss)) = function.memory_kb() {
        report.rss_peak_kb = Some(hwm);
        report.rss_now_kb = Some(rss);
    }
    drop(function);

    println!(
        "== throttling: every {}th call answers ThrottlingException, {} deploys",
        args.throttle_every, args.throttle_deploys
    );
    report.throttle_every = args.throttle_every;
    let throttling = Proxy::start(&world.endpoint, delay, Some(args.throttle_every)).await;
    let env = function_env(&world, &throttling.endpoint);
    let mut function = Function::start(&binary, &env, dir.join("function-throttled.log")).await?;
    function.ready().await?;
    for i in 0..args.throttle_deploys {
        let version = versions.push(&world).await;
        let sample = measure(&mut function, &throttling, json!({"version": version})).await;
        println!(
            "   {:>2} {version}: {} — API window {:.0} ms, {} calls ({} throttled), {} rounds",
            i + 1,
            sample.status(),
            ms(sample.window),
            sample.calls,
            sample.throttled,
            sample.rounds
        );
        report.throttled.push(sample);
    }
    if let Some((hwm, _)) = function.memory_kb() {
        report.rss_peak_kb = Some(report.rss_peak_kb.unwrap_or(0).max(hwm));
    }
    if report.fanout.is_some() {
        let n = args.wide_targets;
        println!("== {n} services in one invocation, every {}th call throttled", args.throttle_every);
        for i in 21..=n {
            let name = format!("svc-{i:02}");
            world.add_service(&name, &name).await;
        }
        let targets: Vec<Value> =
            (1..=n).map(|i| json!({"cluster": world.shape.cluster, "service": format!("svc-{i:02}")})).collect();
        let version = versions.push(&world).await;
        let sample = measure(&mut function, &throttling, json!({"version": version, "targets": targets})).await;
        println!(
            "   {n} services, {version}: {} — invocation {:.0} ms, {} calls ({} throttled)",
            sample.status(),
            ms(sample.invocation),
            sample.calls,
            sample.throttled
        );
        report.wide = Some((n, sample));
        report.rss_wide_kb = function.memory_kb().map(|m| m.0);
    }
    drop(function);
    drop(throttling);
    drop(proxy);
    drop(world);
    run_fake(args, report).await
}

/// The fan-out of 1 and 20 services on the in-process fake.
async fn run_fake(args: &Args, report: &mut Report) -> Result<(), String> {
    let delay = Duration::from_millis(args.delay_ms);
    println!("== fan-out on the in-process fake at {} ms per call", args.delay_ms);
    for n in [1, 20] {
        let mut windows = Vec::new();
        for _ in 0..args.fanout_repeats {
            windows.push(ms(fake_fanout(n, delay).await?));
        }
        println!("   {n:>2} services: API window median {:.0} ms", median(&windows));
        report.fake_fanout.push((n, windows));
    }
    Ok(())
}

/// One invocation deploying v2 to `n` services (each its own family) of the in-process fake
/// (`deployer::testing::FakeAws`), every call of which waits `delay`; its API window, measured as on moto.
async fn fake_fanout(n: usize, delay: Duration) -> Result<Duration, String> {
    use deployer::request::Invocation;
    use deployer::testing::{defaults, deployer_on, described, FakeAws, REPOSITORY};
    let fake = FakeAws::world(REPOSITORY, &["v1", "v2"], vec![described(7, "v1")]).with_latency(delay);
    let names: Vec<String> = (1..=n).map(|i| format!("svc-{i:02}")).collect();
    for name in &names {
        fake.add_service_of_family(name, name);
    }
    let d = deployer_on(fake, defaults());
    let targets: Vec<Value> = names.iter().map(|s| json!({"cluster": "prod", "service": s})).collect();
    let request = serde_json::from_value(json!({"version": "v2", "targets": targets})).map_err(|e| e.to_string())?;
    let answer = d.execute(request, &Invocation::default()).await.map_err(|e| format!("fake fan-out: {e}"))?;
    let deployed = answer["targets"].as_array().map_or(0, |t| t.iter().filter(|e| e["status"] == "deployed").count());
    if deployed != n {
        return Err(format!("fake fan-out of {n}: {deployed} deployed: {answer}"));
    }
    let calls = d.ecs().calls();
    let first = calls.iter().map(|c| c.started).min().ok_or("no call")?;
    let last = calls.iter().filter(|c| c.op == "UpdateService").map(|c| c.ended).max().ok_or("no UpdateService")?;
    Ok(last.duration_since(first))
}

/// The environment of the front or the hook: the local AWS behind the proxy, and what each needs to start.
fn other_env(world: &World, endpoint: &str, name: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = world.aws_env().into_iter().filter(|(k, _)| k != "AWS_ENDPOINT_URL").collect();
    env.extend([
        ("AWS_ENDPOINT_URL".to_owned(), endpoint.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME".to_owned(), name.to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".to_owned(), "128".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION".to_owned(), "$LATEST".to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT".to_owned(), "JSON".to_owned()),
    ]);
    if name == "front" {
        env.extend([
            ("DEPLOYER_FUNCTION".to_owned(), "deployer".to_owned()),
            (
                "AUTH_TOKEN_SECRET_ARN".to_owned(),
                format!("arn:aws:secretsmanager:{}:123456789012:secret:front-token", deployer_tests::REGION),
            ),
        ]);
    }
    env
}

fn write_report(report: &Report, args: &Args, file: &Path) -> Result<(), String> {
    let dir = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let svg_name = "fanout.svg";
    let fan = report.fanout_medians();
    let points: Vec<(usize, f64)> = fan.iter().filter_map(|r| Some((r.0, r.1?))).collect();
    let one = points.iter().find(|p| p.0 == 1).map(|p| p.1);
    let svg = fanout_svg(&points, one, report.delay_ms, report.fanout_note.as_deref());
    let svg_path = dir.join(svg_name);
    std::fs::write(&svg_path, svg).map_err(|e| format!("{}: {e}", svg_path.display()))?;
    let md = report.markdown(&machine(), args, svg_name);
    std::fs::write(file, md).map_err(|e| format!("{}: {e}", file.display()))?;
    println!("wrote {} and {}", file.display(), svg_path.display());
    Ok(())
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("bench: {e}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let mut report = Report { delay_ms: args.delay_ms, throttle_every: args.throttle_every, ..Report::default() };
    let outcome = match tokio::time::timeout(BENCH_TIMEOUT, run(&args, &mut report)).await {
        Ok(result) => result,
        Err(_) => Err(format!("the bench did not finish within {} s", BENCH_TIMEOUT.as_secs())),
    };
    if let Err(e) = outcome {
        let dir = temp_dir();
        if std::fs::remove_dir(&dir).is_err() {
            eprintln!("(the function's logs are in {})", dir.display());
        }
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
    let _ = std::fs::remove_dir_all(temp_dir());
    print!("{}", report.text());
    if let Some(file) = &args.write {
        if let Err(e) = write_report(&report, &args, file) {
            eprintln!("bench: cannot write the report: {e}");
            std::process::exit(1);
        }
    }
    if !report.failures.is_empty() {
        std::process::exit(1);
    }
}
