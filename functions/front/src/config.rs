//! The front door's configuration, read once from the environment at cold start. A malformed value stops
//! the function at start-up rather than being ignored.

use crate::error::FrontError;

/// Where Slack's follow-up answers may be POSTed unless `SLACK_RESPONSE_URL_PREFIX` says otherwise.
pub const DEFAULT_RESPONSE_URL_PREFIX: &str = "https://hooks.slack.com/";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// The deployer function this door invokes (`DEPLOYER_FUNCTION`): a name, an ARN or `name:alias`.
    pub deployer_function: String,
    /// This function, for the Slack continuation (`FRONT_FUNCTION`, else `AWS_LAMBDA_FUNCTION_NAME`).
    pub self_function: Option<String>,
    /// `DEPLOY_CLUSTER` / `DEPLOY_SERVICE`: what a request that names none is about.
    pub default_cluster: Option<String>,
    pub default_service: Option<String>,
    /// `ALLOWED_TARGETS`: the services this door may act on; empty means any.
    pub allowed: AllowList,
    /// `AUTH_TOKEN_SECRET_ARN`: the bearer token callers without IAM must show.
    pub token_secret_arn: Option<String>,
    /// `SLACK_SIGNING_SECRET_ARN`: the Slack app's signing secret.
    pub slack_secret_arn: Option<String>,
    /// `SLACK_ALLOWED_USERS` / `SLACK_ALLOWED_CHANNELS`: Slack ids (`U…`, `C…`/`G…`).
    pub slack_users: Vec<String>,
    pub slack_channels: Vec<String>,
    /// `SLACK_RESPONSE_URL_PREFIX`: the only place follow-ups are POSTed to.
    pub response_url_prefix: String,
    /// `SLACK_DEPLOY_WAIT`: Slack deploys follow the rollout to its end (the continuation has the time).
    pub slack_wait: bool,
    /// The function's region, for console links.
    pub region: String,
}

impl Config {
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>, region: &str) -> Result<Config, FrontError> {
        let get = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let list = |name: &str| -> Vec<String> {
            get(name)
                .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let deployer_function = get("DEPLOYER_FUNCTION").ok_or_else(|| FrontError::NotConfigured {
            what: "DEPLOYER_FUNCTION is not set: name the deployer function this door invokes".into(),
        })?;
        let slack_wait = match get("SLACK_DEPLOY_WAIT").as_deref() {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => {
                return Err(FrontError::NotConfigured {
                    what: format!("SLACK_DEPLOY_WAIT is {other:?}; it takes \"true\" or \"false\""),
                })
            }
        };
        let response_url_prefix =
            get("SLACK_RESPONSE_URL_PREFIX").unwrap_or_else(|| DEFAULT_RESPONSE_URL_PREFIX.into());
        if !(response_url_prefix.starts_with("https://") || response_url_prefix.starts_with("http://"))
            || response_url_prefix.matches('/').count() < 2
        {
            return Err(FrontError::NotConfigured {
                what: format!("SLACK_RESPONSE_URL_PREFIX {response_url_prefix:?} is not an http(s) URL prefix"),
            });
        }
        Ok(Config {
            deployer_function,
            self_function: get("FRONT_FUNCTION").or_else(|| get("AWS_LAMBDA_FUNCTION_NAME")),
            default_cluster: get("DEPLOY_CLUSTER"),
            default_service: get("DEPLOY_SERVICE"),
            allowed: AllowList::parse(get("ALLOWED_TARGETS").as_deref().unwrap_or(""))?,
            token_secret_arn: get("AUTH_TOKEN_SECRET_ARN"),
            slack_secret_arn: get("SLACK_SIGNING_SECRET_ARN"),
            slack_users: list("SLACK_ALLOWED_USERS"),
            slack_channels: list("SLACK_ALLOWED_CHANNELS"),
            response_url_prefix,
            slack_wait,
            region: region.to_owned(),
        })
    }

    pub fn from_env(region: &str) -> Result<Config, FrontError> {
        Config::from_lookup(|name| std::env::var(name).ok(), region)
    }
}

/// `cluster/service,cluster/service`: the services a request may name. Empty: any service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<(String, String)>);

