//! The function's configuration, read once from the environment at cold start. A malformed value stops the
//! start with a [`ConfigError`]; it is never ignored.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `DEPLOY_CLUSTER`, `DEPLOY_SERVICE` | the service a request that names none deploys to | none |
//! | `DEPLOY_REPOSITORY` | the ECR repository of the image | none |
//! | `DEPLOY_CONTAINERS` | comma-separated containers that get the image | those running the repository |
//! | `DEPLOY_BASE` | `latest` or `service` | `latest` |
//! | `DEPLOY_ROLLBACK` | roll a followed, failed rollout back | `true` |
//! | `DEPLOY_PULL_THROUGH_CACHE` | `prefix=<upstream ECR host>,…`: repositories `<prefix>/<name>` cache `<name>` there | none |
//! | `DEPLOY_PIN_DIGEST` | register `repo:tag@sha256:…` (the tag's digest now) instead of the bare tag | `false` |
//! | `DEPLOY_ALLOWED_TARGETS` | `[region/]cluster/service,…`: the only services this deployer may touch | any |
//! | `DEPLOY_MAX_FAILED_TASKS` | failed tasks that fail a rollout without a circuit breaker | 3 |
//! | `DEPLOY_BUILD_VERSION_VARIABLE` | the CodeBuild variable holding the version | `IMAGE_TAG` |
//! | `DEPLOY_BUILD_PROJECTS` | comma-separated CodeBuild projects whose successful builds deploy | none: no build deploys |
//! | `DEPLOY_LOCK_TABLE` | the DynamoDB table of per-service locks, and of the deploy history | no lock, no history records |
//! | `DEPLOY_HISTORY_DAYS` | how long a deploy's history record is kept (the table's time to live) | 90 |
//! | `DEPLOY_KEEP_REVISIONS` | after a deploy that went well, deregister the family's revisions beyond the newest N (unused ones only); the default `keep` of `cleanup` | no cleanup |
//! | `DEPLOY_CODEDEPLOY_APPLICATION`, `DEPLOY_CODEDEPLOY_DEPLOYMENT_GROUP` | CODE_DEPLOY services: CodeDeploy application and group | `AppECS-<cluster>-<service>`, `DgpECS-<cluster>-<service>`, else the group naming the service |
//! | `DEPLOY_CODEDEPLOY_CONFIG` | CODE_DEPLOY services: the deployment configuration | the group's |
//! | `DEPLOY_CODEDEPLOY_HOOKS` | `Event=function,…`: AppSpec hooks (`BeforeInstall`, `AfterInstall`, `AfterAllowTestTraffic`, `BeforeAllowTraffic`, `AfterAllowTraffic`) | none |
//! | `DEPLOY_ALLOW_CODEDEPLOY_OVERRIDE` | whether a request's `codedeploy` may set the application, group, deployment configuration or add hooks (a request never drops or replaces a configured hook) | `false`: `NotAllowed` |
//! | `DEPLOY_CODEDEPLOY_HOOK_FUNCTIONS` | comma-separated Lambda function names a request's hooks may name (of this function's account and region only) | none |
//! | `NOTIFY_SLACK_WEBHOOK_SECRET_ARN`, `NOTIFY_SNS_TOPIC_ARN` | where deploys are told | nobody |

use contract::env::{ConfigError, Env};
use contract::names::{AllowedTarget, ClusterName, InputError, RepositoryName, ServiceName};
use contract::request::Base;

