use std::time::Duration;

use aws_sdk_ecs::types::{Deployment, Service, Task, TaskDefinitionStatus};
use contract::request::DeployRequest;
use contract::result::{CleanupResult, CleanupStatus, KeepReason, Kept, KeptRevision};
use contract::AwsErrorKind;

use super::*;
use crate::plan::PREVIOUS_TAG;
use crate::request::Invocation;
use crate::testing::fake::{service_arn, CLUSTER_ARN};
use crate::testing::*;

fn arns(revisions: &[i32]) -> Vec<String> {
    revisions.iter().map(|r| arn(&format!("web:{r}"))).collect()
}

fn names(revisions: &[i32]) -> Vec<String> {
    revisions.iter().map(|r| format!("web:{r}")).collect()
}

fn kept(d: &Decision, revision: &str) -> Vec<Kept> {
    d.kept.iter().find(|k| k.task_definition == revision).map(|k| k.reasons.clone()).unwrap_or_default()
}

fn reasons(d: &Decision, revision: &str) -> Vec<KeepReason> {
    kept(d, revision).into_iter().map(|k| k.reason).collect()
}

// ---- the pure decision ----

#[test]
fn keeps_the_newest_n_and_deregisters_the_rest_oldest_first() {
    let d = decide("web", &arns(&[8, 7, 6, 5, 4]), 2, &[]);
    assert_eq!(d.deregister, arns(&[4, 5, 6]));
    assert_eq!(d.kept.iter().map(|k| k.task_definition.as_str()).collect::<Vec<_>>(), ["web:8", "web:7"]);
    assert_eq!(kept(&d, "web:8"), [Kept { reason: KeepReason::Newest, by: None }]);
}

#[test]
fn keep_larger_than_the_family_deregisters_nothing() {
    let d = decide("web", &arns(&[3, 2, 1]), 5, &[]);
    assert!(d.deregister.is_empty());
    assert_eq!(d.kept.len(), 3);
    assert!(decide("web", &[], 1, &[]).kept.is_empty());
}

#[test]
fn every_use_keeps_an_old_revision_with_its_reason_and_holder() {
    let uses = vec![
        Use::new(arn("web:3"), KeepReason::Deployment, "ecs-svc/1"),
        Use::new(arn("web:2"), KeepReason::Task, "abc123"),
        Use::new("web:1", KeepReason::RollbackTarget, "web:3"),
        Use::new(arn("web:4"), KeepReason::OtherService, "worker"),
        Use::new(arn("web:5"), KeepReason::ScheduledTask, "nightly"),
    ];
    let d = decide("web", &arns(&[9, 8, 7, 6, 5, 4, 3, 2, 1]), 2, &uses);
    assert_eq!(d.deregister, arns(&[6, 7]));
    assert_eq!(kept(&d, "web:3"), [Kept { reason: KeepReason::Deployment, by: Some("ecs-svc/1".into()) }]);
    assert_eq!(reasons(&d, "web:2"), [KeepReason::Task]);
    assert_eq!(kept(&d, "web:1"), [Kept { reason: KeepReason::RollbackTarget, by: Some("web:3".into()) }]);
    assert_eq!(reasons(&d, "web:4"), [KeepReason::OtherService]);
    assert_eq!(kept(&d, "web:5"), [Kept { reason: KeepReason::ScheduledTask, by: Some("nightly".into()) }]);
    // Newest first.
    let order: Vec<&str> = d.kept.iter().map(|k| k.task_definition.as_str()).collect();
    assert_eq!(order, ["web:9", "web:8", "web:5", "web:4", "web:3", "web:2", "web:1"]);
}

#[test]
fn a_newest_revision_that_is_also_used_lists_every_reason_once_sorted() {
    let uses = vec![
        Use::new(arn("web:9"), KeepReason::Task, "t2"),
        Use::new(arn("web:9"), KeepReason::Deployment, "ecs-svc/2"),
        Use::new(arn("web:9"), KeepReason::Task, "t1"),
        Use::new(arn("web:9"), KeepReason::Task, "t1"),
    ];
    let d = decide("web", &arns(&[9, 8]), 1, &uses);
    assert_eq!(
        kept(&d, "web:9"),
        [
            Kept { reason: KeepReason::Newest, by: None },
            Kept { reason: KeepReason::Deployment, by: Some("ecs-svc/2".into()) },
            Kept { reason: KeepReason::Task, by: Some("t1".into()) },
            Kept { reason: KeepReason::Task, by: Some("t2".into()) },
        ]
    );
    assert_eq!(d.deregister, arns(&[8]));
}

