//! Naming task-definition revisions and reading their tags: pure helpers every stage uses.

use aws_sdk_ecs::types::{Tag, TaskDefinition};

/// The tag that carries the version a revision was registered for.
pub const VERSION_TAG: &str = "Version";
/// The tag that records which revision the service ran before this one, for an exact rollback.
pub const PREVIOUS_TAG: &str = "ecs-deployer:previous-task-definition";

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
