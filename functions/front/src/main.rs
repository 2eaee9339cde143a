//! Wires the front door to the Lambda runtime: configuration, AWS clients and the secret caches are built
//! once per cold start.

use std::time::Duration;

use front::app::Front;
use front::aws::{LambdaInvoker, SecretsManager};
use front::config::Config;
use lambda_http::{service_fn, Error, Request};

/// How long a synchronous invoke of the deployer may take: HTTP callers behind API Gateway get an answer
/// within its 29 s anyway, and the Slack continuation may follow a whole rollout.
const DEPLOYER_TIMEOUT: Duration = Duration::from_secs(15 * 60);

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let config = deployer::sdk::config_loader().load().await;
    let region = config.region().map(ToString::to_string).ok_or("no AWS region: set AWS_REGION")?;
    let settings = Config::from_env(&region).map_err(|e| Error::from(e.to_string()))?;
    let front = Front::new(settings, LambdaInvoker::new(&config, DEPLOYER_TIMEOUT), SecretsManager::new(&config));
    let front = &front;
    lambda_http::run(service_fn(move |request: Request| front.handle(request))).await
}