#[test]
fn a_rule_naming_the_family_without_revision_keeps_the_newest_active() {
    let uses =
        vec![Use::new("arn:aws:ecs:eu-west-1:111122223333:task-definition/web", KeepReason::ScheduledTask, "nightly")];
    let d = decide("web", &arns(&[6, 5, 4]), 1, &uses);
    assert_eq!(reasons(&d, "web:6"), [KeepReason::Newest, KeepReason::ScheduledTask]);
    assert_eq!(d.deregister, arns(&[4, 5]));
}

#[test]
fn uses_of_other_families_and_lookalike_families_keep_nothing() {
    let uses = vec![
        Use::new(arn("web-worker:3"), KeepReason::OtherService, "worker"),
        Use::new(arn("api:3"), KeepReason::Task, "t"),
        Use::new("web-worker", KeepReason::ScheduledTask, "r"),
    ];
    let d = decide("web", &arns(&[4, 3]), 1, &uses);
    assert_eq!(d.deregister, arns(&[3]));
}

#[test]
fn arns_and_family_revision_names_mean_the_same_revision() {
    let uses = vec![Use::new("web:3", KeepReason::Deployment, "ecs-svc/1")];
    let d = decide("web", &arns(&[4, 3]), 1, &uses);
    assert!(d.deregister.is_empty());
}

#[test]
fn inactive_revisions_in_use_are_never_deleted() {
    let uses = vec![
        Use::new(arn("web:2"), KeepReason::Task, "t1"),
        // A family alone means an ACTIVE revision, never an INACTIVE one.
        Use::new("web", KeepReason::ScheduledTask, "nightly"),
        Use::new(arn("web:1"), KeepReason::OtherService, "worker"),
    ];
    let (delete, kept) = decide_inactive("web", &arns(&[3, 2, 1, 0]), &uses);
    assert_eq!(delete, arns(&[3, 0]));
    assert_eq!(
        kept,
        [
            KeptRevision {
                task_definition: "web:2".into(),
                reasons: vec![Kept { reason: KeepReason::Task, by: Some("t1".into()) }]
            },
            KeptRevision {
                task_definition: "web:1".into(),
                reasons: vec![Kept { reason: KeepReason::OtherService, by: Some("worker".into()) }]
            },
        ]
    );
}

#[test]
fn the_facts_become_uses() {
    let svc = Service::builder()
        .service_name("web")
        .task_definition(arn("web:7"))
        .deployments(Deployment::builder().id("ecs-svc/2").status("PRIMARY").task_definition(arn("web:7")).build())
        .deployments(Deployment::builder().id("ecs-svc/1").status("ACTIVE").task_definition(arn("web:6")).build())
        .build();
    assert_eq!(
        deployment_uses(&svc),
        [
            Use::new(arn("web:7"), KeepReason::Deployment, "ecs-svc/2"),
            Use::new(arn("web:6"), KeepReason::Deployment, "ecs-svc/1"),
        ]
    );
    let blue_green = Service::builder()
        .service_name("web")
        .task_definition(arn("web:7"))
        .task_sets(aws_sdk_ecs::types::TaskSet::builder().id("ecs-svc/blue").task_definition(arn("web:6")).build())
        .task_sets(aws_sdk_ecs::types::TaskSet::builder().id("ecs-svc/green").task_definition(arn("web:7")).build())
        .build();
    assert_eq!(
        deployment_uses(&blue_green),
        [
            Use::new(arn("web:6"), KeepReason::Deployment, "ecs-svc/blue"),
            Use::new(arn("web:7"), KeepReason::Deployment, "ecs-svc/green"),
        ]
    );
    let tasks = vec![
        Task::builder()
            .task_arn("arn:aws:ecs:eu-west-1:1:task/prod/abc")
            .task_definition_arn(arn("web:3"))
            .last_status("PENDING")
            .build(),
        Task::builder()
            .task_arn("arn:aws:ecs:eu-west-1:1:task/prod/def")
            .task_definition_arn(arn("web:2"))
            .last_status("STOPPED")
            .build(),
    ];
    assert_eq!(task_uses(&tasks), [Use::new(arn("web:3"), KeepReason::Task, "abc")]);
    let targets = vec![
        RuleTarget { rule: "nightly".into(), arn: CLUSTER_ARN.into(), task_definition: Some(arn("web:2")) },
        RuleTarget {
            rule: "elsewhere".into(),
            arn: "arn:aws:ecs:eu-west-1:1:cluster/other".into(),
            task_definition: Some(arn("web:1")),
        },
        RuleTarget { rule: "lambda".into(), arn: CLUSTER_ARN.into(), task_definition: None },
    ];
    assert_eq!(rule_uses(&targets, CLUSTER_ARN), [Use::new(arn("web:2"), KeepReason::ScheduledTask, "nightly")]);
    let others = vec![
        svc.clone(),
        Service::builder().service_name("worker").status("ACTIVE").task_definition(arn("web:4")).build(),
        Service::builder().service_name("gone").status("INACTIVE").task_definition(arn("web:1")).build(),
    ];
    assert_eq!(other_service_uses(&others, "web"), [Use::new(arn("web:4"), KeepReason::OtherService, "worker")]);
    let tagged = vec![
        (arn("web:7"), vec![tag(PREVIOUS_TAG, "web:5"), tag("team", "payments")]),
        (arn("web:6"), vec![tag("team", "payments")]),
    ];
    assert_eq!(rollback_uses(&tagged), [Use::new("web:5", KeepReason::RollbackTarget, "web:7")]);
}

