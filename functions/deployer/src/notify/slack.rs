//! Slack: a Block Kit message per notification, POSTed to an incoming webhook whose URL is a Secrets
//! Manager secret (a plain string, or JSON with `url`), read once per instance.

use contract::http::post_json;
use contract::secrets::{CachedSecret, SecretStore};
use contract::text::{duration_text, mrkdwn_escape, resource_name, revision_change, truncate};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde_json::{json, Value};

use super::{Notification, Notifier};

/// Slack refuses a text object longer than 3000 characters.
pub(crate) const SLACK_TEXT_LIMIT: usize = 2900;

/// The Block Kit blocks of a notification: a headline, the facts as fields, the reason, a console button.
pub fn slack_blocks(n: &Notification) -> Value {
    let code = |s: &str| format!("`{}`", mrkdwn_escape(s));
    let target = format!("{}/{}", resource_name(&n.cluster), resource_name(&n.service));
    let mut fields = vec![
        json!({"type": "mrkdwn", "text": format!("*Service*\n{}", code(&target))}),
        json!({"type": "mrkdwn", "text": format!("*Version*\n{}", code(&n.version))}),
    ];
    if let Some(change) = revision_change(n.from.as_deref(), n.to.as_deref()) {
        fields.push(json!({"type": "mrkdwn", "text": format!("*Revision*\n{}", mrkdwn_escape(&change))}));
    }
    if let Some(ms) = n.duration_ms {
        fields.push(json!({"type": "mrkdwn", "text": format!("*Duration*\n{}", duration_text(ms))}));
    }
    if let Some(progress) = n.progress() {
        fields.push(json!({"type": "mrkdwn", "text": format!("*Progress*\n{}", mrkdwn_escape(&progress))}));
    }
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*{}*: {} {} on {}",
            n.event.headline(),
            code(resource_name(&n.service)),
            code(&n.version),
            code(resource_name(&n.cluster)),
        )}}),
        json!({"type": "section", "fields": fields}),
    ];
    if let Some(reason) = &n.reason {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn",
            "text": truncate(&format!("*Reason*\n{}", mrkdwn_escape(reason)), SLACK_TEXT_LIMIT)}}));
    }
    blocks.push(json!({"type": "actions", "elements": [{
        "type": "button",
        "text": {"type": "plain_text", "text": "Open in the ECS console"},
        "url": n.console_url(),
    }]}));
    Value::Array(blocks)
}

/// The whole webhook message: the blocks and a plain-text fallback for notifications and old clients.
pub fn slack_message(n: &Notification) -> Value {
    json!({"text": n.summary(), "blocks": slack_blocks(n)})
}

/// A Slack incoming webhook whose URL is a Secrets Manager secret (a plain string, or JSON with `url`).
pub struct SlackWebhook<S> {
    store: S,
    secret: CachedSecret,
}

impl<S: SecretStore> SlackWebhook<S> {
    pub fn from_secret(store: S, arn: impl Into<String>) -> SlackWebhook<S> {
        SlackWebhook { store, secret: CachedSecret::new(Some(arn.into())) }
    }

    async fn url(&self) -> Result<String, String> {
        let secret =
            self.secret.get(&self.store, "NOTIFY_SLACK_WEBHOOK_SECRET_ARN").await.map_err(|e| e.to_string())?;
        let raw = secret.expose_str().ok_or("the webhook secret holds no string")?;
        webhook_url_from_secret(raw)
    }

    async fn send(&self, n: &Notification) {
        let url = match self.url().await {
            Ok(url) => url,
            Err(error) => {
                let event = n.event.as_str();
                tracing::warn!(event, %error, "no Slack notification: the webhook URL is unavailable");
                return;
            }
        };
        match post_json(&url, &slack_message(n)).await {
            Ok(status) => tracing::debug!(event = n.event.as_str(), status, "Slack notification sent"),
            Err(error) => tracing::warn!(event = n.event.as_str(), %error, "the Slack notification failed"),
        }
    }
}

impl<S: SecretStore> Notifier for SlackWebhook<S> {
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, ()> {
        self.send(n).boxed()
    }
}

/// The URL in a webhook secret: the whole string, or the `url` (or `webhook_url`) of a JSON object.
fn webhook_url_from_secret(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    let url = match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(map)) => map
            .get("url")
            .or_else(|| map.get("webhook_url"))
            .and_then(Value::as_str)
            .ok_or("the webhook secret is JSON without a \"url\"")?
            .to_owned(),
        _ => raw.to_owned(),
    };
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url)
    } else {
        Err("the webhook secret is not an http(s) URL".into())
    }
}

