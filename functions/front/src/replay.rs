//! Slack replays refused. A signed Slack request stays valid for five minutes (its timestamp window); one
//! captured in that time (from a proxy's log, a browser extension, a misrouted copy) would run again if sent
//! again. So each verified request is remembered, by a hash of its timestamp and signature, for as long as its
//! timestamp is acceptable, with a conditional write that fails for one seen before.
//!
//! The record lives in the stack's DynamoDB table (the deployer's lock table), as an item
//! `{lock_id: "slack-replay#<sha256 hex>", expires_at: <unix seconds>}` whose `expires_at` is the table's TTL
//! attribute: DynamoDB deletes it some time after the window. Its key cannot be a lock's
//! (`<region>/<cluster>/<service>`), and the front's role may only write keys with this prefix
//! (`dynamodb:LeadingKeys`), so lock items are out of its reach.

use std::future::Future;

use aws_sdk_dynamodb::types::AttributeValue;
use contract::aws_error::{aws_error, AwsError};
use sha2::{Digest, Sha256};

use crate::auth::SLACK_MAX_SKEW_SECS;

/// The prefix of every replay record's key.
pub const KEY_PREFIX: &str = "slack-replay#";

/// The key a request is remembered by: no signature is stored, only a hash of it with its timestamp.
pub fn key(timestamp: &str, signature: &str) -> String {
    let digest = Sha256::digest(format!("{}\n{}", timestamp.trim(), signature.trim().to_ascii_lowercase()));
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{KEY_PREFIX}{hex}")
}

/// The key a Slack continuation is claimed by before it runs (issue 23, D7): a hash of its signature, under
/// the same prefix (the front's role writes only keys with it). A signature covers the continuation's exact
/// payload and issue time, so each sealed continuation has one key.
pub fn continuation_key(signature: &str) -> String {
    let digest = Sha256::digest(format!("continuation\n{}", signature.trim().to_ascii_lowercase()));
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{KEY_PREFIX}{hex}")
}

/// Until when (Unix seconds) a request sent at `timestamp` must be remembered: the end of the window in
/// which its timestamp is accepted, plus a minute of clock skew between this function and DynamoDB's TTL.
pub fn remember_until(timestamp: u64) -> u64 {
    timestamp.saturating_add(SLACK_MAX_SKEW_SECS + 60)
}

/// Remembers requests; the seam the tests replace.
pub trait ReplayGuard: Send + Sync {
    /// Records `key` until `expires_at` (Unix seconds). `Ok(true)` the first time a key is recorded,
    /// `Ok(false)` when it was recorded before. Errors: the write failed (the request must then be refused).
    fn first_sight(&self, key: &str, expires_at: u64) -> impl Future<Output = Result<bool, AwsError>> + Send;
}

/// [`ReplayGuard`] on a DynamoDB table whose partition key is `lock_id` (a string) and whose TTL attribute
/// is `expires_at`: one conditional
/// [PutItem](https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_PutItem.html) per request.
#[derive(Debug, Clone)]
pub struct DynamoReplayGuard {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoReplayGuard {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        DynamoReplayGuard { client, table: table.into() }
    }
}

impl ReplayGuard for DynamoReplayGuard {
    async fn first_sight(&self, key: &str, expires_at: u64) -> Result<bool, AwsError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("lock_id", AttributeValue::S(key.to_owned()))
            .item("expires_at", AttributeValue::N(expires_at.to_string()))
            .condition_expression("attribute_not_exists(lock_id)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(aws_error("PutItem", &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hash_the_timestamp_and_signature_and_never_hold_them() {
        let k = key("1531420618", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503");
        assert!(k.starts_with(KEY_PREFIX) && k.len() == KEY_PREFIX.len() + 64, "{k}");
        assert!(!k.contains("a2114d57") && !k.contains("1531420618"));
        assert_eq!(k, key(" 1531420618", "V0=A2114D57B48EAC39B9AD189DD8316235A7B4A8D21A10BD27519666489C69B503 "));
        assert_ne!(k, key("1531420619", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"));
        assert_ne!(k, key("1531420618", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b504"));
        // A lock key always has two slashes; a replay key none.
        assert!(!k.contains('/'));
        assert_eq!(remember_until(1_000), 1_000 + 300 + 60);
    }
}