// ---- on the fake ----

/// `web:1`..`web:10` registered; the service runs `web:6`, recorded to roll back to `web:3`; an EventBridge
/// rule starts `web:2`; service `worker` runs `web:4`; a task started by hand runs `web:1`.
fn busy_world() -> FakeAws {
    let mut running = described(6, "v6");
    running.tags.push(tag(PREVIOUS_TAG, "web:3"));
    let mut revisions = vec![running];
    revisions.extend((1..=10).filter(|r| *r != 6).map(|r| described(r, &format!("v{r}"))));
    let fake = FakeAws::world(REPOSITORY, &["v1"], revisions);
    fake.add_rule("nightly", &arn("web:2"));
    fake.add_service("worker", "web:4");
    fake.run_task("web:1", 9);
    fake
}

/// The lock key (and history key) of the standard service.
fn key() -> String {
    format!("{REGION}/prod/web")
}

fn target(keep: u32, dry_run: bool, delete_inactive: bool) -> CleanupTarget {
    let d = defaults();
    CleanupTarget {
        at: ServiceRef {
            region: None,
            cluster: d.cluster.clone().unwrap(),
            service: d.service.clone().unwrap(),
            codedeploy: Default::default(),
        },
        keep,
        delete_inactive,
        dry_run,
    }
}

fn statuses(fake: &FakeAws) -> Vec<(i32, TaskDefinitionStatus)> {
    let mut all: Vec<(i32, TaskDefinitionStatus)> = fake
        .revisions("web")
        .into_iter()
        .map(|d| (d.task_definition.revision, d.task_definition.status.clone().unwrap()))
        .collect();
    all.sort_by_key(|(r, _)| *r);
    all
}

fn active(fake: &FakeAws) -> Vec<i32> {
    statuses(fake).into_iter().filter(|(_, s)| *s == TaskDefinitionStatus::Active).map(|(r, _)| r).collect()
}

fn expected_kept() -> Vec<(String, Vec<KeepReason>)> {
    vec![
        ("web:10".into(), vec![KeepReason::Newest]),
        ("web:9".into(), vec![KeepReason::Newest]),
        ("web:6".into(), vec![KeepReason::Deployment, KeepReason::Task]),
        ("web:4".into(), vec![KeepReason::Task, KeepReason::OtherService]),
        ("web:3".into(), vec![KeepReason::RollbackTarget]),
        ("web:2".into(), vec![KeepReason::ScheduledTask]),
        ("web:1".into(), vec![KeepReason::Task]),
    ]
}

fn kept_of(result: &CleanupResult) -> Vec<(String, Vec<KeepReason>)> {
    result.kept.iter().map(|k| (k.task_definition.clone(), k.reasons.iter().map(|r| r.reason).collect())).collect()
}

