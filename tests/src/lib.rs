//! A local AWS for tests and the demo: `tests/localaws` (moto with rollouts that live) on a free 127.0.0.1
//! port with a VPC, a subnet, a security group, an ECR repository holding `v1` and `v2`, an ACTIVE cluster and
//! a Fargate service running a task definition with an app container and sidecars. Everything it starts
//! stops when it is dropped.

pub mod clock;
pub mod proxy;
pub mod runtime_api;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::{Region, SdkConfig};
use aws_sdk_ecs::config::Credentials;
use aws_sdk_ecs::types::{
    ApplicationProtocol, AssignPublicIp, AwsVpcConfiguration, Compatibility, ContainerDefinition, CpuArchitecture,
    EphemeralStorage, HealthCheck, KeyValuePair, LaunchType, LogConfiguration, LogDriver, NetworkConfiguration,
    NetworkMode, OsFamily, PortMapping, RuntimePlatform, Secret, Tag, TaskDefinition, TaskDefinitionField,
    TransportProtocol, Ulimit, UlimitName, Volume,
};
use contract::aws_error::config_loader;
use deployer::config::Config;
use deployer::pipeline::Deployer;
use deployer::ports::{DynamoHistory, DynamoLock, SdkEcs, SystemClock};
use serde::Deserialize;

pub const REGION: &str = "us-east-1";
/// The DynamoDB table every world creates for the deployer's per-service locks.
pub const LOCK_TABLE: &str = "ecs-deployer-locks";

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repository").to_path_buf()
}

/// A program from the project's virtualenv (`make tools` creates it). A missing tool fails the test: tests
/// that need moto or cargo-lambda never skip.
pub fn tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("DEPLOYER_VENV").map_or_else(|| repo_root().join(".venv"), PathBuf::from);
    let path = venv.join("bin").join(name);
    assert!(path.exists(), "{} not found: run `make tools` (or `make test`), which installs it", path.display());
    path
}

/// What the world looks like. The default is the demo's; tests vary it to prove nothing depends on names.
#[derive(Debug, Clone)]
pub struct Shape {
    pub cluster: String,
    pub service: String,
    pub family: String,
    pub repository: String,
    pub app_container: String,
    /// (name, image) of containers that must never change.
    pub sidecars: Vec<(String, String)>,
    /// Volumes, ulimits, a health check, docker labels, a pid mode: fields a whitelist would drop.
    pub extra_fields: bool,
    /// Where the app container pulls from (`host/repository`, without a tag); `None`: the world's own
    /// repository. Create that repository with [`World::create_repository`].
    pub app_image: Option<String>,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            cluster: "demo".into(),
            service: "web".into(),
            family: "web".into(),
            repository: "web".into(),
            app_container: "app".into(),
            sidecars: vec![("xray".into(), "public.ecr.aws/xray/aws-xray-daemon:3.3".into())],
            extra_fields: false,
            app_image: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Network {
    endpoint: String,
    subnet: String,
    security_group: String,
}

pub struct World {
    moto: Child,
    _keepalive: ChildStdin,
    pub endpoint: String,
    pub config: SdkConfig,
    pub ecs: aws_sdk_ecs::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub shape: Shape,
    pub repository_uri: String,
    network: Network,
    /// A world started with [`World::start_stepped`]: its clock moves only when this steps it (the
    /// deployer's sleeps, [`World::settle`], [`World::idle`]).
    pub clock: Option<Arc<clock::LocalAwsClock>>,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.moto.kill();
        let _ = self.moto.wait();
    }
}

fn fake_digest(seed: &str) -> String {
    let hex: String = seed.bytes().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex:0>64}")
}

fn kv(name: &str, value: &str) -> KeyValuePair {
    KeyValuePair::builder().name(name).value(value).build()
}

impl World {
    pub async fn start() -> World {
        World::start_with(Shape::default()).await
    }

    pub async fn start_with(shape: Shape) -> World {
        let tick = std::env::var("LOCAL_AWS_TICK").ok().and_then(|t| t.parse().ok()).unwrap_or(0.5);
        World::start_ticking(shape, tick).await
    }

    /// A world whose rollouts move one step every `tick` seconds (a healthy one completes in three).
    pub async fn start_ticking(shape: Shape, tick: f64) -> World {
        World::start_configured(shape, tick, &[]).await
    }

