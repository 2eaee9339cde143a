//! Wires the hook to the Lambda runtime: logging, configuration, the AWS clients and the HTTP client are
//! built once per cold start. A bad configuration does not stop the start: every invocation answers it
//! with a failure (see `hook.rs`), so no deployment waits on a hook that cannot run.

// The handler's future (SDK calls inside timeouts inside spans) is deeper than rustc's default layout limit.
#![recursion_limit = "256"]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use contract::aws_error::config_loader;
use contract::env::Env;
use hook::config::Config;
use hook::hook::Hook;
use hook::http::HyperProbe;
use hook::sdk::SdkAws;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::value::RawValue;

#[tokio::main]
async fn main() -> Result<(), Error> {
    contract::logging::init();
    let config = Config::from_env(&Env::process());
    if let Err(e) = &config {
        tracing::error!("{e}: every invocation will answer Failed");
    }
    let aws = SdkAws::new(&config_loader().load().await);
    let hook = Hook::new(config, aws, HyperProbe::default());
    let hook = &hook;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| async move {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let deadline = Duration::from_millis(event.context.deadline);
        let time_left = deadline.checked_sub(now);
        // The payload is parsed by the hook, not by the runtime: an event it cannot read is answered, never
        // an error (issue 23, D8).
        hook.handle_raw(event.payload.get(), time_left, now.as_secs()).await
    }))
    .await
}
