//! End to end: the real function binary under `cargo lambda watch`, called with `cargo lambda invoke
//! --data-file events/…`, deploying into the local AWS (moto with rollouts that live).

use std::process::Output;

use std::sync::atomic::Ordering;

use deployer_tests::{free_port, http_listener, repo_root, DirectFunction, LambdaEmulator, Shape, World};
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

    // What v2 would change: the image of the app container, and nothing is registered.
    let diff = answer(&lambda.invoke(&events.join("diff.json")));
    assert_eq!(diff["status"], "changed", "{diff}");
    let fields: Vec<&str> =
        diff["changed_fields"].as_array().unwrap().iter().filter_map(|c| c["field"].as_str()).collect();
    assert_eq!(fields, ["image"], "{diff}");
    assert!(diff["text"].as_str().unwrap().starts_with("app.image: "), "{diff}");
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

    // A version whose tasks never start (the local AWS stops every task of an image tagged `…broken…`): the
    // function follows the rollout, sees its tasks fail, puts the service back on web:2 and deregisters web:3.
    world.push_image("v3-broken").await;
    let broken = lambda.invoke(&events.join("deploy-broken.json"));
    let shown = format!("{}{}", String::from_utf8_lossy(&broken.stdout), String::from_utf8_lossy(&broken.stderr));
    assert!(!broken.status.success(), "{shown}");
    assert!(shown.contains("RolledBack"), "{shown}");
    assert_eq!(world.settle("web").await.1, "web:2");
    let (failed, _) = world.task_definition("web:3").await;
    assert_eq!(failed.status().map(|s| s.as_str()), Some("INACTIVE"), "the failed revision is deregistered");

    // The history, from the records in the lock table: the failed deploy first, then v2.
    let history = answer(&lambda.invoke(&events.join("history.json")));
    let entries: Vec<(&str, &str)> = history["history"]
        .as_array()
        .unwrap_or_else(|| panic!("{history}"))
        .iter()
        .map(|e| (e["task_definition"].as_str().unwrap_or("-"), e["status"].as_str().unwrap_or("-")))
        .collect();
    assert_eq!(entries, [("web:3", "rolled_back"), ("web:2", "deployed")], "{history}");

    // Deploying the revision the service runs registers nothing and changes nothing.
    let redeploy = answer(&lambda.invoke(&events.join("deploy-revision.json")));
    assert_eq!(
        (redeploy["status"].as_str(), redeploy["task_definition"].as_str()),
        (Some("already_deployed"), Some("web:2"))
    );
    assert_eq!(world.revisions().await, ["web:1", "web:2"], "ACTIVE revisions: web:3 was deregistered");
}

