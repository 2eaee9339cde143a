//! [`Events`] with the real EventBridge client.

use contract::aws_error::aws_error;
use contract::AwsError;

use super::SdkEcs;
use crate::ports::events::{Events, RuleTarget};

impl Events for SdkEcs {
    async fn list_rule_names_by_target(&self, target_arn: &str) -> Result<Vec<String>, AwsError> {
        let mut names = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out =
                self.events().list_rule_names_by_target().target_arn(target_arn).set_next_token(token).send().await;
            let out = out.map_err(|e| aws_error("ListRuleNamesByTarget", &e))?;
            names.extend(out.rule_names.unwrap_or_default());
            token = out.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(names);
            }
        }
    }

    async fn list_targets_by_rule(&self, rule: &str) -> Result<Vec<RuleTarget>, AwsError> {
        let mut targets = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let sent = self.events().list_targets_by_rule().rule(rule).set_next_token(token).send().await;
            let out = match sent {
                Ok(out) => out,
                // Deleted between ListRuleNamesByTarget and now: it starts nothing any more.
                Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_not_found_exception()) => {
                    return Ok(targets)
                }
                Err(e) => return Err(aws_error("ListTargetsByRule", &e)),
            };
            targets.extend(out.targets.unwrap_or_default().into_iter().map(|t| RuleTarget {
                rule: rule.to_owned(),
                task_definition: t.ecs_parameters().map(|p| p.task_definition_arn().to_owned()),
                arn: t.arn,
            }));
            token = out.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(targets);
            }
        }
    }
}
