//! Stage 3: one parallel round of checks before any change (the image in ECR, the cluster, the service with
//! its rollout strategy and task definitions). Every failed check is reported, not only the first.
//!
//! Where the image lives is written in the target containers' references, which only the task definition
//! holds. So the first round asks ECR where the image was found last time for this service (or, on the
//! first deploy, in the caller's registry in the service's region); [`images`] then checks it where each
//! target container will really pull it, reusing the first round's answers, so a warm deploy makes no
//! second round.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_ecs::types::{DesiredStatus, Service};
use contract::names::{ClusterName, Region, ServiceName, Version};
use contract::request::Base;
use contract::result::ContainerChange;
use contract::AwsError;
use futures_util::future::join_all;

use crate::error::DeployError;
use crate::plan::digest::{self, Running};
use crate::plan::{family, family_revision, same_revision, tag_value, CheckedImage, PREVIOUS_TAG};
use crate::ports::{DescribedTaskDefinition, Ecs, ImageLookup, ImageQuery, ServiceLookup};
use crate::request::DeployTarget;
use crate::strategy::Strategy;
use crate::verdict::rollout_in_progress;

/// One DescribeImages answer, with the question.
pub type Lookup = (ImageQuery, Result<ImageLookup, AwsError>);

/// What the preflight learnt: everything the plan and the rollout need.
pub struct PreflightFacts {
    pub service: Service,
    pub strategy: Strategy,
    /// The revision the new one is cloned from.
    pub base: DescribedTaskDefinition,
    /// The revision the service runs now.
    pub running: DescribedTaskDefinition,
    /// What ECR answered where the image was expected; [`images`] reuses what matches.
    pub lookups: Vec<Lookup>,
    /// The service's running tasks (ListTasks), read in the first round when this process was last asked
    /// for the same version of the same service, so that a repeat (`already_deployed`) reads its tasks'
    /// digests one round sooner; `None` when not read ([`running_digests`] then asks).
    pub running_tasks: Option<Result<Vec<String>, AwsError>>,
}

type ServiceKey = (Option<Region>, ClusterName, ServiceName);
/// Where a service's image was checked depends on the repository and the containers asked for too.
type ImageKey = (ServiceKey, String, Vec<String>);

/// What this process learnt of each service it deployed: its task-definition family and the places its
/// image was checked, so that a warm deploy reads the base revision and the image in the same round as the
/// service instead of after it.
#[derive(Default)]
pub struct ServiceCache {
    families: Mutex<HashMap<ServiceKey, String>>,
    images: Mutex<HashMap<ImageKey, Vec<ImageQuery>>>,
    /// The version this process was last asked to deploy to each service.
    versions: Mutex<HashMap<ServiceKey, String>>,
}

impl ServiceCache {
    fn family(&self, key: &ServiceKey) -> Option<String> {
        self.families.lock().unwrap_or_else(|p| p.into_inner()).get(key).cloned()
    }

    fn put_family(&self, key: ServiceKey, family: &str) {
        self.families.lock().unwrap_or_else(|p| p.into_inner()).insert(key, family.to_owned());
    }

    /// True when the last deploy asked of this service was of `version` too; remembers `version` for the next.
    fn repeats(&self, key: &ServiceKey, version: &Version) -> bool {
        let mut versions = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        versions.insert(key.clone(), version.to_string()).as_deref() == Some(version.as_str())
    }

    fn image_queries(&self, t: &DeployTarget) -> Option<Vec<ImageQuery>> {
        self.images.lock().unwrap_or_else(|p| p.into_inner()).get(&image_key(t)).cloned()
    }

    /// Remembers where the target's image was checked, for its next deploy's first round.
    pub fn put_image_queries(&self, t: &DeployTarget, queries: &[ImageQuery]) {
        self.images.lock().unwrap_or_else(|p| p.into_inner()).insert(image_key(t), queries.to_vec());
    }
}

fn key(t: &DeployTarget) -> ServiceKey {
    (t.at.region.clone(), t.at.cluster.clone(), t.at.service.clone())
}

fn image_key(t: &DeployTarget) -> ImageKey {
    (key(t), t.repository.to_string(), t.containers.clone())
}

