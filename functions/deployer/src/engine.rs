//! The deploy pipeline: one parallel preflight round, the pure plan, then RegisterTaskDefinition and
//! UpdateService. Everything it asks of AWS goes through [`Aws`].

use std::time::Instant;

use aws_sdk_ecs::types::{DeploymentControllerType, Service, TaskDefinition};
use serde::Serialize;
use tracing::Instrument;

use crate::aws::{Aws, DescribedTaskDefinition, ImageLookup, ServiceLookup};
use crate::error::{AwsError, AwsErrorKind, Cleanup, DeployError};
use crate::image::ecr_registry_host;
use crate::plan::{describe_name, family, family_revision, plan, Action, ContainerChange, PlanInput};
use crate::request::{Base, Defaults, DeployRequest, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Deployed,
    AlreadyDeployed,
    DryRun,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Timings {
    pub preflight: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub register: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update: Option<u64>,
    pub total: u64,
}

/// What a deploy did. Task definitions are named `family:revision`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeployResult {
    pub status: Status,
    pub cluster: String,
    pub service: String,
    pub version: String,
    pub image: String,
    /// The revision the new one was cloned from.
    pub base_task_definition: String,
    /// The revision the service ran before this call.
    pub previous_task_definition: String,
    /// The revision the service runs after this call (`null` for a dry run).
    pub task_definition: Option<String>,
    /// The ECS deployment that UpdateService started, when ECS reported one.
    pub deployment_id: Option<String>,
    pub containers_updated: Vec<ContainerChange>,
    pub timings_ms: Timings,
}

/// What the preflight learnt: everything the plan needs.
struct Checked {
    registry_id: String,
    base: DescribedTaskDefinition,
    running: TaskDefinition,
}

pub struct Deployer<A> {
    aws: A,
    defaults: Defaults,
    region: String,
}

fn ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn same_revision(a: &str, b: &str) -> bool {
    family_revision(a) == family_revision(b)
}

/// The deployment UpdateService started for `task_definition`. `deployments[0]` is not always it.
fn deployment_for(service: &Service, task_definition: &str) -> Option<String> {
    service
        .deployments()
        .iter()
        .find(|d| {
            d.status() == Some("PRIMARY") && d.task_definition().is_some_and(|td| same_revision(td, task_definition))
        })
        .and_then(|d| d.id().map(str::to_owned))
}

impl<A: Aws> Deployer<A> {
    pub fn new(aws: A, defaults: Defaults, region: impl Into<String>) -> Self {
        Deployer {
            aws,
            defaults,
            region: region.into(),
        }
    }

    pub fn aws(&self) -> &A {
        &self.aws
    }

    /// Ships `request.version`. Bad input fails before any AWS call; a failed check changes nothing.
    pub async fn deploy(&self, request: DeployRequest) -> Result<DeployResult, DeployError> {
        let started = Instant::now();
        let target = Target::resolve(request, &self.defaults)?;
        let span = tracing::info_span!(
            "deploy",
            cluster = %target.cluster,
            service = %target.service,
            version = %target.version,
            task_definition = tracing::field::Empty,
        );
        self.run(&target, started).instrument(span).await
    }

