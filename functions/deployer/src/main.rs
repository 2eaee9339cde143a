//! Wires the deployer to the Lambda runtime: configuration, clients and seams are built once per cold start.
// The handler future nests the fan-out stream, the preflight join and the SDK calls deeply enough to
// pass the compiler's default layout depth.
#![recursion_limit = "256"]

use std::sync::Arc;

use contract::aws_error::config_loader;
use contract::env::Env;
use deployer::config::Config;
use deployer::notify::Notifiers;
use deployer::pipeline::Deployer;
use deployer::ports::{Clock, DynamoHistory, DynamoLock, EcrClients, SdkEcs, SystemClock};
use deployer::trigger::lambda::handle;
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    contract::logging::init();
    let config = Config::from_env(&Env::process()).map_err(|e| Error::from(e.to_string()))?;
    let sdk = config_loader().load().await;
    let region = sdk.region().map(ToString::to_string).ok_or("no AWS region: set AWS_REGION")?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::default());
    let notifiers = Notifiers::from_config(&config, &sdk);
    let lock_table = config.lock_table.clone();
    // One ECR client per registry region, shared by the ECS clients of every service region.
    let ecr = EcrClients::new(&sdk);
    let (regional, regional_ecr) = (sdk.clone(), ecr.clone());
    let mut deployer = Deployer::new(SdkEcs::with_ecr(&sdk, ecr), config, region)
        .with_clock(clock.clone())
        .with_notifier(notifiers)
        .with_regions(Box::new(move |region| {
            let config = regional.to_builder().region(aws_config::Region::new(region.to_owned())).build();
            SdkEcs::with_ecr(&config, regional_ecr.clone())
        }));
    // One lock table, in the function's region, for every region's services (the lock key names the region).
    // The same table keeps the history: a record per deploy and rollback, beside the locks.
    if let Some(table) = lock_table {
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        deployer = deployer
            .with_history(Arc::new(DynamoHistory::new(dynamodb.clone(), table.clone())))
            .with_lock(Arc::new(DynamoLock::new(dynamodb, table, clock)));
    }
    let deployer = &deployer;
    lambda_runtime::run(service_fn(move |event| handle(deployer, event))).await
}
