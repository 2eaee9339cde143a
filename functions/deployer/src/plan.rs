//! The pure heart of a deploy: from the base task definition, its tags and what the service runs now, decide
//! what to register. No I/O here.

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types::{ContainerDefinition, Tag, TaskDefinition};
use serde::Serialize;

use crate::aws::DescribedTaskDefinition;
use crate::error::DeployError;
use crate::image::ImageRef;
use crate::version::Version;

/// The tag that carries the version a revision was registered for.
pub const VERSION_TAG: &str = "Version";
/// The tag that records which revision the service ran before this one, for an exact rollback.
pub const PREVIOUS_TAG: &str = "ecs-deployer:previous-task-definition";

/// Every RegisterTaskDefinition input field that is copied from the base task definition. Tests compare this
/// list with the fields of the SDK's `TaskDefinition` and `RegisterTaskDefinitionInput`, so a field that a
/// new SDK adds fails the build's tests until it is handled here.
pub const COPIED_FIELDS: &[&str] = &[
    "family",
    "task_role_arn",
    "execution_role_arn",
    "network_mode",
    "container_definitions",
    "volumes",
    "placement_constraints",
    "requires_compatibilities",
    "cpu",
    "memory",
    "pid_mode",
    "ipc_mode",
    "proxy_configuration",
    "inference_accelerators",
    "ephemeral_storage",
    "runtime_platform",
    "enable_fault_injection",
];

/// The fields of a described task definition that ECS sets itself and RegisterTaskDefinition does not take.
pub const READ_ONLY_FIELDS: &[&str] = &[
    "task_definition_arn",
    "revision",
    "status",
    "requires_attributes",
    "compatibilities",
    "registered_at",
    "registered_by",
    "deregistered_at",
    "delete_requested_at",
];

/// What the plan needs to know. `running` is the revision the service runs now.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    pub base: &'a DescribedTaskDefinition,
    pub running: &'a TaskDefinition,
    /// Containers named by the caller; empty means "the ones whose image is in `repository`".
    pub containers: &'a [String],
    pub repository: &'a str,
    pub version: &'a Version,
    /// The ECR registry host of `repository`, for containers that do not reference it yet.
    pub registry_host: &'a str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerChange {
    pub container: String,
    pub from: Option<String>,
    pub to: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The service already runs this image in every target container: nothing to register or update.
    AlreadyDeployed,
    Register(Box<RegisterTaskDefinitionInput>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub action: Action,
    /// The image the target containers run after the deploy.
    pub image: String,
    pub changes: Vec<ContainerChange>,
}

/// `family:revision` from a task definition ARN (`arn:<partition>:ecs:<region>:<account>:task-definition/f:r`),
/// or the input itself when it is not an ARN.
pub fn family_revision(task_definition: &str) -> &str {
    match task_definition.split_once(":task-definition/") {
        Some((_, rest)) if task_definition.starts_with("arn:") => rest,
        _ => task_definition,
    }
}

/// The family of a task definition ARN, `family:revision` or family.
pub fn family(task_definition: &str) -> &str {
    let fr = family_revision(task_definition);
    match fr.rsplit_once(':') {
        Some((family, rev)) if !rev.is_empty() && rev.bytes().all(|b| b.is_ascii_digit()) => family,
        _ => fr,
    }
}

/// Whether two task-definition names (ARNs or `family:revision`) name the same revision.
pub fn same_revision(a: &str, b: &str) -> bool {
    family_revision(a) == family_revision(b)
}

/// The value of tag `key`, if the tags have it.
pub fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == Some(key)).and_then(|t| t.value())
}

/// `family:revision` of a described task definition.
pub fn describe_name(td: &TaskDefinition) -> String {
    match td.task_definition_arn.as_deref() {
        Some(arn) => family_revision(arn).to_owned(),
        None => format!("{}:{}", td.family.as_deref().unwrap_or_default(), td.revision),
    }
}

/// The image a target container runs after the deploy: its own registry and repository at the new version
/// when it already runs the repository being deployed, else the repository in its ECR registry.
fn new_image(current: Option<&str>, input: &PlanInput<'_>) -> String {
    match current.and_then(ImageRef::parse) {
        Some(img) if img.repository == input.repository && img.is_private_ecr() => img.at_version(input.version),
        _ => ImageRef {
            registry: Some(input.registry_host.to_owned()),
            repository: input.repository.to_owned(),
            tag: None,
            digest: None,
        }
        .at_version(input.version),
    }
}

