//! Deploy notifications: started, succeeded, failed, rolled back, told to every configured [`Notifier`]
//! (a Slack incoming webhook, an SNS topic, or none). A notification never fails a deploy: every error is
//! logged and dropped. Messages carry names, versions, revisions and reasons, never a secret; the webhook URL
//! is one, so it is never logged.

pub mod slack;
pub mod sns;

use aws_config::SdkConfig;
use contract::secrets::SecretsManager;
use contract::text::{console_url, duration_text, resource_name, revision_change};
use futures_util::future::{join_all, BoxFuture};
use futures_util::FutureExt;
use serde::Serialize;

use crate::config::Config;
use crate::request::ServiceRef;

pub use slack::SlackWebhook;
pub use sns::SnsTopic;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeployEvent {
    Started,
    /// A stage or traffic step of an ECS-native service deployment (from its state-change events).
    Progress,
    Succeeded,
    Failed,
    RolledBack,
}

impl DeployEvent {
    /// `started`, `progress`, `succeeded`, `failed`, `rolled_back`: the SNS `event` attribute subscriptions filter on.
    pub fn as_str(self) -> &'static str {
        match self {
            DeployEvent::Started => "started",
            DeployEvent::Progress => "progress",
            DeployEvent::Succeeded => "succeeded",
            DeployEvent::Failed => "failed",
            DeployEvent::RolledBack => "rolled_back",
        }
    }

    fn headline(self) -> &'static str {
        match self {
            DeployEvent::Started => ":rocket: Deploy started",
            DeployEvent::Progress => ":hourglass_flowing_sand: Deploy in progress",
            DeployEvent::Succeeded => ":white_check_mark: Deploy succeeded",
            DeployEvent::Failed => ":x: Deploy failed",
            DeployEvent::RolledBack => ":leftwards_arrow_with_hook: Deploy rolled back",
        }
    }
}

/// One thing that happened to one deploy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub event: DeployEvent,
    pub cluster: String,
    pub service: String,
    pub version: String,
    /// The revision the service ran before, `family:revision`.
    pub from: Option<String>,
    /// The revision the service runs (or is being moved to) now.
    pub to: Option<String>,
    /// Why it failed or was rolled back.
    pub reason: Option<String>,
    pub duration_ms: Option<u64>,
    pub region: String,
    /// Where an ECS-native service deployment stands: its `lifecycleStage` (`PRODUCTION_TRAFFIC_SHIFT`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The production traffic on the new revision, percent (canary and linear steps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub production_traffic_percent: Option<f64>,
}

impl Notification {
    /// A notification about the service `at` (in its own region, else `home_region`): `version`, the
    /// revisions `from` → `to`, why, and how long it took, in milliseconds.
    #[allow(clippy::too_many_arguments)]
    pub fn about(
        event: DeployEvent,
        at: &ServiceRef,
        home_region: &str,
        version: &str,
        from: Option<&str>,
        to: Option<&str>,
        reason: Option<String>,
        duration_ms: Option<u64>,
    ) -> Notification {
        Notification {
            event,
            cluster: at.cluster.to_string(),
            service: at.service.to_string(),
            version: version.to_owned(),
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            reason,
            duration_ms,
            region: at.region.as_deref().unwrap_or(home_region).to_owned(),
            stage: None,
            production_traffic_percent: None,
        }
    }

    /// One line for people: `web v2 succeeded on demo (web:1 → web:2) in 1.2 s`.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{} {} {} on {}",
            resource_name(&self.service),
            self.version,
            self.event.as_str().replace('_', " "),
            resource_name(&self.cluster)
        );
        if let Some(change) = revision_change(self.from.as_deref(), self.to.as_deref()) {
            line.push_str(&format!(" ({change})"));
        }
        if let Some(ms) = self.duration_ms {
            line.push_str(&format!(" in {}", duration_text(ms)));
        }
        if let Some(progress) = self.progress() {
            line.push_str(&format!(": {progress}"));
        }
        line
    }

    /// `PRODUCTION_TRAFFIC_SHIFT, 10% of production traffic on the new revision`, when known.
    pub fn progress(&self) -> Option<String> {
        let traffic =
            self.production_traffic_percent.map(|p| format!("{p}% of production traffic on the new revision"));
        match (self.stage.as_deref(), traffic) {
            (Some(stage), Some(traffic)) => Some(format!("{stage}, {traffic}")),
            (Some(stage), None) => Some(stage.to_owned()),
            (None, traffic) => traffic,
        }
    }

    /// The service in the ECS console.
    pub fn console_url(&self) -> String {
        console_url(&self.region, &self.cluster, &self.service)
    }
}

