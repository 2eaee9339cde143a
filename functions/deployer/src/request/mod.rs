//! Stage 2: the request, resolved once into typed targets. Every name is parsed, the version checked as
//! sent, the defaults applied and the allow-list consulted here, before any AWS call; later stages take
//! these values, never the raw [`DeployRequest`].
//!
//! Names and ARNs mean one resource: an ECS ARN is accepted only in the function's own partition and
//! account ([`Scope::home`], from the invoked function's ARN) and in the target's region, and its path must
//! agree with the request (a service ARN names the request's cluster). What comes out is the resolved
//! identity — region, cluster name, service name — which the allow-list is compared with and the AWS
//! calls use.

use std::time::Duration;

use contract::names::{
    ClusterName, EcsArn, EcsResource, Home, Region, RepositoryName, ServiceName, TaskDefinitionRef, Version,
};
use contract::request::{Action, Base, DeployRequest, MAX_TARGETS};

use crate::config::Config;
use crate::error::DeployError;

/// What the Lambda runtime says about this call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Names the holder of the service's lock.
    pub request_id: String,
    /// How long this call may take before it must answer.
    pub budget: Duration,
    /// The function's partition, region and account, read from the invoked function's ARN. `None` when the
    /// runtime named none (local runs): then no ARN in a request and no EventBridge event is accepted.
    pub home: Option<Home>,
}

impl Default for Invocation {
    fn default() -> Self {
        Invocation { request_id: "local".into(), budget: Duration::from_secs(60), home: None }
    }
}

/// Where a request is resolved: the function's own region (where its default clients call) and, when
/// the invocation named it, its home (partition, region, account).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    region: &'a str,
    home: Option<&'a Home>,
}

impl<'a> Scope<'a> {
    /// A home in another region than `region` is not this function's: it is dropped, so that every ARN
    /// and event is refused rather than checked against the wrong region.
    pub fn new(region: &'a str, home: Option<&'a Home>) -> Self {
        Scope { region, home: home.filter(|h| h.region().as_str() == region) }
    }

    /// The function's own region.
    pub fn region(&self) -> &'a str {
        self.region
    }

    /// The function's partition, region and account, when known.
    pub fn home(&self) -> Option<&'a Home> {
        self.home
    }
}

/// Time kept back from following a rollout, to roll back, clean up and answer before the Lambda ends.
pub const ANSWER_MARGIN: Duration = Duration::from_secs(10);

/// One service: where it runs and what it is called. `region: None` is the function's own region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    pub region: Option<Region>,
    pub cluster: ClusterName,
    pub service: ServiceName,
    /// The CodeDeploy names of a CODE_DEPLOY service (request, else `DEPLOY_CODEDEPLOY_*`).
    pub codedeploy: crate::strategy::codedeploy::Names,
}

/// The configured CodeDeploy names (`DEPLOY_CODEDEPLOY_*`) belong to the configured service: another
/// service (a fan-out target, an event's) finds its own group by the console's names or its `ecsServices`.
fn configured_codedeploy(config: &Config, cluster: &str, service: &str) -> crate::strategy::codedeploy::Names {
    let configured = config.cluster.as_ref().is_none_or(|c| c.name() == cluster)
        && config.service.as_ref().is_none_or(|s| s.name() == service);
    if configured {
        config.codedeploy.clone()
    } else {
        crate::strategy::codedeploy::Names::default()
    }
}

