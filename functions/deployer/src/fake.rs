//! An in-process ECS and ECR for scenario tests: it keeps state like the real services, records every call,
//! can be slowed down, and fails the calls it is told to.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types::{Cluster, Deployment, Service, TaskDefinition, TaskDefinitionStatus};

use crate::aws::{Aws, DescribedTaskDefinition, ImageLookup, ServiceLookup};
use crate::error::{AwsError, AwsErrorKind};
use crate::plan::family_revision;
use crate::testing::{arn, ACCOUNT};
use crate::version::Version;

#[derive(Debug, Clone)]
pub struct Call {
    pub op: &'static str,
    pub arg: String,
    pub started: Instant,
    pub ended: Instant,
}

/// A fault for the next call of one operation. With `applied`, the call takes effect before it fails, like
/// a request whose answer was lost.
#[derive(Debug, Clone)]
pub struct Fault {
    pub error: AwsError,
    pub applied: bool,
}

pub fn error(op: &'static str, kind: AwsErrorKind) -> AwsError {
    AwsError { operation: op, kind, aws_code: Some(format!("{kind:?}Fault")), message: format!("injected {kind:?}") }
}

#[derive(Default)]
pub struct State {
    pub repositories: BTreeSet<String>,
    pub images: BTreeSet<(String, String)>,
    pub clusters: BTreeMap<String, Cluster>,
    pub services: BTreeMap<String, Service>,
    pub task_definitions: Vec<DescribedTaskDefinition>,
    /// Per operation, what its next calls do: `None` lets one through, `Some` fails it.
    pub faults: BTreeMap<&'static str, VecDeque<Option<Fault>>>,
    pub calls: Vec<Call>,
    next_deployment: u32,
}

#[derive(Default)]
pub struct FakeAws {
    pub state: Mutex<State>,
    /// How long every call takes.
    pub latency: Duration,
}

impl FakeAws {
    /// A world with repository `repository` holding `tags`, an ACTIVE cluster `prod` and service `web` that
    /// runs the first of `revisions` (each registered in order).
    pub fn world(repository: &str, tags: &[&str], revisions: Vec<DescribedTaskDefinition>) -> FakeAws {
        let fake = FakeAws::default();
        {
            let mut s = fake.state.lock().unwrap();
            s.repositories.insert(repository.to_owned());
            for t in tags {
                s.images.insert((repository.to_owned(), (*t).to_owned()));
            }
            s.clusters.insert("prod".into(), Cluster::builder().cluster_name("prod").status("ACTIVE").build());
            let running = revisions[0].task_definition.task_definition_arn.clone().unwrap();
            s.task_definitions = revisions;
            s.services.insert(
                "web".into(),
                Service::builder()
                    .service_name("web")
                    .status("ACTIVE")
                    .task_definition(running.clone())
                    .deployments(
                        Deployment::builder().id("ecs-svc/0").status("PRIMARY").task_definition(running).build(),
                    )
                    .build(),
            );
        }
        fake
    }

    pub fn with_latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    pub fn fail_next(&self, op: &'static str, kind: AwsErrorKind, applied: bool) {
        let mut s = self.state.lock().unwrap();
        s.faults.entry(op).or_default().push_back(Some(Fault { error: error(op, kind), applied }));
    }

    /// Lets the next call of `op` through; with [`FakeAws::fail_next`], fails a later call.
    pub fn pass_next(&self, op: &'static str) {
        self.state.lock().unwrap().faults.entry(op).or_default().push_back(None);
    }

    pub fn ops(&self) -> Vec<&'static str> {
        self.state.lock().unwrap().calls.iter().map(|c| c.op).collect()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.state.lock().unwrap().calls.clone()
    }

    pub fn service(&self, name: &str) -> Service {
        self.state.lock().unwrap().services[name].clone()
    }

    pub fn revisions(&self, family_name: &str) -> Vec<DescribedTaskDefinition> {
        let s = self.state.lock().unwrap();
        s.task_definitions.iter().filter(|d| d.task_definition.family() == Some(family_name)).cloned().collect()
    }

    /// Runs one call: waits the latency, records it, then either fails it or applies `body`.
    async fn call<T>(
        &self,
        op: &'static str,
        arg: &str,
        body: impl FnOnce(&mut State) -> Result<T, AwsError>,
    ) -> Result<T, AwsError> {
        let started = Instant::now();
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let mut s = self.state.lock().unwrap();
        s.calls.push(Call { op, arg: arg.to_owned(), started, ended: Instant::now() });
        match s.faults.get_mut(op).and_then(VecDeque::pop_front).flatten() {
            Some(Fault { error, applied: true }) => {
                let _ = body(&mut s);
                Err(error)
            }
            Some(Fault { error, applied: false }) => Err(error),
            None => body(&mut s),
        }
    }
}

fn find<'a>(s: &'a State, name: &str) -> Option<&'a DescribedTaskDefinition> {
    let wanted = family_revision(name);
    if wanted.contains(':') {
        s.task_definitions
            .iter()
            .find(|d| family_revision(d.task_definition.task_definition_arn().unwrap_or_default()) == wanted)
    } else {
        s.task_definitions
            .iter()
            .filter(|d| d.task_definition.family() == Some(wanted))
            .filter(|d| d.task_definition.status() == Some(&TaskDefinitionStatus::Active))
            .max_by_key(|d| d.task_definition.revision)
    }
}