    /// A world whose local AWS runs a manual clock (`LOCAL_AWS_MANUAL`) of `tick`-second steps, moved only
    /// by this world's [`clock::LocalAwsClock`]: the deployer it builds sleeps on that clock, so following a
    /// rollout steps the local AWS instead of waiting for it; the first rollout of the service is stepped to
    /// COMPLETED before this returns. The same rollouts as on a running clock of `tick`, minus the waits:
    /// `env` as for [`World::start_configured`] (a `LOCAL_AWS_MINUTE` keeps its meaning, in clock seconds).
    pub async fn start_stepped(shape: Shape, tick: f64, env: &[(&str, String)]) -> World {
        let mut env = env.to_vec();
        env.push(("LOCAL_AWS_MANUAL", "1".to_owned()));
        let mut world = World::start_configured(shape, tick, &env).await;
        world.clock = Some(Arc::new(clock::LocalAwsClock::new(&world.endpoint, tick)));
        let service = world.shape.service.clone();
        world.settle(&service).await;
        world
    }

    /// The default world on a stepped clock of 0.5 s ticks ([`World::start_stepped`]).
    pub async fn stepped() -> World {
        World::start_stepped(Shape::default(), 0.5, &[]).await
    }

    /// Lets the world's time pass a little: one step of a stepped world's clock, 200 ms of a running one.
    pub async fn idle(&self) {
        match &self.clock {
            Some(clock) => clock.step(1).await,
            None => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }

    /// A world whose local AWS also gets `env` (`LOCAL_AWS_LAMBDA_ENDPOINT`, `LOCAL_AWS_EVENTS_FUNCTION`, …).
    pub async fn start_configured(shape: Shape, tick: f64, env: &[(&str, String)]) -> World {
        let script = repo_root().join("tests/world/moto_world.py");
        let mut moto = Command::new(tool("python"))
            .arg(&script)
            .env("LOCAL_AWS_TICK", tick.to_string())
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the moto world");
        let keepalive = moto.stdin.take().expect("piped stdin");
        let mut line = String::new();
        BufReader::new(moto.stdout.take().expect("piped stdout")).read_line(&mut line).expect("read moto's address");
        let network: Network = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("moto world did not start ({e}); it printed {line:?}"));

        let config = config_loader()
            .endpoint_url(&network.endpoint)
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "world"))
            .load()
            .await;
        let mut world = World {
            moto,
            _keepalive: keepalive,
            endpoint: network.endpoint.clone(),
            ecs: aws_sdk_ecs::Client::new(&config),
            ecr: aws_sdk_ecr::Client::new(&config),
            config,
            shape,
            repository_uri: String::new(),
            network,
            clock: None,
        };
        world.build().await;
        world
    }

    async fn build(&mut self) {
        let s = self.shape.clone();
        let repo = self.ecr.create_repository().repository_name(&s.repository).send().await.expect("create repository");
        self.repository_uri = repo.repository.and_then(|r| r.repository_uri).expect("repository URI");
        for tag in ["v1", "v2"] {
            self.push_image(tag).await;
        }
        self.ecs.create_cluster().cluster_name(&s.cluster).send().await.expect("create cluster");
        self.add_service(&s.service, &s.family).await;
        self.create_lock_table().await;
    }

    /// The deployer's lock table, as infra/template.yaml creates it.
    async fn create_lock_table(&self) {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
            ProjectionType, ScalarAttributeType,
        };
        let attribute = |name: &str, kind: ScalarAttributeType| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(kind).build().expect("attribute")
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("key")
        };
        let history = GlobalSecondaryIndex::builder()
            .index_name("history")
            .key_schema(key("history_of", KeyType::Hash))
            .key_schema(key("at", KeyType::Range))
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .expect("index");
        aws_sdk_dynamodb::Client::new(&self.config)
            .create_table()
            .table_name(LOCK_TABLE)
            .attribute_definitions(attribute("lock_id", ScalarAttributeType::S))
            .attribute_definitions(attribute("history_of", ScalarAttributeType::S))
            .attribute_definitions(attribute("at", ScalarAttributeType::N))
            .key_schema(key("lock_id", KeyType::Hash))
            .global_secondary_indexes(history)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .expect("create lock table");
    }

    /// The history records in this world's lock table: `lock_id` and `expires_at` (seconds from now).
    pub async fn history_items(&self) -> Vec<(String, u64)> {
        let out = aws_sdk_dynamodb::Client::new(&self.config).scan().table_name(LOCK_TABLE).send().await.expect("scan");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        out.items()
            .iter()
            .filter(|item| item.contains_key("history_of"))
            .map(|item| {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().or_else(|_| v.as_n()).ok()).cloned();
                let expires: u64 = text("expires_at").and_then(|e| e.parse().ok()).unwrap_or_default();
                (text("lock_id").unwrap_or_default(), expires.saturating_sub(now))
            })
            .collect()
    }

    /// The deployer's lock, on this world's lock table.
    pub fn lock(&self) -> DynamoLock {
        let clock = std::sync::Arc::new(SystemClock::default());
        DynamoLock::new(aws_sdk_dynamodb::Client::new(&self.config), LOCK_TABLE, clock)
    }

    /// Registers `family` (revision 1, the app at `v1` plus the shape's sidecars) and creates a Fargate
    /// service `name` in the world's cluster that runs it.
    pub async fn add_service(&self, name: &str, family: &str) {
        let s = &self.shape;
        let mut containers = vec![self.app_container("v1")];
        for (name, image) in &s.sidecars {
            containers.push(
                ContainerDefinition::builder()
                    .name(name)
                    .image(image)
                    .essential(false)
                    .cpu(32)
                    .memory_reservation(64)
                    .build(),
            );
        }
        let mut register = self
            .ecs
            .register_task_definition()
            .family(family)
            .set_container_definitions(Some(containers))
            .network_mode(NetworkMode::Awsvpc)
            .requires_compatibilities(Compatibility::Fargate)
            .cpu("512")
            .memory("1024")
            .task_role_arn("arn:aws:iam::123456789012:role/web-task")
            .execution_role_arn("arn:aws:iam::123456789012:role/web-execution")
            .runtime_platform(
                RuntimePlatform::builder()
                    .cpu_architecture(CpuArchitecture::Arm64)
                    .operating_system_family(OsFamily::Linux)
                    .build(),
            )
            .ephemeral_storage(EphemeralStorage::builder().size_in_gib(40).build())
            .tags(Tag::builder().key("team").value("payments").build())
            .tags(Tag::builder().key("cost-center").value("42").build());
        if s.extra_fields {
            register = register
                .volumes(Volume::builder().name("scratch").build())
                .pid_mode(aws_sdk_ecs::types::PidMode::Task)
                .enable_fault_injection(true);
        }
        let td = register.send().await.expect("register task definition").task_definition.expect("task definition");
        self.ecs
            .create_service()
            .cluster(&s.cluster)
            .service_name(name)
            .task_definition(td.task_definition_arn().expect("ARN"))
            .desired_count(1)
            .launch_type(LaunchType::Fargate)
            .network_configuration(self.network_configuration())
            .send()
            .await
            .expect("create service");
    }

    fn app_container(&self, tag: &str) -> ContainerDefinition {
        let s = &self.shape;
        let mut app = ContainerDefinition::builder()
            .name(&s.app_container)
            .image(format!("{}:{tag}", s.app_image.as_deref().unwrap_or(&self.repository_uri)))
            .essential(true)
            .environment(kv("LOG_LEVEL", "info"))
            .environment(kv("FEATURE_FLAG", ""))
            .secrets(
                Secret::builder()
                    .name("DB_PASSWORD")
                    .value_from("arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf")
                    .build()
                    .expect("secret"),
            )
            .port_mappings(
                PortMapping::builder()
                    .container_port(8080)
                    .protocol(TransportProtocol::Tcp)
                    .name("http")
                    .app_protocol(ApplicationProtocol::Http)
                    .build(),
            )
            .log_configuration(
                LogConfiguration::builder()
                    .log_driver(LogDriver::Awslogs)
                    .options("awslogs-group", "/ecs/web")
                    .options("awslogs-region", REGION)
                    .options("awslogs-stream-prefix", "web")
                    .build()
                    .expect("log configuration"),
            );
        if s.extra_fields {
            app = app
                .ulimits(
                    Ulimit::builder()
                        .name(UlimitName::Nofile)
                        .soft_limit(4096)
                        .hard_limit(8192)
                        .build()
                        .expect("ulimit"),
                )
                .health_check(
                    HealthCheck::builder()
                        .command("CMD-SHELL")
                        .command("curl -f http://localhost:8080/health || exit 1")
                        .interval(10)
                        .build()
                        .expect("health check"),
                )
                .docker_labels("com.example.owner", "payments")
                .stop_timeout(20);
        }
        app.build()
    }

    /// Pushes a (tiny, fake) image with `tag`; distinct manifests give distinct digests.
    pub async fn push_image(&self, tag: &str) -> String {
        self.push_image_to(REGION, &self.shape.repository, tag).await
    }

    /// An ECR client of `region` on this world's endpoint: moto keeps each region's registries apart.
    pub fn ecr_in(&self, region: &str) -> aws_sdk_ecr::Client {
        aws_sdk_ecr::Client::new(&self.config.to_builder().region(Region::new(region.to_owned())).build())
    }

    /// Creates repository `name` in `region`, owned by registry `registry_id` (another account's, as a central
    /// registry that shares it by repository policy) or the world's own; answers its URI host
    /// (`<registry>.dkr.ecr.<region>.amazonaws.com`).
    pub async fn create_repository(&self, region: &str, registry_id: Option<&str>, name: &str) -> String {
        let out = self
            .ecr_in(region)
            .create_repository()
            .set_registry_id(registry_id.map(str::to_owned))
            .repository_name(name)
            .send()
            .await
            .expect("create repository");
        let uri = out.repository.and_then(|r| r.repository_uri).expect("repository URI");
        let registry = registry_id.map_or_else(|| uri.split('.').next().unwrap_or_default().to_owned(), str::to_owned);
        format!("{registry}.dkr.ecr.{region}.amazonaws.com")
    }

    /// Pushes a fake image with `tag` to repository `name` of `region`; answers its digest.
    pub async fn push_image_to(&self, region: &str, name: &str, tag: &str) -> String {
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2, "digest": fake_digest(tag)},
            "layers": [],
        });
        let out = self
            .ecr_in(region)
            .put_image()
            .repository_name(name)
            .image_manifest(manifest.to_string())
            .image_tag(tag)
            .send()
            .await
            .expect("put image");
        out.image.and_then(|i| i.image_id).and_then(|id| id.image_digest).expect("image digest")
    }

    /// Registers a new revision of the world's family by hand, as someone does in the console: the running
    /// one with its tags, both changed by `change`. Answers it as `family:revision`.
    pub async fn register_by_hand(&self, change: impl FnOnce(&mut TaskDefinition, &mut Vec<Tag>)) -> String {
        let (mut td, mut tags) = self.running().await;
        change(&mut td, &mut tags);
        let out = self
            .ecs
            .register_task_definition()
            .set_family(td.family)
            .set_container_definitions(td.container_definitions)
            .set_network_mode(td.network_mode)
            .set_requires_compatibilities(td.requires_compatibilities)
            .set_cpu(td.cpu)
            .set_memory(td.memory)
            .set_task_role_arn(td.task_role_arn)
            .set_execution_role_arn(td.execution_role_arn)
            .set_runtime_platform(td.runtime_platform)
            .set_ephemeral_storage(td.ephemeral_storage)
            .set_volumes(td.volumes)
            .set_pid_mode(td.pid_mode)
            .set_enable_fault_injection(td.enable_fault_injection)
            .set_tags(Some(tags).filter(|t| !t.is_empty()))
            .send()
            .await
            .expect("register by hand");
        deployer::plan::describe_name(&out.task_definition.expect("task definition"))
    }

    /// The awsvpc network of the world's services (its subnet and security group), for services a test creates.
    pub fn network_configuration(&self) -> NetworkConfiguration {
        NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder()
                    .subnets(&self.network.subnet)
                    .security_groups(&self.network.security_group)
                    .assign_public_ip(AssignPublicIp::Disabled)
                    .build()
                    .expect("awsvpc configuration"),
            )
            .build()
    }

    /// Puts `service` on an ECS-native CANARY rollout (10 % of production traffic for one API minute, then
    /// the rest, no final bake) whose POST_TEST_TRAFFIC_SHIFT lifecycle hook is the `hook` function
    /// (`functions/hook`), invoked at the local AWS's `LOCAL_AWS_LAMBDA_ENDPOINT`.
    pub async fn make_canary_with_hook(&self, service: &str) {
        use aws_sdk_ecs::types::{
            CanaryConfiguration, DeploymentConfiguration, DeploymentLifecycleHook, DeploymentLifecycleHookStage,
            DeploymentStrategy,
        };
        let hook = DeploymentLifecycleHook::builder()
            .hook_target_arn(format!("arn:aws:lambda:{REGION}:123456789012:function:hook"))
            .role_arn("arn:aws:iam::123456789012:role/ecs-lifecycle-hooks")
            .lifecycle_stages(DeploymentLifecycleHookStage::PostTestTrafficShift)
            .build();
        let canary = DeploymentConfiguration::builder()
            .strategy(DeploymentStrategy::Canary)
            .bake_time_in_minutes(0)
            .canary_configuration(
                CanaryConfiguration::builder().canary_percent(10.0).canary_bake_time_in_minutes(1).build(),
            )
            .lifecycle_hooks(hook)
            .build();
        self.ecs
            .update_service()
            .cluster(&self.shape.cluster)
            .service(service)
            .deployment_configuration(canary)
            .send()
            .await
            .expect("make the service a canary");
    }

    /// The environment any function needs to call this world's AWS.
    pub fn aws_env(&self) -> Vec<(String, String)> {
        vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
            ("AWS_REGION".into(), REGION.into()),
            ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
        ]
    }

    /// The deployer's configuration for this world.
    pub fn defaults(&self) -> Config {
        let s = &self.shape;
        Config::for_service(&s.cluster, &s.service, &s.repository).expect("the world's names are valid")
    }

    /// The deployer library wired to this world through the real SDK, with its lock table (and history);
    /// in a stepped world ([`World::start_stepped`]) it sleeps on the world's clock.
    pub fn deployer(&self) -> Deployer<SdkEcs> {
        self.deployer_with(self.defaults())
    }

    /// [`World::deployer`] with `config` instead of the world's defaults.
    pub fn deployer_with(&self, config: Config) -> Deployer<SdkEcs> {
        let history = DynamoHistory::new(aws_sdk_dynamodb::Client::new(&self.config), LOCK_TABLE);
        let deployer = Deployer::new(SdkEcs::new(&self.config), config, REGION)
            .with_lock(std::sync::Arc::new(self.lock()))
            .with_history(std::sync::Arc::new(history));
        match &self.clock {
            Some(clock) => deployer.with_clock(clock.clone()),
            None => deployer,
        }
    }

    /// The environment the Lambda function needs to deploy in this world.
    pub fn function_env(&self) -> Vec<(String, String)> {
        let d = self.defaults();
        let mut env = self.aws_env();
        env.extend([
            ("DEPLOY_CLUSTER".into(), d.cluster.map(|c| c.to_string()).unwrap_or_default()),
            ("DEPLOY_SERVICE".into(), d.service.map(|s| s.to_string()).unwrap_or_default()),
            ("DEPLOY_REPOSITORY".into(), d.repository.map(|r| r.to_string()).unwrap_or_default()),
            ("DEPLOY_LOCK_TABLE".into(), LOCK_TABLE.into()),
            // The project of events/codebuild-succeeded.json.
            ("DEPLOY_BUILD_PROJECTS".into(), "web-image".into()),
        ]);
        env
    }

    /// The task definition the service runs now, with its tags.
    pub async fn running(&self) -> (TaskDefinition, Vec<Tag>) {
        self.running_in(&self.shape.service).await
    }

    /// The task definition `service` runs now, with its tags.
    pub async fn running_in(&self, service: &str) -> (TaskDefinition, Vec<Tag>) {
        let svc = self
            .ecs
            .describe_services()
            .cluster(&self.shape.cluster)
            .services(service)
            .send()
            .await
            .expect("describe service");
        let arn = svc.services()[0].task_definition().expect("task definition").to_owned();
        self.task_definition(&arn).await
    }

    pub async fn task_definition(&self, name: &str) -> (TaskDefinition, Vec<Tag>) {
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(name)
            .include(TaskDefinitionField::Tags)
            .send()
            .await
            .expect("describe task definition");
        (out.task_definition.expect("task definition"), out.tags.unwrap_or_default())
    }

    /// The id and `family:revision` of `service`'s PRIMARY deployment.
    pub async fn primary_deployment(&self, service: &str) -> (String, String) {
        let out = self
            .ecs
            .describe_services()
            .cluster(&self.shape.cluster)
            .services(service)
            .send()
            .await
            .expect("describe service");
        let primary = out.services()[0]
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"))
            .expect("a PRIMARY deployment");
        (
            primary.id().unwrap_or_default().to_owned(),
            deployer::plan::family_revision(primary.task_definition().unwrap_or_default()).to_owned(),
        )
    }

    /// Waits (at most a minute) until `service` has one deployment left and it is COMPLETED, as the local AWS
    /// reports once a rollout ends (a stepped world is stepped a tick between two reads); returns that
    /// deployment's id and `family:revision`.
    pub async fn settle(&self, service: &str) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = self
                .ecs
                .describe_services()
                .cluster(&self.shape.cluster)
                .services(service)
                .send()
                .await
                .expect("describe service");
            let deployments = out.services()[0].deployments();
            if let [only] = deployments {
                if only.rollout_state().map(|s| s.as_str()) == Some("COMPLETED") {
                    return self.primary_deployment(service).await;
                }
            }
            assert!(Instant::now() < deadline, "{service} did not settle: {deployments:?}");
            self.idle().await;
        }
    }

    /// Every registered revision of the world's family, as `family:revision`.
    pub async fn revisions(&self) -> Vec<String> {
        let out = self
            .ecs
            .list_task_definitions()
            .family_prefix(&self.shape.family)
            .send()
            .await
            .expect("list task definitions");
        let mut names: Vec<String> =
            out.task_definition_arns().iter().map(|a| deployer::plan::family_revision(a).to_owned()).collect();
        names.sort();
        names
    }
}

