#![no_main]
//! The front's routing and request checks on any input: method, path, query and body through
//! `route::route`, and requests built field by field (names, ARNs of this and other accounts, versions,
//! targets, revisions, every action) through `check::check`. A request that passes names only allowed
//! services, by name, with the version exactly as sent and every revision as `family:revision`; one that
//! names another account's ARN never passes. Any panic is a crash.

use arbitrary::Arbitrary;
use contract::identity::Home;
use contract::names::Version;
use contract::request::{Action, Base, DeployRequest, TargetSpec};
use front::check::check;
use front::config::{AllowList, Config};
use front::route::{self, Command};
use lambda_http::http::Method;
use libfuzzer_sys::fuzz_target;

/// A name as a caller could write it: anything, or an ECS ARN of this account or another.
#[derive(Arbitrary, Debug)]
enum Name<'a> {
    Raw(&'a str),
    Arn { ours: bool, home_region: bool, kind: u8, path: &'a str },
}

impl Name<'_> {
    fn render(&self) -> String {
        match self {
            Name::Raw(s) => (*s).to_owned(),
            Name::Arn { ours, home_region, kind, path } => format!(
                "arn:aws:ecs:{}:{}:{}/{path}",
                if *home_region { "us-east-1" } else { "eu-west-1" },
                if *ours { "123456789012" } else { "999999999999" },
                ["cluster", "service", "task-definition", "task"][usize::from(*kind % 4)],
            ),
        }
    }

    fn foreign(&self) -> bool {
        matches!(self, Name::Arn { ours: false, .. })
    }
}

#[derive(Arbitrary, Debug)]
struct Target<'a> {
    cluster: Name<'a>,
    service: Name<'a>,
    region: Option<&'a str>,
    containers: Option<Vec<&'a str>>,
}

#[derive(Arbitrary, Debug)]
struct Fields<'a> {
    action: u8,
    version: Option<&'a str>,
    cluster: Option<Name<'a>>,
    service: Option<Name<'a>>,
    repository: Option<&'a str>,
    containers: Option<Vec<&'a str>>,
    to: Option<Name<'a>>,
    task_definition: Option<Name<'a>>,
    targets: Option<Vec<Target<'a>>>,
    keep: Option<u16>,
    limit: Option<u8>,
    requested_by: Option<&'a str>,
    flags: u8,
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    method: u8,
    path: &'a str,
    query: Option<&'a str>,
    body: &'a [u8],
    fields: Fields<'a>,
}

fn config() -> Config {
    Config {
        deployer_function: "deployer".into(),
        default_cluster: Some("demo".into()),
        default_service: Some("web".into()),
        allowed: AllowList::parse("demo/web,demo/api").expect("allow-list"),
        region: "us-east-1".into(),
        ..Config::default()
    }
}

fn checked_well(request: DeployRequest, config: &Config, home: Option<&Home>, foreign: bool) {
    let version = request.version.clone();
    let action = request.action;
    let Ok(checked) = check(request, config, home) else { return };
    assert!(!foreign, "an ARN of another account passed: {checked:?}");
    for (cluster, service) in &checked.services {
        assert!(config.allowed.allows(cluster, service), "{cluster}/{service} is not allowed");
        assert!(!cluster.starts_with("arn:") && !service.starts_with("arn:"));
    }
    if matches!(action, Action::Deploy | Action::Diff) {
        assert_eq!(checked.request.version, version, "the version was changed");
        match &checked.request.task_definition {
            None => assert!(Version::parse(version.as_deref().unwrap_or_default()).is_ok()),
            Some(_) => assert!(version.is_none(), "a version beside a task_definition passed"),
        }
    }
    for revision in [&checked.request.to, &checked.request.task_definition].into_iter().flatten() {
        assert!(!revision.starts_with("arn:") && contract::names::TaskDefinitionRef::parse(revision).is_ok());
    }
    if let Some(by) = &checked.request.requested_by {
        assert!(!by.is_empty() && by.len() <= 512 && !by.chars().any(char::is_control));
    }
    // What is sent serialises and reads back as itself.
    let wire = serde_json::to_value(&checked.request).expect("serialise");
    assert_eq!(serde_json::from_value::<DeployRequest>(wire).expect("read back"), checked.request);
}

fuzz_target!(|input: Input| {
    let config = config();
    let home = Home::from_function_arn("arn:aws:lambda:us-east-1:123456789012:function:front");
    let method = [Method::GET, Method::POST, Method::PUT, Method::DELETE][usize::from(input.method % 4)].clone();
    let _ = route::door(input.path);
    match route::route(&method, input.path, input.query, input.body) {
        Ok(
            Command::Deploy(request)
            | Command::Rollback(request)
            | Command::Answer(request)
            | Command::Diff(request)
            | Command::Cleanup(request),
        ) => checked_well(request, &config, home.as_ref(), false),
        Ok(Command::Status { cluster, service }) => {
            let request = DeployRequest { action: Action::Status, cluster, service, ..DeployRequest::default() };
            checked_well(request, &config, home.as_ref(), false);
        }
        Ok(Command::History { cluster, service, limit }) => {
            let request =
                DeployRequest { action: Action::History, cluster, service, limit, ..DeployRequest::default() };
            checked_well(request, &config, home.as_ref(), false);
        }
        Ok(Command::Slack) | Err(_) => {}
    }

    let f = &input.fields;
    let foreign = f.cluster.as_ref().is_some_and(Name::foreign)
        || f.service.as_ref().is_some_and(Name::foreign)
        || f.to.as_ref().is_some_and(Name::foreign)
        || f.task_definition.as_ref().is_some_and(Name::foreign)
        || f.targets.iter().flatten().any(|t| t.cluster.foreign() || t.service.foreign());
    let request = DeployRequest {
        action: [
            Action::Deploy,
            Action::Rollback,
            Action::Status,
            Action::Continue,
            Action::Reject,
            Action::History,
            Action::Cleanup,
            Action::Diff,
        ][usize::from(f.action % 8)],
        version: f.version.map(str::to_owned),
        cluster: f.cluster.as_ref().map(Name::render),
        service: f.service.as_ref().map(Name::render),
        repository: f.repository.map(str::to_owned),
        containers: f.containers.as_ref().map(|c| c.iter().map(|s| (*s).to_owned()).collect()),
        base: (f.flags & 1 != 0).then_some(Base::Service),
        dry_run: f.flags & 2 != 0,
        targets: f.targets.as_ref().map(|targets| {
            targets
                .iter()
                .map(|t| TargetSpec {
                    cluster: t.cluster.render(),
                    service: t.service.render(),
                    region: t.region.map(str::to_owned),
                    containers: t.containers.as_ref().map(|c| c.iter().map(|s| (*s).to_owned()).collect()),
                })
                .collect()
        }),
        all_or_nothing: f.flags & 4 != 0,
        wait: f.flags & 8 != 0,
        rollback: (f.flags & 16 != 0).then_some(true),
        force: f.flags & 32 != 0,
        to: f.to.as_ref().map(Name::render),
        pin_digest: (f.flags & 64 != 0).then_some(true),
        delete_inactive: f.flags & 128 != 0,
        task_definition: f.task_definition.as_ref().map(Name::render),
        keep: f.keep.map(u32::from),
        limit: f.limit.map(u32::from),
        requested_by: f.requested_by.map(str::to_owned),
        ..DeployRequest::default()
    };
    checked_well(request, &config, home.as_ref(), foreign);
});
