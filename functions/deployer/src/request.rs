//! What a caller asks for, and the defaults the function was configured with. Both are parsed before any
//! AWS call, so bad input never reaches AWS.

use serde::Deserialize;

use crate::error::DeployError;
use crate::version::Version;

/// Which revision the new one is cloned from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Base {
    /// The newest ACTIVE revision of the service's task-definition family.
    #[default]
    Latest,
    /// The revision the service runs now.
    Service,
}

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    #[default]
    Deploy,
    /// Put the service back on the revision it ran before the last deploy, or on `to`.
    Rollback,
    /// Report what the service runs and how its rollout is going.
    Status,
}

/// A direct-invoke request. Unknown fields are refused: a misspelt `dry_run` must not deploy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    #[serde(default)]
    pub action: Action,
    /// Required to deploy.
    pub version: Option<String>,
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub repository: Option<String>,
    pub containers: Option<Vec<String>>,
    pub base: Option<Base>,
    #[serde(default)]
    pub dry_run: bool,
    /// Deploy the same version to several services at once, instead of `cluster`/`service`.
    pub targets: Option<Vec<TargetSpec>>,
    /// With `targets`: when one target fails, roll back the ones that were deployed.
    #[serde(default)]
    pub all_or_nothing: bool,
    /// Follow the rollout until it completes, fails or the Lambda's time runs short.
    #[serde(default)]
    pub wait: bool,
    /// When a followed rollout fails, put the service back on the revision it ran before
    /// (default: `DEPLOY_ROLLBACK`, else true).
    pub rollback: Option<bool>,
    /// Deploy even though ECS shows a rollout in progress that this deployer did not start.
    #[serde(default)]
    pub force: bool,
    /// With `action: rollback`: the revision to go back to, `family:revision`.
    pub to: Option<String>,
}

/// One service of a multi-target request.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub cluster: String,
    pub service: String,
    /// Another region than the function's; its clients are built once and reused.
    pub region: Option<String>,
    pub containers: Option<Vec<String>>,
}

/// How many targets one request may name.
pub const MAX_TARGETS: usize = 50;

/// The function's configuration, read once from the environment at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub repository: Option<String>,
    pub containers: Vec<String>,
    pub base: Base,
    /// Roll back a followed deploy that fails.
    pub rollback: bool,
    /// The only `(cluster, service)` pairs this deployer may touch; empty means any.
    pub allowed: Vec<(String, String)>,
    /// A followed rollout fails once this many of its tasks failed.
    pub max_failed_tasks: i32,
    /// The CodeBuild environment variable that holds the version a successful build deploys.
    pub build_version_variable: String,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            cluster: None,
            service: None,
            repository: None,
            containers: Vec::new(),
            base: Base::Latest,
            rollback: true,
            allowed: Vec::new(),
            max_failed_tasks: 3,
            build_version_variable: "IMAGE_TAG".into(),
        }
    }
}