/// A local HTTP server answering every request with `status` and `{"status":"up"}` (a path starting with
/// `/fail` with 500), counting requests and recording their paths.
pub struct HttpListener {
    /// `http://127.0.0.1:<port>/ready`.
    pub url: String,
    /// How many connections it accepted.
    pub hits: Arc<AtomicUsize>,
    /// The path of each request, in order.
    pub paths: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn http_listener(status: u16) -> HttpListener {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
    let url = format!("http://{}/ready", l.local_addr().expect("address"));
    let hits = Arc::new(AtomicUsize::new(0));
    let paths = Arc::new(Mutex::new(Vec::new()));
    let (counter, recorder) = (hits.clone(), paths.clone());
    let task = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = l.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let recorder = recorder.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&seen).to_string();
                let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
                let status = if path.starts_with("/fail") { 500 } else { status };
                recorder.lock().expect("paths").push(path);
                let body = r#"{"status":"up"}"#;
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    HttpListener { url, hits, paths, task }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port()
}

/// The function running under `cargo lambda watch` (the Lambda runtime emulator), on 127.0.0.1.
pub struct LambdaEmulator {
    watch: Child,
    /// Where the emulator takes invokes: also the Lambda API endpoint for functions that invoke others.
    pub port: u16,
    pub log: PathBuf,
}