/// `at` with the request's CodeDeploy names over the configured ones. A `codedeploy` that sets anything is
/// `NotAllowed` unless `DEPLOY_ALLOW_CODEDEPLOY_OVERRIDE` is on; then its hooks are checked as
/// [`Names::overridden_by`](crate::strategy::codedeploy::Names::overridden_by) says. Whatever the names,
/// the group they find is used only for the service its `ecsServices` name
/// ([`resolve_group`](crate::strategy::codedeploy::resolve_group)).
fn with_codedeploy(
    mut at: ServiceRef,
    options: Option<&contract::request::CodeDeployOptions>,
    config: &Config,
    scope: &Scope<'_>,
) -> Result<ServiceRef, DeployError> {
    use crate::strategy::codedeploy::Refusal;
    let Some(options) = options.filter(|o| **o != contract::request::CodeDeployOptions::default()) else {
        return Ok(at);
    };
    let refuse = |at: &ServiceRef, reason: String| DeployError::NotAllowed {
        cluster: at.cluster.name().to_owned(),
        service: at.service.name().to_owned(),
        reason,
    };
    if !config.codedeploy_override {
        return Err(refuse(
            &at,
            "a request may not set \"codedeploy\" (application, deployment_group, deployment_config, hooks): DEPLOY_ALLOW_CODEDEPLOY_OVERRIDE is off, the configured names and hooks apply".into(),
        ));
    }
    at.codedeploy = match at.codedeploy.overridden_by(options, &config.codedeploy_hook_functions, scope.home()) {
        Ok(names) => names,
        Err(Refusal::Invalid(r)) => return Err(invalid(format!("codedeploy: {r}"))),
        Err(Refusal::NotAllowed(r)) => return Err(refuse(&at, format!("codedeploy: {r}"))),
    };
    Ok(at)
}

impl ServiceRef {
    /// The key of the service's lock: region, cluster and service names.
    pub fn lock_key(&self, home_region: &str) -> String {
        format!("{}/{}/{}", self.region.as_deref().unwrap_or(home_region), self.cluster.name(), self.service.name())
    }
}

/// What to do when a deploy goes wrong, and how far to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    /// Check and plan only.
    pub dry_run: bool,
    /// Follow the rollout to its end (within the Lambda's time).
    pub wait: bool,
    /// Roll a followed rollout back when it fails.
    pub rollback: bool,
    /// Deploy over a rollout this deployer did not start; take no lock.
    pub force: bool,
}

/// One deploy, fully resolved: every name known and the version parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployTarget {
    pub at: ServiceRef,
    pub version: Version,
    pub repository: RepositoryName,
    /// The containers named by the caller; empty means "the ones running `repository`".
    pub containers: Vec<String>,
    pub base: Base,
    /// Register `repo:tag@sha256:…`, the tag with the digest it resolves to now.
    pub pin_digest: bool,
    pub options: Options,
    /// Clean up after a deploy that went well, keeping this many revisions (`keep`, else
    /// `DEPLOY_KEEP_REVISIONS`).
    pub keep: Option<u32>,
    /// Set when the deploy is of an existing revision (`task_definition`): nothing is registered, and the
    /// revision is never deregistered, even when its rollout fails.
    pub revision: Option<TaskDefinitionRef>,
    /// Who asked, as the history records it.
    pub requested_by: Option<String>,
}

/// An explicit rollback, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackTarget {
    pub at: ServiceRef,
    /// The revision to go back to; `None`: the one recorded when the running revision was deployed.
    pub to: Option<TaskDefinitionRef>,
    pub wait: bool,
    pub force: bool,
    /// Who asked, as the history records it.
    pub requested_by: Option<String>,
}

/// A deploy of an existing revision (`task_definition`): nothing is registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevisionTarget {
    pub at: ServiceRef,
    /// The revision named, `family:revision` (an ARN is checked and read as this).
    pub revision: TaskDefinitionRef,
    /// The containers whose images are checked and reported (empty: those running `repository`, else every
    /// container with a private ECR image).
    pub containers: Vec<String>,
    /// The repository whose containers' images are checked (`repository`, else `DEPLOY_REPOSITORY`).
    pub repository: Option<RepositoryName>,
    pub options: Options,
    /// Clean up after the deploy, keeping this many revisions.
    pub keep: Option<u32>,
    /// Who asked, as the history records it.
    pub requested_by: Option<String>,
}

/// A `cleanup`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupTarget {
    pub at: ServiceRef,
    /// The newest ACTIVE revisions kept whatever uses them (1 to [`MAX_KEEP`]).
    pub keep: u32,
    /// Also delete the family's INACTIVE revisions that nothing uses.
    pub delete_inactive: bool,
    pub dry_run: bool,
}

pub use contract::request::{DEFAULT_HISTORY, MAX_ANSWER_WITHIN, MAX_HISTORY, MAX_KEEP};

