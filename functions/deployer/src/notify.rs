//! Deploy notifications: started, succeeded, failed, rolled back, sent to a Slack incoming webhook and/or an
//! SNS topic. A notification never fails a deploy: every error is logged and dropped. Messages carry names,
//! versions, revisions and reasons, never a secret; the webhook URL is one, so it is never logged.
//!
//! [`post_json`] is the one small HTTP client of the project (http and https through hyper-rustls); the front
//! door reuses it for Slack's `response_url`.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_sns::types::MessageAttributeValue;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_rustls::{ConfigBuilderExt, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

/// How long one POST may take, connection included.
const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// Slack refuses a text object longer than 3000 characters.
const SLACK_TEXT_LIMIT: usize = 2900;
/// SNS refuses a subject longer than 100 characters (ASCII, no line breaks).
const SNS_SUBJECT_LIMIT: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Started,
    Succeeded,
    Failed,
    RolledBack,
}

impl Event {
    /// `started`, `succeeded`, `failed`, `rolled_back`: the SNS `event` attribute subscriptions filter on.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Started => "started",
            Event::Succeeded => "succeeded",
            Event::Failed => "failed",
            Event::RolledBack => "rolled_back",
        }
    }

    fn headline(self) -> &'static str {
        match self {
            Event::Started => ":rocket: Deploy started",
            Event::Succeeded => ":white_check_mark: Deploy succeeded",
            Event::Failed => ":x: Deploy failed",
            Event::RolledBack => ":leftwards_arrow_with_hook: Deploy rolled back",
        }
    }
}

/// One thing that happened to one deploy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub event: Event,
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
}

impl Notification {
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
        line
    }

    /// The service in the ECS console.
    pub fn console_url(&self) -> String {
        console_url(&self.region, &self.cluster, &self.service)
    }
}

/// `https://<region>.console.aws.amazon.com/ecs/v2/clusters/<cluster>/services/<service>`; names or ARNs.
pub fn console_url(region: &str, cluster: &str, service: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{}/services/{}",
        resource_name(cluster),
        resource_name(service)
    )
}

/// The name in a name or an ECS ARN (`…:cluster/prod`, `…:service/prod/web`, `…:service/web`).
fn resource_name(name_or_arn: &str) -> &str {
    if name_or_arn.starts_with("arn:") {
        name_or_arn.rsplit('/').next().unwrap_or(name_or_arn)
    } else {
        name_or_arn
    }
}

/// `web:1 → web:2`, `→ web:2`, `web:1 →`, or nothing.
pub fn revision_change(from: Option<&str>, to: Option<&str>) -> Option<String> {
    match (from, to) {
        (None, None) => None,
        (Some(f), Some(t)) if f == t => Some(format!("{t}, unchanged")),
        (f, t) => Some(format!("{} → {}", f.unwrap_or("?"), t.unwrap_or("?"))),
    }
}

