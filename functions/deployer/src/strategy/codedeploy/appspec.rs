//! Pure: the AppSpec of a CodeDeploy deployment of a revision to the service as it runs now, its SHA-256
//! and the deployment's description.

use std::collections::BTreeMap;

use aws_sdk_ecs::types::{Service, TaskSet};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::HOOK_EVENTS;
use crate::error::DeployError;
use crate::plan::family_revision;
use crate::request::ServiceRef;

/// The task set a CODE_DEPLOY service serves from (PRIMARY), which holds what the service level may not.
fn primary_task_set(service: &Service) -> Option<&TaskSet> {
    service.task_sets().iter().find(|t| t.status() == Some("PRIMARY")).or(service.task_sets().first())
}

/// Pure: the AppSpec (JSON) of a deployment of `task_definition_arn` to `service` as it runs now: the
/// service's first load balancer's container and port, its platform version, network configuration and
/// capacity provider strategy (the service's, else its PRIMARY task set's), and `hooks` in lifecycle order.
/// Shape: CodeDeploy User Guide, "AppSpec 'resources' section (Amazon ECS deployments only)".
/// `LoadBalancerRequired` when the service has no load balancer with a container name and port.
pub fn appspec(
    service: &Service,
    name: &str,
    task_definition_arn: &str,
    hooks: &BTreeMap<String, String>,
) -> Result<String, DeployError> {
    let task_set = primary_task_set(service);
    let lb = service
        .load_balancers()
        .first()
        .or_else(|| task_set.and_then(|t| t.load_balancers().first()))
        .filter(|lb| lb.container_name().is_some() && lb.container_port().is_some())
        .ok_or_else(|| DeployError::LoadBalancerRequired { service: name.to_owned() })?;
    let mut properties = Map::new();
    properties.insert("TaskDefinition".into(), json!(task_definition_arn));
    properties.insert(
        "LoadBalancerInfo".into(),
        json!({"ContainerName": lb.container_name(), "ContainerPort": lb.container_port()}),
    );
    if let Some(pv) = service.platform_version().or(task_set.and_then(|t| t.platform_version())) {
        properties.insert("PlatformVersion".into(), json!(pv));
    }
    let network = service.network_configuration().or(task_set.and_then(|t| t.network_configuration()));
    if let Some(vpc) = network.and_then(|n| n.awsvpc_configuration()) {
        let mut awsvpc = Map::new();
        awsvpc.insert("Subnets".into(), json!(vpc.subnets()));
        if !vpc.security_groups().is_empty() {
            awsvpc.insert("SecurityGroups".into(), json!(vpc.security_groups()));
        }
        if let Some(ip) = vpc.assign_public_ip() {
            awsvpc.insert("AssignPublicIp".into(), json!(ip.as_str()));
        }
        properties.insert("NetworkConfiguration".into(), json!({ "AwsvpcConfiguration": awsvpc }));
    }
    let strategy = if service.capacity_provider_strategy().is_empty() {
        task_set.map(|t| t.capacity_provider_strategy()).unwrap_or_default()
    } else {
        service.capacity_provider_strategy()
    };
    if !strategy.is_empty() {
        let items: Vec<Value> = strategy
            .iter()
            .map(|c| json!({"CapacityProvider": c.capacity_provider(), "Base": c.base(), "Weight": c.weight()}))
            .collect();
        properties.insert("CapacityProviderStrategy".into(), Value::Array(items));
    }
    let mut spec = json!({
        "version": 0.0,
        "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": properties}}],
    });
    let ordered: Vec<Value> =
        HOOK_EVENTS.iter().filter_map(|event| hooks.get(*event).map(|function| json!({ *event: function }))).collect();
    if !ordered.is_empty() {
        spec["Hooks"] = Value::Array(ordered);
    }
    Ok(spec.to_string())
}

/// Pure: lower-case hex SHA-256 of `content` (the AppSpec's `sha256`).
pub fn sha256_hex(content: &str) -> String {
    Sha256::digest(content.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Pure: the deployment's description: version and revision, at most 512 characters.
pub(super) fn description(at: &ServiceRef, task_definition_arn: &str) -> String {
    let mut text = format!("ecs-deployer: {} of {}/{}", family_revision(task_definition_arn), at.cluster, at.service);
    text.truncate(512);
    text
}
