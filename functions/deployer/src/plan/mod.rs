//! Stage 4, pure: from the base task definition, its tags, what the service runs now and where ECR found the
//! image, decide what to register, and what differs from the running revision. No I/O here.
//!
//! ```text
//! mod.rs      targets (which containers, and where their image lives), plan, the tags within ECS's limits
//! image.rs    image references and ECR registry hosts (account, region, endpoint flavour)
//! diff.rs     the fields in which two register requests differ
//! digest.rs   whether the running tasks run the digest the tag resolves to
//! ```

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types::{ContainerDefinition, Tag, TaskDefinition, VersionConsistency};

use contract::names::Version;
use contract::result::{ContainerChange, FieldChange, TagLeftOut};

use crate::error::DeployError;
use crate::ports::{DescribedTaskDefinition, ImageQuery};

pub mod diff;
pub mod digest;
pub mod image;
pub mod task_definition;

use image::{ecr_registry_host, ImageRef, PullThrough};
pub use task_definition::{
    describe_name, family, family_revision, same_revision, tag_value, PREVIOUS_TAG, VERSION_TAG,
};

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

/// One container that gets the new image, and where that image is pulled from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetContainer {
    pub index: usize,
    pub name: String,
    /// Where the new image is checked: the registry, region and repository of the container's own reference
    /// when it runs the repository (or the upstream registry of its pull-through cache); else the caller's
    /// registry in the service's region.
    pub query: ImageQuery,
    /// The container's reference when it runs the repository from ECR: the new one keeps its host exactly.
    pub current: Option<ImageRef>,
}

/// What ECR answered for one place an image was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedImage {
    pub query: ImageQuery,
    /// The account of the registry that holds the image.
    pub registry_id: String,
    /// The digest the version resolves to.
    pub digest: Option<String>,
}

/// What the plan needs to know. `running` is the revision the service runs now.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    pub base: &'a DescribedTaskDefinition,
    pub running: &'a TaskDefinition,
    /// Containers named by the caller; empty means "the ones whose image is in `repository`".
    pub containers: &'a [String],
    pub repository: &'a str,
    pub version: &'a Version,
    /// The service's region: where a container that names no ECR registry gets the image from.
    pub region: &'a str,
    /// Pull-through cache rules: a container running `<prefix>/<repository>` runs the repository.
    pub pull_through: &'a [PullThrough],
    /// What ECR answered for each target container's [`TargetContainer::query`].
    pub images: &'a [CheckedImage],
    /// Register `repo:tag@sha256:…` instead of `repo:tag` (not in containers whose `versionConsistency` is
    /// `disabled`: they asked for the tag to float).
    pub pin_digest: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// The register request would equal the running revision in every copied field: registering would
    /// change nothing. Whether the tasks run the right image is for the digests to say.
    Unchanged,
    Register(Box<RegisterTaskDefinitionInput>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub action: Action,
    /// The image the target containers run after the deploy.
    pub image: String,
    /// Every target container, with its image before and after and the digest ECR resolves it to.
    pub changes: Vec<ContainerChange>,
    /// Every field the register request changes from the running revision.
    pub differences: Vec<FieldChange>,
    pub tags_left_out: Vec<TagLeftOut>,
}

/// The containers of `td` that get the new image: the ones named, or else every container running an image
/// of `repository` from a private ECR registry (any account, region or endpoint flavour), directly or
/// through a `pull_through` cache. `region` is the service's, for named containers that run something else.
pub fn targets(
    td: &TaskDefinition,
    named: &[String],
    repository: &str,
    region: &str,
    pull_through: &[PullThrough],
) -> Result<Vec<TargetContainer>, String> {
    let defs = td.container_definitions();
    // The reference, and the registry the image really comes from.
    let runs_repository = |c: &ContainerDefinition| {
        let img = c.image.as_deref().and_then(ImageRef::parse)?;
        let registry = img.ecr()?;
        if img.repository == repository {
            return Some((img, registry));
        }
        let rule = pull_through.iter().find(|r| r.upstream_repository(&img.repository) == Some(repository))?;
        Some((img, rule.upstream.clone()))
    };
    let target = |index: usize| {
        let c = &defs[index];
        let name = c.name.clone().unwrap_or_default();
        match runs_repository(c) {
            Some((img, registry)) => TargetContainer {
                index,
                name,
                query: ImageQuery {
                    registry_id: Some(registry.account),
                    region: registry.region,
                    repository: repository.to_owned(),
                },
                current: Some(img),
            },
            None => TargetContainer {
                index,
                name,
                query: ImageQuery { registry_id: None, region: region.to_owned(), repository: repository.to_owned() },
                current: None,
            },
        }
    };
    if !named.is_empty() {
        let missing: Vec<&str> = named
            .iter()
            .filter(|n| !defs.iter().any(|c| c.name.as_deref() == Some(n.as_str())))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(format!("no container named {}", missing.join(", ")));
        }
        return Ok((0..defs.len())
            .filter(|&i| named.iter().any(|n| defs[i].name.as_deref() == Some(n)))
            .map(target)
            .collect());
    }
    let found: Vec<TargetContainer> =
        (0..defs.len()).filter(|&i| runs_repository(&defs[i]).is_some()).map(target).collect();
    if found.is_empty() {
        Err(format!("no container runs an image from the ECR repository {repository}; name the containers to deploy"))
    } else {
        Ok(found)
    }
}