use crate::plan::image::PullThrough;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub cluster: Option<ClusterName>,
    pub service: Option<ServiceName>,
    pub repository: Option<RepositoryName>,
    pub containers: Vec<String>,
    pub base: Base,
    /// Roll back a followed deploy that fails.
    pub rollback: bool,
    /// Register the tag with the digest it resolves to (`repo:tag@sha256:…`).
    pub pin_digest: bool,
    /// ECR-to-ECR pull-through cache rules: where an image behind a cache prefix really lives.
    pub pull_through: Vec<PullThrough>,
    /// The only services this deployer may touch (region, cluster and service names); empty means any.
    pub allowed: Vec<AllowedTarget>,
    /// A followed rollout fails once this many of its tasks failed.
    pub max_failed_tasks: i32,
    /// The CodeBuild environment variable that holds the version a successful build deploys.
    pub build_version_variable: String,
    /// The CodeBuild projects whose successful builds are deployed; empty: none is.
    pub build_projects: Vec<String>,
    /// The DynamoDB table that holds one lock per service, and the deploy history.
    pub lock_table: Option<String>,
    /// Days a history record is kept.
    pub history_days: u32,
    /// After a deploy that went well, keep this many revisions of the family (and the ones in use).
    pub keep_revisions: Option<u32>,
    /// The Secrets Manager secret holding the Slack incoming-webhook URL.
    pub slack_webhook_secret_arn: Option<String>,
    pub sns_topic_arn: Option<String>,
    /// CODE_DEPLOY services: the CodeDeploy names a request does not give.
    pub codedeploy: crate::strategy::codedeploy::Names,
    /// Whether a request's `codedeploy` may set anything (`DEPLOY_ALLOW_CODEDEPLOY_OVERRIDE`).
    pub codedeploy_override: bool,
    /// The Lambda function names a request's hooks may name (`DEPLOY_CODEDEPLOY_HOOK_FUNCTIONS`).
    pub codedeploy_hook_functions: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cluster: None,
            service: None,
            repository: None,
            containers: Vec::new(),
            base: Base::Latest,
            rollback: true,
            pin_digest: false,
            pull_through: Vec::new(),
            allowed: Vec::new(),
            max_failed_tasks: 3,
            build_version_variable: "IMAGE_TAG".into(),
            build_projects: Vec::new(),
            lock_table: None,
            history_days: 90,
            keep_revisions: None,
            slack_webhook_secret_arn: None,
            sns_topic_arn: None,
            codedeploy: Default::default(),
            codedeploy_override: false,
            codedeploy_hook_functions: Vec::new(),
        }
    }
}

fn checked<T>(variable: &str, parsed: Result<T, InputError>) -> Result<T, ConfigError> {
    parsed.map_err(|e| {
        let reason = match e {
            InputError::Version { reason, .. } => reason.to_owned(),
            InputError::Invalid { reason } => reason,
        };
        ConfigError::new(variable, format!("is not valid: {reason}"))
    })
}