impl Defaults {
    /// Reads `DEPLOY_CLUSTER`, `DEPLOY_SERVICE`, `DEPLOY_REPOSITORY`, `DEPLOY_CONTAINERS` (comma-separated) and
    /// `DEPLOY_BASE` (`latest` or `service`) through `var`. A malformed value is an error, never ignored.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Defaults, DeployError> {
        let get = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let base = match get("DEPLOY_BASE").as_deref() {
            None | Some("latest") => Base::Latest,
            Some("service") => Base::Service,
            Some(other) => {
                return Err(DeployError::InvalidRequest {
                    reason: format!("DEPLOY_BASE is {other:?}; it takes \"latest\" or \"service\""),
                })
            }
        };
        let containers = get("DEPLOY_CONTAINERS")
            .map(|v| v.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        let rollback = match get("DEPLOY_ROLLBACK").as_deref() {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(DeployError::InvalidRequest {
                    reason: format!("DEPLOY_ROLLBACK is {other:?}; it takes \"true\" or \"false\""),
                })
            }
        };
        let max_failed_tasks = match get("DEPLOY_MAX_FAILED_TASKS") {
            None => 3,
            Some(v) => v.parse::<i32>().ok().filter(|n| *n > 0).ok_or_else(|| DeployError::InvalidRequest {
                reason: format!("DEPLOY_MAX_FAILED_TASKS is {v:?}; it takes a positive number"),
            })?,
        };
        let mut allowed = Vec::new();
        for pair in
            get("DEPLOY_ALLOWED_TARGETS").unwrap_or_default().split(',').map(str::trim).filter(|p| !p.is_empty())
        {
            let Some((cluster, service)) = pair.split_once('/') else {
                return Err(DeployError::InvalidRequest {
                    reason: format!("DEPLOY_ALLOWED_TARGETS entry {pair:?} is not cluster/service"),
                });
            };
            check_name("DEPLOY_ALLOWED_TARGETS cluster", cluster)?;
            check_name("DEPLOY_ALLOWED_TARGETS service", service)?;
            allowed.push((cluster.to_owned(), service.to_owned()));
        }
        let defaults = Defaults {
            cluster: get("DEPLOY_CLUSTER"),
            service: get("DEPLOY_SERVICE"),
            repository: get("DEPLOY_REPOSITORY"),
            containers,
            base,
            rollback,
            allowed,
            max_failed_tasks,
            build_version_variable: get("DEPLOY_BUILD_VERSION_VARIABLE").unwrap_or_else(|| "IMAGE_TAG".into()),
        };
        for (name, value) in [("DEPLOY_CLUSTER", &defaults.cluster), ("DEPLOY_SERVICE", &defaults.service)] {
            if let Some(v) = value {
                check_name(name, v)?;
            }
        }
        if let Some(r) = &defaults.repository {
            check_repository(r)?;
        }
        Ok(defaults)
    }

    pub fn from_env() -> Result<Defaults, DeployError> {
        Defaults::from_lookup(|name| std::env::var(name).ok())
    }
}

/// One deploy, fully resolved: every name known and the version parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub cluster: String,
    pub service: String,
    pub repository: String,
    pub containers: Vec<String>,
    pub base: Base,
    pub version: Version,
    pub dry_run: bool,
    /// `None`: the function's own region.
    pub region: Option<String>,
    pub wait: bool,
    pub rollback: bool,
    pub force: bool,
}

impl Target {
    /// The target of an action on a whole service (a rollback, an event), not of a new version: the lock and
    /// the notifications need it.
    pub fn of_service(s: &ServiceRef, version: Version, wait: bool, force: bool) -> Target {
        Target {
            cluster: s.cluster.clone(),
            service: s.service.clone(),
            repository: String::new(),
            containers: Vec::new(),
            base: Base::default(),
            version,
            dry_run: false,
            region: None,
            wait,
            rollback: false,
            force,
        }
    }
}

/// A service named by a request, checked against the allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRef {
    pub cluster: String,
    pub service: String,
}

/// The last path segment of an ECS ARN (`…:cluster/name`, `…:service/cluster/name`), or the name itself.
pub fn resource_name(name_or_arn: &str) -> &str {
    if name_or_arn.starts_with("arn:") {
        name_or_arn.rsplit('/').next().unwrap_or(name_or_arn)
    } else {
        name_or_arn
    }
}

impl ServiceRef {
    /// The cluster and service of a request, from the request or the defaults, named and allowed.
    pub fn resolve(
        cluster: Option<String>,
        service: Option<String>,
        defaults: &Defaults,
    ) -> Result<ServiceRef, DeployError> {
        let pick = |field: &'static str, asked: Option<String>, default: &Option<String>, env: &str| {
            asked.or_else(|| default.clone()).ok_or_else(|| DeployError::InvalidRequest {
                reason: format!("no {field}: pass \"{field}\" or configure {env}"),
            })
        };
        let cluster = pick("cluster", cluster, &defaults.cluster, "DEPLOY_CLUSTER")?;
        let service = pick("service", service, &defaults.service, "DEPLOY_SERVICE")?;
        check_name("cluster", &cluster)?;
        check_name("service", &service)?;
        let allowed = defaults.allowed.is_empty()
            || defaults.allowed.iter().any(|(c, s)| c == resource_name(&cluster) && s == resource_name(&service));
        if !allowed {
            return Err(DeployError::NotAllowed { cluster, service });
        }
        Ok(ServiceRef { cluster, service })
    }
}