/// Runs every check of `t` in one round; `region` is the service's.
pub async fn check<E: Ecs>(
    ecs: &E,
    t: &DeployTarget,
    region: &str,
    cache: &ServiceCache,
) -> Result<PreflightFacts, DeployError> {
    let expected = cache.image_queries(t).unwrap_or_else(|| {
        vec![ImageQuery { registry_id: None, region: region.to_owned(), repository: t.repository.to_string() }]
    });
    // A repeat of the last version is most likely `already_deployed`, which reads the running tasks: ask
    // for them now rather than after the plan (one call more when the guess is wrong, never a round more).
    // Not with `pin_digest`: its references name the digest, which answers without reading the tasks.
    let repeat = cache.repeats(&key(t), &t.version) && !t.pin_digest;
    let tasks = async {
        match repeat {
            true => Some(ecs.list_tasks(&t.at.cluster, &t.at.service, DesiredStatus::Running).await),
            false => None,
        }
    };
    let (answers, cluster, service, running_tasks) = tokio::join!(
        join_all(expected.iter().map(|q| ecs.describe_image(q, &t.version))),
        ecs.describe_cluster(&t.at.cluster),
        service_and_task_definitions(ecs, t, cache),
        tasks,
    );
    let lookups: Vec<Lookup> = expected.into_iter().zip(answers).collect();
    let mut failures = Vec::new();
    match cluster {
        Ok(Some(c)) if c.status() == Some("ACTIVE") => {}
        Ok(Some(c)) => failures.push(DeployError::ClusterNotActive {
            cluster: t.at.cluster.to_string(),
            status: c.status().unwrap_or("UNKNOWN").to_owned(),
        }),
        Ok(None) => failures.push(DeployError::ClusterNotFound { cluster: t.at.cluster.to_string() }),
        Err(e) => failures.push(e.into()),
    }
    let found = match service {
        Ok(found) => found,
        Err(errors) => {
            failures.extend(errors);
            None
        }
    };
    match found {
        Some((service, strategy, base, running)) if failures.is_empty() => {
            Ok(PreflightFacts { service, strategy, base, running, lookups, running_tasks })
        }
        _ => {
            // Without the task definition the image cannot be located: report it where it was expected.
            failures.extend(expected_failures(&lookups, &t.version));
            Err(one_or_all(failures, t))
        }
    }
}

/// Why the image cannot be deployed where the first round expected it (nothing when it was found there).
pub fn expected_failures(first_round: &[Lookup], version: &Version) -> Vec<DeployError> {
    first_round.iter().filter_map(|(q, answer)| judge(q, answer, version).err()).collect()
}

/// One failure as itself, several as [`DeployError::Preflight`] (whose code is the first one's).
pub fn one_or_all(mut failures: Vec<DeployError>, t: &DeployTarget) -> DeployError {
    match failures.len() {
        0 => DeployError::ClusterNotFound { cluster: t.at.cluster.to_string() },
        1 => failures.remove(0),
        _ => DeployError::Preflight(failures),
    }
}

/// Whether an answer of `from` also answers `wanted`: the same region and repository, and the same
/// registry, named or found.
fn answers(from: &ImageQuery, answer: &Result<ImageLookup, AwsError>, wanted: &ImageQuery) -> bool {
    if from.region != wanted.region || from.repository != wanted.repository {
        return false;
    }
    match (&from.registry_id, &wanted.registry_id, answer) {
        (a, b, _) if a == b => true,
        (None, Some(wanted_id), Ok(ImageLookup::Found { registry_id, .. })) => registry_id == wanted_id,
        _ => false,
    }
}