/// Something that tells people about deploys. It never fails: errors are logged.
pub trait Notifier: Send + Sync {
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, ()>;
}

/// Tells nobody: the deployer without notifications.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNotifier;

impl Notifier for NoNotifier {
    fn notify<'a>(&'a self, _: &'a Notification) -> BoxFuture<'a, ()> {
        futures_util::future::ready(()).boxed()
    }
}

/// Every configured notifier, told concurrently.
#[derive(Default)]
pub struct Notifiers(Vec<Box<dyn Notifier>>);

impl Notifiers {
    /// A Slack webhook when `NOTIFY_SLACK_WEBHOOK_SECRET_ARN` is set (the secret is read on first use) and an
    /// SNS topic when `NOTIFY_SNS_TOPIC_ARN` is; either, both or neither.
    pub fn from_config(config: &Config, sdk: &SdkConfig) -> Notifiers {
        let mut all: Vec<Box<dyn Notifier>> = Vec::new();
        if let Some(arn) = &config.slack_webhook_secret_arn {
            all.push(Box::new(SlackWebhook::from_secret(SecretsManager::new(sdk), arn.clone())));
        }
        if let Some(arn) = &config.sns_topic_arn {
            all.push(Box::new(SnsTopic::new(aws_sdk_sns::Client::new(sdk), arn.clone())));
        }
        Notifiers(all)
    }

    pub fn with(mut self, notifier: impl Notifier + 'static) -> Self {
        self.0.push(Box::new(notifier));
        self
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Notifier for Notifiers {
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, ()> {
        join_all(self.0.iter().map(|each| each.notify(n))).map(|_| ()).boxed()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn notification(event: DeployEvent) -> Notification {
        Notification {
            event,
            cluster: "prod".into(),
            service: "web".into(),
            version: "v2".into(),
            from: Some("web:7".into()),
            to: Some("web:8".into()),
            reason: None,
            duration_ms: Some(61_250),
            region: "eu-west-1".into(),
            stage: None,
            production_traffic_percent: None,
        }
    }

    #[test]
    fn progress_says_the_stage_and_the_traffic() {
        let n = Notification {
            stage: Some("PRODUCTION_TRAFFIC_SHIFT".into()),
            production_traffic_percent: Some(10.0),
            duration_ms: None,
            ..notification(DeployEvent::Progress)
        };
        assert_eq!(
            n.summary(),
            "web v2 progress on prod (web:7 → web:8): PRODUCTION_TRAFFIC_SHIFT, 10% of production traffic on the new revision"
        );
        let blocks = slack::slack_blocks(&n);
        assert!(blocks[1]["fields"].to_string().contains("*Progress*\\nPRODUCTION_TRAFFIC_SHIFT, 10%"), "{blocks}");
        let sns = sns::sns_message(&n);
        assert_eq!(
            (sns["stage"].as_str(), sns["production_traffic_percent"].as_f64()),
            (Some("PRODUCTION_TRAFFIC_SHIFT"), Some(10.0))
        );
        assert!(sns::sns_message(&notification(DeployEvent::Succeeded)).get("stage").is_none());
    }

    #[test]
    fn summaries_and_durations_read_well() {
        let cases = [
            (DeployEvent::Succeeded, Some(61_250), "web v2 succeeded on prod (web:7 → web:8) in 1 min 01 s"),
            (DeployEvent::RolledBack, Some(850), "web v2 rolled back on prod (web:7 → web:8) in 850 ms"),
            (DeployEvent::Started, None, "web v2 started on prod (web:7 → web:8)"),
        ];
        for (event, ms, expected) in cases {
            let n = Notification { duration_ms: ms, ..notification(event) };
            assert_eq!(n.summary(), expected);
        }
    }

    #[test]
    fn console_links_take_names_from_arns() {
        let n = Notification {
            cluster: "arn:aws:ecs:eu-west-1:123456789012:cluster/prod".into(),
            service: "arn:aws:ecs:eu-west-1:123456789012:service/prod/web".into(),
            ..notification(DeployEvent::Succeeded)
        };
        assert_eq!(n.console_url(), "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/web");
    }

    #[test]
    fn notifiers_come_from_the_configuration() {
        let sdk = aws_config::SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build();
        assert!(Notifiers::from_config(&Config::default(), &sdk).is_empty());
        let config = Config {
            slack_webhook_secret_arn: Some("arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook".into()),
            sns_topic_arn: Some("arn:aws:sns:eu-west-1:123456789012:deploys".into()),
            ..Config::default()
        };
        assert_eq!(Notifiers::from_config(&config, &sdk).len(), 2);
    }
}