/// What a request asks for, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// One service (`targets` absent): its result is a `DeployResult`.
    Deploy(DeployTarget),
    /// `targets`: one result per target, in order.
    FanOut {
        targets: Vec<DeployTarget>,
        all_or_nothing: bool,
        dry_run: bool,
    },
    Rollback(RollbackTarget),
    Status(ServiceRef),
    /// `continue` or `reject`: answer the PAUSE hooks awaiting action on the service's current
    /// ECS-native service deployment.
    Hooks {
        at: ServiceRef,
        action: Action,
    },
    /// `task_definition`: deploy an existing revision.
    Redeploy(RevisionTarget),
    History {
        at: ServiceRef,
        limit: u32,
    },
    Cleanup(CleanupTarget),
    /// `diff` of a version: the deploy's plan, never applied (`options.dry_run` is set).
    Diff(DeployTarget),
    /// `diff` of an existing revision against the running one.
    DiffRevision(RevisionTarget),
}

fn invalid(reason: impl Into<String>) -> DeployError {
    DeployError::InvalidRequest { reason: reason.into() }
}

/// `answer_within` as a duration, checked (1 to [`MAX_ANSWER_WITHIN`] seconds). It must leave room for
/// [`ANSWER_MARGIN`] to matter: the deployer keeps that margin whatever it is given.
pub fn answer_within(request: &DeployRequest) -> Result<Option<Duration>, DeployError> {
    request.check_ranges().map_err(invalid)?;
    Ok(request.answer_within.map(|s| Duration::from_secs(u64::from(s))))
}

/// Resolves a request against the function's configuration, in `scope`. Pure: no AWS call. Errors:
/// `InvalidRequest` (a malformed or self-contradicting request), `InvalidVersion`, `NotAllowed` (an ARN of
/// another partition or account, or a service outside `DEPLOY_ALLOWED_TARGETS`).
pub fn resolve(request: DeployRequest, config: &Config, scope: &Scope<'_>) -> Result<Resolved, DeployError> {
    request.check_ranges().map_err(invalid)?;
    match request.action {
        Action::Deploy if request.targets.is_some() => resolve_fan_out(request, config, scope),
        Action::Deploy if request.task_definition.is_some() => {
            resolve_revision(request, config, scope).map(Resolved::Redeploy)
        }
        Action::Deploy => resolve_deploy(request, config, scope).map(Resolved::Deploy),
        Action::Diff => {
            let stray = [("wait", request.wait), ("force", request.force), ("rollback", request.rollback.is_some())];
            refuse_stray(&stray, "diff")?;
            refuse_stray(&[("targets", request.targets.is_some()), ("keep", request.keep.is_some())], "diff")?;
            let mut request = request;
            request.dry_run = true;
            if request.task_definition.is_some() {
                return resolve_revision(request, config, scope).map(Resolved::DiffRevision);
            }
            resolve_deploy(request, config, scope).map(Resolved::Diff)
        }
        Action::History => {
            only_service_fields(&request, "history", false)?;
            let limit = request.limit.unwrap_or(DEFAULT_HISTORY);
            resolve_envelope(&request, config, scope).map(|at| Resolved::History { at, limit })
        }
        Action::Cleanup => {
            let mut plain = request.clone();
            plain.dry_run = false;
            plain.keep = None;
            plain.delete_inactive = false;
            only_service_fields(&plain, "cleanup", false)?;
            let keep = request.keep.or(config.keep_revisions).ok_or_else(|| {
                invalid("no \"keep\": say how many revisions to keep, or configure DEPLOY_KEEP_REVISIONS")
            })?;
            let at = resolve_envelope(&request, config, scope)?;
            Ok(Resolved::Cleanup(CleanupTarget {
                at,
                keep,
                delete_inactive: request.delete_inactive,
                dry_run: request.dry_run,
            }))
        }
        Action::Rollback => {
            only_service_fields(&request, "rollback", true)?;
            let at = resolve_envelope(&request, config, scope)?;
            let to = request.to.as_deref().map(|to| rollback_target(to, &at, scope)).transpose()?;
            Ok(Resolved::Rollback(RollbackTarget {
                at,
                to,
                wait: request.wait,
                force: request.force,
                requested_by: request.requested_by.clone(),
            }))
        }
        Action::Status => {
            only_service_fields(&request, "status", false)?;
            resolve_envelope(&request, config, scope).map(Resolved::Status)
        }
        action @ (Action::Continue | Action::Reject) => {
            only_service_fields(&request, action.as_str(), false)?;
            resolve_envelope(&request, config, scope).map(|at| Resolved::Hooks { at, action })
        }
    }
}

