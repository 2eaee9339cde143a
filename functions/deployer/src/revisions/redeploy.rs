//! Deploying a revision that exists (`task_definition: "web:41"`): nothing is registered. The revision must
//! be ACTIVE and of the family the service runs; every image it names in a private ECR registry is checked
//! where its tasks will pull it (a pull-through cache's upstream for a cached repository), as a version's
//! is. Then it rolls out through the same stages as any deploy ([`Deployer::roll_out`]); a failed rollout
//! goes back to the revision before, and the revision named is never deregistered.

use contract::names::{RepositoryName, Version};
use contract::request::Base;
use contract::result::{ContainerChange, DeployResult, Status, Timings};
use futures_util::future::join_all;
use tracing::Instrument;

use crate::error::DeployError;
use crate::pipeline::{Change, Decided, Deployer};
use crate::plan::image::{ImageRef, PullThrough};
use crate::plan::{describe_name, diff, family, register_input, same_revision, tag_value, CheckedImage, VERSION_TAG};
use crate::ports::{DescribedTaskDefinition, Ecs, ImageQuery};
use crate::preflight::{self, one_or_all, PreflightFacts};
use crate::request::{DeployTarget, Invocation, RevisionTarget};
use crate::result::millis;
use crate::strategy::Strategy;

/// Where one container's image is pulled from, and the tag or digest it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledImage {
    pub container: String,
    pub image: String,
    pub query: ImageQuery,
    pub version: Version,
}

/// The images of a revision: every one that is checked, and those the result reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionImages {
    /// Every container's image in a private ECR registry, in the revision's order: each is pulled by the
    /// tasks, so each is checked, whatever `containers` says (issue 23, D9).
    pub checked: Vec<PulledImage>,
    /// Those the result reports (`containers_updated`, `image`, `version`): of the containers `named`, else of
    /// the containers that run `repository`, else all of `checked`.
    pub reported: Vec<PulledImage>,
}

/// Pure: the images of `td`, as a version's are checked: each container's whose reference names a private
/// ECR registry, where its tasks will pull it (a pull-through cache's upstream for a cached repository),
/// with the tag or digest it pulls (`latest` when it names neither, as Docker does). Images elsewhere
/// (Docker Hub, ECR Public) are not checked: nothing here can read those registries. `named` and
/// `repository` choose only what is reported ([`RevisionImages::reported`]). Errors: a `named` container
/// the revision does not have, or an image reference whose tag is not a version.
pub fn pulled_images(
    td: &aws_sdk_ecs::types::TaskDefinition,
    named: &[String],
    repository: Option<&str>,
    pull_through: &[PullThrough],
) -> Result<RevisionImages, String> {
    let defs = td.container_definitions();
    if let Some(missing) = named.iter().find(|n| !defs.iter().any(|c| c.name() == Some(n.as_str()))) {
        return Err(format!("{} has no container named {missing}", describe_name(td)));
    }
    let mut all = Vec::new();
    for c in defs {
        let Some(image) = c.image() else { continue };
        let Some(parsed) = ImageRef::parse(image) else { continue };
        let Some(registry) = parsed.ecr() else { continue };
        let version = match (&parsed.digest, &parsed.tag) {
            (Some(d), _) => Version::parse(d),
            (None, Some(t)) => Version::parse(t),
            (None, None) => Version::parse("latest"),
        }
        .map_err(|e| format!("container {}: {e}", c.name().unwrap_or_default()))?;
        let query = match pull_through.iter().find_map(|r| r.upstream_repository(&parsed.repository).map(|u| (r, u))) {
            Some((rule, upstream)) => ImageQuery {
                registry_id: Some(rule.upstream.account.clone()),
                region: rule.upstream.region.clone(),
                repository: upstream.to_owned(),
            },
            None => ImageQuery {
                registry_id: Some(registry.account.clone()),
                region: registry.region.clone(),
                repository: parsed.repository.clone(),
            },
        };
        let container = c.name().unwrap_or_default().to_owned();
        all.push(PulledImage { container, image: image.to_owned(), query, version });
    }
    let runs_repository = |p: &PulledImage| repository.is_some_and(|r| r == p.query.repository);
    let reported: Vec<PulledImage> = if !named.is_empty() {
        all.iter().filter(|p| named.contains(&p.container)).cloned().collect()
    } else if all.iter().any(runs_repository) {
        all.iter().filter(|p| runs_repository(p)).cloned().collect()
    } else {
        all.clone()
    };
    Ok(RevisionImages { checked: all, reported })
}