#[tokio::test]
async fn dry_run_lists_what_would_go_and_changes_nothing() {
    let fake = busy_world();
    let before = statuses(&fake);
    let result = run(&fake, &fake, &fake, &key(), &target(2, true, false), Duration::from_secs(60)).await.unwrap();
    assert_eq!(result.status, CleanupStatus::DryRun);
    assert_eq!(result.deregistered, names(&[5, 7, 8]));
    assert_eq!(kept_of(&result), expected_kept());
    assert_eq!(statuses(&fake), before);
    assert!(!fake.ops().contains(&"DeregisterTaskDefinition"));
    assert!(!fake.ops().contains(&"DeleteTaskDefinitions"));
}

#[tokio::test]
async fn keeps_every_revision_in_use_even_older_than_n_and_paces_deregistrations() {
    let fake = busy_world();
    let started = fake.now();
    let result = run(&fake, &fake, &fake, &key(), &target(2, false, false), Duration::from_secs(60)).await.unwrap();
    assert_eq!(result.status, CleanupStatus::Cleaned);
    assert_eq!(result.deregistered, names(&[5, 7, 8]));
    assert_eq!(result.family, "web");
    assert_eq!(kept_of(&result), expected_kept());
    assert_eq!(active(&fake), [1, 2, 3, 4, 6, 9, 10]);
    // The holders are named.
    let three = result.kept.iter().find(|k| k.task_definition == "web:3").unwrap();
    assert_eq!(three.reasons, [Kept { reason: KeepReason::RollbackTarget, by: Some("web:6".into()) }]);
    let two = result.kept.iter().find(|k| k.task_definition == "web:2").unwrap();
    assert_eq!(two.reasons, [Kept { reason: KeepReason::ScheduledTask, by: Some("nightly".into()) }]);
    // One deregistration at a time, a pause between two: three calls, two pauses.
    assert_eq!(fake.now() - started, 2 * DEREGISTER_PACE);
    let deregistered: Vec<String> = fake
        .calls()
        .into_iter()
        .filter(|c| c.op == "DeregisterTaskDefinition")
        .map(|c| family_revision(&c.arg).to_owned())
        .collect();
    assert_eq!(deregistered, names(&[5, 7, 8]));
}

#[tokio::test]
async fn reads_the_facts_with_the_calls_the_iam_policy_allows() {
    let fake = busy_world();
    run(&fake, &fake, &fake, &key(), &target(2, true, true), Duration::from_secs(60)).await.unwrap();
    let mut ops = fake.ops();
    ops.sort();
    ops.dedup();
    assert_eq!(
        ops,
        [
            "DescribeClusters",
            "DescribeServices",
            "DescribeTaskDefinition",
            "DescribeTasks",
            "ListRuleNamesByTarget",
            "ListServices",
            "ListTargetsByRule",
            "ListTaskDefinitions",
            "ListTasks",
            // The service's history records: what a task_definition deploy's record names as previous.
            "Query",
        ]
    );
    let calls = fake.calls();
    assert!(calls.iter().any(|c| c.op == "ListRuleNamesByTarget" && c.arg == CLUSTER_ARN));
    assert!(calls.iter().any(|c| c.op == "ListTasks" && c.arg == "family=web"));
    // Only the revision the service runs is described, for its rollback record.
    let described: Vec<&str> =
        calls.iter().filter(|c| c.op == "DescribeTaskDefinition").map(|c| c.arg.as_str()).collect();
    assert_eq!(described, ["web:6"]);
    assert_eq!(service_arn("worker"), "arn:aws:ecs:eu-west-1:111122223333:service/prod/worker");
}

#[tokio::test]
async fn a_failed_deregistration_is_reported_and_the_others_still_go() {
    let fake = busy_world();
    fake.pass_next("DeregisterTaskDefinition");
    fake.fail_next("DeregisterTaskDefinition", AwsErrorKind::Throttled, false);
    let result = run(&fake, &fake, &fake, &key(), &target(2, false, false), Duration::from_secs(60)).await.unwrap();
    assert_eq!(result.status, CleanupStatus::Partial);
    assert_eq!(result.deregistered, names(&[5, 8]));
    assert_eq!(result.failures.len(), 1);
    assert_eq!(result.failures[0].task_definition, "web:7");
    assert_eq!(active(&fake), [1, 2, 3, 4, 6, 7, 9, 10]);
}

