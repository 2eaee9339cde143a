//! [`History`] on the lock table (`DEPLOY_LOCK_TABLE`): one item per deploy or rollback, beside the locks.
//!
//! | attribute | value |
//! |---|---|
//! | `lock_id` (key) | `history/<region>/<cluster>/<service>/<started unix ms>/<request id>` |
//! | `history_of` | `<region>/<cluster>/<service>`: the partition key of the `history` index |
//! | `at` | started, unix milliseconds: the sort key of the `history` index |
//! | `expires_at` | unix seconds after which DynamoDB's time to live removes the item (the locks' attribute) |
//! | `entry` | the [`HistoryEntry`] as JSON |
//!
//! Locks carry no `history_of`, so the index holds history records only. Reads go through the index
//! (newest first, eventually consistent): a record written a moment ago may show a moment later.

use aws_sdk_dynamodb::types::AttributeValue;
use contract::aws_error::aws_error;
use contract::result::HistoryEntry;
use contract::AwsError;
use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use super::{History, HistoryRecord};

/// The global secondary index of the lock table that lists a service's records by time.
pub const HISTORY_INDEX: &str = "history";

pub struct DynamoHistory {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoHistory {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoHistory { client, table: table.into() }
    }

    async fn put(&self, record: &HistoryRecord) -> Result<(), AwsError> {
        let entry = serde_json::to_string(&record.entry).unwrap_or_default();
        self.client
            .put_item()
            .table_name(&self.table)
            .item("lock_id", AttributeValue::S(format!("history/{}/{}", record.service, record.id)))
            .item("history_of", AttributeValue::S(record.service.clone()))
            .item("at", AttributeValue::N(record.at_ms.to_string()))
            .item("expires_at", AttributeValue::N(record.expires_at.to_string()))
            .item("entry", AttributeValue::S(entry))
            .send()
            .await
            .map_err(|e| aws_error("PutItem", &e))?;
        Ok(())
    }

    async fn query(&self, service: &str, limit: u32) -> Result<Vec<HistoryRecord>, AwsError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(HISTORY_INDEX)
            .key_condition_expression("history_of = :service")
            .expression_attribute_values(":service", AttributeValue::S(service.to_owned()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| aws_error("Query", &e))?;
        let prefix = format!("history/{service}/");
        let read = |item: &std::collections::HashMap<String, AttributeValue>| -> Option<HistoryRecord> {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
            let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<u64>().ok());
            // A record this version cannot read (written by a newer one) is left out, not an error.
            let entry = serde_json::from_str::<HistoryEntry>(text("entry")?).ok()?;
            Some(HistoryRecord {
                service: service.to_owned(),
                id: text("lock_id")?.strip_prefix(&prefix)?.to_owned(),
                at_ms: number("at")?,
                expires_at: number("expires_at").unwrap_or_default(),
                entry,
            })
        };
        Ok(out.items().iter().filter_map(read).collect())
    }
}

impl History for DynamoHistory {
    fn put<'a>(&'a self, record: &'a HistoryRecord) -> BoxFuture<'a, Result<(), AwsError>> {
        DynamoHistory::put(self, record).boxed()
    }

    fn recent<'a>(&'a self, service: &'a str, limit: u32) -> BoxFuture<'a, Result<Vec<HistoryRecord>, AwsError>> {
        self.query(service, limit).boxed()
    }
}

/// Keeps nothing: the deployer without a lock table. `history` then reads the revisions' tags only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHistory;

impl History for NoHistory {
    fn put<'a>(&'a self, _: &'a HistoryRecord) -> BoxFuture<'a, Result<(), AwsError>> {
        futures_util::future::ready(Ok(())).boxed()
    }

    fn recent<'a>(&'a self, _: &'a str, _: u32) -> BoxFuture<'a, Result<Vec<HistoryRecord>, AwsError>> {
        futures_util::future::ready(Ok(Vec::new())).boxed()
    }
}