impl Aws for FakeAws {
    async fn describe_image(&self, repository: &str, version: &Version) -> Result<ImageLookup, AwsError> {
        self.call("DescribeImages", &format!("{repository}:{version}"), |s| {
            Ok(if !s.repositories.contains(repository) {
                ImageLookup::RepositoryMissing
            } else if s.images.contains(&(repository.to_owned(), version.to_string())) {
                ImageLookup::Found { registry_id: ACCOUNT.into(), digest: None }
            } else {
                ImageLookup::ImageMissing
            })
        })
        .await
    }

    async fn describe_cluster(&self, cluster: &str) -> Result<Option<Cluster>, AwsError> {
        self.call("DescribeClusters", cluster, |s| Ok(s.clusters.get(cluster).cloned())).await
    }

    async fn describe_service(&self, cluster: &str, service: &str) -> Result<ServiceLookup, AwsError> {
        self.call("DescribeServices", service, |s| {
            Ok(if !s.clusters.contains_key(cluster) {
                ServiceLookup::ClusterMissing
            } else {
                s.services
                    .get(service)
                    .map_or(ServiceLookup::Missing, |svc| ServiceLookup::Found(Box::new(svc.clone())))
            })
        })
        .await
    }

    async fn describe_task_definition(&self, name: &str) -> Result<Option<DescribedTaskDefinition>, AwsError> {
        self.call("DescribeTaskDefinition", name, |s| Ok(find(s, name).cloned())).await
    }

    async fn register_task_definition(&self, input: RegisterTaskDefinitionInput) -> Result<TaskDefinition, AwsError> {
        let family_name = input.family.clone().unwrap_or_default();
        self.call("RegisterTaskDefinition", &family_name, |s| {
            let revision = s
                .task_definitions
                .iter()
                .filter(|d| d.task_definition.family() == Some(family_name.as_str()))
                .map(|d| d.task_definition.revision)
                .max()
                .unwrap_or(0)
                + 1;
            #[allow(deprecated)] // inference_accelerators is stored like every other field
            let td = TaskDefinition::builder()
                .task_definition_arn(arn(&format!("{family_name}:{revision}")))
                .family(family_name.clone())
                .revision(revision)
                .status(TaskDefinitionStatus::Active)
                .set_container_definitions(input.container_definitions)
                .set_task_role_arn(input.task_role_arn)
                .set_execution_role_arn(input.execution_role_arn)
                .set_network_mode(input.network_mode)
                .set_volumes(input.volumes)
                .set_placement_constraints(input.placement_constraints)
                .set_requires_compatibilities(input.requires_compatibilities)
                .set_cpu(input.cpu)
                .set_memory(input.memory)
                .set_pid_mode(input.pid_mode)
                .set_ipc_mode(input.ipc_mode)
                .set_proxy_configuration(input.proxy_configuration)
                .set_inference_accelerators(input.inference_accelerators)
                .set_ephemeral_storage(input.ephemeral_storage)
                .set_runtime_platform(input.runtime_platform)
                .set_enable_fault_injection(input.enable_fault_injection)
                .build();
            s.task_definitions
                .push(DescribedTaskDefinition { task_definition: td.clone(), tags: input.tags.unwrap_or_default() });
            Ok(td)
        })
        .await
    }

    async fn update_service(
        &self,
        _cluster: &str,
        service: &str,
        task_definition_arn: &str,
    ) -> Result<Service, AwsError> {
        self.call("UpdateService", task_definition_arn, |s| {
            let active = find(s, task_definition_arn)
                .is_some_and(|d| d.task_definition.status() == Some(&TaskDefinitionStatus::Active));
            if !active {
                return Err(error("UpdateService", AwsErrorKind::Rejected));
            }
            s.next_deployment += 1;
            let id = format!("ecs-svc/{}", s.next_deployment);
            let svc = s.services.get_mut(service).ok_or_else(|| error("UpdateService", AwsErrorKind::Rejected))?;
            let mut deployments: Vec<Deployment> = svc.deployments().to_vec();
            for d in &mut deployments {
                d.status = Some("ACTIVE".into());
            }
            deployments
                .insert(0, Deployment::builder().id(id).status("PRIMARY").task_definition(task_definition_arn).build());
            svc.deployments = Some(deployments);
            svc.task_definition = Some(task_definition_arn.to_owned());
            Ok(svc.clone())
        })
        .await
    }

    async fn deregister_task_definition(&self, task_definition_arn: &str) -> Result<(), AwsError> {
        self.call("DeregisterTaskDefinition", task_definition_arn, |s| {
            let wanted = family_revision(task_definition_arn).to_owned();
            let found = s
                .task_definitions
                .iter_mut()
                .find(|d| family_revision(d.task_definition.task_definition_arn().unwrap_or_default()) == wanted);
            match found {
                Some(d) => {
                    d.task_definition.status = Some(TaskDefinitionStatus::Inactive);
                    Ok(())
                }
                None => Err(error("DeregisterTaskDefinition", AwsErrorKind::Rejected)),
            }
        })
        .await
    }
}
