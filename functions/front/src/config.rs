//! The front door's configuration, read once from the environment at cold start. A malformed value stops
//! the function at start-up rather than being ignored.

use contract::env::Env;
use contract::identity::Home;
use contract::names::AllowedTarget;

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
    /// `SLACK_REPLAY_TABLE`: the DynamoDB table (the deployer's lock table) where each Slack request's
    /// (timestamp, signature) is remembered for the replay window; without it `/slack` is not configured.
    pub replay_table: Option<String>,
    /// The function's region: where the names of a request are looked for, and console links.
    pub region: String,
    /// Where this function runs, when `FRONT_FUNCTION` is its ARN; the invocation's own ARN takes precedence.
    pub home: Option<Home>,
    /// `CODEDEPLOY_OVERRIDE_CALLERS`: the callers, as `requested_by` names them (`bearer-token`, an IAM
    /// principal's ARN), whose requests may carry `codedeploy`; empty (the default): nobody's may. The
    /// deployer has its own switch (`DEPLOY_ALLOW_CODEDEPLOY_OVERRIDE`) and hook allow-list on top.
    pub codedeploy_callers: Vec<String>,
}

impl Config {
    /// Reads the configuration through `var` (the environment, or a test's table); values are trimmed and a
    /// blank one is unset. `region` is the function's own. Errors: [`FrontError::NotConfigured`] naming the
    /// variable, when `DEPLOYER_FUNCTION` is missing or a value is malformed.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>, region: &str) -> Result<Config, FrontError> {
        let env = Env::new(var);
        let deployer_function = env.text("DEPLOYER_FUNCTION").ok_or_else(|| FrontError::NotConfigured {
            what: "DEPLOYER_FUNCTION is not set: name the deployer function this door invokes".into(),
        })?;
        let slack_wait = env.flag("SLACK_DEPLOY_WAIT", true)?;
        let response_url_prefix =
            env.text("SLACK_RESPONSE_URL_PREFIX").unwrap_or_else(|| DEFAULT_RESPONSE_URL_PREFIX.into());
        if !(response_url_prefix.starts_with("https://") || response_url_prefix.starts_with("http://"))
            || response_url_prefix.matches('/').count() < 2
        {
            return Err(FrontError::NotConfigured {
                what: format!("SLACK_RESPONSE_URL_PREFIX {response_url_prefix:?} is not an http(s) URL prefix"),
            });
        }
        let self_function = env.text("FRONT_FUNCTION").or_else(|| env.text("AWS_LAMBDA_FUNCTION_NAME"));
        Ok(Config {
            deployer_function,
            home: self_function.as_deref().and_then(Home::from_function_arn),
            self_function,
            default_cluster: env.text("DEPLOY_CLUSTER"),
            default_service: env.text("DEPLOY_SERVICE"),
            allowed: AllowList::parse(env.text("ALLOWED_TARGETS").as_deref().unwrap_or(""))?,
            token_secret_arn: env.text("AUTH_TOKEN_SECRET_ARN"),
            slack_secret_arn: env.text("SLACK_SIGNING_SECRET_ARN"),
            slack_users: env.list("SLACK_ALLOWED_USERS"),
            slack_channels: env.list("SLACK_ALLOWED_CHANNELS"),
            response_url_prefix,
            slack_wait,
            replay_table: env.text("SLACK_REPLAY_TABLE"),
            region: region.to_owned(),
            codedeploy_callers: env.list("CODEDEPLOY_OVERRIDE_CALLERS"),
        })
    }

    /// [`Config::from_lookup`] over the process environment.
    pub fn from_env(region: &str) -> Result<Config, FrontError> {
        Config::from_lookup(|name| std::env::var(name).ok(), region)
    }
}

/// `cluster/service,region/cluster/service`: the services a request may name, by name, as the deployer's
/// `DEPLOY_ALLOWED_TARGETS` reads them ([`AllowedTarget`]: an entry without a region is in the function's own
/// region). Empty: any service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<AllowedTarget>);