/// The service of a rollback or status request. The envelope every action takes (`region`, `cluster`,
/// `service`, `repository`, `containers`) is checked as a deploy checks it, so a pipeline can send one set
/// of fields to every action; `repository` and `containers` are not needed here.
fn resolve_envelope(request: &DeployRequest, config: &Config, scope: &Scope<'_>) -> Result<ServiceRef, DeployError> {
    if let Some(r) = &request.repository {
        RepositoryName::parse(r)?;
    }
    check_containers(request.containers.as_deref().unwrap_or_default())?;
    let region = request.region.as_deref().map(Region::parse).transpose()?;
    let at = resolve_service(request.cluster.clone(), request.service.clone(), region, config, scope)?;
    with_codedeploy(at, request.codedeploy.as_ref(), config, scope)
}

fn check_containers(containers: &[String]) -> Result<(), DeployError> {
    match containers.iter().find(|c| c.is_empty() || c.len() > 255) {
        Some(bad) => Err(invalid(format!("container name {bad:?} is not valid"))),
        None => Ok(()),
    }
}

/// `to` of a rollback: `family:revision`, or a task-definition ARN of the function's partition, account
/// and region.
fn rollback_target(to: &str, at: &ServiceRef, scope: &Scope<'_>) -> Result<TaskDefinitionRef, DeployError> {
    revision_ref("to", to, at, scope)
}

/// A revision named by `field`: `family:revision`, or a task-definition ARN of the function's partition
/// and account, in the service's region.
fn revision_ref(field: &str, raw: &str, at: &ServiceRef, scope: &Scope<'_>) -> Result<TaskDefinitionRef, DeployError> {
    if !raw.starts_with("arn:") {
        return Ok(TaskDefinitionRef::parse(raw)?);
    }
    let arn = EcsArn::parse(raw)?;
    let EcsResource::TaskDefinition(revision) = arn.resource() else {
        return Err(invalid(format!("\"{field}\" is {raw:?}, which is not a task-definition ARN")));
    };
    let region = at.region.as_deref().unwrap_or(scope.region());
    check_home(field, &arn, scope, region, at.cluster.as_str(), at.service.as_str())?;
    Ok(revision.clone())
}

/// Refuses an ARN outside the function's partition and account (`NotAllowed`: this deployer never touches
/// another account's resources) or outside `region` (`InvalidRequest`), and any ARN when the function's
/// home is unknown.
fn check_home(
    what: &str,
    arn: &EcsArn,
    scope: &Scope<'_>,
    region: &str,
    cluster: &str,
    service: &str,
) -> Result<(), DeployError> {
    let Some(home) = scope.home() else {
        return Err(invalid(format!(
            "{what} is an ARN, but this invocation does not say which account the function runs in; name it by name"
        )));
    };
    if arn.partition() != home.partition() || arn.account() != home.account() {
        return Err(DeployError::NotAllowed {
            cluster: cluster.to_owned(),
            service: service.to_owned(),
            reason: format!(
                "the {what} ARN is in account {} of partition {}, not this function's",
                arn.account(),
                arn.partition()
            ),
        });
    }
    if arn.region().as_str() != region {
        return Err(invalid(format!(
            "the {what} ARN is in region {}, but the target is in {region}{}",
            arn.region(),
            if region == scope.region() { " (name other regions in \"targets\" with \"region\")" } else { "" }
        )));
    }
    Ok(())
}

