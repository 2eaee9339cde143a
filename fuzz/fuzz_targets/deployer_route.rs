//! `deployer::trigger::route` (what an event is), then the pure trust checks an event meets
//! (`check_origin`, `check_build`): nothing panics; a body with any of EventBridge's own fields is never
//! taken as a request, and an event is taken only with exactly the envelope's fields.

#![no_main]

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use contract::names::{EcsArn, EcsResource, Home};
use deployer::request::Scope;
use deployer::trigger::codebuild::check_build;
use deployer::trigger::{check_origin, route, Inbound};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

const ENVELOPE: &[&str] =
    &["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"];
const EVENT_ONLY: &[&str] = &["id", "detail-type", "source", "account", "time", "region", "resources", "detail"];
const FIXTURES: &[&str] = &[
    include_str!("../../events/ecs-deployment-failed.json"),
    include_str!("../../events/ecs-deployment-completed.json"),
    include_str!("../../events/codebuild-succeeded.json"),
    include_str!("../../events/deploy.json"),
];

fn home() -> &'static Home {
    static HOME: OnceLock<Home> = OnceLock::new();
    HOME.get_or_init(|| Home::new("aws", "us-east-1", "123456789012").unwrap())
}

fn fixtures() -> &'static Vec<Value> {
    static PARSED: OnceLock<Vec<Value>> = OnceLock::new();
    PARSED.get_or_init(|| FIXTURES.iter().map(|f| serde_json::from_str(f).unwrap()).collect())
}

/// One change to a fixture: a field removed, set to a string, or set in `detail`.
#[derive(Arbitrary, Debug)]
enum Edit {
    Remove(u8),
    Set(u8, String),
    Add(String, String),
    Detail(u8, String),
    Resources(Vec<String>),
}

const DETAIL_KEYS: &[&str] = &["eventName", "deploymentId", "reason", "build-status", "project-name", "build-id"];

fn edited(u: &mut Unstructured<'_>) -> arbitrary::Result<Value> {
    let mut value = fixtures()[usize::from(u8::arbitrary(u)?) % FIXTURES.len()].clone();
    for edit in Vec::<Edit>::arbitrary(u)? {
        let Some(o) = value.as_object_mut() else { break };
        match edit {
            Edit::Remove(i) => {
                o.remove(ENVELOPE[usize::from(i) % ENVELOPE.len()]);
            }
            Edit::Set(i, v) => {
                o.insert(ENVELOPE[usize::from(i) % ENVELOPE.len()].into(), json!(v));
            }
            Edit::Add(k, v) => {
                o.insert(k, json!(v));
            }
            Edit::Detail(i, v) => {
                if let Some(d) = o.get_mut("detail").and_then(Value::as_object_mut) {
                    d.insert(DETAIL_KEYS[usize::from(i) % DETAIL_KEYS.len()].into(), json!(v));
                }
            }
            Edit::Resources(r) => {
                o.insert("resources".into(), json!(r));
            }
        }
    }
    Ok(value)
}

fn check(value: Value) {
    let keys: Vec<String> = value.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    let event_like = keys.iter().any(|k| EVENT_ONLY.contains(&k.as_str()));
    let envelope_only = keys.iter().all(|k| ENVELOPE.contains(&k.as_str())) && keys.len() == ENVELOPE.len();
    let scope = Scope::new("us-east-1", Some(home()));
    match route(value) {
        Ok(Inbound::Request(_)) => assert!(!event_like, "an event-shaped body taken as a request: {keys:?}"),
        Ok(Inbound::EcsDeployment(e)) => {
            assert!(envelope_only, "an event with other fields: {keys:?}");
            let arn = EcsArn::parse(&e.service_arn).expect("route checked the service ARN");
            assert!(matches!(arn.resource(), EcsResource::Service { .. }));
            let _ = check_origin(&e.origin, &scope);
        }
        Ok(Inbound::CodeBuild { origin, event }) => {
            assert!(envelope_only, "an event with other fields: {keys:?}");
            let _ = check_origin(&origin, &scope);
            let _ = check_build(&event, &["web-image".to_owned()], home());
        }
        Ok(Inbound::CodeDeploy(e)) => {
            assert!(envelope_only, "an event with other fields: {keys:?}");
            let _ = check_origin(&e.origin, &scope);
        }
        // `{"CodePipeline.job": …}` is a body of its own: never an EventBridge envelope.
        Ok(Inbound::CodePipeline(_)) => assert!(!event_like, "an event-shaped body taken as a job: {keys:?}"),
        Err(_) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    // Half the inputs are raw JSON, half are the fixtures edited.
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 0 => {
            if let Ok(value) = serde_json::from_slice::<Value>(rest) {
                check(value);
            }
        }
        Some((_, rest)) => {
            if let Ok(value) = edited(&mut Unstructured::new(rest)) {
                check(value);
            }
        }
        None => {}
    }
});