#[tokio::test]
async fn stops_before_the_deadline_and_says_how_many_remain() {
    let fake = busy_world();
    // Time for the first deregistration and one pause, not two.
    let deadline = fake.now() + DEREGISTER_PACE + Duration::from_millis(500);
    let result = run(&fake, &fake, &fake, &key(), &target(2, false, false), deadline).await.unwrap();
    assert_eq!(result.status, CleanupStatus::Partial);
    assert_eq!(result.deregistered, names(&[5, 7]));
    assert_eq!(result.remaining, 1);
    assert!(result.failures.is_empty());
    assert_eq!(active(&fake), [1, 2, 3, 4, 6, 8, 9, 10]);
}

#[tokio::test]
async fn delete_inactive_deletes_only_unused_inactive_revisions_ten_at_a_time() {
    let fake = busy_world();
    // 11 more revisions, all INACTIVE; the hand-started task runs web:12 (INACTIVE runs on).
    {
        let mut s = fake.state.lock().unwrap();
        for r in 11..=22 {
            let mut d = described(r, "old");
            d.task_definition.status = Some(TaskDefinitionStatus::Inactive);
            s.task_definitions.push(d);
        }
    }
    fake.run_task("web:12", 12);
    let result = run(&fake, &fake, &fake, &key(), &target(2, false, true), Duration::from_secs(60)).await.unwrap();
    assert_eq!(result.status, CleanupStatus::Cleaned);
    let mut deleted = result.deleted.clone();
    deleted.sort();
    let mut expected: Vec<String> = names(&[11, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22]);
    expected.sort();
    assert_eq!(deleted, expected);
    assert_eq!(result.kept_inactive.len(), 1);
    assert_eq!(result.kept_inactive[0].task_definition, "web:12");
    let batches: Vec<usize> = fake
        .calls()
        .into_iter()
        .filter(|c| c.op == "DeleteTaskDefinitions")
        .map(|c| c.arg.split(',').count())
        .collect();
    assert_eq!(batches, [10, 1]);
    // The revisions this run deregistered are INACTIVE now; the next run with delete_inactive takes them.
    let still: Vec<i32> =
        statuses(&fake).into_iter().filter(|(_, s)| *s == TaskDefinitionStatus::Inactive).map(|(r, _)| r).collect();
    assert_eq!(still, [5, 7, 8, 12]);
}

#[tokio::test]
async fn a_missing_service_is_an_error_and_changes_nothing() {
    let fake = busy_world();
    let mut t = target(2, false, false);
    t.at.service = contract::names::ServiceName::parse("service", "nope").unwrap();
    let err = run(&fake, &fake, &fake, &key(), &t, Duration::from_secs(60)).await.unwrap_err();
    assert!(matches!(err, crate::error::DeployError::ServiceNotFound { .. }), "{err}");
    assert!(!fake.ops().contains(&"DeregisterTaskDefinition"));
}

#[tokio::test]
async fn a_failed_read_changes_nothing() {
    let fake = busy_world();
    fake.fail_next("ListTargetsByRule", AwsErrorKind::Throttled, false);
    let err = run(&fake, &fake, &fake, &key(), &target(2, false, false), Duration::from_secs(60)).await.unwrap_err();
    assert!(matches!(err, crate::error::DeployError::Aws(_)), "{err}");
    assert!(!fake.ops().contains(&"DeregisterTaskDefinition"));
    assert_eq!(active(&fake), (1..=10).collect::<Vec<_>>());
}

#[tokio::test]
async fn the_action_takes_the_service_lock_and_answers_the_result() {
    let deployer = deployer_on(busy_world(), defaults());
    let request: DeployRequest = serde_json::from_value(serde_json::json!({"action": "cleanup", "keep": 2})).unwrap();
    let answer = deployer.execute(request, &Invocation::default()).await.unwrap();
    assert_eq!(answer["status"], "cleaned");
    assert_eq!(answer["deregistered"], serde_json::json!(["web:5", "web:7", "web:8"]));
    let ops = deployer.ecs().ops();
    assert_eq!(ops.first(), Some(&"PutItem"));
    assert_eq!(ops.last(), Some(&"DeleteItem"));
}