    async fn run(&self, t: &Target, started: Instant) -> Result<DeployResult, DeployError> {
        let checked = self.preflight(t).await?;
        let mut timings = Timings {
            preflight: ms(started),
            ..Timings::default()
        };

        let registry_host = ecr_registry_host(&checked.registry_id, &self.region);
        let planned = plan(&PlanInput {
            base: &checked.base,
            running: &checked.running,
            containers: &t.containers,
            repository: &t.repository,
            version: &t.version,
            registry_host: &registry_host,
        })?;
        let previous = describe_name(&checked.running);
        let mut result = DeployResult {
            status: Status::DryRun,
            cluster: t.cluster.clone(),
            service: t.service.clone(),
            version: t.version.to_string(),
            image: planned.image,
            base_task_definition: describe_name(&checked.base.task_definition),
            previous_task_definition: previous.clone(),
            task_definition: None,
            deployment_id: None,
            containers_updated: planned.changes,
            timings_ms: Timings::default(),
        };

        match planned.action {
            Action::AlreadyDeployed => {
                result.status = Status::AlreadyDeployed;
                result.task_definition = Some(previous);
            }
            Action::Register(_) if t.dry_run => {}
            Action::Register(input) => {
                let step = Instant::now();
                let registered = self.aws.register_task_definition(*input).await?;
                timings.register = Some(ms(step));
                let arn = registered.task_definition_arn.clone().ok_or_else(|| AwsError {
                    operation: "RegisterTaskDefinition",
                    kind: AwsErrorKind::Unknown,
                    aws_code: None,
                    message: "the registered task definition has no ARN".into(),
                })?;
                let name = family_revision(&arn).to_owned();
                tracing::Span::current().record("task_definition", name.as_str());
                tracing::info!("registered {name}");

                let step = Instant::now();
                let updated = match self.aws.update_service(&t.cluster, &t.service, &arn).await {
                    Ok(service) => service,
                    Err(e) => self.after_failed_update(t, &arn, e).await?,
                };
                timings.update = Some(ms(step));
                result.status = Status::Deployed;
                result.deployment_id = deployment_for(&updated, &arn);
                result.task_definition = Some(name);
            }
        }
        timings.total = ms(started);
        result.timings_ms = timings;
        tracing::info!(status = ?result.status, "deploy finished");
        Ok(result)
    }

    /// UpdateService failed after the register. When the failure may have taken effect, read the service back
    /// first: the new revision is deregistered only when the service certainly does not use it.
    async fn after_failed_update(&self, t: &Target, arn: &str, error: AwsError) -> Result<Service, DeployError> {
        let name = family_revision(arn).to_owned();
        let applied = if error.certainly_not_applied() {
            Some(None)
        } else {
            match self.aws.describe_service(&t.cluster, &t.service).await {
                Ok(ServiceLookup::Found(s)) if s.task_definition().is_some_and(|td| same_revision(td, arn)) => {
                    Some(Some(*s))
                }
                Ok(ServiceLookup::Found(_)) => Some(None),
                _ => None,
            }
        };
        let cleanup = match applied {
            Some(Some(service)) => {
                tracing::warn!("UpdateService failed ({error}) but the service runs {name}: the update took effect");
                return Ok(service);
            }
            Some(None) => match self.aws.deregister_task_definition(arn).await {
                Ok(()) => Cleanup::Deregistered,
                Err(e) => Cleanup::DeregisterFailed(e.to_string()),
            },
            None => Cleanup::KeptOutcomeUnknown,
        };
        let err = DeployError::UpdateFailed {
            task_definition: name,
            cleanup,
            source: error,
        };
        tracing::error!(code = err.code(), "{err}");
        Err(err)
    }

