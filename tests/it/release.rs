//! The front door as a process: its binary run as a plain process against a local Lambda Runtime API
//! (`tests/src/runtime_api.rs`), no AWS behind it. Fed the HTTP events that panic `lambda_http`'s conversion,
//! it answers each with a 400 in its integration's shape and keeps running; anything else gets its answer too;
//! and at TRACE its log holds none of the bearer tokens and Slack signatures those events carry.
//!
//! Which binary: `FRONT_BINARY` when set, which `make test-release` sets to the release build (profile
//! `release-front`, as `make package` and the SAM template build it, for this machine); else the debug build
//! `make test` makes before the tests (`target/debug/front`). Both unwind on a panic, which is what these
//! answers rest on: the dev profile's default, and for the release build what
//! `the_release_front_profile_unwinds_and_every_front_build_uses_it` checks. The release build (fat LTO, about
//! 4 minutes on 2 cores) is never made inside a test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use deployer_tests::repo_root;
use deployer_tests::runtime_api::RuntimeApi;
use serde_json::{json, Value};

/// The bearer token and Slack signature the `events/malformed-*.json` fixtures carry.
const CANARIES: [&str; 2] = ["malformed-event-token-3c1f9a", "5ca1ab1e00000000"];

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join("events").join(name)).expect("read fixture");
    serde_json::from_str(&text).expect("JSON fixture")
}

/// The front binary under test (see the module's docs); a missing one fails the test.
fn front_binary() -> PathBuf {
    let binary = std::env::var_os("FRONT_BINARY").map_or_else(
        || {
            let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo_root().join("target"), Into::into);
            target.join("debug").join("front")
        },
        PathBuf::from,
    );
    assert!(
        binary.exists(),
        "{} is not built: `make test` builds it (`cargo build --workspace --bins`)",
        binary.display()
    );
    binary
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
    let binary = front_binary();
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

/// What the debug build stands in for: `[profile.release-front]` is the release profile with panics that
/// unwind, and every build of the front that ships (`make package`, the SAM build in infra/infra.mk),
/// `make test-release` and `make bench` use that profile, never plain `--release` (whose panics abort).
#[test]
fn the_release_front_profile_unwinds_and_every_front_build_uses_it() {
    let read = |path: &str| std::fs::read_to_string(repo_root().join(path)).expect(path);
    let manifest = read("Cargo.toml");
    let profile = manifest.split("[profile.release-front]").nth(1).expect("a [profile.release-front] in Cargo.toml");
    let profile: Vec<&str> =
        profile.lines().map(str::trim).take_while(|l| !l.starts_with('[')).filter(|l| !l.is_empty()).collect();
    assert!(profile.contains(&"inherits = \"release\""), "{profile:?}");
    assert!(profile.contains(&"panic = \"unwind\""), "{profile:?}");
    let mut builds = 0;
    for file in ["Makefile", "infra/infra.mk"] {
        for line in read(file).lines().filter(|l| l.contains("cargo lambda build") && l.contains("front")) {
            assert!(line.contains("--profile release-front") && !line.contains("--release"), "{file}: {line}");
            builds += 1;
        }
    }
    // make package, make test-release, make bench (the front's start and zip are measured), and sam build's
    // build-FrontFunction.
    assert_eq!(builds, 4, "every front build was checked");
}
