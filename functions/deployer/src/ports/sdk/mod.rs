//! [`Ecs`] with the real SDK clients: ECS of one region, ECR of every region an image comes from.

mod codedeploy;
mod codepipeline;
mod events;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use aws_config::SdkConfig;
use aws_sdk_ecr::types::ImageIdentifier;
use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder;
use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types::{
    Cluster, DeploymentLifecycleHookAction, DesiredStatus, Service, ServiceDeployment, ServiceDeploymentBrief,
    ServiceDeploymentStatus, ServiceRevision, SortOrder, StopServiceDeploymentStopType, Task, TaskDefinition,
    TaskDefinitionField, TaskDefinitionStatus,
};
use contract::aws_error::aws_error;
use contract::names::Version;
use contract::AwsError;

use super::{Deleted, DeploymentAnswer, DescribedTaskDefinition, Ecs, ImageLookup, ImageQuery, ServiceLookup};

/// ECR clients by region, built the first time a region is asked for and reused while the function stays
/// warm; clones share them. ECR is regional: an image in `us-west-2` is only seen by a `us-west-2` client.
#[derive(Clone, Debug)]
pub struct EcrClients {
    config: SdkConfig,
    clients: Arc<Mutex<HashMap<String, aws_sdk_ecr::Client>>>,
}

impl EcrClients {
    /// Clients made from `config` (credentials, retries, endpoint), one per region; the config's own region
    /// gets its client at once.
    pub fn new(config: &SdkConfig) -> Self {
        let mut clients = HashMap::new();
        if let Some(region) = config.region() {
            clients.insert(region.to_string(), aws_sdk_ecr::Client::new(config));
        }
        EcrClients { config: config.clone(), clients: Arc::new(Mutex::new(clients)) }
    }

    /// The client of `region`.
    pub fn client(&self, region: &str) -> aws_sdk_ecr::Client {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let config = self.config.to_builder().region(aws_config::Region::new(region.to_owned())).build();
                aws_sdk_ecr::Client::new(&config)
            })
            .clone()
    }

    /// The regions that have a client so far.
    pub fn regions(&self) -> Vec<String> {
        let mut regions: Vec<String> = self.clients.lock().unwrap_or_else(|p| p.into_inner()).keys().cloned().collect();
        regions.sort();
        regions
    }
}

/// ECS, CodeDeploy, CodePipeline and EventBridge in one region, and ECR wherever the images are. The
/// CodeDeploy, CodePipeline and EventBridge clients are built on first use: a rolling deploy, the common
/// case, never pays for them (start-up time and memory).
#[derive(Clone, Debug)]
pub struct SdkEcs {
    config: SdkConfig,
    ecs: aws_sdk_ecs::Client,
    ecr: EcrClients,
    codedeploy: Arc<OnceLock<aws_sdk_codedeploy::Client>>,
    codepipeline: Arc<OnceLock<aws_sdk_codepipeline::Client>>,
    events: Arc<OnceLock<aws_sdk_eventbridge::Client>>,
}

impl SdkEcs {
    /// ECS in `config`'s region, with ECR clients of its own.
    pub fn new(config: &SdkConfig) -> Self {
        SdkEcs::with_ecr(config, EcrClients::new(config))
    }

    /// ECS in `config`'s region, sharing `ecr` (one ECR client per region for every ECS region).
    pub fn with_ecr(config: &SdkConfig, ecr: EcrClients) -> Self {
        SdkEcs {
            config: config.clone(),
            ecs: aws_sdk_ecs::Client::new(config),
            ecr,
            codedeploy: Arc::default(),
            codepipeline: Arc::default(),
            events: Arc::default(),
        }
    }

    pub(crate) fn codedeploy(&self) -> &aws_sdk_codedeploy::Client {
        self.codedeploy.get_or_init(|| aws_sdk_codedeploy::Client::new(&self.config))
    }

    pub(crate) fn codepipeline(&self) -> &aws_sdk_codepipeline::Client {
        self.codepipeline.get_or_init(|| aws_sdk_codepipeline::Client::new(&self.config))
    }

    pub(crate) fn events(&self) -> &aws_sdk_eventbridge::Client {
        self.events.get_or_init(|| aws_sdk_eventbridge::Client::new(&self.config))
    }

    pub fn ecr(&self) -> &EcrClients {
        &self.ecr
    }
}