    /// One parallel round: the image in ECR, the cluster, and the service with its task definitions. Every
    /// failed check is reported, not only the first.
    async fn preflight(&self, t: &Target) -> Result<Checked, DeployError> {
        let (image, cluster, service) = tokio::join!(
            self.aws.describe_image(&t.repository, &t.version),
            self.aws.describe_cluster(&t.cluster),
            self.service_and_task_definitions(t),
        );
        let mut failures = Vec::new();
        match cluster {
            Ok(Some(c)) if c.status() == Some("ACTIVE") => {}
            Ok(Some(c)) => failures.push(DeployError::ClusterNotActive {
                cluster: t.cluster.clone(),
                status: c.status().unwrap_or("UNKNOWN").to_owned(),
            }),
            Ok(None) => failures.push(DeployError::ClusterNotFound {
                cluster: t.cluster.clone(),
            }),
            Err(e) => failures.push(e.into()),
        }
        let task_definitions = match service {
            Ok(found) => found,
            Err(errors) => {
                failures.extend(errors);
                None
            }
        };
        let registry_id = match image {
            Ok(ImageLookup::Found { registry_id, .. }) => Some(registry_id),
            Ok(ImageLookup::ImageMissing) => {
                failures.push(DeployError::ImageNotFound {
                    repository: t.repository.clone(),
                    version: t.version.to_string(),
                });
                None
            }
            Ok(ImageLookup::RepositoryMissing) => {
                failures.push(DeployError::RepositoryNotFound {
                    repository: t.repository.clone(),
                });
                None
            }
            Err(e) => {
                failures.push(e.into());
                None
            }
        };
        match (registry_id, task_definitions) {
            (Some(registry_id), Some((base, running))) if failures.is_empty() => Ok(Checked {
                registry_id,
                base,
                running,
            }),
            _ if failures.len() == 1 => Err(failures.remove(0)),
            _ if failures.is_empty() => Err(DeployError::ClusterNotFound {
                cluster: t.cluster.clone(),
            }),
            _ => Err(DeployError::Preflight(failures)),
        }
    }

    /// The service, checked, then the base revision and the one the service runs (one call when they are the
    /// same revision). `Ok(None)` when the cluster is missing: the cluster check reports that.
    async fn service_and_task_definitions(
        &self,
        t: &Target,
    ) -> Result<Option<(DescribedTaskDefinition, TaskDefinition)>, Vec<DeployError>> {
        let service = match self.aws.describe_service(&t.cluster, &t.service).await {
            Ok(ServiceLookup::Found(s)) => s,
            Ok(ServiceLookup::Missing) => {
                return Err(vec![DeployError::ServiceNotFound {
                    cluster: t.cluster.clone(),
                    service: t.service.clone(),
                }])
            }
            Ok(ServiceLookup::ClusterMissing) => return Ok(None),
            Err(e) => return Err(vec![e.into()]),
        };
        let mut failures = Vec::new();
        if service.status() != Some("ACTIVE") {
            failures.push(DeployError::ServiceNotActive {
                cluster: t.cluster.clone(),
                service: t.service.clone(),
                status: service.status().unwrap_or("UNKNOWN").to_owned(),
            });
        }
        match service.deployment_controller().map(|c| c.r#type()) {
            Some(DeploymentControllerType::CodeDeploy) => failures.push(DeployError::UnsupportedDeploymentController {
                service: t.service.clone(),
                controller: "CODE_DEPLOY".into(),
                owner: "a CodeDeploy deployment",
            }),
            Some(DeploymentControllerType::External) => failures.push(DeployError::UnsupportedDeploymentController {
                service: t.service.clone(),
                controller: "EXTERNAL".into(),
                owner: "its task sets",
            }),
            _ => {}
        }
        let Some(current) = service.task_definition() else {
            failures.push(DeployError::TaskDefinitionNotFound {
                task_definition: format!("(none on {})", t.service),
            });
            return Err(failures);
        };
        if !failures.is_empty() {
            return Err(failures);
        }
        let base_name = match t.base {
            Base::Latest => family(current),
            Base::Service => current,
        };
        let describe = |name: &str| {
            let name = name.to_owned();
            async move {
                match self.aws.describe_task_definition(&name).await {
                    Ok(Some(found)) => Ok(found),
                    Ok(None) => Err(vec![DeployError::TaskDefinitionNotFound { task_definition: name }]),
                    Err(e) => Err(vec![e.into()]),
                }
            }
        };
        let base = describe(base_name).await?;
        let base_arn = base.task_definition.task_definition_arn().unwrap_or_default();
        let running = if same_revision(base_arn, current) {
            base.task_definition.clone()
        } else {
            describe(current).await?.task_definition
        };
        Ok(Some((base, running)))
    }
}

#[cfg(test)]
mod tests;