/// The version a redeploy reports: the revision's `Version` tag, else the first checked image's tag or digest.
fn reported_version(named: &DescribedTaskDefinition, images: &[PulledImage]) -> Version {
    tag_value(&named.tags, VERSION_TAG)
        .and_then(|v| Version::parse(v).ok())
        .or_else(|| images.first().map(|i| i.version.clone()))
        .or_else(|| Version::parse("latest").ok())
        .expect("latest is a version")
}

impl<E: Ecs> Deployer<E> {
    /// Deploys (or, with `dry_run`, diffs) the existing revision `r.revision`. Errors: those of a deploy's
    /// preflight (`ClusterNotFound`, `ServiceNotActive`, `ImageNotFound`, …), `TaskDefinitionNotFound`, and
    /// `InvalidRequest` for a revision that is INACTIVE or of another family than the service's.
    pub(crate) async fn redeploy(
        &self,
        ecs: &E,
        r: &RevisionTarget,
        inv: &Invocation,
    ) -> Result<DeployResult, DeployError> {
        let span = tracing::info_span!(
            "redeploy",
            cluster = %r.at.cluster,
            service = %r.at.service,
            task_definition = %r.revision,
        );
        async {
            let started = self.clock().now();
            let key = r.at.lock_key(self.home_region());
            let lease = crate::lock::lease(inv.budget);
            let revision = r.revision.to_string();
            let first_round = async {
                tokio::join!(
                    ecs.describe_cluster(&r.at.cluster),
                    crate::rollback::read_service(ecs, &r.at),
                    ecs.describe_task_definition(&revision),
                )
            };
            let take = !r.options.dry_run;
            let (held, (cluster, service, named)) =
                crate::lock::acquire_with(self.lock(), take, key, &inv.request_id, lease, &r.at.service, first_round)
                    .await?;
            let outcome = async {
                match cluster? {
                    Some(c) if c.status() == Some("ACTIVE") => {}
                    Some(c) => {
                        return Err(DeployError::ClusterNotActive {
                            cluster: r.at.cluster.to_string(),
                            status: c.status().unwrap_or("UNKNOWN").to_owned(),
                        })
                    }
                    None => return Err(DeployError::ClusterNotFound { cluster: r.at.cluster.to_string() }),
                }
                let service = service?;
                self.redeploy_checked(ecs, r, inv, service, named, started).await
            }
            .await;
            held.release().await;
            outcome
        }
        .instrument(span)
        .await
    }