/// The indexes of the containers that get the new image.
fn targets(td: &TaskDefinition, named: &[String], repository: &str) -> Result<Vec<usize>, String> {
    let defs = td.container_definitions();
    if !named.is_empty() {
        let missing: Vec<&str> = named
            .iter()
            .filter(|n| !defs.iter().any(|c| c.name.as_deref() == Some(n.as_str())))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(format!("no container named {}", missing.join(", ")));
        }
        return Ok((0..defs.len()).filter(|&i| named.iter().any(|n| defs[i].name.as_deref() == Some(n))).collect());
    }
    let found: Vec<usize> = (0..defs.len())
        .filter(|&i| {
            defs[i]
                .image
                .as_deref()
                .and_then(ImageRef::parse)
                .is_some_and(|img| img.is_private_ecr() && img.repository == repository)
        })
        .collect();
    if found.is_empty() {
        Err(format!("no container runs an image from the ECR repository {repository}; name the containers to deploy"))
    } else {
        Ok(found)
    }
}

/// The base's tags, with the version and the previous revision set. `aws:` tags belong to AWS and are never
/// sent; the list is never empty.
fn plan_tags(base_tags: &[Tag], version: &Version, previous: &str) -> Vec<Tag> {
    let mut tags: Vec<Tag> = base_tags
        .iter()
        .filter(|t| {
            let key = t.key.as_deref().unwrap_or_default();
            !key.is_empty() && !key.starts_with("aws:") && key != VERSION_TAG && key != PREVIOUS_TAG
        })
        .cloned()
        .collect();
    tags.push(Tag::builder().key(VERSION_TAG).value(version.as_str()).build());
    tags.push(Tag::builder().key(PREVIOUS_TAG).value(previous).build());
    tags
}

/// The RegisterTaskDefinition input that reproduces `base` with other containers and tags. Every field in
/// [`COPIED_FIELDS`] is carried over; the read-only ones cannot be, since the input has no place for them.
pub fn register_input(
    base: &TaskDefinition,
    container_definitions: Vec<ContainerDefinition>,
    tags: Vec<Tag>,
) -> Result<RegisterTaskDefinitionInput, DeployError> {
    let base = base.clone();
    // Elastic Inference is retired, but a base that still names accelerators is copied as it is: ECS, not
    // the deployer, decides whether it may be registered.
    #[allow(deprecated)]
    let builder = RegisterTaskDefinitionInput::builder()
        .set_family(base.family)
        .set_task_role_arn(base.task_role_arn)
        .set_execution_role_arn(base.execution_role_arn)
        .set_network_mode(base.network_mode)
        .set_container_definitions(Some(container_definitions))
        .set_volumes(base.volumes)
        .set_placement_constraints(base.placement_constraints)
        .set_requires_compatibilities(base.requires_compatibilities)
        .set_cpu(base.cpu)
        .set_memory(base.memory)
        .set_pid_mode(base.pid_mode)
        .set_ipc_mode(base.ipc_mode)
        .set_proxy_configuration(base.proxy_configuration)
        .set_inference_accelerators(base.inference_accelerators)
        .set_ephemeral_storage(base.ephemeral_storage)
        .set_runtime_platform(base.runtime_platform)
        .set_enable_fault_injection(base.enable_fault_injection)
        .set_tags((!tags.is_empty()).then_some(tags));
    builder
        .build()
        .map_err(|e| DeployError::InvalidRequest { reason: format!("cannot build the register request: {e}") })
}

/// Decides what a deploy does.
pub fn plan(input: &PlanInput<'_>) -> Result<Plan, DeployError> {
    let base = &input.base.task_definition;
    let base_name = describe_name(base);
    let indexes =
        targets(base, input.containers, input.repository).map_err(|reason| DeployError::NoTargetContainer {
            task_definition: base_name.clone(),
            reason,
            containers: base.container_definitions().iter().filter_map(|c| c.name.clone()).collect(),
        })?;

    let mut containers = base.container_definitions().to_vec();
    let mut changes = Vec::with_capacity(indexes.len());
    for &i in &indexes {
        let to = new_image(containers[i].image.as_deref(), input);
        changes.push(ContainerChange {
            container: containers[i].name.clone().unwrap_or_default(),
            from: containers[i].image.clone(),
            to: to.clone(),
        });
        containers[i].image = Some(to);
    }
    let image = changes.first().map(|c| c.to.clone()).unwrap_or_default();

    if already_runs(input) {
        return Ok(Plan { action: Action::AlreadyDeployed, image, changes: Vec::new() });
    }
    let tags = plan_tags(&input.base.tags, input.version, &describe_name(input.running));
    let register = register_input(base, containers, tags)?;
    Ok(Plan { action: Action::Register(Box::new(register)), image, changes })
}

/// True when every target container of the running revision already has the image this deploy would set.
fn already_runs(input: &PlanInput<'_>) -> bool {
    let running = input.running;
    let Ok(indexes) = targets(running, input.containers, input.repository) else {
        return false;
    };
    let defs = running.container_definitions();
    indexes.iter().all(|&i| {
        let current = defs[i].image.as_deref();
        current.is_some() && current == Some(new_image(current, input).as_str())
    })
}

#[cfg(test)]
mod tests;
