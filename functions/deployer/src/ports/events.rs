//! The EventBridge calls of `cleanup`: which rules start tasks of a cluster (scheduled tasks and event targets),
//! so that a revision such a rule names is never deregistered.

use std::future::Future;

use contract::AwsError;

/// One ECS target of an EventBridge rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTarget {
    /// The rule's name (on the default event bus).
    pub rule: String,
    /// The target's `Arn`: the cluster ARN for an ECS target.
    pub arn: String,
    /// `EcsParameters.TaskDefinitionArn`: a revision ARN, or a family ARN without revision (its newest ACTIVE
    /// revision when the rule fires). `None` for a target that is not an ECS task.
    pub task_definition: Option<String>,
}

/// EventBridge in the region of the services deployed (built from the same SDK config as the ECS client).
pub trait Events: Send + Sync {
    /// [ListRuleNamesByTarget](https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_ListRuleNamesByTarget.html)
    /// on the default event bus, every page: the names of the rules with a target whose ARN is `target_arn`
    /// (for ECS targets, the cluster ARN).
    fn list_rule_names_by_target(&self, target_arn: &str)
        -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// [ListTargetsByRule](https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_ListTargetsByRule.html)
    /// of `rule` on the default event bus, every page. A rule deleted since it was listed has no targets.
    fn list_targets_by_rule(&self, rule: &str) -> impl Future<Output = Result<Vec<RuleTarget>, AwsError>> + Send;
}
