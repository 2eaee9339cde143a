//! End to end: the real function binary under `cargo lambda watch`, called with `cargo lambda invoke
//! --data-file events/…`, deploying into moto.

use std::process::Output;

use deployer_tests::{repo_root, LambdaEmulator, World};
use serde_json::Value;

fn answer(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("invoke printed no JSON ({e}): {stdout}\n{}", String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test]
async fn the_function_deploys_through_the_lambda_runtime() {
    let world = World::start().await;
    let lambda = LambdaEmulator::start(&world.function_env());
    let events = repo_root().join("events");

    let dry = lambda.invoke(&events.join("deploy-dry-run.json"));
    assert!(dry.status.success(), "dry run failed: {}", String::from_utf8_lossy(&dry.stderr));
    assert_eq!(answer(&dry)["status"], "dry_run");
    assert_eq!(world.revisions().await, ["web:1"]);

    let deploy = lambda.invoke(&events.join("deploy.json"));
    assert!(deploy.status.success(), "deploy failed: {}", String::from_utf8_lossy(&deploy.stderr));
    let result = answer(&deploy);
    assert_eq!(result["status"], "deployed", "{result}");
    assert_eq!(result["task_definition"], "web:2");
    let (running, _) = world.running().await;
    assert_eq!(deployer::plan::describe_name(&running), "web:2");

    let again = answer(&lambda.invoke(&events.join("deploy.json")));
    assert_eq!(again["status"], "already_deployed");

    // A function error: cargo lambda exits non-zero and shows the stable code as the error type.
    let missing = lambda.invoke(&events.join("deploy-missing-image.json"));
    assert!(!missing.status.success());
    let shown = format!("{}{}", String::from_utf8_lossy(&missing.stdout), String::from_utf8_lossy(&missing.stderr));
    assert!(shown.contains("ImageNotFound"), "{shown}");
    assert_eq!(world.revisions().await, ["web:1", "web:2"]);
}
