//! `history`: a service's newest deploys and rollbacks. Each is recorded when it changes the service (and
//! again when the deployer sees it end) in the lock table, with a time to live; a revision the deployer
//! registered whose record is gone (or was never written: no lock table) still tells its story through its
//! tags (`Version`, `ecs-deployer:previous-task-definition`) and `registeredAt`/`registeredBy`.

use std::collections::BTreeSet;

use aws_sdk_ecs::types::TaskDefinitionStatus;
use aws_smithy_types::date_time::Format;
use contract::result::{HistoryEntry, HistoryResult, HistorySource, ReportStatus};
use futures_util::stream::{self, StreamExt};

use crate::error::DeployError;
use crate::plan::{describe_name, family, family_revision, tag_value, PREVIOUS_TAG, VERSION_TAG};
use crate::ports::{DescribedTaskDefinition, Ecs, History, HistoryRecord};
use crate::request::ServiceRef;

/// How many revisions are described at once when the history falls back to tags.
const DESCRIBE_CONCURRENCY: usize = 5;

/// Who asked, when a request names nobody: a direct invoke.
pub const DIRECT_INVOKE: &str = "invoke";

/// `unix_ms` as RFC 3339 in UTC, to the second (`2026-12-03T10:15:00Z`).
pub fn rfc3339(unix_ms: u64) -> String {
    let secs = i64::try_from(unix_ms / 1000).unwrap_or(i64::MAX);
    aws_smithy_types::DateTime::from_secs(secs).fmt(Format::DateTime).unwrap_or_default()
}

/// The record of one deploy or rollback of `service` (its lock key), started at `started_ms` by the
/// invocation `request_id`, kept for `days`.
pub fn record(service: &str, request_id: &str, started_ms: u64, days: u32, entry: HistoryEntry) -> HistoryRecord {
    HistoryRecord {
        service: service.to_owned(),
        id: format!("{started_ms:013}/{request_id}"),
        at_ms: started_ms,
        expires_at: started_ms / 1000 + u64::from(days) * 86_400,
        entry,
    }
}

/// The entry a revision's tags tell, when the deployer registered it (it carries the previous-revision tag);
/// `None` for a revision registered by anyone else.
pub fn from_tags(described: &DescribedTaskDefinition) -> Option<HistoryEntry> {
    let previous = tag_value(&described.tags, PREVIOUS_TAG)?;
    let td = &described.task_definition;
    Some(HistoryEntry {
        action: "deploy".into(),
        status: "registered".into(),
        version: tag_value(&described.tags, VERSION_TAG).map(str::to_owned),
        digest: None,
        task_definition: Some(describe_name(td)),
        previous_task_definition: Some(previous.to_owned()),
        at: td.registered_at().and_then(|t| t.fmt(Format::DateTime).ok()).unwrap_or_default(),
        ended_at: None,
        by: td.registered_by().map(str::to_owned),
        reason: None,
        deployment_id: None,
        source: HistorySource::Tags,
    })
}

/// Pure: the records, then the tagged revisions no record names, newest first, at most `limit`. Records
/// come first at the same time: they know more.
pub fn merge(records: Vec<HistoryEntry>, tagged: Vec<HistoryEntry>, limit: u32) -> Vec<HistoryEntry> {
    let recorded =
        |td: &Option<String>| records.iter().any(|r| r.task_definition.is_some() && r.task_definition == *td);
    let extra: Vec<HistoryEntry> = tagged.into_iter().filter(|t| !recorded(&t.task_definition)).collect();
    let mut all = records;
    all.extend(extra);
    // RFC 3339 in UTC to the second sorts as text; a stable sort keeps records before tags at the same time.
    all.sort_by(|a, b| b.at.cmp(&a.at));
    all.truncate(limit as usize);
    all
}

