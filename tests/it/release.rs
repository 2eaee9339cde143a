//! The front door as it ships: its release build (profile `release-front`, which `make package` and the SAM
//! template use, built by cargo-lambda for this machine) run as a plain process against a local Lambda Runtime API (`tests/src/runtime_api.rs`), no
//! AWS behind it. Fed the HTTP events that panic `lambda_http`'s conversion, it answers each with a 400 in
//! its integration's shape and keeps running; anything else gets its answer too; and at TRACE its log holds
//! none of the bearer tokens and Slack signatures those events carry.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use deployer_tests::runtime_api::RuntimeApi;
use deployer_tests::{repo_root, tool};
use serde_json::{json, Value};

/// The bearer token and Slack signature the `events/malformed-*.json` fixtures carry.
const CANARIES: [&str; 2] = ["malformed-event-token-3c1f9a", "5ca1ab1e00000000"];

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join("events").join(name)).expect("read fixture");
    serde_json::from_str(&text).expect("JSON fixture")
}

/// Builds the front as `make package` does, with the release-front profile, but for this machine
/// (`--compiler cargo`: no Zig, no cross target), and returns the binary. A no-op when it is up to date.
fn release_build() -> std::path::PathBuf {
    let status = Command::new(tool("cargo-lambda"))
        .args(["lambda", "build", "--profile", "release-front", "--compiler", "cargo", "--locked"])
        .args(["--package", "front", "--output-format", "binary"])
        .current_dir(repo_root())
        .status()
        .expect("run cargo lambda build");
    assert!(status.success(), "the release-front build failed");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo_root().join("target"), Into::into);
    target.join("lambda").join("front").join("bootstrap")
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(binary: &Path, api: &RuntimeApi, log: &Path) -> Running {
    let out = std::fs::File::create(log).expect("log file");
    let err = out.try_clone().expect("log file");
    let child = Command::new(binary)
        .env_clear()
        .envs([
            ("AWS_LAMBDA_RUNTIME_API", api.addr.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", "front"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            // Nothing listens there: none of these events may need AWS.
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("DEPLOYER_FUNCTION", "deployer"),
            ("AUTH_TOKEN_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:front-token"),
            ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
            ("RUST_LOG", "trace"),
        ])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start the front");
    Running(child)
}

fn body(answer: &Value) -> Value {
    serde_json::from_str(answer["body"].as_str().unwrap_or("null")).unwrap_or(Value::Null)
}

#[tokio::test]
async fn the_release_build_answers_malformed_events_and_logs_no_secret() {
    let binary = tokio::task::spawn_blocking(release_build).await.expect("join");
    let api = RuntimeApi::start().await;
    let dir = std::env::temp_dir().join(format!("front-release-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let log = dir.join("front.log");
    let mut front = start(&binary, &api, &log);
    assert!(api.wait_first_next(Duration::from_secs(30)).await.is_some(), "the front did not start: see {log:?}");

    let malformed = [
        ("malformed-alb-host-port.json", Some("400 Bad Request")),
        ("malformed-alb-forwarded-proto.json", Some("400 Bad Request")),
        ("malformed-function-url-query-space.json", None),
        ("malformed-function-url-query-quote.json", None),
        ("malformed-function-url-base64-body.json", None),
    ];
    for (name, description) in malformed {
        let (outcome, _) = api.invoke(fixture(name)).await;
        let answer = outcome.unwrap_or_else(|e| panic!("{name}: a function error {e}; see {log:?}"));
        assert_eq!(answer["statusCode"], 400, "{name}: {answer}");
        assert_eq!(answer["statusDescription"].as_str(), description, "{name}: {answer}");
        assert_eq!(body(&answer)["error"]["code"], "InvalidRequest", "{name}: {answer}");
    }
    // The same process still answers: an event of no known kind, and a request without credentials.
    let (outcome, _) = api.invoke(json!({"version": "v2", "service": "api"})).await;
    assert_eq!(outcome.expect_err("a function error")["errorType"], "InvalidRequest");
    let mut anonymous = fixture("function-url-deploy.json");
    anonymous["headers"].as_object_mut().expect("headers").remove("authorization");
    let (outcome, _) = api.invoke(anonymous).await;
    let answer = outcome.expect("an HTTP answer");
    assert_eq!(
        (answer["statusCode"].as_u64(), body(&answer)["error"]["code"].as_str()),
        (Some(401), Some("Unauthorized"))
    );
    assert!(front.0.try_wait().expect("process state").is_none(), "the front exited; see {log:?}");
    drop(front);

    let text = std::fs::read_to_string(&log).expect("read the log");
    assert!(text.contains("malformed HTTP event"), "the front logged nothing useful: {text}");
    for canary in CANARIES {
        assert!(!text.contains(canary), "{canary} reached the log at TRACE: {log:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