/// The cluster and service of a request (or of one of its `targets`, in `region`), from the request or the
/// configuration, resolved to plain names and allowed. Every ARN is checked against the scope.
pub fn resolve_service(
    cluster: Option<String>,
    service: Option<String>,
    region: Option<Region>,
    config: &Config,
    scope: &Scope<'_>,
) -> Result<ServiceRef, DeployError> {
    let cluster_given = cluster.is_some();
    let cluster = match cluster {
        Some(c) => ClusterName::parse("cluster", &c)?,
        None => {
            config.cluster.clone().ok_or_else(|| invalid("no cluster: pass \"cluster\" or configure DEPLOY_CLUSTER"))?
        }
    };
    let service_given = service.is_some();
    let service = match service {
        Some(s) => ServiceName::parse("service", &s)?,
        None => {
            config.service.clone().ok_or_else(|| invalid("no service: pass \"service\" or configure DEPLOY_SERVICE"))?
        }
    };
    let target_region = region.as_deref().unwrap_or(scope.region());
    let (raw_cluster, raw_service) = (cluster.as_str(), service.as_str());
    let cluster_name = match cluster.arn() {
        None => cluster.name().to_owned(),
        Some(arn) => {
            check_home("cluster", &arn, scope, target_region, raw_cluster, raw_service)?;
            arn.name()
        }
    };
    let service_name = match service.arn() {
        None => service.name().to_owned(),
        Some(arn) => {
            check_home("service", &arn, scope, target_region, raw_cluster, raw_service)?;
            match arn.resource() {
                EcsResource::Service { cluster: Some(c), name } if *c == cluster_name => name.clone(),
                EcsResource::Service { cluster: Some(c), .. } => {
                    return Err(invalid(format!(
                        "the service ARN names cluster {c}, but the request's cluster is {cluster_name}"
                    )))
                }
                // The old format names no cluster: accepted only when the cluster is named beside it.
                EcsResource::Service { cluster: None, name } if cluster_given || !service_given => name.clone(),
                _ => {
                    return Err(invalid(
                        "the service ARN is in the old format (service/<name>), which names no cluster: pass \"cluster\" too",
                    ))
                }
            }
        }
    };
    let allowed = config.allowed.is_empty()
        || config.allowed.iter().any(|a| a.matches(target_region, &cluster_name, &service_name, scope.region()));
    if !allowed {
        return Err(DeployError::NotAllowed {
            cluster: cluster_name,
            service: service_name,
            reason: format!("it is not in DEPLOY_ALLOWED_TARGETS (region {target_region})"),
        });
    }
    Ok(ServiceRef {
        region,
        cluster: ClusterName::parse("cluster", &cluster_name)?,
        service: ServiceName::parse("service", &service_name)?,
        codedeploy: configured_codedeploy(config, &cluster_name, &service_name),
    })
}

fn refuse_stray(stray: &[(&str, bool)], action: &str) -> Result<(), DeployError> {
    match stray.iter().find(|(_, set)| *set) {
        Some((field, _)) => Err(invalid(format!("\"{field}\" does not go with action {action}"))),
        None => Ok(()),
    }
}

/// A deploy (or diff) of `task_definition`: an existing revision, `family:revision` or an ARN of the
/// function's account and the service's region. Fields that shape a new revision are refused.
fn resolve_revision(request: DeployRequest, config: &Config, scope: &Scope<'_>) -> Result<RevisionTarget, DeployError> {
    request.check_revision_fields().map_err(invalid)?;
    let at = resolve_envelope(&request, config, scope)?;
    let raw = request.task_definition.as_deref().unwrap_or_default();
    let revision = revision_ref("task_definition", raw, &at, scope)?;
    Ok(RevisionTarget {
        containers: request.containers.clone().unwrap_or_else(|| config.containers.clone()),
        repository: match &request.repository {
            Some(r) => Some(RepositoryName::parse(r)?),
            None => config.repository.clone(),
        },
        keep: request.keep.or(config.keep_revisions),
        requested_by: request.requested_by.clone(),
        options: Options {
            dry_run: request.dry_run,
            wait: request.wait,
            rollback: request.rollback.unwrap_or(config.rollback),
            force: request.force,
        },
        at,
        revision,
    })
}

