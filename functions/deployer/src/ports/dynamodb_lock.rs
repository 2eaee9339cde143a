//! [`Lock`] on a DynamoDB table (partition key `lock_id`, a string): one item per service, taken with a
//! conditional put and a lease, released with a conditional delete. [`NoLock`] grants every lock: without a
//! table, only ECS's own view of rollouts in progress keeps two deploys apart.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::date_time::Format;
use contract::aws_error::aws_error;
use contract::AwsError;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::{Clock, Lock, LockState};

/// The lock table of the stack (`DEPLOY_LOCK_TABLE`), in the function's own region, for every region's
/// services: the lock key names the region.
pub struct DynamoLock {
    client: aws_sdk_dynamodb::Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoLock {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        DynamoLock { client, table: table.into(), clock }
    }

    async fn take(&self, key: &str, holder: &str, lease: Duration) -> Result<LockState, AwsError> {
        // Twice at most: a lock released between our conditional put and our read is free again.
        for _ in 0..2 {
            let now = i64::try_from(self.clock.unix_millis() / 1000).unwrap_or(i64::MAX);
            let since = aws_smithy_types::DateTime::from_secs(now).fmt(Format::DateTime).unwrap_or_default();
            let expires = now.saturating_add(i64::try_from(lease.as_secs()).unwrap_or(i64::MAX));
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("lock_id", AttributeValue::S(key.to_owned()))
                .item("holder", AttributeValue::S(holder.to_owned()))
                .item("since", AttributeValue::S(since))
                .item("expires_at", AttributeValue::N(expires.to_string()))
                .condition_expression("attribute_not_exists(lock_id) OR expires_at < :now")
                .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(LockState::Acquired),
                Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(aws_error("PutItem", &e)),
            }
            let item = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("lock_id", AttributeValue::S(key.to_owned()))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| aws_error("GetItem", &e))?
                .item;
            if let Some(item) = item {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                return Ok(LockState::HeldBy { holder: text("holder"), since: text("since") });
            }
        }
        Ok(LockState::HeldBy { holder: "another deploy".into(), since: "just now".into() })
    }

    async fn let_go(&self, key: &str, holder: &str) -> Result<(), AwsError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("lock_id", AttributeValue::S(key.to_owned()))
            .condition_expression("#holder = :me")
            .expression_attribute_names("#holder", "holder")
            .expression_attribute_values(":me", AttributeValue::S(holder.to_owned()))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            // Our lease ran out and someone else holds the lock now: it is theirs to release.
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(aws_error("DeleteItem", &e)),
        }
    }
}

impl Lock for DynamoLock {
    fn acquire<'a>(
        &'a self,
        key: &'a str,
        holder: &'a str,
        lease: Duration,
    ) -> BoxFuture<'a, Result<LockState, AwsError>> {
        self.take(key, holder, lease).boxed()
    }

    fn release<'a>(&'a self, key: &'a str, holder: &'a str) -> BoxFuture<'a, Result<(), AwsError>> {
        self.let_go(key, holder).boxed()
    }
}

/// Grants every lock and releases nothing: the deployer without a lock table.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoLock;

impl Lock for NoLock {
    fn acquire<'a>(&'a self, _: &'a str, _: &'a str, _: Duration) -> BoxFuture<'a, Result<LockState, AwsError>> {
        futures_util::future::ready(Ok(LockState::Acquired)).boxed()
    }

    fn release<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<(), AwsError>> {
        futures_util::future::ready(Ok(())).boxed()
    }
}
