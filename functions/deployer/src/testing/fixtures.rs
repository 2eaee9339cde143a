//! Fixtures shared by the unit and scenario tests: task definitions shaped like real DescribeTaskDefinition
//! answers.

use aws_sdk_ecs::types::*;
use aws_smithy_types::DateTime;

use contract::names::Home;

use crate::ports::DescribedTaskDefinition;

pub const REGION: &str = "eu-west-1";
pub const ACCOUNT: &str = "111122223333";
/// The deployer's own ARN in the fake world, as the runtime names it to an invocation.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:eu-west-1:111122223333:function:deployer";

/// The fake world's partition, region and account, as [`FUNCTION_ARN`] names them.
pub fn home() -> Home {
    Home::from_function_arn(FUNCTION_ARN).expect("a function ARN")
}
pub const REPOSITORY: &str = "team/web";
pub const REGISTRY: &str = "111122223333.dkr.ecr.eu-west-1.amazonaws.com";

pub fn arn(family_revision: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family_revision}")
}

pub fn kv(name: &str, value: &str) -> KeyValuePair {
    KeyValuePair::builder().name(name).value(value).build()
}

pub fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

/// The application container, running `team/web` at `tag`.
pub fn app_container(tag: &str) -> ContainerDefinition {
    ContainerDefinition::builder()
        .name("app")
        .image(format!("{REGISTRY}/{REPOSITORY}:{tag}"))
        .essential(true)
        .cpu(256)
        .memory_reservation(512)
        .environment(kv("MODE", "production"))
        .environment(kv("EMPTY_ON_PURPOSE", ""))
        .secrets(
            Secret::builder()
                .name("DB_PASSWORD")
                .value_from("arn:aws:secretsmanager:eu-west-1:111122223333:secret:db-AbCdEf")
                .build()
                .unwrap(),
        )
        .port_mappings(
            PortMapping::builder()
                .container_port(8080)
                .protocol(TransportProtocol::Tcp)
                .name("http")
                .app_protocol(ApplicationProtocol::Http2)
                .build(),
        )
        .log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", "/ecs/web")
                .options("awslogs-stream-prefix", "")
                .build()
                .unwrap(),
        )
        .restart_policy(
            ContainerRestartPolicy::builder()
                .enabled(true)
                .ignored_exit_codes(0)
                .restart_attempt_period(60)
                .build()
                .unwrap(),
        )
        .version_consistency(VersionConsistency::Disabled)
        .depends_on(
            ContainerDependency::builder()
                .container_name("envoy")
                .condition(ContainerCondition::Healthy)
                .build()
                .unwrap(),
        )
        .build()
}

/// Sidecars that must never be touched: one from a public registry, one from another ECR repository.
pub fn sidecars() -> Vec<ContainerDefinition> {
    vec![
        ContainerDefinition::builder()
            .name("xray")
            .image("public.ecr.aws/xray/aws-xray-daemon:3.3")
            .essential(false)
            .build(),
        ContainerDefinition::builder()
            .name("envoy")
            .image("840364872350.dkr.ecr.eu-west-1.amazonaws.com/aws-appmesh-envoy:v1.29.6.0-prod")
            .essential(true)
            .build(),
    ]
}

/// A described task definition with every field that DescribeTaskDefinition can return set, the read-only
/// ones included.
#[allow(deprecated)] // the fixture sets every field, the retired inference accelerators too
pub fn full_task_definition(revision: i32, app_tag: &str) -> TaskDefinition {
    let mut containers = vec![app_container(app_tag)];
    containers.extend(sidecars());
    TaskDefinition::builder()
        .task_definition_arn(arn(&format!("web:{revision}")))
        .set_container_definitions(Some(containers))
        .family("web")
        .task_role_arn("arn:aws:iam::111122223333:role/web-task")
        .execution_role_arn("arn:aws:iam::111122223333:role/web-execution")
        .network_mode(NetworkMode::Awsvpc)
        .revision(revision)
        .volumes(
            Volume::builder()
                .name("data")
                .efs_volume_configuration(
                    EfsVolumeConfiguration::builder()
                        .file_system_id("fs-12345678")
                        .root_directory("/")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .status(TaskDefinitionStatus::Active)
        .requires_attributes(Attribute::builder().name("ecs.capability.efsAuth").build().unwrap())
        .placement_constraints(
            TaskDefinitionPlacementConstraint::builder()
                .r#type(TaskDefinitionPlacementConstraintType::MemberOf)
                .expression("attribute:ecs.os-type == linux")
                .build(),
        )
        .compatibilities(Compatibility::Ec2)
        .compatibilities(Compatibility::Fargate)
        .runtime_platform(
            RuntimePlatform::builder()
                .cpu_architecture(CpuArchitecture::Arm64)
                .operating_system_family(OsFamily::Linux)
                .build(),
        )
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("512")
        .memory("1024")
        .inference_accelerators(
            InferenceAccelerator::builder().device_name("gpu0").device_type("eia2.medium").build().unwrap(),
        )
        .pid_mode(PidMode::Task)
        .ipc_mode(IpcMode::Task)
        .proxy_configuration(
            ProxyConfiguration::builder()
                .r#type(ProxyConfigurationType::Appmesh)
                .container_name("envoy")
                .properties(kv("IgnoredUID", "1337"))
                .build()
                .unwrap(),
        )
        .registered_at(DateTime::from_secs(1_760_000_000))
        .deregistered_at(DateTime::from_secs(1_760_000_500))
        .delete_requested_at(DateTime::from_secs(1_760_000_900))
        .registered_by("arn:aws:sts::111122223333:assumed-role/ci/session")
        .ephemeral_storage(EphemeralStorage::builder().size_in_gib(30).build())
        .enable_fault_injection(true)
        .build()
}

pub fn described(revision: i32, app_tag: &str) -> DescribedTaskDefinition {
    DescribedTaskDefinition {
        task_definition: full_task_definition(revision, app_tag),
        tags: vec![tag("team", "payments"), tag("Version", app_tag), tag("aws:cloudformation:stack-name", "web")],
    }
}
