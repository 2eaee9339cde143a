//! [`Aws`] implemented with the real SDK clients.

use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_sdk_ecr::types::ImageIdentifier;
use aws_sdk_ecs::config::http::HttpResponse;
use aws_sdk_ecs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionFluentBuilder;
use aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput;
use aws_sdk_ecs::types::{Cluster, DesiredStatus, Service, Task, TaskDefinition, TaskDefinitionField};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::date_time::Format;

use crate::aws::{Aws, DescribedTaskDefinition, ImageLookup, LockState, ServiceLookup};
use crate::error::{AwsError, AwsErrorKind};
use crate::version::Version;

/// The AWS configuration every client is built from: adaptive retries with jitter for throttling, and
/// time-outs short enough that a hung call cannot eat a Lambda's whole life. The caller adds region,
/// credentials and endpoint (or leaves them to the environment) and loads it once per cold start.
pub fn config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::adaptive().with_max_attempts(4))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(25))
                .build(),
        )
}

#[derive(Clone, Debug)]
pub struct SdkAws {
    ecs: aws_sdk_ecs::Client,
    ecr: aws_sdk_ecr::Client,
    /// The DynamoDB table that holds one lock item per service (partition key `lock_id`, a string).
    lock: Option<(aws_sdk_dynamodb::Client, String)>,
    origin: Instant,
}

impl SdkAws {
    pub fn new(config: &SdkConfig) -> Self {
        SdkAws {
            ecs: aws_sdk_ecs::Client::new(config),
            ecr: aws_sdk_ecr::Client::new(config),
            lock: None,
            origin: Instant::now(),
        }
    }

    /// Locks services through `table`. Without a table every lock is granted: only ECS's own view of
    /// rollouts in progress then keeps two deploys apart.
    pub fn with_lock_table(mut self, client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        self.lock = Some((client, table.into()));
        self
    }
}

