//! The request, checked in full before the deployer is invoked: what the deployer would refuse is refused
//! here, at no cost, and what it is sent is the request this door built, with every name resolved. Pure.
//!
//! - the version exactly as sent ([`Version::parse`], no trimming): `InvalidVersion`;
//! - cluster, service, repository, region and `to` with the contract's parsers; an ARN only when it names a
//!   resource of this function's partition and account, in the region the request works in
//!   ([`contract::identity`]), and the name it resolves to is what is sent on: `InvalidRequest` for what is
//!   malformed, `NotAllowed` for a resource elsewhere;
//! - the fields that belong to the action (the deployer's rules, `functions/deployer/src/request`): a deploy
//!   names a `version` or an existing revision (`task_definition`, checked and resolved as `to` is); `diff`
//!   takes what a deploy takes but never `wait`, `force`, `rollback`, `keep` or `targets`; `history` takes the
//!   envelope and `limit` (1 to [`MAX_HISTORY`]); `cleanup` the envelope, `keep` (1 to [`MAX_KEEP`]),
//!   `delete_inactive` and `dry_run`: `InvalidRequest`;
//! - `targets[]`: 1 to [`MAX_TARGETS`], each checked as above, none twice: `InvalidRequest`;
//! - `requested_by`, as the deployer takes it (1 to [`MAX_REQUESTED_BY`] bytes, no control character). The
//!   door sets it itself from the caller it authenticated before checking ([`crate::auth::Caller::requested_by`],
//!   [`crate::slack::requested_by`]): whatever a client sent is replaced, never passed on;
//! - `codedeploy` (CodeDeploy application, group, configuration, hooks) only from a caller named in
//!   `CODEDEPLOY_OVERRIDE_CALLERS` (by its `requested_by`): `NotAllowed`. Whether the group named deploys
//!   the request's service only the deployer can tell (it reads the group's `ecsServices`), and it refuses
//!   otherwise;
//! - `ALLOWED_TARGETS`, on the resolved names: `NotAllowed`.
//!
//! A `cleanup` without `keep` is passed on: the deployer's `DEPLOY_KEEP_REVISIONS`, which this door does not
//! know, may supply it (else the deployer answers `InvalidRequest`).

use contract::identity::{self, Home, IdentityError};
use contract::names::{Region, RepositoryName, Version};
use contract::request::{Action, DeployRequest, TargetSpec, MAX_TARGETS};

use crate::config::Config;
use crate::error::FrontError;

/// A request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// What the deployer is sent: the door's defaults filled in, every cluster, service and `to` as a name.
    pub request: DeployRequest,
    /// Every service the request names, as `(cluster, service)` names, in order.
    pub services: Vec<(String, String)>,
    /// The region of each of `services`, `None` for the function's own.
    pub regions: Vec<Option<String>>,
}

fn invalid(reason: impl Into<String>) -> FrontError {
    FrontError::InvalidRequest { reason: reason.into() }
}

fn not_allowed(reason: String, cluster: Option<&str>, service: Option<&str>) -> FrontError {
    FrontError::NotAllowed { reason, cluster: cluster.map(str::to_owned), service: service.map(str::to_owned) }
}

/// An identity refusal as the door's error; `cluster` and `service` are what the request said.
fn refused(err: IdentityError, cluster: Option<&str>, service: Option<&str>) -> FrontError {
    match err {
        IdentityError::Malformed { reason } => invalid(reason),
        IdentityError::Elsewhere { reason } => not_allowed(reason, cluster, service),
    }
}