#[cfg(test)]
mod tests {
    use contract::secrets::Secret;
    use contract::testing::{json_body, one_shot_http};
    use contract::AwsError;

    use super::*;
    use crate::notify::tests::notification;
    use crate::notify::{DeployEvent, Notifiers};

    /// A secret store holding one webhook URL under every ARN.
    struct Fixed(String);

    impl SecretStore for Fixed {
        async fn read(&self, _arn: &str) -> Result<Secret, AwsError> {
            Ok(Secret::new(&self.0))
        }
    }

    fn webhook(url: &str) -> SlackWebhook<Fixed> {
        SlackWebhook::from_secret(Fixed(url.to_owned()), "arn:aws:secretsmanager:eu-west-1:1:secret:hook")
    }

    #[test]
    fn slack_blocks_have_a_headline_fields_a_reason_and_a_console_button() {
        let n = Notification {
            reason: Some("essential container <app> exited & stopped".into()),
            ..notification(DeployEvent::Failed)
        };
        let message = slack_message(&n);
        assert_eq!(message["text"], n.summary());
        let blocks = message["blocks"].as_array().unwrap();
        let types: Vec<_> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["section", "section", "section", "actions"]);
        let headline = blocks[0]["text"]["text"].as_str().unwrap();
        assert!(
            headline.contains(":x: Deploy failed") && headline.contains("`web`") && headline.contains("`v2`"),
            "{headline}"
        );
        let fields: Vec<_> =
            blocks[1]["fields"].as_array().unwrap().iter().map(|f| f["text"].as_str().unwrap()).collect();
        assert_eq!(
            fields,
            ["*Service*\n`prod/web`", "*Version*\n`v2`", "*Revision*\nweb:7 → web:8", "*Duration*\n1 min 01 s"]
        );
        assert_eq!(blocks[2]["text"]["text"], "*Reason*\nessential container &lt;app&gt; exited &amp; stopped");
        assert_eq!(blocks[3]["elements"][0]["url"], n.console_url());
        assert_eq!(blocks[3]["elements"][0]["text"]["type"], "plain_text");
    }

    #[test]
    fn a_long_reason_is_cut_to_what_slack_takes() {
        let n = Notification { reason: Some("x".repeat(10_000)), ..notification(DeployEvent::Failed) };
        let blocks = slack_blocks(&n);
        let reason = blocks[2]["text"]["text"].as_str().unwrap();
        assert!(reason.chars().count() <= SLACK_TEXT_LIMIT && reason.ends_with('…'));
    }

    #[test]
    fn webhook_secrets_are_a_url_or_json_with_one() {
        let cases: [(&str, Result<&str, ()>); 5] = [
            ("https://hooks.slack.com/services/T/B/x\n", Ok("https://hooks.slack.com/services/T/B/x")),
            (r#"{"url": "https://hooks.slack.com/services/T/B/y"}"#, Ok("https://hooks.slack.com/services/T/B/y")),
            (r#"{"webhook_url": "http://127.0.0.1:9/h"}"#, Ok("http://127.0.0.1:9/h")),
            (r#"{"token": "abc"}"#, Err(())),
            ("xoxb-not-a-url", Err(())),
        ];
        for (raw, expected) in cases {
            assert_eq!(webhook_url_from_secret(raw).map_err(|_| ()), expected.map(str::to_owned), "{raw}");
        }
    }

    #[tokio::test]
    async fn notifiers_post_to_the_webhook_and_never_fail() {
        let (url, server) = one_shot_http(200, "/hook/T000/B000").await;
        let notifiers = Notifiers::default().with(webhook(&url));
        notifiers.notify(&notification(DeployEvent::Succeeded)).await;
        let body = json_body(&server.await.unwrap());
        assert_eq!(body["text"], notification(DeployEvent::Succeeded).summary());
        assert_eq!(body["blocks"][2]["type"], "actions");

        // An unreachable webhook is logged, not raised.
        let dead = Notifiers::default().with(webhook("http://127.0.0.1:1/x"));
        dead.notify(&notification(DeployEvent::Failed)).await;
        assert!(Notifiers::default().is_empty());
    }
}
