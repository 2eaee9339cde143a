//! `make demo`: the local AWS (moto with rollouts that live), the function under `cargo lambda watch`, a deploy
//! of v2, a repeat, and a broken version that the function follows and rolls back.

use std::process::Output;

use deployer_tests::{repo_root, LambdaEmulator, World};
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
    let world = World::start().await;
    let (before, _) = world.running().await;
    println!("service {} runs {}", world.shape.service, deployer::plan::describe_name(&before));

    println!("== starting the function under cargo lambda watch (first run compiles it)");
    let lambda = LambdaEmulator::start(&world.function_env());
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

    drop(lambda);
    drop(world);
    let ok = first["status"] == "deployed" && second["status"] == "already_deployed" && rolled_back;
    println!("\n== stopped the function and the local AWS; demo {}", if ok { "succeeded" } else { "FAILED" });
    if !ok {
        std::process::exit(1);
    }
}