/// Maps every field of the input onto the fluent builder. Kept beside [`crate::plan::COPIED_FIELDS`]; a test
/// proves that the builder's input equals the one given, so a field forgotten here fails the build's tests.
pub(crate) fn register_request(
    client: &aws_sdk_ecs::Client,
    input: RegisterTaskDefinitionInput,
) -> RegisterTaskDefinitionFluentBuilder {
    #[allow(deprecated)] // inference_accelerators: copied as the base has it, see plan::register_input
    let builder = client
        .register_task_definition()
        .set_family(input.family)
        .set_task_role_arn(input.task_role_arn)
        .set_execution_role_arn(input.execution_role_arn)
        .set_network_mode(input.network_mode)
        .set_container_definitions(input.container_definitions)
        .set_volumes(input.volumes)
        .set_placement_constraints(input.placement_constraints)
        .set_requires_compatibilities(input.requires_compatibilities)
        .set_cpu(input.cpu)
        .set_memory(input.memory)
        .set_tags(input.tags)
        .set_pid_mode(input.pid_mode)
        .set_ipc_mode(input.ipc_mode)
        .set_proxy_configuration(input.proxy_configuration)
        .set_inference_accelerators(input.inference_accelerators)
        .set_ephemeral_storage(input.ephemeral_storage)
        .set_runtime_platform(input.runtime_platform)
        .set_enable_fault_injection(input.enable_fault_injection);
    builder
}

impl Ecs for SdkEcs {
    async fn describe_image(&self, at: &ImageQuery, version: &Version) -> Result<ImageLookup, AwsError> {
        let id = match version.digest() {
            Some(digest) => ImageIdentifier::builder().image_digest(digest),
            None => ImageIdentifier::builder().image_tag(version.as_str()),
        };
        let sent = self
            .ecr
            .client(&at.region)
            .describe_images()
            .set_registry_id(at.registry_id.clone())
            .repository_name(&at.repository)
            .image_ids(id.build())
            .send()
            .await;
        match sent {
            Ok(out) => Ok(match out.image_details().first() {
                Some(detail) => ImageLookup::Found {
                    registry_id: detail.registry_id().or(at.registry_id.as_deref()).unwrap_or_default().to_owned(),
                    digest: detail.image_digest().map(str::to_owned),
                    status: detail.image_status().map(|s| s.as_str().to_owned()),
                },
                None => ImageLookup::ImageMissing,
            }),
            Err(e) => match e.as_service_error() {
                Some(se) if se.is_image_not_found_exception() => Ok(ImageLookup::ImageMissing),
                Some(se) if se.is_repository_not_found_exception() => Ok(ImageLookup::RepositoryMissing),
                _ => Err(aws_error("DescribeImages", &e)),
            },
        }
    }

    async fn describe_cluster(&self, cluster: &str) -> Result<Option<Cluster>, AwsError> {
        let out = self.ecs.describe_clusters().clusters(cluster).send().await;
        let out = out.map_err(|e| aws_error("DescribeClusters", &e))?;
        // A missing cluster comes back in failures[], not as an error.
        Ok(out.clusters.and_then(|c| c.into_iter().next()))
    }