#[tokio::test]
async fn eventbridge_events_reach_the_function() {
    let world = World::start().await;
    let lambda = LambdaEmulator::start(&world.function_env());
    let events = repo_root().join("events");
    let fixture = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(events.join(name)).expect("fixture")).expect("JSON")
    };

    // cargo lambda watch names the invoked function `function-arn`, which says nothing of the account the
    // function runs in: no event can be checked, so none is trusted, and nothing is deployed.
    let refused = lambda.invoke(&events.join("codebuild-succeeded.json"));
    let shown = format!("{}{}", String::from_utf8_lossy(&refused.stdout), String::from_utf8_lossy(&refused.stderr));
    assert!(!refused.status.success() && shown.contains("UntrustedEvent"), "{shown}");
    assert_eq!(world.revisions().await, ["web:1"]);

    // The same binary under a Runtime API that names the function's ARN, in the fixtures' account and region.
    let function = DirectFunction::start(&world.function_env()).await;
    // A successful CodeBuild build of DEPLOY_BUILD_PROJECTS deploys the IMAGE_TAG of its environment (v2).
    let result = function.invoke(fixture("codebuild-succeeded.json")).await.expect("deployed");
    assert_eq!((result["status"].as_str(), result["version"].as_str()), (Some("deployed"), Some("v2")), "{result}");
    assert_eq!(deployer::plan::describe_name(&world.running().await.0), "web:2");
    // The same build from another account, or with a stray field, changes nothing.
    let mut foreign = fixture("codebuild-succeeded.json");
    foreign["account"] = "999999999999".into();
    let mut stray = fixture("codebuild-succeeded.json");
    stray["service"] = "web".into();
    for (event, code) in [(foreign, "UntrustedEvent"), (stray, "InvalidRequest")] {
        let err = function.invoke(event).await.expect_err("refused");
        assert_eq!(err["errorType"], code, "{err}");
    }
    assert_eq!(world.revisions().await, ["web:1", "web:2"]);

    // Deployment state changes name a deployment by id and are only hints: ECS is read again. Once the
    // rollout of web:2 has settled, a "failed" event about it is false (ECS says COMPLETED) and ignored; a
    // "completed" one is confirmed and reported with the revision and version the deployer tagged.
    let (deployment, running) = world.settle("web").await;
    assert_eq!(running, "web:2");
    let mut failed = fixture("ecs-deployment-failed.json");
    failed["detail"]["deploymentId"] = deployment.clone().into();
    let out = function.invoke(failed).await.expect("answered");
    assert_eq!(out["status"], "ignored", "{out}");
    assert!(out["reason"].as_str().unwrap_or_default().contains("ECS says its rollout is COMPLETED"), "{out}");
    let mut completed = fixture("ecs-deployment-completed.json");
    completed["detail"]["deploymentId"] = deployment.clone().into();
    let out = function.invoke(completed).await.expect("answered");
    assert_eq!(
        (out["status"].as_str(), out["task_definition"].as_str(), out["version"].as_str()),
        (Some("completed"), Some("web:2"), Some("v2")),
        "{out}"
    );
    // An id the service does not list is not acted on.
    let mut unknown = fixture("ecs-deployment-failed.json");
    unknown["detail"]["deploymentId"] = "ecs-svc/0000000000000000000".into();
    let out = function.invoke(unknown).await.expect("answered");
    assert_eq!(out["status"], "ignored", "{out}");
    assert_eq!(deployer::plan::describe_name(&world.running().await.0), "web:2", "nothing rolled back");
}

/// `events/deploy-canary.json` on a CANARY service whose POST_TEST_TRAFFIC_SHIFT lifecycle hook is
/// `functions/hook`, both served by one emulator that the local AWS invokes hooks at: the deployer follows
/// the service deployment through the hook's HTTP check and the canary step to SUCCESSFUL.
// Two workers: the test listener answers the hook while this test blocks on `cargo lambda invoke`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_with_its_lifecycle_hook_deploys_through_the_lambda_runtime() {
    let server = http_listener(200).await;
    let port = free_port();
    let local = [
        ("LOCAL_AWS_LAMBDA_ENDPOINT", format!("http://127.0.0.1:{port}")),
        // One API minute lasts two seconds: the canary's bake passes quickly.
        ("LOCAL_AWS_MINUTE", "2".to_owned()),
    ];
    let world = World::start_configured(Shape::default(), 0.5, &local).await;
    let mut env = world.function_env();
    env.extend([("HOOK_HTTP_URL".to_owned(), server.url.clone()), ("HOOK_HTTP_REQUESTS".to_owned(), "1".to_owned())]);
    let lambda = LambdaEmulator::start_all_on(port, &env);
    let events = repo_root().join("events");
    // The first invocation of the hook compiles it: before the rollout, not while ECS waits for its answer.
    let warm = lambda.invoke_function("hook", &events.join("hook-ecs-rollback.json"));
    assert_eq!(answer(&warm)["hookStatus"], "SUCCEEDED");
    world.settle("web").await;
    world.make_canary_with_hook("web").await;
    world.push_image("v3").await;

    let out = lambda.invoke(&events.join("deploy-canary.json"));
    let result = answer(&out);
    assert_eq!(result["status"], "completed", "{result}");
    assert_eq!(result["task_definition"], "web:2", "{result}");
    let sd = &result["service_deployment"];
    assert_eq!((sd["strategy"].as_str(), sd["status"].as_str()), (Some("CANARY"), Some("SUCCESSFUL")), "{result}");
    assert_eq!(sd["traffic_steps"].as_array().and_then(|s| s.last()).and_then(Value::as_f64), Some(100.0), "{sd}");
    assert!(sd["traffic_steps"].as_array().is_some_and(|s| s.iter().any(|w| w.as_f64() == Some(10.0))), "{sd}");
    assert!(server.hits.load(Ordering::SeqCst) >= 1, "the hook checked the test listener");
    assert!(server.paths.lock().unwrap().iter().all(|p| p == "/ready"));
    assert_eq!(deployer::plan::describe_name(&world.running().await.0), "web:2");
}