/// The image a target container runs after the deploy: its own reference (host and port exactly as
/// written) at the new version when it runs the repository, else the repository in the registry that
/// answered, on the standard endpoint of the service's region.
fn new_image(target: &TargetContainer, checked: &CheckedImage, input: &PlanInput<'_>, pin: bool) -> String {
    let pinned = if pin { checked.digest.as_deref() } else { None };
    match &target.current {
        Some(img) => img.at_version(input.version, pinned),
        None => ImageRef {
            registry: Some(ecr_registry_host(&checked.registry_id, &checked.query.region)),
            repository: input.repository.to_owned(),
            tag: None,
            digest: None,
        }
        .at_version(input.version, pinned),
    }
}

/// ECS's limits on a resource's tags
/// ([Tag](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Tag.html)): at most 50 tags, keys of
/// at most 128 characters, values of at most 256.
pub const MAX_TAGS: usize = 50;
pub const MAX_TAG_KEY: usize = 128;
pub const MAX_TAG_VALUE: usize = 256;

/// The base's tags, then the deployer's own (the previous revision first: rollbacks need it), within ECS's
/// limits. `aws:` tags belong to AWS and are never sent (nor counted). Whatever does not fit is returned
/// with the reason, never dropped silently; the deployer's own tags give way before any of the base's.
fn plan_tags(base_tags: &[Tag], version: &Version, previous: &str) -> (Vec<Tag>, Vec<TagLeftOut>) {
    let mut tags = Vec::new();
    let mut left_out = Vec::new();
    let ours = [
        Tag::builder().key(PREVIOUS_TAG).value(previous).build(),
        Tag::builder().key(VERSION_TAG).value(version.as_str()).build(),
    ];
    let theirs = base_tags.iter().filter(|t| {
        let key = t.key.as_deref().unwrap_or_default();
        !key.is_empty() && !key.starts_with("aws:") && key != VERSION_TAG && key != PREVIOUS_TAG
    });
    for tag in theirs.chain(&ours) {
        let key = tag.key.clone().unwrap_or_default();
        let value = tag.value.as_deref().unwrap_or_default();
        let reason = if key.chars().count() > MAX_TAG_KEY {
            Some(format!("its key is longer than {MAX_TAG_KEY} characters"))
        } else if value.chars().count() > MAX_TAG_VALUE {
            Some(format!("its value is longer than {MAX_TAG_VALUE} characters"))
        } else if tags.len() >= MAX_TAGS {
            Some(format!("ECS allows {MAX_TAGS} tags per task definition and the base's take them all"))
        } else {
            None
        };
        match reason {
            Some(reason) => left_out.push(TagLeftOut { key, reason }),
            None => tags.push(tag.clone()),
        }
    }
    (tags, left_out)
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
    builder.build().map_err(|e| DeployError::Internal { reason: format!("cannot build the register request: {e}") })
}

/// Decides what a deploy does: the register request that clones the base with the new image in every
/// target container, compared with the running revision field by field.
pub fn plan(input: &PlanInput<'_>) -> Result<Plan, DeployError> {
    let base = &input.base.task_definition;
    let base_name = describe_name(base);
    let no_target = |reason| DeployError::NoTargetContainer {
        task_definition: base_name.clone(),
        reason,
        containers: base.container_definitions().iter().filter_map(|c| c.name.clone()).collect(),
    };
    let targets =
        targets(base, input.containers, input.repository, input.region, input.pull_through).map_err(no_target)?;

    let mut containers = base.container_definitions().to_vec();
    let mut changes = Vec::with_capacity(targets.len());
    for target in &targets {
        let checked = input.images.iter().find(|c| c.query == target.query).ok_or_else(|| DeployError::Internal {
            reason: format!("the image of container {} was not checked", target.name),
        })?;
        let container = &mut containers[target.index];
        let pin = input.pin_digest && container.version_consistency() != Some(&VersionConsistency::Disabled);
        let to = new_image(target, checked, input, pin);
        // What the service runs now in this container, when its reference pins a digest.
        let running_digest = input
            .running
            .container_definitions()
            .iter()
            .find(|c| c.name.as_deref() == Some(target.name.as_str()))
            .and_then(|c| c.image.as_deref())
            .and_then(ImageRef::parse)
            .and_then(|i| i.digest);
        changes.push(ContainerChange {
            container: target.name.clone(),
            from: container.image.clone(),
            to: to.clone(),
            digest_before: running_digest,
            digest_after: checked.digest.clone(),
        });
        container.image = Some(to);
    }
    let image = changes.first().map(|c| c.to.clone()).unwrap_or_default();

    let (tags, tags_left_out) = plan_tags(&input.base.tags, input.version, &describe_name(input.running));
    let register = register_input(base, containers, tags)?;
    let running = register_input(input.running, input.running.container_definitions().to_vec(), Vec::new())?;
    let differences = diff::differences(&running, &register);
    let action =
        if diff::same_request(&running, &register) { Action::Unchanged } else { Action::Register(Box::new(register)) };
    Ok(Plan { action, image, changes, differences, tags_left_out })
}

#[cfg(test)]
mod tests;
