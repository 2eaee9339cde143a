//! Wires the deployer to the Lambda runtime: configuration and clients are built once per cold start.
// The handler future nests the fan-out stream, the preflight join and the SDK calls deeply enough to
// pass the compiler's default layout depth.
#![recursion_limit = "256"]

use deployer::engine::Deployer;
use deployer::handler::{diagnostic, handle};
use deployer::notify::Notifiers;
use deployer::request::Defaults;
use deployer::sdk::{config_loader, SdkAws};
use lambda_runtime::{service_fn, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let defaults = Defaults::from_env().map_err(|e| Error::from(diagnostic(&e).error_message))?;
    let config = config_loader().load().await;
    let region = config.region().map(ToString::to_string).ok_or("no AWS region: set AWS_REGION")?;
    // One lock table, in the function's region, for every region's services (the lock key names the region).
    let lock_table = std::env::var("DEPLOY_LOCK_TABLE").ok().filter(|t| !t.is_empty());
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let with_lock = move |aws: SdkAws| match &lock_table {
        Some(table) => aws.with_lock_table(dynamodb.clone(), table.clone()),
        None => aws,
    };
    let home = with_lock(SdkAws::new(&config));
    let regional = config.clone();
    let deployer = Deployer::new(home, defaults, region).with_regions(Box::new(move |region| {
        with_lock(SdkAws::new(&regional.to_builder().region(aws_config::Region::new(region.to_owned())).build()))
    }));
    let notifiers = Notifiers::from_env(&config);
    let deployer = if notifiers.is_empty() { deployer } else { deployer.with_notifier(notifiers) };
    let deployer = &deployer;
    lambda_runtime::run(service_fn(move |event| handle(deployer, event))).await
}