/// What one answer means for the deploy: the image, or why it cannot be deployed.
pub(crate) fn judge(
    q: &ImageQuery,
    answer: &Result<ImageLookup, AwsError>,
    version: &Version,
) -> Result<CheckedImage, DeployError> {
    match answer {
        Ok(ImageLookup::Found { registry_id, digest, status }) => match status.as_deref() {
            None | Some("ACTIVE") => Ok(CheckedImage {
                query: q.clone(),
                registry_id: registry_id.clone(),
                digest: digest.clone().or_else(|| version.digest().map(str::to_owned)),
            }),
            Some(other) => Err(DeployError::ImageNotPullable {
                registry_id: registry_id.clone(),
                region: q.region.clone(),
                repository: q.repository.clone(),
                version: version.to_string(),
                status: other.to_owned(),
            }),
        },
        Ok(ImageLookup::ImageMissing) => Err(DeployError::ImageNotFound {
            registry_id: q.registry_id.clone(),
            region: q.region.clone(),
            repository: q.repository.clone(),
            version: version.to_string(),
        }),
        Ok(ImageLookup::RepositoryMissing) => Err(DeployError::RepositoryNotFound {
            registry_id: q.registry_id.clone(),
            region: q.region.clone(),
            repository: q.repository.clone(),
        }),
        Err(e) => Err(e.clone().into()),
    }
}

/// Stage 3b: the image where each of `wanted` says it lives. First-round answers that fit are reused; the
/// rest are asked now, in parallel (a cold start whose image is not in the caller's registry and region).
/// Every place where the image is missing or cannot be pulled is reported; a same-named repository
/// elsewhere never stands in for the one the containers pull from.
pub async fn images<E: Ecs>(
    ecs: &E,
    t: &DeployTarget,
    first_round: &[Lookup],
    wanted: &[ImageQuery],
) -> Result<Vec<CheckedImage>, DeployError> {
    let reuse = |q: &ImageQuery| first_round.iter().find(|(from, answer)| answers(from, answer, q));
    let missing: Vec<&ImageQuery> = wanted.iter().filter(|q| reuse(q).is_none()).collect();
    let asked = join_all(missing.iter().map(|q| ecs.describe_image(q, &t.version))).await;
    let mut checked = Vec::with_capacity(wanted.len());
    let mut failures = Vec::new();
    for q in wanted {
        let answer = match reuse(q) {
            Some((_, answer)) => answer,
            None => &asked[missing.iter().position(|m| *m == q).unwrap_or_default()],
        };
        match judge(q, answer, &t.version) {
            Ok(image) => checked.push(image),
            Err(e) => failures.push(e),
        }
    }
    if failures.is_empty() {
        Ok(checked)
    } else {
        Err(one_or_all(failures, t))
    }
}

type ServiceFacts = (Service, Strategy, DescribedTaskDefinition, DescribedTaskDefinition);

