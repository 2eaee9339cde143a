//! The Lambda boundary: a JSON event in, a JSON result or a function error whose type is the stable code.

use std::time::Duration;

use contract::names::Home;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

use super::{codebuild, codedeploy_event, codepipeline, ecs_event, route, Inbound};
use crate::pipeline::Deployer;
use crate::ports::{Clock, Ecs};
use crate::request::Invocation;

/// What the runtime says about the call: its request id, how long it may take (until its deadline, Unix
/// milliseconds, on `clock`) and where the function runs (partition, region and account of the invoked
/// function's ARN; `None` when the runtime names no valid ARN, and then no ARN and no event is accepted).
pub fn invocation(context: &lambda_runtime::Context, clock: &dyn Clock) -> Invocation {
    let budget = match context.deadline.checked_sub(clock.unix_millis()) {
        Some(left) if left > 0 => Duration::from_millis(left),
        _ => Invocation::default().budget,
    };
    let home = Home::from_function_arn(&context.invoked_function_arn).ok();
    Invocation { request_id: context.request_id.clone(), budget, home }
}

/// Handles one event; an error is a function error typed by its code, logged as a warning when the caller
/// caused it and as an error otherwise.
pub async fn handle<E: Ecs>(deployer: &Deployer<E>, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let inv = invocation(&event.context, deployer.clock());
    let outcome = match route(event.payload) {
        Ok(Inbound::Request(request)) => deployer.execute(*request, &inv).await,
        Ok(Inbound::EcsDeployment(e)) => ecs_event::on_deployment_event(deployer, &e, &inv).await,
        Ok(Inbound::CodeBuild { origin, event }) => codebuild::on_build(deployer, &origin, &event, &inv).await,
        Ok(Inbound::CodeDeploy(e)) => codedeploy_event::on_codedeploy_event(deployer, &e, &inv).await,
        Ok(Inbound::CodePipeline(job)) => codepipeline::on_job(deployer, &job, &inv).await,
        Err(e) => Err(e),
    };
    outcome.map_err(|err| {
        if err.is_caller_error() {
            tracing::warn!(code = %err.code(), "{err}");
        } else {
            tracing::error!(code = %err.code(), "{err}");
        }
        Diagnostic::from(err)
    })
}

#[cfg(test)]
mod tests {
    use lambda_runtime::Context;
    use serde_json::json;

    use super::*;
    use crate::testing::*;

    use crate::testing::standard_deployer as deployer;

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
        assert_eq!(
            body["error"]["details"],
            json!({"registry_id": ACCOUNT, "region": REGION, "repository": REPOSITORY, "version": "v9"})
        );

        let err = handle(&d, event(json!("v2"))).await.unwrap_err();
        assert_eq!(err.error_type, "InvalidRequest");
        let changes: Vec<_> = d.ecs().ops().into_iter().filter(|op| !op.starts_with("Describe")).collect();
        assert!(changes.iter().all(|op| ["PutItem", "DeleteItem"].contains(op)), "{changes:?}");
    }
}