impl LambdaEmulator {
    // Every start serves all the workspace's functions (no `--package`): cargo then resolves the features of
    // every member, as `cargo build --workspace --bins` does, which `make test` runs first, so the emulator's
    // build finds everything built. `--package deployer` alone resolves other features of shared crates and
    // compiles them again (about two minutes on 2 cores).

    /// Starts the emulator for the deployer function (with the others) with `env` as its environment and
    /// waits until it accepts invokes.
    pub fn start(env: &[(String, String)]) -> LambdaEmulator {
        LambdaEmulator::start_functions(&[], env)
    }

    /// Starts the emulator for every function of the workspace (each invoked by its binary's name).
    pub fn start_all(env: &[(String, String)]) -> LambdaEmulator {
        LambdaEmulator::start_functions(&[], env)
    }

    /// Starts the emulator for every function of the workspace on `port` (chosen before the world whose
    /// lifecycle hooks it serves).
    pub fn start_all_on(port: u16, env: &[(String, String)]) -> LambdaEmulator {
        LambdaEmulator::start_functions_on(port, &[], env)
    }

    /// Starts the emulator for the deployer function (with the others) on `port` (chosen before the world
    /// that invokes it).
    pub fn start_on(port: u16, env: &[(String, String)]) -> LambdaEmulator {
        LambdaEmulator::start_functions_on(port, &[], env)
    }