#[tokio::test]
async fn the_action_refuses_while_a_deploy_holds_the_lock() {
    let deployer = deployer_on(busy_world(), defaults());
    deployer
        .ecs()
        .state
        .lock()
        .unwrap()
        .locks
        .insert(format!("{REGION}/prod/web"), ("someone".into(), Duration::ZERO, Duration::from_secs(3600)));
    let request: DeployRequest = serde_json::from_value(serde_json::json!({"action": "cleanup", "keep": 2})).unwrap();
    let err = deployer.execute(request, &Invocation::default()).await.unwrap_err();
    assert!(matches!(err, crate::error::DeployError::DeploymentInProgress { .. }), "{err}");
    assert!(!deployer.ecs().ops().contains(&"DeregisterTaskDefinition"));
}

#[tokio::test]
async fn a_dry_run_takes_no_lock() {
    let deployer = deployer_on(busy_world(), defaults());
    let request: DeployRequest =
        serde_json::from_value(serde_json::json!({"action": "cleanup", "keep": 2, "dry_run": true})).unwrap();
    let answer = deployer.execute(request, &Invocation::default()).await.unwrap();
    assert_eq!(answer["status"], "dry_run");
    assert!(!deployer.ecs().ops().contains(&"PutItem"));
}

#[tokio::test]
async fn after_deploy_cleans_up_without_deleting() {
    let fake = busy_world();
    let t = target(3, false, false);
    let result = after_deploy(&fake, &fake, &fake, &key(), &t.at, 3, Duration::from_secs(60)).await.unwrap();
    assert_eq!(result.deregistered, names(&[5, 7]));
    assert!(!fake.ops().contains(&"DeleteTaskDefinitions"));
    assert!(!fake.ops().contains(&"PutItem"));
}

/// Issue 23, D6: the service moved onto a revision the cleanup had decided to deregister (a rollback that
/// raced it, or anything that does not take the lock): the service is read again before each
/// deregistration, and that revision is kept, as a deployment's.
#[tokio::test]
async fn a_revision_the_service_moved_onto_meanwhile_is_kept() {
    let fake = busy_world();
    let (k, t) = (key(), target(2, false, false));
    let cleanup = run(&fake, &fake, &fake, &k, &t, Duration::from_secs(60));
    let move_service = async {
        while !fake.ops().contains(&"DeregisterTaskDefinition") {
            tokio::task::yield_now().await;
        }
        let onto = arn("web:8");
        let moved = Service::builder()
            .service_name("web")
            .status("ACTIVE")
            .task_definition(onto.clone())
            .deployments(Deployment::builder().id("ecs-svc/9").status("PRIMARY").task_definition(onto).build())
            .build();
        fake.state.lock().unwrap().services.insert("web".into(), moved);
    };
    let (result, ()) = tokio::join!(cleanup, move_service);
    let result = result.unwrap();
    assert_eq!(result.deregistered, names(&[5, 7]), "{result:?}");
    assert!(
        result.kept.contains(&KeptRevision {
            task_definition: "web:8".into(),
            reasons: vec![Kept { reason: KeepReason::Deployment, by: Some("ecs-svc/9".into()) }],
        }),
        "{result:?}"
    );
    assert!(active(&fake).contains(&8), "the service never runs an INACTIVE revision because of the cleanup");
    // One read of the service before each deregistration.
    let describes = fake.calls().iter().filter(|c| c.op == "DescribeServices").count();
    assert!(describes >= 4, "the first read and one per deregistration: {describes}");
}

#[test]
fn the_history_s_record_of_a_running_revision_names_a_rollback_target() {
    use contract::result::{HistoryEntry, HistorySource};
    let entry = |action: &str, td: &str, previous: &str| HistoryEntry {
        action: action.into(),
        status: "completed".into(),
        version: None,
        digest: None,
        task_definition: Some(td.into()),
        previous_task_definition: Some(previous.into()),
        at: String::new(),
        ended_at: None,
        by: None,
        reason: None,
        deployment_id: None,
        source: HistorySource::Record,
    };
    // Newest first: web:3 deployed again (from web:5), a rollback, web:3's first deploy (from web:2).
    let records = [
        entry("deploy", "web:3", "web:5"),
        entry("rollback", "web:3", "web:4"),
        entry("deploy", "web:3", "web:2"),
        entry("deploy", "web:4", "web:3"),
    ];
    let in_use: BTreeSet<&str> = ["web:3"].into();
    assert_eq!(recorded_uses(&records, &in_use), [Use::new("web:5", KeepReason::RollbackTarget, "web:3")]);
    assert!(recorded_uses(&records, &BTreeSet::new()).is_empty());
}
