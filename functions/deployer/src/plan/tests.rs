use std::collections::BTreeSet;

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinition, VersionConsistency};
use serde_json::json;

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

const DIGEST: &str = "sha256:9999999999999999999999999999999999999999999999999999999999999999";

/// What ECR answers for every place the targets of `base` look: the image, in the fixture's account.
fn found(base: &TaskDefinition, containers: &[String]) -> Vec<CheckedImage> {
    targets(base, containers, REPOSITORY, REGION, &[])
        .unwrap_or_default()
        .into_iter()
        .map(|t| CheckedImage { query: t.query, registry_id: ACCOUNT.into(), digest: Some(DIGEST.into()) })
        .collect()
}

fn plan_with(
    base: &DescribedTaskDefinition,
    running: &TaskDefinition,
    containers: &[String],
    v: &str,
    pin_digest: bool,
) -> Result<Plan, DeployError> {
    let v = version(v);
    let images = found(&base.task_definition, containers);
    plan(&PlanInput {
        base,
        running,
        containers,
        repository: REPOSITORY,
        version: &v,
        region: REGION,
        pull_through: &[],
        images: &images,
        pin_digest,
    })
}

fn plan_for(
    base: &DescribedTaskDefinition,
    running: &TaskDefinition,
    containers: &[String],
    v: &str,
) -> Result<Plan, DeployError> {
    plan_with(base, running, containers, v, false)
}