    /// Starts the emulator for the lifecycle hook (`functions/hook`, with the others) on `port`, chosen before
    /// the local AWS that invokes it at `LOCAL_AWS_LAMBDA_ENDPOINT`.
    pub fn start_hook_on(port: u16, env: &[(String, String)]) -> LambdaEmulator {
        LambdaEmulator::start_functions_on(port, &[], env)
    }

    fn start_functions(selection: &[&str], env: &[(String, String)]) -> LambdaEmulator {
        LambdaEmulator::start_functions_on(free_port(), selection, env)
    }

    fn start_functions_on(port: u16, selection: &[&str], env: &[(String, String)]) -> LambdaEmulator {
        let dir = std::env::temp_dir().join(format!("deployer-lambda-{port}"));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let env_file = dir.join("function.env");
        let mut f = std::fs::File::create(&env_file).expect("env file");
        for (k, v) in env {
            writeln!(f, "{k}={v}").expect("write env file");
        }
        let log = dir.join("watch.log");
        let out = std::fs::File::create(&log).expect("log file");
        let watch = {
            use std::os::unix::process::CommandExt;
            Command::new(tool("cargo-lambda"))
                .args(["lambda", "watch", "--ignore-changes"])
                .args(selection)
                .args(["--invoke-address", "127.0.0.1", "--invoke-port", &port.to_string()])
                .arg("--env-file")
                .arg(&env_file)
                .current_dir(repo_root())
                .stdout(out.try_clone().expect("log file"))
                .stderr(out)
                .process_group(0)
                .spawn()
                .expect("start cargo lambda watch")
        };
        let emulator = LambdaEmulator { watch, port, log };
        let deadline = Instant::now() + Duration::from_secs(300);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "cargo lambda watch did not listen; see {}", emulator.log.display());
            std::thread::sleep(Duration::from_millis(100));
        }
        emulator
    }

    /// `cargo lambda invoke deployer --data-file FILE` against this emulator.
    pub fn invoke(&self, data_file: &Path) -> Output {
        self.invoke_function("deployer", data_file)
    }

    /// `cargo lambda invoke FUNCTION --data-file FILE` against this emulator.
    pub fn invoke_function(&self, function: &str, data_file: &Path) -> Output {
        Command::new(tool("cargo-lambda"))
            .args(["lambda", "invoke", function, "--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &self.port.to_string(), "--output-format", "json", "--data-file"])
            .arg(data_file)
            .current_dir(repo_root())
            .output()
            .expect("run cargo lambda invoke")
    }
}

impl Drop for LambdaEmulator {
    fn drop(&mut self) {
        // cargo lambda watch runs cargo, which runs the function: stop the whole process group.
        let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", self.watch.id())]).status();
        let _ = self.watch.wait();
    }
}

/// The deployer binary that `cargo lambda watch` built (debug profile), run against this crate's own
/// Runtime API ([`runtime_api::RuntimeApi`]). Unlike the emulator, which names the invoked function
/// `function-arn`, it names a real function ARN ([`runtime_api::FUNCTION_ARN`], in the fixtures' account
/// and region), as Lambda does. Killed when dropped.
pub struct DirectFunction {
    child: Child,
    api: runtime_api::RuntimeApi,
}

impl DirectFunction {
    /// Starts `target/debug/deployer` (it must have been built: invoke a [`LambdaEmulator`] first) with
    /// `env`, and waits until it asks for an event.
    pub async fn start(env: &[(String, String)]) -> DirectFunction {
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo_root().join("target"), PathBuf::from);
        let binary = target.join("debug").join("deployer");
        assert!(binary.exists(), "{} is not built: invoke the emulator first", binary.display());
        let api = runtime_api::RuntimeApi::start().await;
        let child = Command::new(&binary)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs([
                ("AWS_LAMBDA_FUNCTION_NAME", "deployer"),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ])
            .env("AWS_LAMBDA_RUNTIME_API", &api.addr)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the deployer binary");
        let function = DirectFunction { child, api };
        assert!(function.api.wait_first_next(Duration::from_secs(30)).await.is_some(), "the deployer did not start");
        function
    }

    /// One invocation: the result, or the function error (`{"errorType", "errorMessage"}`).
    pub async fn invoke(&self, event: serde_json::Value) -> Result<serde_json::Value, serde_json::Value> {
        self.api.invoke(event).await.0
    }
}

impl Drop for DirectFunction {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