/// Pure: the revisions (`family:revision`) known to be this service's: those its deployments and task sets
/// run, and those its records name (deployed, or running right before a deploy). A family's revision may
/// be another service's (several services can share a family): only these fill the history in from tags.
pub fn own_revisions(service: &aws_sdk_ecs::types::Service, records: &[HistoryEntry]) -> BTreeSet<String> {
    let deployed = service.deployments().iter().filter_map(|d| d.task_definition());
    let task_sets = service.task_sets().iter().filter_map(|t| t.task_definition());
    let recorded =
        records.iter().flat_map(|r| [r.task_definition.as_deref(), r.previous_task_definition.as_deref()]).flatten();
    service
        .task_definition()
        .into_iter()
        .chain(deployed)
        .chain(task_sets)
        .chain(recorded)
        .map(|td| family_revision(td).to_owned())
        .collect()
}

/// The `history` action: the newest `limit` records of the service, completed from the tags of its family's
/// newest ACTIVE revisions that are known to be this service's ([`own_revisions`]: a deploy of another
/// service of the same family is never shown as this one's) when the records are fewer. `key` is the
/// service's lock key. Errors: `ServiceNotFound`,
/// `ClusterNotFound`, and AWS errors of ECS; a history table that cannot be read is logged and the tags
/// answer alone.
pub async fn read<E: Ecs>(
    ecs: &E,
    history: &dyn History,
    at: &ServiceRef,
    key: &str,
    limit: u32,
) -> Result<HistoryResult, DeployError> {
    let (service, records) = tokio::join!(crate::rollback::read_service(ecs, at), history.recent(key, limit));
    let service = service?;
    let records: Vec<HistoryEntry> = records.map(|r| r.into_iter().map(|r| r.entry).collect()).unwrap_or_else(|e| {
        tracing::warn!(code = e.code().as_str(), "the history records cannot be read; answering from tags: {e}");
        Vec::new()
    });
    let mut tagged = Vec::new();
    if records.len() < limit as usize {
        let family = family(service.task_definition().unwrap_or_default()).to_owned();
        let arns = ecs.list_task_definitions(&family, TaskDefinitionStatus::Active).await?;
        let own = own_revisions(&service, &records);
        let wanted: Vec<String> =
            arns.into_iter().filter(|a| own.contains(family_revision(a))).take(limit as usize).collect();
        let described: Vec<_> = stream::iter(wanted)
            .map(|arn| async move { ecs.describe_task_definition(&arn).await })
            .buffered(DESCRIBE_CONCURRENCY)
            .collect()
            .await;
        for d in described {
            if let Some(entry) = d?.as_ref().and_then(from_tags) {
                tagged.push(entry);
            }
        }
    }
    Ok(HistoryResult {
        status: ReportStatus::Ok,
        cluster: at.cluster.to_string(),
        service: at.service.to_string(),
        history: merge(records, tagged, limit),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: &str, td: &str, source: HistorySource) -> HistoryEntry {
        HistoryEntry {
            action: "deploy".into(),
            status: "completed".into(),
            version: None,
            digest: None,
            task_definition: Some(td.into()),
            previous_task_definition: None,
            at: at.into(),
            ended_at: None,
            by: None,
            reason: None,
            deployment_id: None,
            source,
        }
    }

    #[test]
    fn records_win_over_tags_and_the_newest_come_first() {
        let records = vec![entry("2026-12-03T10:00:00Z", "web:9", HistorySource::Record)];
        let tagged = vec![
            entry("2026-12-03T10:00:00Z", "web:9", HistorySource::Tags),
            entry("2026-12-01T08:00:00Z", "web:8", HistorySource::Tags),
            entry("2026-11-01T08:00:00Z", "web:7", HistorySource::Tags),
        ];
        let merged = merge(records, tagged, 2);
        let got: Vec<(&str, HistorySource)> =
            merged.iter().map(|e| (e.task_definition.as_deref().unwrap(), e.source)).collect();
        assert_eq!(got, [("web:9", HistorySource::Record), ("web:8", HistorySource::Tags)]);
    }

    #[test]
    fn records_are_keyed_by_start_and_kept_for_the_days_asked() {
        let r =
            record("eu-west-1/prod/web", "req-1", 1_764_756_000_123, 90, entry("x", "web:9", HistorySource::Record));
        assert_eq!(r.id, "1764756000123/req-1");
        assert_eq!(r.expires_at, 1_764_756_000 + 90 * 86_400);
        assert_eq!(rfc3339(1_764_756_000_123), "2025-12-03T10:00:00Z");
    }
}
