//! The Lambda boundary: a JSON event in, a JSON result or a function error whose type is the stable code.

use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::aws::Aws;
use crate::engine::{Deployer, Invocation};
use crate::error::DeployError;
use crate::inbound::{route, Inbound};

/// A function error: `errorType` is the stable code, `errorMessage` the JSON error body
/// `{"error": {"code", "message", "details"}}`.
pub fn diagnostic(err: &DeployError) -> Diagnostic {
    Diagnostic { error_type: err.code().to_owned(), error_message: err.to_body().to_string() }
}

/// What the runtime says about the call: its request id and how long it may take.
pub fn invocation(context: &lambda_runtime::Context) -> Invocation {
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let budget = match context.deadline.checked_sub(now_ms) {
        Some(left) if left > 0 => std::time::Duration::from_millis(left),
        _ => Invocation::default().budget,
    };
    Invocation { request_id: context.request_id.clone(), budget }
}

pub async fn handle<A: Aws>(deployer: &Deployer<A>, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let inv = invocation(&event.context);
    let outcome = match route(event.payload) {
        Ok(Inbound::Request(request)) => deployer.execute(request, &inv).await,
        Ok(Inbound::EcsDeployment(e)) => deployer.on_deployment_event(&e, &inv).await,
        Ok(Inbound::CodeBuild(build)) => deployer.on_build(&build, &inv).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(result) => Ok(result),
        Err(err) => {
            if err.is_caller_error() {
                tracing::warn!(code = err.code(), "{err}");
            } else {
                tracing::error!(code = err.code(), "{err}");
            }
            Err(diagnostic(&err))
        }
    }
}

#[cfg(test)]
mod tests {
    use lambda_runtime::Context;
    use serde_json::json;

    use super::*;
    use crate::testing::*;

    use crate::fake::standard_deployer as deployer;

    fn event(payload: Value) -> LambdaEvent<Value> {
        LambdaEvent::new(payload, Context::default())
    }

    #[tokio::test]
    async fn a_deploy_answers_with_the_result_shape() {
        let out = handle(&deployer(), event(json!({"version": "v2"}))).await.unwrap();
        for key in [
            "status",
            "cluster",
            "service",
            "version",
            "image",
            "base_task_definition",
            "previous_task_definition",
            "task_definition",
            "deployment_id",
            "containers_updated",
            "timings_ms",
        ] {
            assert!(out.get(key).is_some(), "result lacks {key}: {out}");
        }
        assert_eq!(out["status"], "deployed");
        assert_eq!(out["task_definition"], "web:8");
    }

    #[tokio::test]
    async fn errors_are_function_errors_typed_by_their_code() {
        let d = deployer();
        let err = handle(&d, event(json!({"version": "v2", "dryrun": true}))).await.unwrap_err();
        assert_eq!(err.error_type, "InvalidRequest");
        let body: Value = serde_json::from_str(&err.error_message).unwrap();
        assert_eq!(body["error"]["code"], "InvalidRequest");
        assert!(body["error"]["message"].as_str().unwrap().contains("unknown field `dryrun`"));

        let err = handle(&d, event(json!({"version": "v9"}))).await.unwrap_err();
        assert_eq!(err.error_type, "ImageNotFound");
        let body: Value = serde_json::from_str(&err.error_message).unwrap();
        assert_eq!(body["error"]["details"], json!({"repository": REPOSITORY, "version": "v9"}));

        let err = handle(&d, event(json!("v2"))).await.unwrap_err();
        assert_eq!(err.error_type, "InvalidRequest");
        let changes: Vec<_> = d.aws().ops().into_iter().filter(|op| !op.starts_with("Describe")).collect();
        assert!(changes.iter().all(|op| ["PutItem", "DeleteItem"].contains(op)), "{changes:?}");
    }
}
