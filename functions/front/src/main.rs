//! Wires the front door to the Lambda runtime: logging, configuration, AWS clients and the secret caches are
//! built once per cold start. The runtime hands over raw events: `Front::handle_event` tells them apart and
//! converts HTTP events itself, after checking them (see `event.rs`).

use std::time::Duration;

use contract::aws_error::config_loader;
use contract::secrets::SecretsManager;
use front::app::Front;
use front::aws::LambdaInvoker;
use front::config::Config;
use front::replay::DynamoReplayGuard;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::value::RawValue;

/// How long a synchronous invoke of the deployer may take: HTTP callers behind API Gateway get an answer
/// within its 29 s anyway, and the Slack continuation may follow a whole rollout.
const DEPLOYER_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[tokio::main]
async fn main() -> Result<(), Error> {
    contract::logging::init();
    let config = config_loader().load().await;
    let region = config.region().map(ToString::to_string).ok_or("no AWS region: set AWS_REGION")?;
    let settings = Config::from_env(&region).map_err(|e| Error::from(e.to_string()))?;
    let replay =
        settings.replay_table.clone().map(|t| DynamoReplayGuard::new(aws_sdk_dynamodb::Client::new(&config), t));
    let invoker = LambdaInvoker::new(&config, DEPLOYER_TIMEOUT);
    let front = Front::new(settings, invoker, SecretsManager::new(&config), replay);
    let front = &front;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| front.handle_event(event))).await
}