    async fn describe_service(&self, cluster: &str, service: &str) -> Result<ServiceLookup, AwsError> {
        match self.ecs.describe_services().cluster(cluster).services(service).send().await {
            Ok(out) => Ok(match out.services.and_then(|s| s.into_iter().next()) {
                Some(s) => ServiceLookup::Found(Box::new(s)),
                None => ServiceLookup::Missing,
            }),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_cluster_not_found_exception()) => {
                Ok(ServiceLookup::ClusterMissing)
            }
            Err(e) => Err(aws_error("DescribeServices", &e)),
        }
    }

    async fn describe_task_definition(
        &self,
        task_definition: &str,
    ) -> Result<Option<DescribedTaskDefinition>, AwsError> {
        let sent = self
            .ecs
            .describe_task_definition()
            .task_definition(task_definition)
            .include(TaskDefinitionField::Tags)
            .send()
            .await;
        match sent {
            Ok(out) => Ok(out
                .task_definition
                .map(|td| DescribedTaskDefinition { task_definition: td, tags: out.tags.unwrap_or_default() })),
            // ECS answers "Unable to describe task definition." for a family or revision it does not have.
            Err(e) if e.as_service_error().is_some_and(|se| se.is_client_exception()) => Ok(None),
            Err(e) => Err(aws_error("DescribeTaskDefinition", &e)),
        }
    }

    async fn register_task_definition(&self, input: RegisterTaskDefinitionInput) -> Result<TaskDefinition, AwsError> {
        let out = register_request(&self.ecs, input).send().await;
        let out = out.map_err(|e| aws_error("RegisterTaskDefinition", &e))?;
        out.task_definition.ok_or_else(|| AwsError::incomplete("RegisterTaskDefinition", "task definition"))
    }

    async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        task_definition_arn: &str,
        force_new_deployment: bool,
    ) -> Result<Service, AwsError> {
        let mut update =
            self.ecs.update_service().cluster(cluster).service(service).task_definition(task_definition_arn);
        if force_new_deployment {
            update = update.force_new_deployment(true);
        }
        let out = update.send().await;
        let out = out.map_err(|e| aws_error("UpdateService", &e))?;
        out.service.ok_or_else(|| AwsError::incomplete("UpdateService", "service"))
    }

    async fn deregister_task_definition(&self, task_definition_arn: &str) -> Result<(), AwsError> {
        let out = self.ecs.deregister_task_definition().task_definition(task_definition_arn).send().await;
        out.map(|_| ()).map_err(|e| aws_error("DeregisterTaskDefinition", &e))
    }

    async fn list_task_definitions(&self, family: &str, status: TaskDefinitionStatus) -> Result<Vec<String>, AwsError> {
        let mut arns = Vec::new();
        let mut pages = self
            .ecs
            .list_task_definitions()
            .family_prefix(family)
            .status(status)
            .sort(SortOrder::Desc)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("ListTaskDefinitions", &e))?;
            // familyPrefix matches `web` and `web-worker`: keep the family asked for.
            arns.extend(
                page.task_definition_arns
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|arn| crate::plan::family(crate::plan::family_revision(arn)) == family),
            );
        }
        Ok(arns)
    }

    async fn list_tasks(&self, cluster: &str, service: &str, desired: DesiredStatus) -> Result<Vec<String>, AwsError> {
        let mut arns = Vec::new();
        let mut pages = self
            .ecs
            .list_tasks()
            .cluster(cluster)
            .service_name(service)
            .desired_status(desired)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("ListTasks", &e))?;
            arns.extend(page.task_arns.unwrap_or_default());
        }
        Ok(arns)
    }

    async fn list_family_tasks(&self, cluster: &str, family: &str) -> Result<Vec<String>, AwsError> {
        let mut arns = Vec::new();
        let mut pages = self
            .ecs
            .list_tasks()
            .cluster(cluster)
            .family(family)
            .desired_status(DesiredStatus::Running)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("ListTasks", &e))?;
            arns.extend(page.task_arns.unwrap_or_default());
        }
        Ok(arns)
    }

    async fn list_services(&self, cluster: &str) -> Result<Vec<String>, AwsError> {
        let mut arns = Vec::new();
        let mut pages = self.ecs.list_services().cluster(cluster).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws_error("ListServices", &e))?;
            arns.extend(page.service_arns.unwrap_or_default());
        }
        Ok(arns)
    }

    async fn describe_services(&self, cluster: &str, services: &[String]) -> Result<Vec<Service>, AwsError> {
        let mut found = Vec::with_capacity(services.len());
        for batch in services.chunks(10) {
            let out = self.ecs.describe_services().cluster(cluster).set_services(Some(batch.to_vec())).send().await;
            let out = out.map_err(|e| aws_error("DescribeServices", &e))?;
            // Services deleted since they were listed come back in failures[].
            found.extend(out.services.unwrap_or_default());
        }
        Ok(found)
    }

    async fn delete_task_definitions(&self, task_definition_arns: &[String]) -> Result<Deleted, AwsError> {
        let batch = Some(task_definition_arns.to_vec());
        let out = self.ecs.delete_task_definitions().set_task_definitions(batch).send().await;
        let out = out.map_err(|e| aws_error("DeleteTaskDefinitions", &e))?;
        Ok(Deleted {
            deleted: out.task_definitions().iter().filter_map(|td| td.task_definition_arn.clone()).collect(),
            failures: out
                .failures()
                .iter()
                .map(|f| {
                    let reason = [f.reason(), f.detail()].into_iter().flatten().collect::<Vec<_>>().join(": ");
                    (f.arn().unwrap_or_default().to_owned(), reason)
                })
                .collect(),
        })
    }

    async fn describe_tasks(&self, cluster: &str, task_arns: &[String]) -> Result<Vec<Task>, AwsError> {
        let mut tasks = Vec::with_capacity(task_arns.len());
        for batch in task_arns.chunks(100) {
            let out = self.ecs.describe_tasks().cluster(cluster).set_tasks(Some(batch.to_vec())).send().await;
            let out = out.map_err(|e| aws_error("DescribeTasks", &e))?;
            // Tasks that are gone come back in failures[]: there is nothing to learn from them.
            tasks.extend(out.tasks.unwrap_or_default());
        }
        Ok(tasks)
    }

    async fn list_service_deployments(
        &self,
        cluster: &str,
        service: &str,
        statuses: &[ServiceDeploymentStatus],
    ) -> Result<Vec<ServiceDeploymentBrief>, AwsError> {
        let statuses = Some(statuses.to_vec()).filter(|s| !s.is_empty());
        let out =
            self.ecs.list_service_deployments().cluster(cluster).service(service).set_status(statuses).send().await;
        let out = out.map_err(|e| aws_error("ListServiceDeployments", &e))?;
        Ok(out.service_deployments.unwrap_or_default())
    }

    async fn describe_service_deployment(&self, arn: &str) -> Result<Option<ServiceDeployment>, AwsError> {
        let out = self.ecs.describe_service_deployments().service_deployment_arns(arn).send().await;
        let out = out.map_err(|e| aws_error("DescribeServiceDeployments", &e))?;
        // A missing one comes back in failures[] (MISSING), not as an error.
        Ok(out.service_deployments.and_then(|d| d.into_iter().next()))
    }

    async fn describe_service_revision(&self, arn: &str) -> Result<Option<ServiceRevision>, AwsError> {
        let out = self.ecs.describe_service_revisions().service_revision_arns(arn).send().await;
        let out = out.map_err(|e| aws_error("DescribeServiceRevisions", &e))?;
        Ok(out.service_revisions.and_then(|r| r.into_iter().next()))
    }

    async fn stop_service_deployment(&self, arn: &str) -> Result<DeploymentAnswer, AwsError> {
        let sent = self
            .ecs
            .stop_service_deployment()
            .service_deployment_arn(arn)
            .stop_type(StopServiceDeploymentStopType::Rollback)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(DeploymentAnswer::Accepted),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conflict_exception()) => {
                Ok(DeploymentAnswer::Conflict(aws_error("StopServiceDeployment", &e).message))
            }
            Err(e) => Err(aws_error("StopServiceDeployment", &e)),
        }
    }

    async fn continue_service_deployment(
        &self,
        arn: &str,
        hook_id: &str,
        action: DeploymentLifecycleHookAction,
    ) -> Result<DeploymentAnswer, AwsError> {
        let sent = self
            .ecs
            .continue_service_deployment()
            .service_deployment_arn(arn)
            .hook_id(hook_id)
            .action(action)
            .send()
            .await;
        // The model lists no ConflictException for this operation, but ECS (and the local AWS) answer one for
        // a finished deployment: it arrives as an unmodelled error with that code.
        match sent.map_err(|e| aws_error("ContinueServiceDeployment", &e)) {
            Ok(_) => Ok(DeploymentAnswer::Accepted),
            Err(e) if e.aws_code.as_deref() == Some("ConflictException") => Ok(DeploymentAnswer::Conflict(e.message)),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::config::{BehaviorVersion, Region};

    use super::*;
    use crate::plan::{plan, targets, Action, CheckedImage, PlanInput};
    use crate::testing::*;

    #[test]
    fn the_fluent_builder_carries_the_whole_planned_input() {
        let base = described(7, "v1");
        let version = Version::parse("v2").unwrap();
        let images: Vec<CheckedImage> = targets(&base.task_definition, &[], REPOSITORY, REGION, &[])
            .unwrap()
            .into_iter()
            .map(|t| CheckedImage { query: t.query, registry_id: ACCOUNT.into(), digest: None })
            .collect();
        let planned = plan(&PlanInput {
            base: &base,
            running: &base.task_definition,
            containers: &[],
            repository: REPOSITORY,
            version: &version,
            region: REGION,
            pull_through: &[],
            images: &images,
            pin_digest: false,
        })
        .unwrap();
        let Action::Register(input) = planned.action else { panic!("expected a register plan") };
        let config = aws_sdk_ecs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .build();
        let client = aws_sdk_ecs::Client::from_conf(config);
        let sent = register_request(&client, (*input).clone()).as_input().clone().build().unwrap();
        assert_eq!(sent, *input);
    }
}