fn epoch_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Classifies an SDK error (of any AWS SDK client) by what it means for the caller: was anything changed?
pub fn aws_error<E>(operation: &'static str, err: &SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let aws_code = err.code().map(str::to_owned);
    let kind = match err {
        SdkError::ServiceError(ctx) => match aws_code.as_deref().unwrap_or_default() {
            c if c.contains("Throttl") || c == "TooManyRequestsException" || c == "RequestLimitExceeded" => {
                AwsErrorKind::Throttled
            }
            c if c.contains("AccessDenied") || c == "UnrecognizedClientException" || c.contains("NotAuthorized") => {
                AwsErrorKind::AccessDenied
            }
            _ if ctx.raw().status().is_server_error() => AwsErrorKind::Unknown,
            _ => AwsErrorKind::Rejected,
        },
        SdkError::ConstructionFailure(_) => AwsErrorKind::Rejected,
        _ => AwsErrorKind::Unknown,
    };
    AwsError { operation, kind, aws_code, message: DisplayErrorContext(err).to_string() }
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

impl Aws for SdkAws {
    async fn describe_image(&self, repository: &str, version: &Version) -> Result<ImageLookup, AwsError> {
        let id = match version {
            Version::Tag(t) => ImageIdentifier::builder().image_tag(t),
            Version::Digest(d) => ImageIdentifier::builder().image_digest(d),
        };
        let sent = self.ecr.describe_images().repository_name(repository).image_ids(id.build()).send().await;
        match sent {
            Ok(out) => Ok(match out.image_details().first() {
                Some(detail) => ImageLookup::Found {
                    registry_id: detail.registry_id().unwrap_or_default().to_owned(),
                    digest: detail.image_digest().map(str::to_owned),
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
        out.task_definition.ok_or_else(|| AwsError {
            operation: "RegisterTaskDefinition",
            kind: AwsErrorKind::Unknown,
            aws_code: None,
            message: "the response held no task definition".into(),
        })
    }

    async fn update_service(
        &self,
        cluster: &str,
        service: &str,
        task_definition_arn: &str,
    ) -> Result<Service, AwsError> {
        let out = self
            .ecs
            .update_service()
            .cluster(cluster)
            .service(service)
            .task_definition(task_definition_arn)
            .send()
            .await;
        let out = out.map_err(|e| aws_error("UpdateService", &e))?;
        out.service.ok_or_else(|| AwsError {
            operation: "UpdateService",
            kind: AwsErrorKind::Unknown,
            aws_code: None,
            message: "the response held no service".into(),
        })
    }

    async fn deregister_task_definition(&self, task_definition_arn: &str) -> Result<(), AwsError> {
        let out = self.ecs.deregister_task_definition().task_definition(task_definition_arn).send().await;
        out.map(|_| ()).map_err(|e| aws_error("DeregisterTaskDefinition", &e))
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

    async fn acquire_lock(&self, key: &str, holder: &str, lease: Duration) -> Result<LockState, AwsError> {
        let Some((ddb, table)) = &self.lock else {
            return Ok(LockState::Acquired);
        };
        // Twice at most: a lock released between our conditional put and our read is free again.
        for _ in 0..2 {
            let now = epoch_secs();
            let since = aws_smithy_types::DateTime::from_secs(now).fmt(Format::DateTime).unwrap_or_default();
            let put = ddb
                .put_item()
                .table_name(table)
                .item("lock_id", AttributeValue::S(key.to_owned()))
                .item("holder", AttributeValue::S(holder.to_owned()))
                .item("since", AttributeValue::S(since))
                .item("expires_at", AttributeValue::N((now + lease.as_secs() as i64).to_string()))
                .condition_expression("attribute_not_exists(lock_id) OR expires_at < :now")
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(LockState::Acquired),
                Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(aws_error("PutItem", &e)),
            }
            let item = ddb
                .get_item()
                .table_name(table)
                .key("lock_id", AttributeValue::S(key.to_owned()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| aws_error("GetItem", &e))?
                .item;
            if let Some(item) = item {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                return Ok(LockState::HeldBy { holder: text("holder"), since: text("since") });
            }
        }
        Ok(LockState::HeldBy { holder: "another deploy".into(), since: "just now".into() })
    }

    async fn release_lock(&self, key: &str, holder: &str) -> Result<(), AwsError> {
        let Some((ddb, table)) = &self.lock else {
            return Ok(());
        };
        let deleted = ddb
            .delete_item()
            .table_name(table)
            .key("lock_id", AttributeValue::S(key.to_owned()))
            .condition_expression("#holder = :me")
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_values(":me", AttributeValue::S(holder.to_owned()))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            // Our lease ran out and someone else holds the lock now: it is theirs to release.
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(aws_error("DeleteItem", &e)),
        }
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::config::{BehaviorVersion, Region};

    use super::*;
    use crate::plan::{plan, Action, PlanInput};
    use crate::testing::*;

    #[test]
    fn the_fluent_builder_carries_the_whole_planned_input() {
        let base = described(7, "v1");
        let version = Version::parse("v2").unwrap();
        let planned = plan(&PlanInput {
            base: &base,
            running: &base.task_definition,
            containers: &[],
            repository: REPOSITORY,
            version: &version,
            registry_host: REGISTRY,
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

    /// Throttling, a 5xx, a time-out and a dropped connection, as the SDK reports them, and what each means.
    #[test]
    fn sdk_errors_say_whether_anything_changed() {
        use aws_sdk_ecs::error::{ConnectorError, ErrorMetadata};
        use aws_sdk_ecs::operation::update_service::UpdateServiceError;
        use aws_smithy_types::body::SdkBody;

        let service_error = |code: &str, status: u16| -> SdkError<UpdateServiceError, HttpResponse> {
            let meta = ErrorMetadata::builder().code(code).message("injected").build();
            let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
            SdkError::service_error(UpdateServiceError::generic(meta), raw)
        };
        let cases: Vec<(&str, SdkError<UpdateServiceError, HttpResponse>, AwsErrorKind)> = vec![
            ("throttled", service_error("ThrottlingException", 400), AwsErrorKind::Throttled),
            ("access denied", service_error("AccessDeniedException", 400), AwsErrorKind::AccessDenied),
            ("rejected", service_error("InvalidParameterException", 400), AwsErrorKind::Rejected),
            ("5xx", service_error("ServerException", 500), AwsErrorKind::Unknown),
            ("time-out", SdkError::timeout_error("operation timed out"), AwsErrorKind::Unknown),
            (
                "dropped connection",
                SdkError::dispatch_failure(ConnectorError::io("connection reset".into())),
                AwsErrorKind::Unknown,
            ),
        ];
        for (name, err, kind) in cases {
            let classified = aws_error("UpdateService", &err);
            assert_eq!(classified.kind, kind, "{name}");
            assert_eq!(classified.certainly_not_applied(), kind != AwsErrorKind::Unknown, "{name}");
            assert!(
                !classified.message.is_empty() && classified.message != "dispatch failure",
                "{name}: {}",
                classified.message
            );
        }
    }
}
