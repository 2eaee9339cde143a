//! A deploy request from JSON, then resolved (`deployer::request::resolve`): nothing panics, and whatever
//! resolves names plain names on the allow-list and the version exactly as sent.

#![no_main]

use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use contract::names::{AllowedTarget, Home};
use contract::request::DeployRequest;
use deployer::config::Config;
use deployer::request::{resolve, Resolved, Scope, ServiceRef};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};

const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "111122223333";

fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| Config {
        allowed: ["prod/web", "prod/api", "eu-central-1/prod/web"]
            .iter()
            .map(|e| AllowedTarget::parse(e).unwrap())
            .collect(),
        ..Config::for_service("prod", "web", "team/web").unwrap()
    })
}

fn home() -> &'static Home {
    static HOME: OnceLock<Home> = OnceLock::new();
    HOME.get_or_init(|| Home::new("aws", REGION, ACCOUNT).unwrap())
}

/// Strings that reach the interesting branches, and anything else.
#[derive(Arbitrary, Debug)]
enum Text {
    Name(u8),
    Arn { partition: u8, region: u8, account: u8, kind: u8, cluster: u8, name: u8 },
    Version(u8),
    Raw(String),
}

const NAMES: &[&str] = &["prod", "web", "api", "staging", "c2", "web:7", "admin-tools:1", "", "a b", "arn:"];
const PARTITIONS: &[&str] = &["aws", "aws-cn", "aws-us-gov", "amazon", ""];
const REGIONS: &[&str] = &[REGION, "eu-central-1", "us-east-1", "Mars", ""];
const ACCOUNTS: &[&str] = &[ACCOUNT, "999999999999", "1", ""];
const KINDS: &[&str] = &["cluster", "service", "task-definition", "task", ""];
const VERSIONS: &[&str] = &[
    "v2",
    " v2 ",
    "v2\n",
    "\u{a0}v2",
    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "-x",
    "",
];

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[usize::from(i) % list.len()]
}

impl Text {
    fn render(&self) -> String {
        match self {
            Text::Name(i) => pick(NAMES, *i).to_owned(),
            Text::Version(i) => pick(VERSIONS, *i).to_owned(),
            Text::Raw(s) => s.clone(),
            Text::Arn { partition, region, account, kind, cluster, name } => {
                let path = match pick(KINDS, *kind) {
                    "service" if cluster % 3 == 0 => format!("service/{}", pick(NAMES, *name)),
                    "service" => format!("service/{}/{}", pick(NAMES, *cluster), pick(NAMES, *name)),
                    kind => format!("{kind}/{}", pick(NAMES, *name)),
                };
                format!(
                    "arn:{}:ecs:{}:{}:{path}",
                    pick(PARTITIONS, *partition),
                    pick(REGIONS, *region),
                    pick(ACCOUNTS, *account)
                )
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Target {
    cluster: Text,
    service: Text,
    region: Option<Text>,
}

#[derive(Arbitrary, Debug)]
struct Request {
    action: Option<u8>,
    version: Option<Text>,
    cluster: Option<Text>,
    service: Option<Text>,
    to: Option<Text>,
    targets: Option<Vec<Target>>,
    flags: u8,
    stray: Option<(String, String)>,
}

impl Request {
    fn json(&self) -> Value {
        let mut o = Map::new();
        if let Some(a) = self.action {
            let actions = ["deploy", "rollback", "status", "continue", "reject", "history", "cleanup", "diff", "other"];
            o.insert("action".into(), json!(pick(&actions, a)));
        }
        for (key, value) in
            [("version", &self.version), ("cluster", &self.cluster), ("service", &self.service), ("to", &self.to)]
        {
            if let Some(v) = value {
                o.insert(key.into(), json!(v.render()));
            }
        }
        // The same vocabulary names an existing revision to deploy or diff.
        if let (Some(to), true) = (&self.to, self.flags & 16 != 0) {
            o.insert("task_definition".into(), json!(to.render()));
        }
        if self.flags & 32 != 0 {
            o.insert("keep".into(), json!(u32::from(self.flags) * 7 % 1200));
        }
        if self.flags & 64 != 0 {
            o.insert("limit".into(), json!(u32::from(self.flags) % 120));
        }
        if let Some(targets) = &self.targets {
            let list: Vec<Value> = targets
                .iter()
                .map(|t| {
                    let mut e = json!({"cluster": t.cluster.render(), "service": t.service.render()});
                    if let Some(r) = &t.region {
                        e["region"] = json!(r.render());
                    }
                    e
                })
                .collect();
            o.insert("targets".into(), json!(list));
        }
        for (bit, key) in [(1, "wait"), (2, "dry_run"), (4, "force"), (8, "all_or_nothing")] {
            if self.flags & bit != 0 {
                o.insert(key.into(), json!(true));
            }
        }
        if let Some((k, v)) = &self.stray {
            o.insert(k.clone(), json!(v));
        }
        Value::Object(o)
    }
}

fn check_ref(at: &ServiceRef) {
    let (cluster, service) = (at.cluster.as_str(), at.service.as_str());
    assert!(!cluster.contains([':', '/']) && !service.contains([':', '/']), "resolved to a plain name: {at:?}");
    let region = at.region.as_deref().unwrap_or(REGION);
    assert!(config().allowed.iter().any(|a| a.matches(region, cluster, service, REGION)), "allowed: {at:?}");
}

fn run(request: DeployRequest) {
    let sent = request.version.clone();
    for scope in [Scope::new(REGION, Some(home())), Scope::new(REGION, None)] {
        let Ok(resolved) = resolve(request.clone(), config(), &scope) else { continue };
        match resolved {
            Resolved::Deploy(t) => {
                check_ref(&t.at);
                assert_eq!(Some(t.version.as_str()), sent.as_deref(), "the version as sent");
            }
            Resolved::FanOut { targets, .. } => {
                for t in &targets {
                    check_ref(&t.at);
                    assert_eq!(Some(t.version.as_str()), sent.as_deref(), "the version as sent");
                }
            }
            Resolved::Rollback(r) => check_ref(&r.at),
            Resolved::Status(at) | Resolved::Hooks { at, .. } => check_ref(&at),
            Resolved::History { at, limit } => {
                check_ref(&at);
                assert!((1..=100).contains(&limit), "limit in range: {limit}");
            }
            Resolved::Cleanup(c) => {
                check_ref(&c.at);
                assert!((1..=1000).contains(&c.keep), "keep in range: {}", c.keep);
            }
            Resolved::Diff(t) => {
                check_ref(&t.at);
                assert!(t.options.dry_run, "a diff never changes anything");
            }
            Resolved::Redeploy(r) | Resolved::DiffRevision(r) => {
                check_ref(&r.at);
                assert!(request.version.is_none(), "a revision deploy names no version");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Half the inputs are raw JSON, half are requests built from the vocabulary above.
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 0 => {
            if let Ok(request) = serde_json::from_slice::<DeployRequest>(rest) {
                run(request);
            }
        }
        Some((_, rest)) => {
            let Ok(built) = Request::arbitrary_take_rest(Unstructured::new(rest)) else { return };
            if let Ok(request) = serde_json::from_value::<DeployRequest>(built.json()) {
                run(request);
            }
        }
        None => {}
    }
});