/// Checks `request` against the door's configuration; `home` is where this function runs (partition and
/// account for ARNs; its region is the request's unless a target names another). Errors: `InvalidRequest`,
/// `InvalidVersion`, `NotAllowed`, as listed in the module documentation.
pub fn check(mut request: DeployRequest, config: &Config, home: Option<&Home>) -> Result<Checked, FrontError> {
    let home_region = home.map_or(config.region.as_str(), |h| h.region.as_str()).to_owned();
    // The request's `region` (every action takes it, as the deployer does): its names are looked for there,
    // and the allow-list judges the service there (issue 23, D11).
    if let Some(r) = &request.region {
        request.region = Some(Region::parse(r)?.to_string());
    }
    let region = request.region.clone().unwrap_or_else(|| home_region.clone());
    // keep, limit, answer_within and requested_by, as the deployer checks them (one rule, in the contract).
    request.check_ranges().map_err(invalid)?;
    codedeploy_caller(&request, config)?;
    match request.action {
        Action::Deploy if request.task_definition.is_some() => revision_fields(&request)?,
        Action::Deploy => deploy_fields(&request)?,
        Action::Diff => {
            let stray = [
                ("wait", request.wait),
                ("force", request.force),
                ("rollback", request.rollback.is_some()),
                ("targets", request.targets.is_some()),
                ("keep", request.keep.is_some()),
            ];
            refuse_stray(&stray, "does not go with action diff")?;
            if request.task_definition.is_some() {
                revision_fields(&request)?
            } else {
                deploy_fields(&request)?
            }
        }
        Action::History => {
            only_service_fields(&request, "history", false)?;
        }
        Action::Cleanup => {
            let plain = DeployRequest { dry_run: false, keep: None, delete_inactive: false, ..request.clone() };
            only_service_fields(&plain, "cleanup", false)?;
        }
        Action::Rollback => only_service_fields(&request, "rollback", true)?,
        Action::Status => only_service_fields(&request, "status", false)?,
        Action::Continue => only_service_fields(&request, "continue", false)?,
        Action::Reject => only_service_fields(&request, "reject", false)?,
    }
    if let Some(repository) = &request.repository {
        RepositoryName::parse(repository)?;
    }
    containers(request.containers.as_deref())?;
    let services = match request.targets.take() {
        Some(targets) => {
            if request.cluster.is_some() || request.service.is_some() {
                return Err(invalid("name the cluster and service inside each of \"targets\", not beside it"));
            }
            let targets = check_targets(targets, home, &region)?;
            let services = targets
                .iter()
                .map(|t| (t.region.clone().unwrap_or_else(|| region.clone()), t.cluster.clone(), t.service.clone()))
                .collect();
            request.targets = Some(targets);
            services
        }
        None => {
            if request.all_or_nothing {
                return Err(invalid("\"all_or_nothing\" belongs to a request with \"targets\""));
            }
            let cluster = request.cluster.take().or_else(|| config.default_cluster.clone());
            let service = request.service.take().or_else(|| config.default_service.clone());
            match (cluster, service) {
                (Some(c), Some(s)) => {
                    let (cluster, service) = resolve_service(&c, &s, home, &region)?;
                    request.cluster = Some(cluster.clone());
                    request.service = Some(service.clone());
                    vec![(region.clone(), cluster, service)]
                }
                (c, s) if !config.allowed.is_open() => {
                    return Err(not_allowed(
                        "name \"cluster\" and \"service\": this door only acts on the services it allows".into(),
                        c.as_deref(),
                        s.as_deref(),
                    ))
                }
                // Left to the deployer's own defaults: there is nothing this door could compare.
                (c, s) => {
                    request.cluster = c.map(|c| resolve_cluster(&c, home, &region)).transpose()?;
                    request.service = s.map(|s| resolve_lone_service(&s, home, &region)).transpose()?;
                    Vec::new()
                }
            }
        }
    };
    if let Some(to) = request.to.take() {
        let (cluster, service) =
            services.first().map(|(_, c, s)| (Some(c.as_str()), Some(s.as_str()))).unwrap_or_default();
        let to = identity::task_definition(&to, home, &region).map_err(|e| refused(e, cluster, service))?;
        request.to = Some(to.to_string());
    }
    if let Some(revision) = request.task_definition.take() {
        let (cluster, service) =
            services.first().map(|(_, c, s)| (Some(c.as_str()), Some(s.as_str()))).unwrap_or_default();
        let revision = identity::revision("task_definition", &revision, home, &region)
            .map_err(|e| refused(e, cluster, service))?;
        request.task_definition = Some(revision.to_string());
    }
    if let Some((r, c, s)) = services.iter().find(|(r, c, s)| !config.allowed.allows(r, c, s, &home_region)) {
        return Err(not_allowed(
            format!("service {s} in cluster {c} (region {r}) is not one this door may act on (ALLOWED_TARGETS)"),
            Some(c),
            Some(s),
        ));
    }
    let regions = services.iter().map(|(r, _, _)| Some(r.clone()).filter(|r| *r != home_region)).collect();
    let services = services.into_iter().map(|(_, c, s)| (c, s)).collect();
    Ok(Checked { request, services, regions })
}

fn resolve_cluster(cluster: &str, home: Option<&Home>, region: &str) -> Result<String, FrontError> {
    identity::cluster_name("cluster", cluster, home, region).map_err(|e| refused(e, Some(cluster), None))
}

/// A service without a cluster to compare a service ARN's with: only a name, or an old-format ARN.
fn resolve_lone_service(service: &str, home: Option<&Home>, region: &str) -> Result<String, FrontError> {
    if service.starts_with("arn:") && service.matches('/').count() > 1 {
        return Err(invalid("a service ARN that names its cluster needs \"cluster\" too"));
    }
    identity::service_name("service", service, "", home, region).map_err(|e| refused(e, None, Some(service)))
}

/// The names `cluster` and `service` (names or ARNs) resolve to in `region`.
fn resolve_service(
    cluster: &str,
    service: &str,
    home: Option<&Home>,
    region: &str,
) -> Result<(String, String), FrontError> {
    let name = resolve_cluster(cluster, home, region)?;
    let service = identity::service_name("service", service, &name, home, region)
        .map_err(|e| refused(e, Some(cluster), Some(service)))?;
    Ok((name, service))
}

