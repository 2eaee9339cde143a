//! `make demo`: the local AWS (moto with rollouts that live), the functions under `cargo lambda watch`, a
//! deploy of v2, a repeat, a broken version that the deployer follows and rolls back, and a canary whose
//! lifecycle hook (`functions/hook`) checks a test listener before production traffic moves.

use std::process::Output;

use std::sync::atomic::Ordering;

use deployer_tests::{free_port, http_listener, repo_root, LambdaEmulator, Shape, World};
use serde_json::{json, Value};

fn show(title: &str, out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("\n== {title}");
    match serde_json::from_str::<Value>(stdout.trim()) {
        Ok(v) => {
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            v
        }
        Err(_) => {
            println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
            Value::Null
        }
    }
}

#[tokio::main]
async fn main() {
    println!("== starting the local AWS (moto, rollouts live) with cluster, ECR repository (v1, v2) and service");
    // The local AWS invokes lifecycle hooks at the emulator's port, chosen first; an API minute lasts 2 s.
    let port = free_port();
    let local =
        [("LOCAL_AWS_LAMBDA_ENDPOINT", format!("http://127.0.0.1:{port}")), ("LOCAL_AWS_MINUTE", "2".to_owned())];
    let world = World::start_configured(Shape::default(), 0.5, &local).await;
    let (before, _) = world.running().await;
    println!("service {} runs {}", world.shape.service, deployer::plan::describe_name(&before));
    // What the canary's hook checks: a test listener that answers 200.
    let listener = http_listener(200).await;

    println!("== starting the functions (deployer, hook) under cargo lambda watch (first run compiles them)");
    let mut env = world.function_env();
    env.extend([("HOOK_HTTP_URL".to_owned(), listener.url.clone()), ("HOOK_HTTP_REQUESTS".to_owned(), "1".to_owned())]);
    let lambda = LambdaEmulator::start_all_on(port, &env);
    let event = repo_root().join("events/deploy.json");

    println!("\n$ cargo lambda invoke deployer --data-file events/deploy.json");
    let first = show("deploy v2", &lambda.invoke(&event));

    let (td, tags) = world.running().await;
    let summary = json!({
        "task_definition": deployer::plan::describe_name(&td),
        "containers": td.container_definitions().iter()
            .map(|c| json!({"name": c.name(), "image": c.image()}))
            .collect::<Vec<_>>(),
        "cpu": td.cpu(), "memory": td.memory(),
        "runtime_platform": td.runtime_platform().map(|p| json!({
            "os": p.operating_system_family().map(|f| f.as_str()),
            "cpu": p.cpu_architecture().map(|c| c.as_str()),
        })),
        "ephemeral_storage_gib": td.ephemeral_storage().map(|e| e.size_in_gib()),
        "tags": tags.iter().map(|t| (t.key().unwrap_or_default().to_owned(), json!(t.value()))).collect::<serde_json::Map<_, _>>(),
    });
    println!("\n== the service now runs\n{}", serde_json::to_string_pretty(&summary).unwrap_or_default());

    println!("\n$ cargo lambda invoke deployer --data-file events/deploy.json   # again");
    let second = show("repeat deploy of v2", &lambda.invoke(&event));

    let settled = world.settle(&world.shape.service).await;
    println!("\n== the local AWS rolled v2 out: deployment {} of {} COMPLETED", settled.0, settled.1);

    world.push_image("v3-broken").await;
    println!("\n$ cargo lambda invoke deployer --data-file events/deploy-broken.json   # v3-broken never starts");
    let broken = lambda.invoke(&repo_root().join("events/deploy-broken.json"));
    show("deploy v3-broken and follow its rollout", &broken);
    let shown = format!("{}{}", String::from_utf8_lossy(&broken.stdout), String::from_utf8_lossy(&broken.stderr));
    let after = world.settle(&world.shape.service).await;
    let (failed, _) = world.task_definition("web:3").await;
    println!(
        "\n== its tasks stopped (Essential container in task exited); the function rolled the service back: \
         it runs {} again, web:3 is {}",
        after.1,
        failed.status().map_or("?", |s| s.as_str())
    );
    let rolled_back = !broken.status.success() && shown.contains("RolledBack") && after.1 == "web:2";

    println!(
        "\n== web becomes an ECS-native CANARY (10 % of traffic for a minute, then all) whose \
         POST_TEST_TRAFFIC_SHIFT lifecycle hook is functions/hook, checking {}",
        listener.url
    );
    // The hook's first invocation compiles it: do that now, not while ECS waits for its answer.
    let warm = lambda.invoke_function("hook", &repo_root().join("events/hook-ecs-rollback.json"));
    show("the hook, warmed up with events/hook-ecs-rollback.json", &warm);
    world.make_canary_with_hook(&world.shape.service).await;
    world.push_image("v3").await;
    println!("\n$ cargo lambda invoke deployer --data-file events/deploy-canary.json   # v3, followed to the end");
    let canary = show(
        "deploy v3 as a canary and follow its service deployment",
        &lambda.invoke(&repo_root().join("events/deploy-canary.json")),
    );
    let sd = &canary["service_deployment"];
    println!(
        "\n== the hook checked the test listener {} time(s); traffic went {} % to v3; the service deployment is {}",
        listener.hits.load(Ordering::SeqCst),
        sd["traffic_steps"]
            .as_array()
            .map(|s| s.iter().map(|w| w.to_string()).collect::<Vec<_>>().join(" → "))
            .unwrap_or_default(),
        sd["status"].as_str().unwrap_or("?")
    );
    let canaried =
        canary["status"] == "completed" && sd["status"] == "SUCCESSFUL" && listener.hits.load(Ordering::SeqCst) > 0;

    drop(lambda);
    drop(world);
    let ok = first["status"] == "deployed" && second["status"] == "already_deployed" && rolled_back && canaried;
    println!("\n== stopped the function and the local AWS; demo {}", if ok { "succeeded" } else { "FAILED" });
    if !ok {
        std::process::exit(1);
    }
}
