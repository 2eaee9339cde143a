//! The event-driven path: EventBridge tells the deployer how a rollout ended, so long rollouts end without
//! a Lambda waiting, and a successful CodeBuild build deploys its image.

use aws_lambda_events::codebuild::CodeBuildEvent;
use serde_json::{json, Value};

use crate::aws::{Aws, ServiceLookup};
use crate::engine::{Deployer, Invocation};
use crate::error::DeployError;
use crate::inbound::{build_variable, cluster_and_service, EcsDeploymentEvent};
use crate::notify::Event as NotifyEvent;
use crate::plan::{family_revision, tag_value, PREVIOUS_TAG, VERSION_TAG};
use crate::request::{DeployRequest, ServiceRef, Target};
use crate::rollout::{circuit_breaker_rolls_back, primary};
use crate::version::Version;

fn ignored(reason: impl Into<String>) -> Value {
    json!({"status": "ignored", "reason": reason.into()})
}

impl<A: Aws> Deployer<A> {
    /// "ECS Deployment State Change": a failed deployment that this deployer started is rolled back (unless
    /// the service's circuit breaker does it); a completed one is reported.
    pub async fn on_deployment_event(
        &self,
        event: &EcsDeploymentEvent,
        inv: &Invocation,
    ) -> Result<Value, DeployError> {
        let d = &event.detail;
        let (cluster, service) = cluster_and_service(&event.service_arn);
        let s = ServiceRef::resolve(cluster.map(str::to_owned), Some(service.to_owned()), &self.defaults)?;
        let state = match d.event_name.as_str() {
            "SERVICE_DEPLOYMENT_COMPLETED" => "completed",
            "SERVICE_DEPLOYMENT_FAILED" => "failed",
            other => return Ok(ignored(format!("{other} needs no action"))),
        };
        let aws = &*self.home;
        let svc = match aws.describe_service(&s.cluster, &s.service).await? {
            ServiceLookup::Found(svc) => *svc,
            _ => return Err(DeployError::ServiceNotFound { cluster: s.cluster, service: s.service }),
        };
        let Some(deployment) = svc.deployments().iter().find(|x| x.id() == Some(d.deployment_id.as_str())) else {
            return Ok(ignored(format!("deployment {} is no longer listed by the service", d.deployment_id)));
        };
        let failed_arn = deployment.task_definition().unwrap_or_default().to_owned();
        let described = aws.describe_task_definition(&failed_arn).await?;
        let tags = described.as_ref().map(|x| x.tags.as_slice()).unwrap_or_default();
        let tag = |key: &str| tag_value(tags, key).map(str::to_owned);
        let Some(previous) = tag(PREVIOUS_TAG) else {
            return Ok(ignored(format!("{} was not deployed by ecs-deployer", family_revision(&failed_arn))));
        };
        let version = tag(VERSION_TAG).and_then(|v| Version::parse(&v).ok()).unwrap_or(Version::Tag("unknown".into()));
        let target = Target::of_service(&s, version, false, false);
        let revision = family_revision(&failed_arn).to_owned();
        let mut outcome = json!({
            "status": state,
            "cluster": s.cluster,
            "service": s.service,
            "deployment_id": d.deployment_id,
            "task_definition": family_revision(&failed_arn),
            "version": tag(VERSION_TAG),
            "reason": d.reason,
        });
        if state == "completed" {
            tracing::info!(cluster = %s.cluster, service = %s.service, "deployment {} completed", d.deployment_id);
            self.tell(NotifyEvent::Succeeded, &target, Some(&previous), Some(&revision), None, None).await;
            return Ok(outcome);
        }
        if circuit_breaker_rolls_back(&svc) {
            outcome["status"] = json!("rolled_back");
            outcome["rollback"] = json!({"by": "ecs-circuit-breaker"});
            let reason =
                format!("{} (the circuit breaker rolls back)", d.reason.as_deref().unwrap_or("the rollout failed"));
            self.tell(NotifyEvent::RolledBack, &target, Some(&revision), Some(&previous), Some(reason), None).await;
            return Ok(outcome);
        }
        let primary = primary(&svc);
        if primary.and_then(|p| p.id()) != Some(d.deployment_id.as_str()) {
            return Ok(ignored(format!(
                "the service has moved on to deployment {}",
                primary.and_then(|p| p.id()).unwrap_or("unknown")
            )));
        }
        let work = async {
            let previous_arn = aws
                .describe_task_definition(&previous)
                .await?
                .and_then(|x| x.task_definition.task_definition_arn)
                .unwrap_or_else(|| previous.clone());
            // Do not wait for the rollback's rollout here: its own events report how it ends.
            self.roll_back_to(aws, &target, &failed_arn, &previous_arn, aws.now()).await
        };
        let rolled = self.holding_lock(aws, &target, inv, work).await;
        let rolled = rolled?;
        let reason = d.reason.clone().unwrap_or_else(|| "the rollout failed".into());
        self.tell(NotifyEvent::RolledBack, &target, Some(&revision), Some(&rolled.to), Some(reason), None).await;
        outcome["status"] = json!("rolled_back");
        outcome["rollback"] = serde_json::to_value(rolled).unwrap_or_default();
        Ok(outcome)
    }

    /// "CodeBuild Build State Change": a SUCCEEDED build deploys the version in its environment.
    pub async fn on_build(&self, event: &CodeBuildEvent, inv: &Invocation) -> Result<Value, DeployError> {
        let project = event.detail.project_name.clone().unwrap_or_default();
        if event.detail.build_status.as_deref() != Some("SUCCEEDED") {
            return Ok(ignored(format!("build of {project} did not succeed")));
        }
        let variable = &self.defaults.build_version_variable;
        let version = build_variable(event, variable).ok_or_else(|| DeployError::InvalidRequest {
            reason: format!("the build of {project} has no {variable} environment variable to deploy"),
        })?;
        let request = DeployRequest { version: Some(version.to_owned()), ..DeployRequest::default() };
        self.execute(request, inv).await
    }
}