impl AllowList {
    pub fn parse(list: &str) -> Result<AllowList, FrontError> {
        let mut entries = Vec::new();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            match entry.split_once('/') {
                Some((cluster, service)) if !cluster.is_empty() && !service.is_empty() && !service.contains('/') => {
                    entries.push((cluster.to_owned(), service.to_owned()))
                }
                _ => {
                    return Err(FrontError::NotConfigured {
                        what: format!("ALLOWED_TARGETS entry {entry:?} is not cluster/service"),
                    })
                }
            }
        }
        Ok(AllowList(entries))
    }

    pub fn is_open(&self) -> bool {
        self.0.is_empty()
    }

    /// Names or ARNs; an ARN is compared by its name.
    pub fn allows(&self, cluster: &str, service: &str) -> bool {
        let (cluster, service) = (resource_name(cluster), resource_name(service));
        self.is_open() || self.0.iter().any(|(c, s)| c == cluster && s == service)
    }
}

/// The name in a name or an ECS ARN (`…:cluster/prod`, `…:service/prod/web`, `…:service/web`).
pub fn resource_name(name_or_arn: &str) -> &str {
    if name_or_arn.starts_with("arn:") {
        name_or_arn.rsplit('/').next().unwrap_or(name_or_arn)
    } else {
        name_or_arn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, FrontError> {
        Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()), "eu-west-1")
    }

    #[test]
    fn defaults_are_safe_and_the_deployer_is_required() {
        let c = config(&[("DEPLOYER_FUNCTION", "ecs-deployer"), ("AWS_LAMBDA_FUNCTION_NAME", "ecs-front")]).unwrap();
        assert_eq!(c.deployer_function, "ecs-deployer");
        assert_eq!(c.self_function.as_deref(), Some("ecs-front"));
        assert!(c.allowed.is_open() && c.slack_users.is_empty() && c.slack_channels.is_empty());
        assert_eq!(c.response_url_prefix, "https://hooks.slack.com/");
        assert!(c.slack_wait);
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(config(&[]).unwrap_err().code(), "NotConfigured");
    }

    #[test]
    fn lists_and_overrides_are_read() {
        let c = config(&[
            ("DEPLOYER_FUNCTION", "d"),
            ("FRONT_FUNCTION", "f:live"),
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("ALLOWED_TARGETS", " prod/web , prod/api,"),
            ("SLACK_ALLOWED_USERS", "U1, U2"),
            ("SLACK_ALLOWED_CHANNELS", "C9"),
            ("SLACK_RESPONSE_URL_PREFIX", "http://127.0.0.1:"),
            ("SLACK_DEPLOY_WAIT", "false"),
        ])
        .unwrap();
        assert_eq!(c.self_function.as_deref(), Some("f:live"));
        assert_eq!(c.slack_users, ["U1", "U2"]);
        assert_eq!(c.slack_channels, ["C9"]);
        assert_eq!(c.response_url_prefix, "http://127.0.0.1:");
        assert!(!c.slack_wait);
        assert!(c.allowed.allows("prod", "api") && !c.allowed.allows("prod", "worker"));
    }

    #[test]
    fn malformed_values_stop_the_start() {
        for (name, value) in [
            ("ALLOWED_TARGETS", "prod"),
            ("ALLOWED_TARGETS", "prod/web/x"),
            ("ALLOWED_TARGETS", "/web"),
            ("SLACK_DEPLOY_WAIT", "yes"),
            ("SLACK_RESPONSE_URL_PREFIX", "hooks.slack.com"),
        ] {
            let err = config(&[("DEPLOYER_FUNCTION", "d"), (name, value)]).unwrap_err();
            assert_eq!(err.code(), "NotConfigured", "{name}={value}");
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn the_allow_list_compares_names_and_arns() {
        let list = AllowList::parse("prod/web").unwrap();
        let cases = [
            ("prod", "web", true),
            ("arn:aws:ecs:eu-west-1:123456789012:cluster/prod", "web", true),
            ("prod", "arn:aws:ecs:eu-west-1:123456789012:service/prod/web", true),
            ("prod", "arn:aws:ecs:eu-west-1:123456789012:service/web", true),
            ("prod", "api", false),
            ("staging", "web", false),
            ("prod", "Web", false),
        ];
        for (cluster, service, allowed) in cases {
            assert_eq!(list.allows(cluster, service), allowed, "{cluster}/{service}");
        }
        assert!(AllowList::default().allows("any", "thing"));
    }
}