impl AllowList {
    /// Errors: [`FrontError::NotConfigured`] for an entry that is not `cluster/service` or
    /// `region/cluster/service` of plain ECS names.
    pub fn parse(list: &str) -> Result<AllowList, FrontError> {
        let entries = list
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|entry| {
                AllowedTarget::parse(entry).map_err(|_| FrontError::NotConfigured {
                    what: format!("ALLOWED_TARGETS entry {entry:?} is not cluster/service or region/cluster/service"),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(AllowList(entries))
    }

    /// True when the list is empty: any service is allowed.
    pub fn is_open(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether service `service` of cluster `cluster` in `region` is allowed; `home_region` is the function's
    /// own, which an entry without a region stands for. `cluster` and `service` are names, resolved from
    /// whatever the request said ([`crate::check`] turns an ARN into its name only once it is known to be
    /// this account's, in `region`).
    pub fn allows(&self, region: &str, cluster: &str, service: &str, home_region: &str) -> bool {
        self.is_open() || self.0.iter().any(|a| a.matches(region, cluster, service, home_region))
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
        assert_eq!((c.replay_table.as_deref(), c.home.as_ref()), (None, None));
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
        assert!(c.allowed.allows("eu-west-1", "prod", "api", "eu-west-1"));
        assert!(!c.allowed.allows("eu-west-1", "prod", "worker", "eu-west-1"));

        let c = config(&[
            ("DEPLOYER_FUNCTION", "d"),
            ("FRONT_FUNCTION", "arn:aws:lambda:eu-west-1:123456789012:function:ecs-deployer-front"),
            ("SLACK_REPLAY_TABLE", "ecs-deployer-LockTable-1"),
        ])
        .unwrap();
        assert_eq!(c.replay_table.as_deref(), Some("ecs-deployer-LockTable-1"));
        assert_eq!(c.home.map(|h| h.account), Some("123456789012".to_owned()));
    }

    #[test]
    fn malformed_values_stop_the_start() {
        for (name, value) in [
            ("ALLOWED_TARGETS", "prod"),
            ("ALLOWED_TARGETS", "prod/web/x"),
            ("ALLOWED_TARGETS", "/web"),
            ("ALLOWED_TARGETS", "prod/we b"),
            ("ALLOWED_TARGETS", "arn:aws:ecs:us-east-1:123456789012:cluster/prod/web"),
            ("SLACK_DEPLOY_WAIT", "yes"),
            ("SLACK_RESPONSE_URL_PREFIX", "hooks.slack.com"),
        ] {
            let err = config(&[("DEPLOYER_FUNCTION", "d"), (name, value)]).unwrap_err();
            assert_eq!(err.code(), "NotConfigured", "{name}={value}");
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn the_allow_list_compares_resolved_names_exactly() {
        let list = AllowList::parse("prod/web, eu-central-1/prod/api").unwrap();
        let cases = [
            ("us-east-1", "prod", "web", true),
            // ARNs never reach the list: they are resolved (and placed) first, see check.rs.
            ("us-east-1", "arn:aws:ecs:eu-west-1:999999999999:cluster/prod", "web", false),
            ("us-east-1", "prod", "arn:aws:ecs:eu-west-1:999999999999:service/prod/web", false),
            ("us-east-1", "prod", "api", false),
            ("us-east-1", "staging", "web", false),
            ("us-east-1", "prod", "Web", false),
            // An entry without a region is the function's own region only (issue 23, D11).
            ("eu-west-1", "prod", "web", false),
            ("eu-central-1", "prod", "api", true),
        ];
        for (region, cluster, service, allowed) in cases {
            assert_eq!(list.allows(region, cluster, service, "us-east-1"), allowed, "{region}/{cluster}/{service}");
        }
        assert!(AllowList::default().allows("eu-west-1", "any", "thing", "us-east-1"));
    }
}