impl Target {
    /// Every target of a request: one for a plain request, one per entry of `targets`.
    pub fn resolve_all(mut request: DeployRequest, defaults: &Defaults) -> Result<Vec<Target>, DeployError> {
        let Some(specs) = request.targets.take() else {
            return Target::resolve(request, defaults).map(|t| vec![t]);
        };
        let invalid = |reason: String| DeployError::InvalidRequest { reason };
        if request.cluster.is_some() || request.service.is_some() {
            return Err(invalid("name the cluster and service inside each of \"targets\", not beside it".into()));
        }
        if specs.is_empty() || specs.len() > MAX_TARGETS {
            return Err(invalid(format!("\"targets\" takes 1 to {MAX_TARGETS} services, not {}", specs.len())));
        }
        let mut targets: Vec<Target> = Vec::with_capacity(specs.len());
        for spec in specs {
            if let Some(region) = &spec.region {
                check_region(region)?;
            }
            let one = DeployRequest {
                cluster: Some(spec.cluster),
                service: Some(spec.service),
                containers: spec.containers.or_else(|| request.containers.clone()),
                targets: None,
                all_or_nothing: false,
                ..request.clone()
            };
            let mut target = Target::resolve(one, defaults)?;
            target.region = spec.region;
            if targets
                .iter()
                .any(|t| (&t.cluster, &t.service, &t.region) == (&target.cluster, &target.service, &target.region))
            {
                return Err(invalid(format!(
                    "service {} in cluster {} is named twice",
                    target.service, target.cluster
                )));
            }
            targets.push(target);
        }
        Ok(targets)
    }

    pub fn resolve(request: DeployRequest, defaults: &Defaults) -> Result<Target, DeployError> {
        if request.targets.is_some() || request.all_or_nothing {
            return Err(DeployError::InvalidRequest {
                reason: "\"targets\" and \"all_or_nothing\" belong to a multi-target request".into(),
            });
        }
        if request.action != Action::Deploy || request.to.is_some() {
            return Err(DeployError::InvalidRequest {
                reason: "\"to\" belongs to a rollback; a deploy names a \"version\"".into(),
            });
        }
        let raw_version = request.version.as_deref().ok_or_else(|| DeployError::InvalidRequest {
            reason: "no version: pass \"version\" (an image tag or sha256 digest)".into(),
        })?;
        let version = Version::parse(raw_version.trim())?;
        let ServiceRef { cluster, service } = ServiceRef::resolve(request.cluster, request.service, defaults)?;
        let repository =
            request.repository.or_else(|| defaults.repository.clone()).ok_or_else(|| DeployError::InvalidRequest {
                reason: "no repository: pass \"repository\" or configure DEPLOY_REPOSITORY".into(),
            })?;
        check_repository(&repository)?;
        let containers = request.containers.unwrap_or_else(|| defaults.containers.clone());
        if let Some(bad) = containers.iter().find(|c| c.is_empty() || c.len() > 255) {
            return Err(DeployError::InvalidRequest { reason: format!("container name {bad:?} is not valid") });
        }
        Ok(Target {
            cluster,
            service,
            repository,
            containers,
            base: request.base.unwrap_or(defaults.base),
            version,
            dry_run: request.dry_run,
            region: None,
            wait: request.wait,
            rollback: request.rollback.unwrap_or(defaults.rollback),
            force: request.force,
        })
    }
}

/// Cluster and service: a name (letters, digits, `-`, `_`, up to 255) or an ECS ARN.
fn check_name(what: &str, value: &str) -> Result<(), DeployError> {
    let name_ok = !value.is_empty()
        && value.len() <= 255
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let arn_ok = value.starts_with("arn:")
        && value.len() <= 1600
        && value.split(':').nth(2) == Some("ecs")
        && !value.contains(char::is_whitespace);
    if name_ok || arn_ok {
        Ok(())
    } else {
        Err(DeployError::InvalidRequest { reason: format!("{what} {value:?} is not an ECS name or ARN") })
    }
}

