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

/// A direct-invoke deploy request. Unknown fields are refused: a misspelt `dry_run` must not deploy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    pub version: String,
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub repository: Option<String>,
    pub containers: Option<Vec<String>>,
    pub base: Option<Base>,
    #[serde(default)]
    pub dry_run: bool,
}

/// The function's configuration, read once from the environment at cold start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defaults {
    pub cluster: Option<String>,
    pub service: Option<String>,
    pub repository: Option<String>,
    pub containers: Vec<String>,
    pub base: Base,
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
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let defaults = Defaults {
            cluster: get("DEPLOY_CLUSTER"),
            service: get("DEPLOY_SERVICE"),
            repository: get("DEPLOY_REPOSITORY"),
            containers,
            base,
        };
        for (name, value) in [
            ("DEPLOY_CLUSTER", &defaults.cluster),
            ("DEPLOY_SERVICE", &defaults.service),
        ] {
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
}

impl Target {
    pub fn resolve(request: DeployRequest, defaults: &Defaults) -> Result<Target, DeployError> {
        let version = Version::parse(request.version.trim())?;
        let pick = |field: &'static str, asked: Option<String>, default: &Option<String>, env: &str| {
            asked
                .or_else(|| default.clone())
                .ok_or_else(|| DeployError::InvalidRequest {
                    reason: format!("no {field}: pass \"{field}\" or configure {env}"),
                })
        };
        let cluster = pick("cluster", request.cluster, &defaults.cluster, "DEPLOY_CLUSTER")?;
        let service = pick("service", request.service, &defaults.service, "DEPLOY_SERVICE")?;
        let repository = pick(
            "repository",
            request.repository,
            &defaults.repository,
            "DEPLOY_REPOSITORY",
        )?;
        check_name("cluster", &cluster)?;
        check_name("service", &service)?;
        check_repository(&repository)?;
        let containers = request.containers.unwrap_or_else(|| defaults.containers.clone());
        if let Some(bad) = containers.iter().find(|c| c.is_empty() || c.len() > 255) {
            return Err(DeployError::InvalidRequest {
                reason: format!("container name {bad:?} is not valid"),
            });
        }
        Ok(Target {
            cluster,
            service,
            repository,
            containers,
            base: request.base.unwrap_or(defaults.base),
            version,
            dry_run: request.dry_run,
        })
    }
}

/// Cluster and service: a name (letters, digits, `-`, `_`, up to 255) or an ECS ARN.
fn check_name(what: &str, value: &str) -> Result<(), DeployError> {
    let name_ok = !value.is_empty()
        && value.len() <= 255
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let arn_ok = value.starts_with("arn:")
        && value.len() <= 1600
        && value.split(':').nth(2) == Some("ecs")
        && !value.contains(char::is_whitespace);
    if name_ok || arn_ok {
        Ok(())
    } else {
        Err(DeployError::InvalidRequest {
            reason: format!("{what} {value:?} is not an ECS name or ARN"),
        })
    }
}

/// An ECR repository name: lowercase path components of letters, digits and `._-`, joined by `/`.
fn check_repository(value: &str) -> Result<(), DeployError> {
    let ok = (2..=256).contains(&value.len())
        && value.split('/').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
        });
    if ok {
        Ok(())
    } else {
        Err(DeployError::InvalidRequest {
            reason: format!("repository {value:?} is not an ECR repository name"),
        })
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
            containers: vec![],
            base: Base::Latest,
        }
    }

    fn request(json: &str) -> DeployRequest {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_version_is_enough_with_defaults() {
        let t = Target::resolve(request(r#"{"version":"v2"}"#), &defaults()).unwrap();
        assert_eq!(
            (t.cluster.as_str(), t.service.as_str(), t.repository.as_str()),
            ("prod", "web", "team/web")
        );
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
        assert_eq!(
            (t.containers, t.base, t.dry_run),
            (vec!["main".to_string()], Base::Service, true)
        );
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
        for bad in [
            r#"{"version":"v2","service":"a b"}"#,
            r#"{"version":"v2","repository":"Team/Web"}"#,
        ] {
            assert_eq!(
                Target::resolve(request(bad), &defaults()).unwrap_err().code(),
                "InvalidRequest",
                "{bad}"
            );
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
        assert_eq!(
            (d.cluster.as_deref(), d.service, d.base),
            (Some("prod"), None, Base::Service)
        );
        assert!(Defaults::from_lookup(env(&[("DEPLOY_BASE", "newest")])).is_err());
        assert!(Defaults::from_lookup(env(&[("DEPLOY_REPOSITORY", "UPPER")])).is_err());
    }
}