fn check_targets(targets: Vec<TargetSpec>, home: Option<&Home>, region: &str) -> Result<Vec<TargetSpec>, FrontError> {
    if targets.is_empty() || targets.len() > MAX_TARGETS {
        return Err(invalid(format!("\"targets\" takes 1 to {MAX_TARGETS} services, not {}", targets.len())));
    }
    let mut checked: Vec<TargetSpec> = Vec::with_capacity(targets.len());
    for target in targets {
        let target_region = match &target.region {
            Some(r) => Region::parse(r)?.to_string(),
            None => region.to_owned(),
        };
        let (cluster, service) = resolve_service(&target.cluster, &target.service, home, &target_region)?;
        containers(target.containers.as_deref())?;
        let one = TargetSpec { cluster, service, ..target };
        if checked.iter().any(|t| t.cluster == one.cluster && t.service == one.service && t.region == one.region) {
            return Err(invalid(format!("service {} in cluster {} is named twice", one.service, one.cluster)));
        }
        checked.push(one);
    }
    Ok(checked)
}

/// A request that sets anything of `codedeploy` comes from a caller `CODEDEPLOY_OVERRIDE_CALLERS` names (as
/// `requested_by`, which the door set from the caller it authenticated): the configured CodeDeploy names and
/// hooks are the operator's.
fn codedeploy_caller(request: &DeployRequest, config: &Config) -> Result<(), FrontError> {
    let asks = request.codedeploy.as_ref().is_some_and(|o| *o != contract::request::CodeDeployOptions::default());
    let who = request.requested_by.as_deref().unwrap_or_default();
    if !asks || config.codedeploy_callers.iter().any(|c| c == who) {
        return Ok(());
    }
    Err(not_allowed(
        format!(
            "\"codedeploy\" (application, deployment_group, deployment_config, hooks) is the operator's to set: caller {who} is not in CODEDEPLOY_OVERRIDE_CALLERS"
        ),
        request.cluster.as_deref(),
        request.service.as_deref(),
    ))
}

/// Container names as the deployer takes them: 1 to 255 characters.
fn containers(names: Option<&[String]>) -> Result<(), FrontError> {
    match names.unwrap_or_default().iter().find(|c| c.is_empty() || c.len() > 255) {
        Some(bad) => Err(invalid(format!("container name {bad:?} is not valid"))),
        None => Ok(()),
    }
}

pub use contract::request::{MAX_HISTORY, MAX_KEEP, MAX_REQUESTED_BY};

/// The first field of `stray` that is set, refused with `why` (`does not go with action diff`).
fn refuse_stray(stray: &[(&str, bool)], why: &str) -> Result<(), FrontError> {
    match stray.iter().find(|(_, set)| *set) {
        Some((field, _)) => Err(invalid(format!("\"{field}\" {why}"))),
        None => Ok(()),
    }
}

/// A deploy (or diff) of a `version`: the fields that shape a new revision, and nothing of another action's.
fn deploy_fields(request: &DeployRequest) -> Result<(), FrontError> {
    if request.delete_inactive || request.limit.is_some() {
        return Err(invalid("\"delete_inactive\" and \"limit\" belong to cleanup and history"));
    }
    if request.to.is_some() {
        return Err(invalid("\"to\" belongs to a rollback; a deploy names a \"version\""));
    }
    let version = request
        .version
        .as_deref()
        .ok_or_else(|| invalid("a deploy request needs \"version\" (or \"task_definition\", an existing revision)"))?;
    Version::parse(version)?;
    Ok(())
}

/// A deploy (or diff) of an existing revision (`task_definition`): nothing that shapes a new revision, as the
/// deployer checks it (one rule, in the contract).
fn revision_fields(request: &DeployRequest) -> Result<(), FrontError> {
    request.check_revision_fields().map_err(invalid)
}

/// Refuses fields that belong to another action, so that a request means one thing (the deployer's rule).
/// The envelope (`region`, `cluster`, `service`, `repository`, `containers`) belongs to every action.
fn only_service_fields(request: &DeployRequest, action: &str, rollback: bool) -> Result<(), FrontError> {
    let stray = [
        ("version", request.version.is_some()),
        ("base", request.base.is_some()),
        ("pin_digest", request.pin_digest.is_some()),
        ("dry_run", request.dry_run),
        ("targets", request.targets.is_some()),
        ("all_or_nothing", request.all_or_nothing),
        ("rollback", request.rollback.is_some()),
        ("wait", request.wait && !rollback),
        ("force", request.force && !rollback),
        ("to", request.to.is_some() && !rollback),
        ("task_definition", request.task_definition.is_some()),
        ("keep", request.keep.is_some()),
        ("delete_inactive", request.delete_inactive),
        ("limit", request.limit.is_some() && action != "history"),
    ];
    refuse_stray(&stray, &format!("does not go with action {action}"))
}

#[cfg(test)]
mod tests;