fn registered(p: Plan) -> RegisterTaskDefinitionInput {
    match p.action {
        Action::Register(input) => *input,
        Action::Unchanged => panic!("expected a register plan"),
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
            digest_before: None,
            digest_after: Some(DIGEST.into()),
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
    assert_eq!(tags, [("team", "payments"), (PREVIOUS_TAG, "web:5"), (VERSION_TAG, "v2")]);
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
    assert_eq!(err.code().as_str(), "NoTargetContainer");
    assert_eq!(err.details()["containers"], serde_json::json!(["app", "xray", "envoy"]));
}

#[test]
fn unknown_container_names_are_refused() {
    let base = described(7, "v1");
    let err = plan_for(&base, &base.task_definition, &["app".into(), "worker".into()], "v2").unwrap_err();
    assert_eq!(err.code().as_str(), "NoTargetContainer");
    assert!(err.to_string().contains("no container named worker"), "{err}");
}

#[test]
fn running_the_same_request_is_unchanged() {
    let base = described(7, "v2");
    let p = plan_for(&base, &base.task_definition, &[], "v2").unwrap();
    assert_eq!(p.action, Action::Unchanged);
    assert!(p.differences.is_empty());
    assert_eq!(p.changes.len(), 1, "the target is still named, for the digests to be compared");

    // The newest revision has v2 but the service still runs v1: that is a deploy.
    let running = full_task_definition(6, "v1");
    let p = plan_for(&base, &running, &[], "v2").unwrap();
    assert!(matches!(p.action, Action::Register(_)));
    assert_eq!(
        p.differences,
        [FieldChange {
            container: Some("app".into()),
            field: "image".into(),
            from: json!(format!("{REGISTRY}/{REPOSITORY}:v1")),
            to: json!(format!("{REGISTRY}/{REPOSITORY}:v2")),
        }]
    );
}

/// Case 6 of issue 11: someone registered web:8 by hand with FEATURE_X=on and the same image; the service
/// runs web:7. Deploying the same version from base `latest` must ship web:8's configuration.
#[test]
fn a_hand_registered_configuration_change_is_a_deploy_and_says_what_changes() {
    let running = described(7, "v2");
    let mut newer = described(8, "v2");
    let mut defs = newer.task_definition.container_definitions.take().unwrap();
    defs[0].environment.get_or_insert_with(Vec::new).push(kv("FEATURE_X", "on"));
    newer.task_definition.container_definitions = Some(defs);
    newer.task_definition.memory = Some("2048".into());

    let p = plan_for(&newer, &running.task_definition, &[], "v2").unwrap();
    let input = registered(p.clone());
    assert!(container(&input, "app").environment().iter().any(|e| e.name() == Some("FEATURE_X")));
    let fields: Vec<(Option<&str>, &str)> =
        p.differences.iter().map(|d| (d.container.as_deref(), d.field.as_str())).collect();
    assert_eq!(fields, [(None, "memory"), (Some("app"), "environment.FEATURE_X")]);
    assert_eq!((&p.differences[0].from, &p.differences[0].to), (&json!("1024"), &json!("2048")));
    assert_eq!((&p.differences[1].from, &p.differences[1].to), (&serde_json::Value::Null, &json!("***")));

    // The environment alone: the SDK hides it in its Debug output, the plan still sees it.
    newer.task_definition.memory = running.task_definition.memory.clone();
    let p = plan_for(&newer, &running.task_definition, &[], "v2").unwrap();
    assert!(matches!(p.action, Action::Register(_)), "not unchanged: FEATURE_X must ship");
    assert_eq!(p.differences.len(), 1);
}

#[test]
fn pin_digest_registers_the_tag_with_its_digest_unless_the_container_lets_it_float() {
    let mut base = described(7, "v1");
    // The fixture's app has versionConsistency disabled: it asked for the tag to float.
    let p = plan_with(&base, &base.task_definition, &[], "v2", true).unwrap();
    assert_eq!(p.image, format!("{REGISTRY}/{REPOSITORY}:v2"));
    let mut defs = base.task_definition.container_definitions.take().unwrap();
    defs[0].version_consistency = Some(VersionConsistency::Enabled);
    base.task_definition.container_definitions = Some(defs);
    let p = plan_with(&base, &base.task_definition, &[], "v2", true).unwrap();
    let pinned = format!("{REGISTRY}/{REPOSITORY}:v2@{DIGEST}");
    assert_eq!(p.image, pinned);
    assert_eq!(container(&registered(p), "app").image(), Some(pinned.as_str()));
    // Deploying the same pin again changes nothing.
    let mut running = base.clone();
    let mut defs = running.task_definition.container_definitions.take().unwrap();
    defs[0].image = Some(pinned.clone());
    running.task_definition.container_definitions = Some(defs);
    let again = plan_with(&running, &running.task_definition, &[], "v2", true).unwrap();
    assert_eq!(again.action, Action::Unchanged);
    assert_eq!(again.changes[0].digest_before.as_deref(), Some(DIGEST));
}

#[test]
fn forty_nine_tags_leave_room_for_one_of_ours_and_say_which_is_left_out() {
    let mut base = described(7, "v1");
    base.tags = (0..49).map(|i| tag(&format!("k{i}"), "v")).collect();
    base.tags.push(tag("aws:cloudformation:stack-name", "web"));
    let p = plan_for(&base, &base.task_definition, &[], "v2").unwrap();
    let left_out = p.tags_left_out.clone();
    let input = registered(p);
    assert_eq!(input.tags().len(), MAX_TAGS);
    assert!(input.tags().iter().all(|t| !t.key().unwrap().starts_with("aws:")));
    assert_eq!(tag_value(input.tags(), PREVIOUS_TAG), Some("web:7"), "the rollback's record is kept");
    assert_eq!(left_out.len(), 1);
    assert_eq!(left_out[0].key, VERSION_TAG);
    assert!(left_out[0].reason.contains("50 tags"), "{}", left_out[0].reason);
}

#[test]
fn a_full_base_keeps_every_user_tag_and_reports_ours_left_out() {
    let mut base = described(7, "v1");
    base.tags = (0..50).map(|i| tag(&format!("k{i}"), "v")).collect();
    let p = plan_for(&base, &base.task_definition, &[], "v2").unwrap();
    let keys: Vec<&str> = p.tags_left_out.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(keys, [PREVIOUS_TAG, VERSION_TAG]);
    let input = registered(p);
    assert_eq!(input.tags().len(), 50);
    assert!((0..50).all(|i| tag_value(input.tags(), &format!("k{i}")) == Some("v")));
}

#[test]
fn tag_values_over_256_characters_are_left_out_by_name() {
    let mut base = described(7, "v1");
    let long_family = "f".repeat(255);
    base.tags = vec![tag("note", &"x".repeat(257)), tag("team", "payments")];
    let mut running = base.task_definition.clone();
    running.task_definition_arn = Some(arn(&format!("{long_family}:12")));
    let p = plan_for(&base, &running, &[], "v2").unwrap();
    let keys: Vec<&str> = p.tags_left_out.iter().map(|t| t.key.as_str()).collect();
    assert_eq!(keys, ["note", PREVIOUS_TAG], "a 258-character previous revision does not fit either");
    let input = registered(p);
    assert!(input.tags().iter().all(|t| t.value().unwrap().chars().count() <= MAX_TAG_VALUE));
    assert_eq!(tag_value(input.tags(), VERSION_TAG), Some("v2"));
}

#[test]
fn every_endpoint_flavour_is_a_target_and_keeps_its_host() {
    for host in [
        "123456789012.dkr.ecr.us-west-2.amazonaws.com",
        "999999999999.dkr.ecr.us-east-1.amazonaws.com",
        "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com",
        "123456789012.dkr-ecr.eu-west-1.on.aws",
        "123456789012.dkr-ecr-fips.us-gov-west-1.on.aws",
        "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
    ] {
        let mut base = described(7, "v1");
        let mut defs = base.task_definition.container_definitions.take().unwrap();
        defs[0].image = Some(format!("{host}/{REPOSITORY}:v1"));
        base.task_definition.container_definitions = Some(defs);
        let found = targets(&base.task_definition, &[], REPOSITORY, REGION, &[]).unwrap();
        let registry = image::EcrRegistry::parse(host).unwrap();
        assert_eq!(found.len(), 1, "{host}");
        assert_eq!(
            found[0].query,
            ImageQuery {
                registry_id: Some(registry.account.clone()),
                region: registry.region.clone(),
                repository: REPOSITORY.into()
            },
            "{host}"
        );
        let p = plan_for(&base, &base.task_definition, &[], "v2").unwrap();
        assert_eq!(p.image, format!("{host}/{REPOSITORY}:v2"), "the host is kept exactly");
    }
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