/// `850 ms`, `12.3 s`, `4 min 05 s`.
pub fn duration_text(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{}.{} s", ms / 1000, (ms % 1000) / 100),
        _ => format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters: escape them in anything a caller or AWS wrote.
pub fn mrkdwn_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Cuts `text` to at most `limit` characters, on a character boundary, marking the cut.
pub fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(limit.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

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

/// The SNS subject: ASCII only, one line, at most 100 characters.
pub fn sns_subject(n: &Notification) -> String {
    let raw = format!(
        "ecs-deployer: {}/{} {} {}",
        resource_name(&n.cluster),
        resource_name(&n.service),
        n.version,
        n.event.as_str().replace('_', " ")
    );
    let ascii: String = raw.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect();
    ascii.chars().take(SNS_SUBJECT_LIMIT).collect()
}

/// The SNS message: the notification as JSON, with its summary and console link, for people and machines.
pub fn sns_message(n: &Notification) -> Value {
    let mut message = serde_json::to_value(n).unwrap_or_else(|_| json!({}));
    if let Value::Object(map) = &mut message {
        map.insert("summary".into(), Value::String(n.summary()));
        map.insert("console_url".into(), Value::String(n.console_url()));
    }
    message
}

/// Something that tells people about deploys. It never fails: errors are logged.
pub trait Notifier: Send + Sync {
    fn notify(&self, n: &Notification) -> impl Future<Output = ()> + Send;
}

/// Where the webhook URL comes from.
enum WebhookUrl {
    /// Read once from Secrets Manager, then kept for the life of the Lambda instance.
    Secret { client: aws_sdk_secretsmanager::Client, arn: String, cached: OnceCell<String> },
    #[cfg(test)]
    Fixed(String),
}

/// A Slack incoming webhook whose URL is a Secrets Manager secret (a plain string, or JSON with `url`).
pub struct SlackWebhook {
    url: WebhookUrl,
}

impl SlackWebhook {
    pub fn from_secret(client: aws_sdk_secretsmanager::Client, arn: impl Into<String>) -> SlackWebhook {
        SlackWebhook { url: WebhookUrl::Secret { client, arn: arn.into(), cached: OnceCell::new() } }
    }

    #[cfg(test)]
    fn fixed(url: &str) -> SlackWebhook {
        SlackWebhook { url: WebhookUrl::Fixed(url.to_owned()) }
    }

    async fn url(&self) -> Result<&str, String> {
        match &self.url {
            WebhookUrl::Secret { client, arn, cached } => cached
                .get_or_try_init(|| async {
                    let out = client.get_secret_value().secret_id(arn).send().await.map_err(|e| {
                        format!("GetSecretValue failed: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e))
                    })?;
                    let raw = out.secret_string.ok_or("the webhook secret holds no string")?;
                    webhook_url_from_secret(&raw)
                })
                .await
                .map(String::as_str),
            #[cfg(test)]
            WebhookUrl::Fixed(url) => Ok(url),
        }
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

impl Notifier for SlackWebhook {
    async fn notify(&self, n: &Notification) {
        let url = match self.url().await {
            Ok(url) => url,
            Err(error) => {
                let event = n.event.as_str();
                tracing::warn!(event, %error, "no Slack notification: the webhook URL is unavailable");
                return;
            }
        };
        match post_json(url, &slack_message(n)).await {
            Ok(status) => tracing::debug!(event = n.event.as_str(), status, "Slack notification sent"),
            Err(error) => tracing::warn!(event = n.event.as_str(), %error, "the Slack notification failed"),
        }
    }
}

/// An SNS topic: the message is [`sns_message`], with `event`, `cluster` and `service` attributes to filter on.
pub struct SnsTopic {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsTopic {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> SnsTopic {
        SnsTopic { client, topic_arn: topic_arn.into() }
    }
}

fn string_attribute(value: &str) -> Option<MessageAttributeValue> {
    MessageAttributeValue::builder().data_type("String").string_value(value).build().ok()
}

impl Notifier for SnsTopic {
    async fn notify(&self, n: &Notification) {
        let mut publish = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(sns_subject(n))
            .message(sns_message(n).to_string());
        for (name, value) in [
            ("event", n.event.as_str()),
            ("cluster", resource_name(&n.cluster)),
            ("service", resource_name(&n.service)),
        ] {
            if let Some(attribute) = string_attribute(value) {
                publish = publish.message_attributes(name, attribute);
            }
        }
        match publish.send().await {
            Ok(out) => tracing::debug!(event = n.event.as_str(), message_id = ?out.message_id, "SNS notification sent"),
            Err(e) => tracing::warn!(
                event = n.event.as_str(),
                error = %aws_sdk_sns::error::DisplayErrorContext(&e),
                "the SNS notification failed"
            ),
        }
    }
}

/// Every configured notifier: none, Slack, SNS or both. Both are told concurrently.
#[derive(Default)]
pub struct Notifiers {
    pub slack: Option<SlackWebhook>,
    pub sns: Option<SnsTopic>,
}

impl Notifiers {
    /// `NOTIFY_SLACK_WEBHOOK_SECRET_ARN` (a Secrets Manager secret holding the webhook URL, read on first use)
    /// and `NOTIFY_SNS_TOPIC_ARN`; either, both or neither.
    pub fn from_env(config: &SdkConfig) -> Notifiers {
        Notifiers::from_lookup(config, |name| std::env::var(name).ok())
    }

    pub fn from_lookup(config: &SdkConfig, var: impl Fn(&str) -> Option<String>) -> Notifiers {
        let get = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        Notifiers {
            slack: get("NOTIFY_SLACK_WEBHOOK_SECRET_ARN")
                .map(|arn| SlackWebhook::from_secret(aws_sdk_secretsmanager::Client::new(config), arn)),
            sns: get("NOTIFY_SNS_TOPIC_ARN").map(|arn| SnsTopic::new(aws_sdk_sns::Client::new(config), arn)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.slack.is_none() && self.sns.is_none()
    }
}

impl Notifier for Notifiers {
    async fn notify(&self, n: &Notification) {
        let slack = async {
            if let Some(slack) = &self.slack {
                slack.notify(n).await;
            }
        };
        let sns = async {
            if let Some(sns) = &self.sns {
                sns.notify(n).await;
            }
        };
        tokio::join!(slack, sns);
    }
}

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One client per process: loading the native root certificates is the slow part.
fn http_client() -> Result<&'static HttpClient, String> {
    static CLIENT: OnceLock<Result<HttpClient, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let tls = rustls::ClientConfig::builder()
                .with_native_roots()
                .map_err(|e| format!("no TLS root certificates: {e}"))?
                .with_no_client_auth();
            let connector =
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().build();
            Ok(Client::builder(TokioExecutor::new()).build(connector))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// POSTs `body` as JSON to an http or https `url` and returns the HTTP status when it is 2xx. Anything else
/// (a refused connection, a time-out after 10 s, a non-2xx answer) is an error whose text never contains
/// the URL, which may be a secret.
pub async fn post_json(url: &str, body: &Value) -> Result<u16, String> {
    let uri: hyper::Uri = url.parse().map_err(|_| "not a valid URL".to_owned())?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err("not an http(s) URL".into());
    }
    let request = hyper::Request::post(uri)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::USER_AGENT, "ecs-deployer")
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let client = http_client()?;
    let exchange = async {
        let response = client.request(request).await.map_err(|e| format!("POST failed: {}", error_chain(&e)))?;
        let status = response.status();
        let answer = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        if status.is_success() {
            Ok(status.as_u16())
        } else {
            let text = truncate(String::from_utf8_lossy(&answer).trim(), 200);
            Err(format!("POST answered HTTP {}: {text}", status.as_u16()))
        }
    };
    tokio::time::timeout(POST_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("POST timed out after {} s", POST_TIMEOUT.as_secs()))?
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    fn notification(event: Event) -> Notification {
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
        }
    }

    /// A one-shot HTTP server on 127.0.0.1: answers `status` and hands over the request it read.
    async fn listener(status: u16) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook/T000/B000", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = socket.read(&mut buf).await.unwrap();
                seen.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&seen).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if seen.len() >= end + 4 + length {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 7\r\nconnection: close\r\n\r\nno_text");
            socket.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&seen).to_string()
        });
        (url, task)
    }

    #[test]
    fn summaries_and_durations_read_well() {
        let cases = [
            (Event::Succeeded, Some(61_250), "web v2 succeeded on prod (web:7 → web:8) in 1 min 01 s"),
            (Event::RolledBack, Some(850), "web v2 rolled back on prod (web:7 → web:8) in 850 ms"),
            (Event::Started, None, "web v2 started on prod (web:7 → web:8)"),
        ];
        for (event, ms, expected) in cases {
            let n = Notification { duration_ms: ms, ..notification(event) };
            assert_eq!(n.summary(), expected);
        }
        assert_eq!(duration_text(12_345), "12.3 s");
        assert_eq!(revision_change(Some("web:8"), Some("web:8")).unwrap(), "web:8, unchanged");
        assert_eq!(revision_change(None, Some("web:8")).unwrap(), "? → web:8");
        assert_eq!(revision_change(None, None), None);
    }

    #[test]
    fn console_links_take_names_from_arns() {
        let n = Notification {
            cluster: "arn:aws:ecs:eu-west-1:123456789012:cluster/prod".into(),
            service: "arn:aws:ecs:eu-west-1:123456789012:service/prod/web".into(),
            ..notification(Event::Succeeded)
        };
        assert_eq!(n.console_url(), "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/web");
    }

    #[test]
    fn slack_blocks_have_a_headline_fields_a_reason_and_a_console_button() {
        let n = Notification {
            reason: Some("essential container <app> exited & stopped".into()),
            ..notification(Event::Failed)
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
        let n = Notification { reason: Some("x".repeat(10_000)), ..notification(Event::Failed) };
        let blocks = slack_blocks(&n);
        let reason = blocks[2]["text"]["text"].as_str().unwrap();
        assert!(reason.chars().count() <= SLACK_TEXT_LIMIT && reason.ends_with('…'));
    }

    #[test]
    fn sns_subjects_are_short_ascii_lines_and_messages_are_json() {
        let n = Notification { service: "wéb".repeat(40), ..notification(Event::RolledBack) };
        let subject = sns_subject(&n);
        assert!(subject.len() <= SNS_SUBJECT_LIMIT && subject.is_ascii() && !subject.contains('\n'), "{subject}");
        assert!(subject.starts_with("ecs-deployer: prod/w?bw?b"));
        let message = sns_message(&notification(Event::RolledBack));
        assert_eq!(message["event"], "rolled_back");
        assert_eq!(message["from"], "web:7");
        assert_eq!(message["summary"], notification(Event::RolledBack).summary());
        assert!(message["console_url"].as_str().unwrap().contains("/clusters/prod/services/web"));
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
    async fn post_json_sends_json_and_returns_the_status() {
        let (url, server) = listener(200).await;
        let status = post_json(&url, &json!({"text": "hello"})).await.unwrap();
        assert_eq!(status, 200);
        let request = server.await.unwrap();
        assert!(request.starts_with("POST /hook/T000/B000 HTTP/1.1\r\n"), "{request}");
        assert!(request.to_ascii_lowercase().contains("content-type: application/json"));
        assert!(request.ends_with(r#"{"text":"hello"}"#), "{request}");
    }

    #[tokio::test]
    async fn post_json_fails_on_refusals_without_showing_the_url() {
        let (url, server) = listener(404).await;
        let err = post_json(&url, &json!({})).await.unwrap_err();
        assert_eq!(err, "POST answered HTTP 404: no_text");
        server.await.unwrap();

        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/secret-path", l.local_addr().unwrap())
        };
        let err = post_json(&closed, &json!({})).await.unwrap_err();
        assert!(err.starts_with("POST failed") && !err.contains("secret-path"), "{err}");
        for bad in ["ftp://example.com/x", "/relative", "not a url"] {
            assert!(post_json(bad, &json!({})).await.is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn notifiers_post_to_the_webhook_and_never_fail() {
        let (url, server) = listener(200).await;
        let notifiers = Notifiers { slack: Some(SlackWebhook::fixed(&url)), sns: None };
        notifiers.notify(&notification(Event::Succeeded)).await;
        let request = server.await.unwrap();
        let body: Value = serde_json::from_str(&request[request.find("\r\n\r\n").unwrap() + 4..]).unwrap();
        assert_eq!(body["text"], notification(Event::Succeeded).summary());
        assert_eq!(body["blocks"][2]["type"], "actions");

        // An unreachable webhook is logged, not raised.
        let dead = Notifiers { slack: Some(SlackWebhook::fixed("http://127.0.0.1:1/x")), sns: None };
        dead.notify(&notification(Event::Failed)).await;
        assert!(Notifiers::default().is_empty());
    }

    #[test]
    fn notifiers_come_from_the_environment() {
        let config = aws_config::SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let lookup = |vars: &'static [(&'static str, &'static str)]| {
            let seen = seen.clone();
            move |name: &str| {
                seen.lock().unwrap().push(name.to_owned());
                vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
            }
        };
        let none = Notifiers::from_lookup(&config, lookup(&[("NOTIFY_SNS_TOPIC_ARN", " ")]));
        assert!(none.is_empty());
        let both = Notifiers::from_lookup(
            &config,
            lookup(&[
                ("NOTIFY_SLACK_WEBHOOK_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:hook"),
                ("NOTIFY_SNS_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:deploys"),
            ]),
        );
        assert!(both.slack.is_some() && both.sns.is_some());
        assert!(seen.lock().unwrap().contains(&"NOTIFY_SLACK_WEBHOOK_SECRET_ARN".to_owned()));
    }
}