    async fn redeploy_checked(
        &self,
        ecs: &E,
        r: &RevisionTarget,
        inv: &Invocation,
        service: aws_sdk_ecs::types::Service,
        named: Result<Option<DescribedTaskDefinition>, contract::AwsError>,
        started: std::time::Duration,
    ) -> Result<DeployResult, DeployError> {
        let (cluster, name) = (r.at.cluster.to_string(), r.at.service.to_string());
        if service.status() != Some("ACTIVE") {
            let status = service.status().unwrap_or("UNKNOWN").to_owned();
            return Err(DeployError::ServiceNotActive { cluster, service: name, status });
        }
        let strategy = Strategy::for_service(&service, &r.at.service)?;
        if let Some(refusal) = strategy.refusals(&service, &r.at.service).into_iter().next() {
            return Err(refusal);
        }
        let current = service.task_definition().unwrap_or_default().to_owned();
        let wanted = r.revision.to_string();
        if family(&current) != r.revision.family() {
            return Err(DeployError::InvalidRequest {
                reason: format!(
                    "{name} runs task-definition family {}; {wanted} is of family {}: deploy a revision of the service's own family",
                    family(&current),
                    r.revision.family()
                ),
            });
        }
        let named = named?.ok_or_else(|| DeployError::TaskDefinitionNotFound { task_definition: wanted.clone() })?;
        if named.task_definition.status() != Some(&aws_sdk_ecs::types::TaskDefinitionStatus::Active) {
            return Err(DeployError::InvalidRequest {
                reason: format!("{wanted} is not ACTIVE (it was deregistered): ECS cannot start tasks from it"),
            });
        }
        let repository = r.repository.as_ref().map(|r| r.as_str());
        let RevisionImages { checked: pulled, reported: images } =
            pulled_images(&named.task_definition, &r.containers, repository, &self.config().pull_through)
                .map_err(|reason| DeployError::InvalidRequest { reason })?;
        let running = async {
            if same_revision(&current, named.task_definition.task_definition_arn().unwrap_or_default()) {
                Ok(Some(named.clone()))
            } else {
                ecs.describe_task_definition(&current).await
            }
        };
        let checks = join_all(pulled.iter().map(|i| ecs.describe_image(&i.query, &i.version)));
        let (running, answers) = tokio::join!(running, checks);
        let running =
            running?.ok_or_else(|| DeployError::TaskDefinitionNotFound { task_definition: current.clone() })?;
        let t = DeployTarget {
            at: r.at.clone(),
            version: reported_version(&named, &images),
            repository: images
                .first()
                .and_then(|i| RepositoryName::parse(&i.query.repository).ok())
                .or_else(|| r.repository.clone())
                .map_or_else(|| RepositoryName::parse(r.revision.family()), Ok)?,
            containers: r.containers.clone(),
            base: Base::Service,
            pin_digest: false,
            options: r.options,
            keep: r.keep,
            revision: Some(r.revision.clone()),
            requested_by: r.requested_by.clone(),
        };
        let mut failures = Vec::new();
        let mut every: Vec<(&PulledImage, CheckedImage)> = Vec::new();
        for (image, answer) in pulled.iter().zip(&answers) {
            match preflight::judge(&image.query, answer, &image.version) {
                Ok(ok) => every.push((image, ok)),
                Err(e) => failures.push(e),
            }
        }
        if !failures.is_empty() {
            return Err(one_or_all(failures, &t));
        }
        let checked: Vec<CheckedImage> =
            images.iter().filter_map(|i| every.iter().find(|(p, _)| *p == i).map(|(_, c)| c.clone())).collect();
        let facts = PreflightFacts {
            service,
            strategy,
            base: named.clone(),
            running: running.clone(),
            lookups: Vec::new(),
            running_tasks: None,
        };
        let already = same_revision(&current, named.task_definition.task_definition_arn().unwrap_or_default());
        if !r.options.force && !already {
            preflight::refuse_foreign_rollout(&t, &facts)?;
        }
        let previous = describe_name(&running.task_definition);
        let previous_arn = running.task_definition.task_definition_arn().unwrap_or(&previous).to_owned();
        let containers_updated: Vec<ContainerChange> = images
            .iter()
            .zip(&checked)
            .map(|(i, c)| ContainerChange {
                container: i.container.clone(),
                from: running
                    .task_definition
                    .container_definitions()
                    .iter()
                    .find(|d| d.name() == Some(i.container.as_str()))
                    .and_then(|d| d.image.clone()),
                to: i.image.clone(),
                digest_before: None,
                digest_after: c.digest.clone(),
            })
            .collect();
        let as_request = |td: &aws_sdk_ecs::types::TaskDefinition| {
            register_input(td, td.container_definitions().to_vec(), Vec::new())
        };
        let changed_fields =
            diff::differences(&as_request(&running.task_definition)?, &as_request(&named.task_definition)?);
        let mut result = DeployResult {
            status: if already { Status::AlreadyDeployed } else { Status::DryRun },
            cluster: r.at.cluster.to_string(),
            service: r.at.service.to_string(),
            version: t.version.to_string(),
            image: images.first().map(|i| i.image.clone()).unwrap_or_default(),
            base_task_definition: wanted.clone(),
            previous_task_definition: previous.clone(),
            task_definition: already.then(|| previous.clone()),
            deployment_id: None,
            containers_updated: if already { Vec::new() } else { containers_updated },
            changed_fields,
            forced_new_deployment: false,
            tags_left_out: Vec::new(),
            timings_ms: Timings::default(),
            rollout: None,
            cleanup: None,
            service_deployment: None,
            codedeploy: None,
        };
        let timings = Timings { preflight: millis(self.clock().now() - started), ..Timings::default() };
        if already || r.options.dry_run {
            result.timings_ms = Timings { total: millis(self.clock().now() - started), ..timings };
            return Ok(result);
        }
        facts.strategy.before_change(ecs, &t.at, t.options.force).await?;
        let arn = named.task_definition.task_definition_arn().unwrap_or_default().to_owned();
        let decided =
            Decided { strategy: facts.strategy, base: named, previous, previous_arn, result, timings, started };
        self.roll_out(ecs, &t, inv, Change::Existing(arn), decided).await
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinition};