/// A region name such as `eu-west-1` or `us-gov-west-1`.
fn check_region(value: &str) -> Result<(), DeployError> {
    let ok = (4..=32).contains(&value.len())
        && value.split('-').count() >= 3
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(DeployError::InvalidRequest { reason: format!("region {value:?} is not an AWS region name") })
    }
}

/// An ECR repository name: lowercase path components of letters, digits and `._-`, joined by `/`.
fn check_repository(value: &str) -> Result<(), DeployError> {
    let ok = (2..=256).contains(&value.len())
        && value.split('/').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(DeployError::InvalidRequest { reason: format!("repository {value:?} is not an ECR repository name") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Defaults {
        Defaults {
            cluster: Some("prod".into()),
            service: Some("web".into()),
            repository: Some("team/web".into()),
            ..Defaults::default()
        }
    }

    fn request(json: &str) -> DeployRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_version_is_enough_with_defaults() {
        let t = Target::resolve(request(r#"{"version":"v2"}"#), &defaults()).unwrap();
        assert_eq!((t.cluster.as_str(), t.service.as_str(), t.repository.as_str()), ("prod", "web", "team/web"));
        assert_eq!((t.base, t.dry_run, t.version.as_str()), (Base::Latest, false, "v2"));
    }

    #[test]
    fn the_request_overrides_every_default() {
        let t = Target::resolve(
            request(
                r#"{"version":"v3","cluster":"arn:aws:ecs:eu-west-1:1:cluster/c2","service":"api",
                    "repository":"x/y","containers":["main"],"base":"service","dry_run":true}"#,
            ),
            &defaults(),
        )
        .unwrap();
        assert_eq!(t.cluster, "arn:aws:ecs:eu-west-1:1:cluster/c2");
        assert_eq!((t.service.as_str(), t.repository.as_str()), ("api", "x/y"));
        assert_eq!((t.containers, t.base, t.dry_run), (vec!["main".to_string()], Base::Service, true));
    }

    #[test]
    fn targets_fan_out_with_shared_fields_and_their_own_overrides() {
        let targets = Target::resolve_all(
            request(
                r#"{"version":"v4","containers":["app"],"targets":[
                    {"cluster":"prod","service":"a"},
                    {"cluster":"prod","service":"b","region":"eu-central-1","containers":["main"]}]}"#,
            ),
            &defaults(),
        )
        .unwrap();
        assert_eq!(targets.len(), 2);
        assert_eq!((targets[0].service.as_str(), targets[0].region.as_deref()), ("a", None));
        assert_eq!(targets[0].containers, ["app"]);
        assert_eq!((targets[1].service.as_str(), targets[1].region.as_deref()), ("b", Some("eu-central-1")));
        assert_eq!(targets[1].containers, ["main"]);
        assert!(targets.iter().all(|t| t.version.as_str() == "v4" && t.repository == "team/web"));
    }

    #[test]
    fn bad_target_lists_are_refused() {
        for bad in [
            r#"{"version":"v2","targets":[]}"#,
            r#"{"version":"v2","service":"x","targets":[{"cluster":"c","service":"s"}]}"#,
            r#"{"version":"v2","targets":[{"cluster":"c","service":"s"},{"cluster":"c","service":"s"}]}"#,
            r#"{"version":"v2","targets":[{"cluster":"c","service":"s","region":"Mars"}]}"#,
            r#"{"version":"v2","all_or_nothing":true}"#,
        ] {
            let err = Target::resolve_all(request(bad), &defaults()).unwrap_err();
            assert_eq!(err.code(), "InvalidRequest", "{bad}");
        }
        let many: Vec<String> = (0..=MAX_TARGETS).map(|i| format!(r#"{{"cluster":"c","service":"s{i}"}}"#)).collect();
        let req = format!(r#"{{"version":"v2","targets":[{}]}}"#, many.join(","));
        assert_eq!(Target::resolve_all(request(&req), &defaults()).unwrap_err().code(), "InvalidRequest");
    }

    #[test]
    fn the_allow_list_names_what_may_be_touched() {
        let d = Defaults { allowed: vec![("prod".into(), "web".into())], ..defaults() };
        assert!(Target::resolve(request(r#"{"version":"v2"}"#), &d).is_ok());
        assert!(Target::resolve(
            request(r#"{"version":"v2","service":"arn:aws:ecs:eu-west-1:1:service/prod/web"}"#),
            &d
        )
        .is_ok());
        let err = Target::resolve(request(r#"{"version":"v2","service":"api"}"#), &d).unwrap_err();
        assert_eq!(err.code(), "NotAllowed");
        let err = ServiceRef::resolve(Some("staging".into()), Some("web".into()), &d).unwrap_err();
        assert_eq!(err.code(), "NotAllowed");
    }

    #[test]
    fn a_deploy_needs_a_version_and_takes_no_rollback_target() {
        let err = Target::resolve(request(r#"{"cluster":"prod"}"#), &defaults()).unwrap_err();
        assert!(err.to_string().contains("no version"), "{err}");
        let err = Target::resolve(request(r#"{"version":"v2","to":"web:3"}"#), &defaults()).unwrap_err();
        assert_eq!(err.code(), "InvalidRequest");
    }

    #[test]
    fn misspelt_fields_are_refused() {
        assert!(serde_json::from_str::<DeployRequest>(r#"{"version":"v2","dryrun":true}"#).is_err());
        assert!(serde_json::from_str::<DeployRequest>(r#"{"version":"v2","base":"oldest"}"#).is_err());
    }

    #[test]
    fn missing_names_and_bad_names_are_invalid_requests() {
        let err = Target::resolve(request(r#"{"version":"v2"}"#), &Defaults::default()).unwrap_err();
        assert_eq!(err.code(), "InvalidRequest");
        assert!(err.to_string().contains("DEPLOY_CLUSTER"), "{err}");
        for bad in [r#"{"version":"v2","service":"a b"}"#, r#"{"version":"v2","repository":"Team/Web"}"#] {
            assert_eq!(Target::resolve(request(bad), &defaults()).unwrap_err().code(), "InvalidRequest", "{bad}");
        }
        let err = Target::resolve(request(r#"{"version":"v2;rm"}"#), &defaults()).unwrap_err();
        assert_eq!(err.code(), "InvalidVersion");
    }

    #[test]
    fn defaults_come_from_the_environment_and_bad_values_fail_fast() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
        };
        let d = Defaults::from_lookup(env(&[
            ("DEPLOY_CLUSTER", "prod"),
            ("DEPLOY_CONTAINERS", " app, worker ,"),
            ("DEPLOY_BASE", "service"),
        ]))
        .unwrap();
        assert_eq!(d.containers, ["app", "worker"]);
        assert_eq!((d.cluster.as_deref(), d.service, d.base), (Some("prod"), None, Base::Service));
        assert!(Defaults::from_lookup(env(&[("DEPLOY_BASE", "newest")])).is_err());
        assert!(Defaults::from_lookup(env(&[("DEPLOY_ROLLBACK", "yes")])).is_err());
        assert!(Defaults::from_lookup(env(&[("DEPLOY_MAX_FAILED_TASKS", "0")])).is_err());
        assert!(Defaults::from_lookup(env(&[("DEPLOY_ALLOWED_TARGETS", "prod")])).is_err());
        let d = Defaults::from_lookup(env(&[
            ("DEPLOY_ALLOWED_TARGETS", "prod/web, prod/api"),
            ("DEPLOY_ROLLBACK", "false"),
        ]))
        .unwrap();
        assert_eq!(d.allowed, [("prod".to_string(), "web".to_string()), ("prod".to_string(), "api".to_string())]);
        assert!(!d.rollback);
        assert!(Defaults::from_lookup(env(&[("DEPLOY_REPOSITORY", "UPPER")])).is_err());
    }
}