fn resolve_deploy(request: DeployRequest, config: &Config, scope: &Scope<'_>) -> Result<DeployTarget, DeployError> {
    if request.delete_inactive || request.limit.is_some() {
        return Err(invalid("\"delete_inactive\" and \"limit\" belong to cleanup and history"));
    }
    if request.task_definition.is_some() {
        return Err(invalid(
            "\"task_definition\" deploys one service's existing revision: it does not go with \"targets\"",
        ));
    }
    if request.targets.is_some() || request.all_or_nothing {
        return Err(invalid("\"targets\" and \"all_or_nothing\" belong to a multi-target request"));
    }
    if request.to.is_some() {
        return Err(invalid("\"to\" belongs to a rollback; a deploy names a \"version\""));
    }
    let raw_version = request
        .version
        .as_deref()
        .ok_or_else(|| invalid("no version: pass \"version\" (an image tag or sha256 digest)"))?;
    // Checked exactly as sent: " v2 " is not v2.
    let version = Version::parse(raw_version)?;
    let region = request.region.as_deref().map(Region::parse).transpose()?;
    let at = resolve_service(request.cluster, request.service, region, config, scope)?;
    let at = with_codedeploy(at, request.codedeploy.as_ref(), config, scope)?;
    let repository = match request.repository {
        Some(r) => RepositoryName::parse(&r)?,
        None => config
            .repository
            .clone()
            .ok_or_else(|| invalid("no repository: pass \"repository\" or configure DEPLOY_REPOSITORY"))?,
    };
    let containers = request.containers.unwrap_or_else(|| config.containers.clone());
    check_containers(&containers)?;
    let mut at = at;
    at.region = request.region.as_deref().map(Region::parse).transpose()?;
    Ok(DeployTarget {
        at,
        version,
        repository,
        containers,
        base: request.base.unwrap_or(config.base),
        pin_digest: request.pin_digest.unwrap_or(config.pin_digest),
        keep: request.keep.or(config.keep_revisions),
        revision: None,
        requested_by: request.requested_by.clone(),
        options: Options {
            dry_run: request.dry_run,
            wait: request.wait,
            rollback: request.rollback.unwrap_or(config.rollback),
            force: request.force,
        },
    })
}

fn resolve_fan_out(mut request: DeployRequest, config: &Config, scope: &Scope<'_>) -> Result<Resolved, DeployError> {
    let specs = request.targets.take().unwrap_or_default();
    if request.cluster.is_some() || request.service.is_some() {
        return Err(invalid("name the cluster and service inside each of \"targets\", not beside it"));
    }
    if specs.is_empty() || specs.len() > MAX_TARGETS {
        return Err(invalid(format!("\"targets\" takes 1 to {MAX_TARGETS} services, not {}", specs.len())));
    }
    let (all_or_nothing, dry_run) = (request.all_or_nothing, request.dry_run);
    let mut targets: Vec<DeployTarget> = Vec::with_capacity(specs.len());
    for spec in specs {
        let one = DeployRequest {
            cluster: Some(spec.cluster),
            service: Some(spec.service),
            region: spec.region.or_else(|| request.region.clone()),
            containers: spec.containers.or_else(|| request.containers.clone()),
            targets: None,
            all_or_nothing: false,
            ..request.clone()
        };
        let target = resolve_deploy(one, config, scope)?;
        let same = |t: &DeployTarget| {
            t.at.region.as_deref().unwrap_or(scope.region()) == target.at.region.as_deref().unwrap_or(scope.region())
                && t.at.cluster == target.at.cluster
                && t.at.service == target.at.service
        };
        if targets.iter().any(same) {
            return Err(invalid(format!(
                "service {} in cluster {} is named twice",
                target.at.service, target.at.cluster
            )));
        }
        targets.push(target);
    }
    Ok(Resolved::FanOut { targets, all_or_nothing, dry_run })
}

/// Refuses fields that belong to another action, so that a request means one thing. The envelope
/// (`region`, `cluster`, `service`, `repository`, `containers`) belongs to every action.
fn only_service_fields(request: &DeployRequest, action: &str, allow_wait: bool) -> Result<(), DeployError> {
    let stray = [
        ("version", request.version.is_some()),
        ("base", request.base.is_some()),
        ("pin_digest", request.pin_digest.is_some()),
        ("dry_run", request.dry_run),
        ("targets", request.targets.is_some()),
        ("all_or_nothing", request.all_or_nothing),
        ("rollback", request.rollback.is_some()),
        ("wait", request.wait && !allow_wait),
        ("force", request.force && !allow_wait),
        ("to", request.to.is_some() && !allow_wait),
        ("task_definition", request.task_definition.is_some()),
        ("keep", request.keep.is_some()),
        ("delete_inactive", request.delete_inactive),
        ("limit", request.limit.is_some() && action != "history"),
    ];
    match stray.iter().find(|(_, set)| *set) {
        Some((field, _)) => Err(invalid(format!("\"{field}\" does not go with action {action}"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