    use super::*;

    fn td(images: &[(&str, &str)]) -> TaskDefinition {
        let mut b = TaskDefinition::builder().family("web").revision(41);
        for (name, image) in images {
            b = b.container_definitions(ContainerDefinition::builder().name(*name).image(*image).build());
        }
        b.build()
    }

    #[test]
    fn private_ecr_images_are_checked_where_they_are_pulled() {
        let t = td(&[
            ("app", "111122223333.dkr.ecr.eu-west-1.amazonaws.com/web:v7"),
            ("sidecar", "public.ecr.aws/aws-observability/aws-otel-collector:v0.40"),
            ("pinned", "444455556666.dkr.ecr-fips.us-east-1.amazonaws.com/tools@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            ("bare", "111122223333.dkr.ecr.eu-west-1.amazonaws.com/web"),
        ]);
        let got = pulled_images(&t, &[], None, &[]).unwrap().checked;
        let summary: Vec<(&str, Option<&str>, &str, &str, &str)> = got
            .iter()
            .map(|i| {
                (
                    i.container.as_str(),
                    i.query.registry_id.as_deref(),
                    i.query.region.as_str(),
                    i.query.repository.as_str(),
                    i.version.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("app", Some("111122223333"), "eu-west-1", "web", "v7"),
                (
                    "pinned",
                    Some("444455556666"),
                    "us-east-1",
                    "tools",
                    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                ),
                ("bare", Some("111122223333"), "eu-west-1", "web", "latest"),
            ]
        );
        let containers = |images: &[PulledImage]| images.iter().map(|i| i.container.clone()).collect::<Vec<_>>();
        let every = ["app", "pinned", "bare"];
        for (named, repository, reported) in [
            (vec![], None, every.to_vec()),
            (vec!["app".to_owned()], None, vec!["app"]),
            (vec![], Some("web"), vec!["app", "bare"]),
            (vec![], Some("elsewhere"), every.to_vec()),
            // Issue 23, D9: a non-ECR container reports nothing, and every ECR image is still checked.
            (vec!["sidecar".to_owned()], None, vec![]),
        ] {
            let images = pulled_images(&t, &named, repository, &[]).unwrap();
            assert_eq!(containers(&images.checked), every, "{named:?} {repository:?}: every ECR image is checked");
            assert_eq!(containers(&images.reported), reported, "{named:?} {repository:?}");
        }
        assert!(pulled_images(&t, &["nope".into()], None, &[]).unwrap_err().contains("no container named nope"));
    }
}
