use std::collections::BTreeSet;

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinition};

use super::*;
use crate::testing::*;

/// The top-level `field: value` pairs of a derived `Debug` rendering.
fn top_level_fields(debug: &str) -> Vec<(String, String)> {
    let body = &debug[debug.find('{').expect("a struct") + 1..debug.rfind('}').expect("a struct")];
    let (mut depth, mut start, mut parts) = (0i32, 0usize, Vec::new());
    for (i, ch) in body.char_indices() {
        match ch {
            '{' | '[' | '(' => depth += 1,
            '}' | ']' | ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty() && p.trim() != "..")
        .map(|p| {
            let (name, value) = p.trim().split_once(": ").expect("field: value");
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

fn names(fields: &[(String, String)]) -> BTreeSet<String> {
    fields.iter().map(|(n, _)| n.clone()).collect()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn version(v: &str) -> Version {
    Version::parse(v).unwrap()
}

fn plan_for(
    base: &DescribedTaskDefinition,
    running: &TaskDefinition,
    containers: &[String],
    v: &str,
) -> Result<Plan, DeployError> {
    let v = version(v);
    plan(&PlanInput { base, running, containers, repository: REPOSITORY, version: &v, registry_host: REGISTRY })
}

fn registered(p: Plan) -> RegisterTaskDefinitionInput {
    match p.action {
        Action::Register(input) => *input,
        Action::AlreadyDeployed => panic!("expected a register plan"),
    }
}

fn container<'a>(input: &'a RegisterTaskDefinitionInput, name: &str) -> &'a ContainerDefinition {
    input.container_definitions().iter().find(|c| c.name.as_deref() == Some(name)).unwrap()
}

#[test]
fn field_lists_cover_every_field_the_sdk_knows() {
    // Both SDK structs are #[non_exhaustive]; their derived Debug names every field. A field added by a
    // newer SDK lands in neither list and fails here until the plan copies it (or knows it is read-only).
    let described = names(&top_level_fields(&format!("{:?}", TaskDefinition::builder().build())));
    let copied = set(COPIED_FIELDS);
    let read_only = set(READ_ONLY_FIELDS);
    assert!(copied.is_disjoint(&read_only));
    assert_eq!(described, copied.union(&read_only).cloned().collect(), "TaskDefinition fields");

    let input = RegisterTaskDefinitionInput::builder().build().unwrap();
    let mut expected = copied.clone();
    expected.insert("tags".into());
    assert_eq!(names(&top_level_fields(&format!("{input:?}"))), expected, "RegisterTaskDefinitionInput fields");
}

#[test]
#[allow(deprecated)] // inference_accelerators is compared like every other field
fn every_field_of_a_full_base_reaches_the_request() {
    let base = described(7, "v1");
    // The fixture really sets every field, the read-only ones included.
    for (name, value) in top_level_fields(&format!("{:?}", base.task_definition)) {
        assert_ne!(value, "None", "fixture leaves {name} unset");
    }
    let input = registered(plan_for(&base, &base.task_definition, &[], "v2").unwrap());
    for (name, value) in top_level_fields(&format!("{input:?}")) {
        assert_ne!(value, "None", "request drops {name}");
    }
    let b = &base.task_definition;
    for field in COPIED_FIELDS {
        let same = match *field {
            "family" => input.family == b.family,
            "task_role_arn" => input.task_role_arn == b.task_role_arn,
            "execution_role_arn" => input.execution_role_arn == b.execution_role_arn,
            "network_mode" => input.network_mode == b.network_mode,
            "container_definitions" => input.container_definitions().len() == b.container_definitions().len(),
            "volumes" => input.volumes == b.volumes,
            "placement_constraints" => input.placement_constraints == b.placement_constraints,
            "requires_compatibilities" => input.requires_compatibilities == b.requires_compatibilities,
            "cpu" => input.cpu == b.cpu,
            "memory" => input.memory == b.memory,
            "pid_mode" => input.pid_mode == b.pid_mode,
            "ipc_mode" => input.ipc_mode == b.ipc_mode,
            "proxy_configuration" => input.proxy_configuration == b.proxy_configuration,
            "inference_accelerators" => input.inference_accelerators == b.inference_accelerators,
            "ephemeral_storage" => input.ephemeral_storage == b.ephemeral_storage,
            "runtime_platform" => input.runtime_platform == b.runtime_platform,
            "enable_fault_injection" => input.enable_fault_injection == b.enable_fault_injection,
            other => panic!("no check for copied field {other}: add one"),
        };
        assert!(same, "{field} differs between base and request");
    }
}

#[test]
fn read_only_keys_never_reach_the_request() {
    let base = described(7, "v1");
    let input = registered(plan_for(&base, &base.task_definition, &[], "v2").unwrap());
    let fields = names(&top_level_fields(&format!("{input:?}")));
    assert!(fields.is_disjoint(&set(READ_ONLY_FIELDS)), "{fields:?}");
    let rendered = format!("{input:?}");
    assert!(!rendered.contains("task-definition/web:7"), "the base ARN leaked into the request");
}

#[test]
fn only_the_app_container_changes_and_sidecars_stay() {
    let base = described(7, "v1");
    let p = plan_for(&base, &base.task_definition, &[], "v2").unwrap();
    assert_eq!(p.image, format!("{REGISTRY}/{REPOSITORY}:v2"));
    assert_eq!(
        p.changes,
        vec![ContainerChange {
            container: "app".into(),
            from: Some(format!("{REGISTRY}/{REPOSITORY}:v1")),
            to: format!("{REGISTRY}/{REPOSITORY}:v2"),
        }]
    );
    let input = registered(p);
    let mut expected_app = app_container("v1");
    expected_app.image = Some(format!("{REGISTRY}/{REPOSITORY}:v2"));
    assert_eq!(container(&input, "app"), &expected_app, "only the image of app may change");
    for sidecar in sidecars() {
        assert_eq!(container(&input, sidecar.name.as_deref().unwrap()), &sidecar);
    }
}

#[test]
fn empty_strings_survive_the_copy() {
    let base = described(7, "v1");
    let input = registered(plan_for(&base, &base.task_definition, &[], "v2").unwrap());
    let app = container(&input, "app");
    assert!(app.environment().iter().any(|e| e.name() == Some("EMPTY_ON_PURPOSE") && e.value() == Some("")));
    let options = app.log_configuration().unwrap().options().unwrap();
    assert_eq!(options.get("awslogs-stream-prefix").map(String::as_str), Some(""));
}

#[test]
fn digest_versions_pin_the_image() {
    let base = described(7, "v1");
    let digest = format!("sha256:{}", "c".repeat(64));
    let input = registered(plan_for(&base, &base.task_definition, &[], &digest).unwrap());
    assert_eq!(container(&input, "app").image(), Some(format!("{REGISTRY}/{REPOSITORY}@{digest}").as_str()));
    let version_tag = input.tags().iter().find(|t| t.key() == Some(VERSION_TAG)).unwrap();
    assert_eq!(version_tag.value(), Some(digest.as_str()));
}

#[test]
fn tags_are_kept_versioned_and_record_the_running_revision() {
    let base = described(8, "v1");
    let running = full_task_definition(5, "v1");
    let input = registered(plan_for(&base, &running, &[], "v2").unwrap());
    let tags: Vec<(&str, &str)> = input.tags().iter().map(|t| (t.key().unwrap(), t.value().unwrap())).collect();
    assert_eq!(tags, [("team", "payments"), (VERSION_TAG, "v2"), (PREVIOUS_TAG, "web:5")]);
}

#[test]
fn tags_are_never_empty() {
    let mut base = described(7, "v1");
    base.tags.clear();
    let input = registered(plan_for(&base, &base.task_definition, &[], "v2").unwrap());
    assert_eq!(input.tags().len(), 2);
}

#[test]
fn named_containers_win_over_repository_matching() {
    let base = described(7, "v1");
    let input = registered(plan_for(&base, &base.task_definition, &["xray".into()], "v2").unwrap());
    // A named container that ran another image gets the repository's image in its ECR registry.
    assert_eq!(container(&input, "xray").image(), Some(format!("{REGISTRY}/{REPOSITORY}:v2").as_str()));
    assert_eq!(container(&input, "app").image(), Some(format!("{REGISTRY}/{REPOSITORY}:v1").as_str()));
}

#[test]
fn same_repository_path_on_another_registry_is_not_a_target() {
    let mut base = described(7, "v1");
    let mut defs = base.task_definition.container_definitions.take().unwrap();
    defs[0].image = Some(format!("localhost:5000/{REPOSITORY}:v1"));
    base.task_definition.container_definitions = Some(defs);
    let err = plan_for(&base, &base.task_definition, &[], "v2").unwrap_err();
    assert_eq!(err.code(), "NoTargetContainer");
    assert_eq!(err.details()["containers"], serde_json::json!(["app", "xray", "envoy"]));
}

#[test]
fn unknown_container_names_are_refused() {
    let base = described(7, "v1");
    let err = plan_for(&base, &base.task_definition, &["app".into(), "worker".into()], "v2").unwrap_err();
    assert_eq!(err.code(), "NoTargetContainer");
    assert!(err.to_string().contains("no container named worker"), "{err}");
}

#[test]
fn running_the_same_image_is_already_deployed() {
    let base = described(7, "v2");
    let p = plan_for(&base, &base.task_definition, &[], "v2").unwrap();
    assert_eq!(p.action, Action::AlreadyDeployed);
    assert!(p.changes.is_empty());

    // The newest revision has v2 but the service still runs v1: that is a deploy.
    let running = full_task_definition(6, "v1");
    assert!(matches!(plan_for(&base, &running, &[], "v2").unwrap().action, Action::Register(_)));
}

#[test]
fn task_definition_names() {
    let a = "arn:aws-cn:ecs:cn-north-1:1:task-definition/web-api:12";
    assert_eq!(family_revision(a), "web-api:12");
    assert_eq!(family(a), "web-api");
    assert_eq!(family("web:3"), "web");
    assert_eq!(family("web"), "web");
    assert_eq!(family_revision("web:3"), "web:3");
}
