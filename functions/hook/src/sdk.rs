//! [`Aws`] over the AWS SDK: one CloudWatch and one CodeDeploy client, built once per cold start.

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::types::AlarmType;
use aws_sdk_codedeploy::types::LifecycleEventStatus;
use contract::aws_error::{aws_error, AwsError};

use crate::ports::{Aws, LifecycleStatus, Reported};

pub struct SdkAws {
    cloudwatch: aws_sdk_cloudwatch::Client,
    codedeploy: aws_sdk_codedeploy::Client,
    sns: aws_sdk_sns::Client,
}

impl SdkAws {
    pub fn new(config: &SdkConfig) -> SdkAws {
        SdkAws {
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            codedeploy: aws_sdk_codedeploy::Client::new(config),
            sns: aws_sdk_sns::Client::new(config),
        }
    }
}

impl Aws for SdkAws {
    async fn alarm_states(&self, names: &[String]) -> Result<Vec<(String, String)>, AwsError> {
        let mut states = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .cloudwatch
                .describe_alarms()
                .set_alarm_names(Some(names.to_vec()))
                .alarm_types(AlarmType::MetricAlarm)
                .alarm_types(AlarmType::CompositeAlarm)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| aws_error("DescribeAlarms", &e))?;
            for a in out.metric_alarms() {
                states.push((
                    a.alarm_name().unwrap_or_default().to_owned(),
                    a.state_value().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                ));
            }
            for a in out.composite_alarms() {
                states.push((
                    a.alarm_name().unwrap_or_default().to_owned(),
                    a.state_value().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                ));
            }
            token = out.next_token;
            if token.is_none() {
                return Ok(states);
            }
        }
    }

    async fn publish(&self, topic: &str, subject: &str, message: &str) -> Result<(), AwsError> {
        self.sns
            .publish()
            .topic_arn(topic)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws_error("Publish", &e))
    }

    async fn report(
        &self,
        deployment_id: &str,
        execution_id: &str,
        status: LifecycleStatus,
    ) -> Result<Reported, AwsError> {
        let status = match status {
            LifecycleStatus::Succeeded => LifecycleEventStatus::Succeeded,
            LifecycleStatus::Failed => LifecycleEventStatus::Failed,
        };
        match self
            .codedeploy
            .put_lifecycle_event_hook_execution_status()
            .deployment_id(deployment_id)
            .lifecycle_event_hook_execution_id(execution_id)
            .status(status)
            .send()
            .await
        {
            Ok(_) => Ok(Reported::Recorded),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_lifecycle_event_already_completed_exception()) => {
                Ok(Reported::AlreadyCompleted)
            }
            Err(e) => Err(aws_error("PutLifecycleEventHookExecutionStatus", &e)),
        }
    }
}