/// A CodeBuild project name: a letter or digit, then letters, digits, `-` and `_`, 2 to 255 in all
/// (<https://docs.aws.amazon.com/codebuild/latest/APIReference/API_CreateProject.html>).
fn codebuild_project_ok(name: &str) -> bool {
    (2..=255).contains(&name.len())
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Config {
    /// Reads every variable of the table above through `env`.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Config, ConfigError> {
        let base = env.choice("DEPLOY_BASE", &[("latest", Base::Latest), ("service", Base::Service)], Base::Latest)?;
        let max_failed_tasks = match env.text("DEPLOY_MAX_FAILED_TASKS") {
            None => 3,
            Some(v) => v.parse::<i32>().ok().filter(|n| *n > 0).ok_or_else(|| {
                ConfigError::new("DEPLOY_MAX_FAILED_TASKS", format!("is {v:?}; it takes a positive number"))
            })?,
        };
        let allowed = env
            .list("DEPLOY_ALLOWED_TARGETS")
            .iter()
            .map(|entry| checked("DEPLOY_ALLOWED_TARGETS", AllowedTarget::parse(entry)))
            .collect::<Result<Vec<_>, _>>()?;
        let build_projects = env.list("DEPLOY_BUILD_PROJECTS");
        if let Some(bad) = build_projects.iter().find(|p| !codebuild_project_ok(p)) {
            return Err(ConfigError::new("DEPLOY_BUILD_PROJECTS", format!("{bad:?} is not a CodeBuild project name")));
        }
        let mut hooks = std::collections::BTreeMap::new();
        for entry in env.list("DEPLOY_CODEDEPLOY_HOOKS") {
            let (event, function) = entry.split_once('=').ok_or_else(|| {
                ConfigError::new("DEPLOY_CODEDEPLOY_HOOKS", format!("{entry:?} is not Event=function"))
            })?;
            hooks.insert(event.trim().to_owned(), function.trim().to_owned());
        }
        crate::strategy::codedeploy::check_hooks(&hooks).map_err(|r| ConfigError::new("DEPLOY_CODEDEPLOY_HOOKS", r))?;
        let codedeploy = crate::strategy::codedeploy::Names {
            application: env.text("DEPLOY_CODEDEPLOY_APPLICATION"),
            deployment_group: env.text("DEPLOY_CODEDEPLOY_DEPLOYMENT_GROUP"),
            deployment_config: env.text("DEPLOY_CODEDEPLOY_CONFIG"),
            hooks,
        };
        let codedeploy_hook_functions = env.list("DEPLOY_CODEDEPLOY_HOOK_FUNCTIONS");
        if let Some(bad) = codedeploy_hook_functions
            .iter()
            .find(|f| crate::strategy::codedeploy::hook_function(f, None).ok() != Some(f.as_str()))
        {
            return Err(ConfigError::new(
                "DEPLOY_CODEDEPLOY_HOOK_FUNCTIONS",
                format!("{bad:?} is not a Lambda function name (names only: a request's ARN must be of this account and region)"),
            ));
        }
        let number =
            |variable: &str, max: u32| -> Result<Option<u32>, ConfigError> {
                match env.text(variable) {
                    None => Ok(None),
                    Some(v) => v.parse::<u32>().ok().filter(|n| (1..=max).contains(n)).map(Some).ok_or_else(|| {
                        ConfigError::new(variable, format!("is {v:?}; it takes a number from 1 to {max}"))
                    }),
                }
            };
        let history_days = number("DEPLOY_HISTORY_DAYS", 3650)?.unwrap_or(90);
        let keep_revisions = number("DEPLOY_KEEP_REVISIONS", crate::request::MAX_KEEP)?;
        let cluster = env.text("DEPLOY_CLUSTER");
        let service = env.text("DEPLOY_SERVICE");
        let repository = env.text("DEPLOY_REPOSITORY");
        Ok(Config {
            cluster: cluster.map(|c| checked("DEPLOY_CLUSTER", ClusterName::parse("cluster", &c))).transpose()?,
            service: service.map(|s| checked("DEPLOY_SERVICE", ServiceName::parse("service", &s))).transpose()?,
            repository: repository.map(|r| checked("DEPLOY_REPOSITORY", RepositoryName::parse(&r))).transpose()?,
            containers: env.list("DEPLOY_CONTAINERS"),
            base,
            rollback: env.flag("DEPLOY_ROLLBACK", true)?,
            pin_digest: env.flag("DEPLOY_PIN_DIGEST", false)?,
            pull_through: env
                .list("DEPLOY_PULL_THROUGH_CACHE")
                .iter()
                .map(|entry| PullThrough::parse(entry).map_err(|e| ConfigError::new("DEPLOY_PULL_THROUGH_CACHE", e)))
                .collect::<Result<_, _>>()?,
            allowed,
            max_failed_tasks,
            build_version_variable: env.text("DEPLOY_BUILD_VERSION_VARIABLE").unwrap_or_else(|| "IMAGE_TAG".into()),
            build_projects,
            lock_table: env.text("DEPLOY_LOCK_TABLE"),
            history_days,
            keep_revisions,
            slack_webhook_secret_arn: env.text("NOTIFY_SLACK_WEBHOOK_SECRET_ARN"),
            sns_topic_arn: env.text("NOTIFY_SNS_TOPIC_ARN"),
            codedeploy,
            codedeploy_override: env.flag("DEPLOY_ALLOW_CODEDEPLOY_OVERRIDE", false)?,
            codedeploy_hook_functions,
        })
    }

    /// A configuration naming one service and repository: what tests and local worlds use.
    pub fn for_service(cluster: &str, service: &str, repository: &str) -> Result<Config, InputError> {
        Ok(Config {
            cluster: Some(ClusterName::parse("cluster", cluster)?),
            service: Some(ServiceName::parse("service", service)?),
            repository: Some(RepositoryName::parse(repository)?),
            ..Config::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::new(move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn defaults_come_from_the_environment_and_bad_values_fail_fast() {
        let d = Config::from_env(&env(&[
            ("DEPLOY_CLUSTER", "prod"),
            ("DEPLOY_CONTAINERS", " app, worker ,"),
            ("DEPLOY_BASE", "service"),
        ]))
        .unwrap();
        assert_eq!(d.containers, ["app", "worker"]);
        assert_eq!((d.cluster.as_deref(), d.service, d.base), (Some("prod"), None, Base::Service));
        for bad in [
            &[("DEPLOY_BASE", "newest")][..],
            &[("DEPLOY_ROLLBACK", "yes")],
            &[("DEPLOY_MAX_FAILED_TASKS", "0")],
            &[("DEPLOY_ALLOWED_TARGETS", "prod")],
            &[("DEPLOY_ALLOWED_TARGETS", "arn:aws:ecs:eu-west-1:111122223333:service/prod/web")],
            &[("DEPLOY_ALLOWED_TARGETS", "Mars/prod/web")],
            &[("DEPLOY_BUILD_PROJECTS", "web image")],
            &[("DEPLOY_REPOSITORY", "UPPER")],
            &[("DEPLOY_CLUSTER", "a b")],
            &[("DEPLOY_PULL_THROUGH_CACHE", "docker-hub=registry-1.docker.io")],
            &[("DEPLOY_PIN_DIGEST", "sometimes")],
            &[("DEPLOY_KEEP_REVISIONS", "0")],
            &[("DEPLOY_HISTORY_DAYS", "forever")],
            &[("DEPLOY_ALLOW_CODEDEPLOY_OVERRIDE", "maybe")],
            &[("DEPLOY_CODEDEPLOY_HOOK_FUNCTIONS", "arn:aws:lambda:us-east-1:999999999999:function:collector")],
            &[("DEPLOY_CODEDEPLOY_HOOK_FUNCTIONS", "check:live")],
        ] {
            let err = Config::from_env(&env(bad)).unwrap_err();
            assert_eq!(err.variable, bad[0].0, "{err}");
        }
        let d = Config::from_env(&env(&[
            ("DEPLOY_ALLOWED_TARGETS", "prod/web, eu-central-1/prod/api"),
            ("DEPLOY_BUILD_PROJECTS", "web-image, api_image"),
            ("DEPLOY_ROLLBACK", "false"),
            ("DEPLOY_LOCK_TABLE", "locks"),
            ("NOTIFY_SNS_TOPIC_ARN", " "),
        ]))
        .unwrap();
        let allowed: Vec<String> = d.allowed.iter().map(ToString::to_string).collect();
        assert_eq!(allowed, ["prod/web", "eu-central-1/prod/api"]);
        assert_eq!(d.build_projects, ["web-image", "api_image"]);
        assert!(!d.rollback);
        assert_eq!((d.lock_table.as_deref(), d.sns_topic_arn), (Some("locks"), None));
        let d = Config::from_env(&env(&[
            ("DEPLOY_PIN_DIGEST", "true"),
            ("DEPLOY_PULL_THROUGH_CACHE", "ecr-central=999999999999.dkr.ecr.us-west-2.amazonaws.com"),
        ]))
        .unwrap();
        assert!(d.pin_digest);
        assert_eq!(d.pull_through.iter().map(|p| p.prefix.as_str()).collect::<Vec<_>>(), ["ecr-central"]);
        assert_eq!((d.history_days, d.keep_revisions), (90, None));
        let d = Config::from_env(&env(&[("DEPLOY_KEEP_REVISIONS", "20"), ("DEPLOY_HISTORY_DAYS", "30")])).unwrap();
        assert_eq!((d.history_days, d.keep_revisions), (30, Some(20)));
    }
}
