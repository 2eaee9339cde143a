//! SNS: the notification as JSON with its summary and console link, and `event`, `cluster` and `service`
//! message attributes that subscriptions filter on.

use aws_sdk_sns::types::MessageAttributeValue;
use contract::text::resource_name;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde_json::{json, Value};

use super::{Notification, Notifier};

/// SNS refuses a subject longer than 100 characters (ASCII, no line breaks).
pub(crate) const SNS_SUBJECT_LIMIT: usize = 100;

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

impl SnsTopic {
    async fn publish(&self, n: &Notification) {
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

impl Notifier for SnsTopic {
    fn notify<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, ()> {
        self.publish(n).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::tests::notification;
    use crate::notify::DeployEvent;

    #[test]
    fn sns_subjects_are_short_ascii_lines_and_messages_are_json() {
        let n = Notification { service: "wéb".repeat(40), ..notification(DeployEvent::RolledBack) };
        let subject = sns_subject(&n);
        assert!(subject.len() <= SNS_SUBJECT_LIMIT && subject.is_ascii() && !subject.contains('\n'), "{subject}");
        assert!(subject.starts_with("ecs-deployer: prod/w?bw?b"));
        let message = sns_message(&notification(DeployEvent::RolledBack));
        assert_eq!(message["event"], "rolled_back");
        assert_eq!(message["from"], "web:7");
        assert_eq!(message["summary"], notification(DeployEvent::RolledBack).summary());
        assert!(message["console_url"].as_str().unwrap().contains("/clusters/prod/services/web"));
    }
}
