//! The log subscriber both functions install first thing in `main`: the Lambda runtime's own
//! (`lambda_runtime::tracing::init_default_subscriber`: level from `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`,
//! else INFO; more directives from `RUST_LOG`; JSON lines when `AWS_LAMBDA_LOG_FORMAT` is `JSON`), with one
//! ceiling no setting can lift: only this workspace's crates log at TRACE, every other crate at most at DEBUG.
//!
//! At TRACE, `lambda_runtime` logs every raw event it receives (bearer tokens, Slack signatures, bodies), the
//! AWS SDK every request it signs and every response it reads (session tokens, the secret values Secrets
//! Manager returns), and hyper the bytes it moves. None of that is ever wanted in a function's log.

use std::str::FromStr;

use tracing::Subscriber;
use tracing_subscriber::filter::{EnvFilter, LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// The crates that may log at TRACE: their TRACE events are written by this project and hold no secret.
pub const OWN_CRATES: &[&str] = &["front", "deployer", "contract"];

/// The highest level any other crate may log at, whatever `RUST_LOG` or `AWS_LAMBDA_LOG_LEVEL` say.
pub const DEPENDENCY_CEILING: LevelFilter = LevelFilter::DEBUG;

/// The ceiling as a filter: TRACE for [`OWN_CRATES`], [`DEPENDENCY_CEILING`] for every other target.
pub fn ceiling() -> Targets {
    OWN_CRATES
        .iter()
        .fold(Targets::new().with_default(DEPENDENCY_CEILING), |t, krate| t.with_target(*krate, LevelFilter::TRACE))
}

/// The subscriber for an environment read through `var` (the process environment in [`init`]), writing to
/// `writer`: the runtime's level and format rules under [`ceiling`].
pub fn subscriber<W>(var: impl Fn(&str) -> Option<String>, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let level_text = var("AWS_LAMBDA_LOG_LEVEL").or_else(|| var("RUST_LOG"));
    let level = LevelFilter::from_str(level_text.as_deref().unwrap_or("INFO")).unwrap_or(LevelFilter::INFO);
    let filter =
        EnvFilter::builder().with_default_directive(level.into()).parse_lossy(var("RUST_LOG").unwrap_or_default());
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let base = tracing_subscriber::registry().with(ceiling()).with(filter);
    let fmt = tracing_subscriber::fmt::layer().with_target(false).without_time().with_writer(writer);
    if json {
        Box::new(base.with(fmt.json()))
    } else {
        Box::new(base.with(fmt))
    }
}

/// Installs [`subscriber`] over the process environment, writing to stdout (where Lambda collects logs).
/// Call it once, before anything logs; a second call leaves the first subscriber in place.
pub fn init() {
    let _ = tracing::subscriber::set_global_default(subscriber(|name| std::env::var(name).ok(), std::io::stdout));
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;
        fn make_writer(&'w self) -> Captured {
            self.clone()
        }
    }

    /// What each kind of line logs under the environment `vars`.
    fn logged(vars: &[(&str, &str)]) -> String {
        let out = Captured::default();
        let var = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned());
        tracing::subscriber::with_default(subscriber(var, out.clone()), || {
            tracing::trace!(target: "lambda_runtime::layers::api_response", body = "Bearer raw-event-token", "raw JSON event");
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", "response body: secret-value");
            tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", "dependency debug line");
            tracing::trace!(target: "front::app", "own trace line");
            tracing::info!(target: "deployer::pipeline", "own info line");
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text
    }

    #[test]
    fn no_setting_lets_a_dependency_log_at_trace() {
        for vars in [
            vec![("RUST_LOG", "trace")],
            vec![("AWS_LAMBDA_LOG_LEVEL", "TRACE")],
            vec![("RUST_LOG", "lambda_runtime=trace,aws_smithy_runtime=trace,trace")],
            vec![("RUST_LOG", "lambda_runtime::layers::api_response=trace")],
            vec![("AWS_LAMBDA_LOG_LEVEL", "TRACE"), ("AWS_LAMBDA_LOG_FORMAT", "JSON"), ("RUST_LOG", "trace")],
        ] {
            let text = logged(&vars);
            assert!(!text.contains("raw-event-token") && !text.contains("secret-value"), "{vars:?}: {text}");
        }
        let text = logged(&[("RUST_LOG", "trace")]);
        for line in ["dependency debug line", "own trace line", "own info line"] {
            assert!(text.contains(line), "{line} is missing at TRACE: {text}");
        }
    }

    #[test]
    fn levels_and_formats_follow_the_runtimes_rules() {
        let text = logged(&[]);
        assert!(text.contains("own info line") && !text.contains("own trace line") && !text.contains("debug line"));
        let text = logged(&[("AWS_LAMBDA_LOG_LEVEL", "WARN")]);
        assert!(!text.contains("own info line"), "{text}");
        let text = logged(&[("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
        let line = text.lines().next().unwrap();
        let json: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(json["fields"]["message"], "own info line");
    }
}
