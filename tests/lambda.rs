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

#[tokio::test]
async fn eventbridge_events_reach_the_function() {
    let world = World::start().await;
    let lambda = LambdaEmulator::start(&world.function_env());
    let events = repo_root().join("events");

    // A successful CodeBuild build deploys the IMAGE_TAG of its environment (v2).
    let built = lambda.invoke(&events.join("codebuild-succeeded.json"));
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let result = answer(&built);
    assert_eq!((result["status"].as_str(), result["version"].as_str()), (Some("deployed"), Some("v2")), "{result}");
    assert_eq!(deployer::plan::describe_name(&world.running().await.0), "web:2");

    // Deployment state changes name a deployment by id; moto's service keeps the deployment it started with,
    // whose revision (web:1) this deployer did not register, so both events are looked at and left alone.
    let status = world.ecs.describe_services().cluster("demo").services("web").send().await.expect("describe service");
    let deployment = status.services()[0].deployments()[0].id().expect("deployment id").to_owned();
    let dir = std::env::temp_dir().join(format!("deployer-events-{}", lambda.port));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for name in ["ecs-deployment-failed.json", "ecs-deployment-completed.json"] {
        let text = std::fs::read_to_string(events.join(name)).expect("fixture");
        let copy = dir.join(name);
        std::fs::write(&copy, text.replace("ecs-svc/4417731498154431163", &deployment)).expect("write event");
        let out = answer(&lambda.invoke(&copy));
        assert_eq!(out["status"], "ignored", "{name}: {out}");
        assert!(out["reason"].as_str().unwrap_or_default().contains("web:1 was not deployed by ecs-deployer"), "{out}");
    }
    assert_eq!(deployer::plan::describe_name(&world.running().await.0), "web:2", "nothing rolled back");
}