/// The service, checked, with its strategy, then the base revision and the one the service runs (one call
/// when they are the same revision). The base revision of the family the service most likely runs is read
/// in the same round as the service: the family this process saw it run, or else one named as the service
/// (the usual naming, and the one `register-task-definition --family <service>` gives). The guess is kept
/// only if the service runs that family; otherwise the real family is read after the service (one round
/// more, as without the guess). A failed guess is not an error: DescribeTaskDefinition of a family with no
/// ACTIVE revision is a `ClientException` (the API reference's "Errors"), which only means "guessed wrong".
/// `Ok(None)` when the cluster is missing: the cluster check reports that.
async fn service_and_task_definitions<E: Ecs>(
    ecs: &E,
    t: &DeployTarget,
    cache: &ServiceCache,
) -> Result<Option<ServiceFacts>, Vec<DeployError>> {
    let key = key(t);
    let known_family = match t.base {
        Base::Latest => cache.family(&key).or_else(|| Some(t.at.service.name().to_owned())),
        Base::Service => None,
    };
    let early_base = async {
        match &known_family {
            Some(f) => ecs.describe_task_definition(f).await.ok().flatten(),
            None => None,
        }
    };
    let (service, early_base) = tokio::join!(ecs.describe_service(&t.at.cluster, &t.at.service), early_base);
    let service = match service {
        Ok(ServiceLookup::Found(s)) => s,
        Ok(ServiceLookup::Missing) => {
            return Err(vec![DeployError::ServiceNotFound {
                cluster: t.at.cluster.to_string(),
                service: t.at.service.to_string(),
            }])
        }
        Ok(ServiceLookup::ClusterMissing) => return Ok(None),
        Err(e) => return Err(vec![e.into()]),
    };
    let mut failures = Vec::new();
    if service.status() != Some("ACTIVE") {
        failures.push(DeployError::ServiceNotActive {
            cluster: t.at.cluster.to_string(),
            service: t.at.service.to_string(),
            status: service.status().unwrap_or("UNKNOWN").to_owned(),
        });
    }
    let strategy = match Strategy::for_service(&service, &t.at.service) {
        Ok(s) => {
            failures.extend(s.refusals(&service, &t.at.service));
            Some(s)
        }
        Err(e) => {
            failures.push(e);
            None
        }
    };
    let Some(current) = service.task_definition() else {
        failures.push(DeployError::TaskDefinitionNotFound { task_definition: format!("(none on {})", t.at.service) });
        return Err(failures);
    };
    let Some(strategy) = strategy.filter(|_| failures.is_empty()) else {
        return Err(failures);
    };
    let base_name = match t.base {
        Base::Latest => family(current),
        Base::Service => current,
    };
    if t.base == Base::Latest {
        cache.put_family(key, base_name);
    }
    let describe = |name: &str| {
        let name = name.to_owned();
        async move {
            match ecs.describe_task_definition(&name).await {
                Ok(Some(found)) => Ok(found),
                Ok(None) => Err(vec![DeployError::TaskDefinitionNotFound { task_definition: name }]),
                Err(e) => Err(vec![e.into()]),
            }
        }
    };
    let base = match early_base {
        Some(found) if known_family.as_deref() == Some(base_name) => found,
        _ => describe(base_name).await?,
    };
    let base_arn = base.task_definition.task_definition_arn().unwrap_or_default();
    let running = if same_revision(base_arn, current) { base.clone() } else { describe(current).await? };
    Ok(Some((*service, strategy, base, running)))
}

/// Refuses to deploy over a rollout that this deployer did not start (its revision lacks our tag).
pub fn refuse_foreign_rollout(t: &DeployTarget, facts: &PreflightFacts) -> Result<(), DeployError> {
    let Some(rolling) = rollout_in_progress(&facts.service) else {
        return Ok(());
    };
    let ours = rolling
        .task_definition()
        .is_some_and(|td| same_revision(td, facts.running.task_definition.task_definition_arn().unwrap_or_default()))
        && tag_value(&facts.running.tags, PREVIOUS_TAG).is_some();
    if ours {
        return Ok(());
    }
    Err(DeployError::DeploymentInProgress {
        service: t.at.service.to_string(),
        holder: format!(
            "ECS deployment {} of {}",
            rolling.id().unwrap_or("unknown"),
            family_revision(rolling.task_definition().unwrap_or("unknown"))
        ),
        since: rolling.created_at().map_or_else(|| "unknown".into(), |t| t.to_string()),
    })
}

/// The register request would change nothing: do the running tasks run the digest the tag resolves to?
/// References that pin a digest answer without a call; otherwise the service's running tasks are read
/// (ListTasks, DescribeTasks) and each change's `digest_before` filled in.
/// `listed` is the first round's ListTasks answer, when it asked ([`PreflightFacts::running_tasks`]).
pub async fn running_digests<E: Ecs>(
    ecs: &E,
    t: &DeployTarget,
    running_arn: &str,
    changes: &mut [ContainerChange],
    listed: Option<Result<Vec<String>, AwsError>>,
) -> Result<Running, DeployError> {
    if let Some(pinned) = digest::pinned_by_reference(changes) {
        let same = changes.iter().zip(&pinned).all(|(c, d)| c.digest_after.as_deref() == Some(d.as_str()));
        return Ok(if same { Running::Same } else { Running::Moved });
    }
    let arns = match listed {
        Some(Ok(arns)) => arns,
        // A failed early read is asked again now, as it would have been without it.
        _ => ecs.list_tasks(&t.at.cluster, &t.at.service, DesiredStatus::Running).await?,
    };
    let tasks = if arns.is_empty() { Vec::new() } else { ecs.describe_tasks(&t.at.cluster, &arns).await? };
    Ok(digest::compare(changes, running_arn, &tasks))
}
