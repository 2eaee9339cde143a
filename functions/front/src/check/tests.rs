//! The door's checks on data: what passes is sent with resolved names; what fails has its code.

use serde_json::{json, Value};

use super::*;
use crate::config::AllowList;

const ARN: &str = "arn:aws:ecs:us-east-1:123456789012";

fn home() -> Home {
    Home::from_function_arn("arn:aws:lambda:us-east-1:123456789012:function:front").unwrap()
}

fn config(allowed: &str) -> Config {
    Config {
        deployer_function: "deployer".into(),
        default_cluster: Some("demo".into()),
        default_service: Some("web".into()),
        allowed: AllowList::parse(allowed).unwrap(),
        region: "us-east-1".into(),
        ..Config::default()
    }
}

fn request(v: Value) -> DeployRequest {
    serde_json::from_value(v).unwrap()
}

/// The code of the refusal, or the JSON sent to the deployer.
fn outcome(config: &Config, home: Option<&Home>, v: Value) -> Value {
    match check(request(v), config, home) {
        Ok(checked) => serde_json::to_value(checked.request).unwrap(),
        Err(e) => json!(e.code().as_str()),
    }
}

#[test]
fn versions_are_checked_exactly_as_sent() {
    let c = config("demo/web");
    for version in ["v2", "v1.4.2", "_x", &format!("sha256:{}", "a".repeat(64))] {
        assert_eq!(outcome(&c, Some(&home()), json!({"version": version}))["version"], version);
    }
    // The cases: each was trimmed into `v2` before it was checked.
    for version in [" v2 ", "v2\n", "\u{a0}v2", "v2\u{a0}", "v 2", "", "-v2", "v2:latest", "sha256:abc"] {
        assert_eq!(outcome(&c, Some(&home()), json!({"version": version})), "InvalidVersion", "{version:?}");
    }
}

#[test]
fn arns_count_only_in_this_account_and_region_and_become_names() {
    let c = config("demo/web");
    let h = home();
    let cases = [
        (
            json!({"version": "v2", "cluster": format!("{ARN}:cluster/demo")}),
            json!({"version": "v2", "cluster": "demo", "service": "web"}),
        ),
        (
            json!({"version": "v2", "cluster": "demo", "service": format!("{ARN}:service/demo/web")}),
            json!({"version": "v2", "cluster": "demo", "service": "web"}),
        ),
        (
            json!({"version": "v2", "service": format!("{ARN}:service/web")}),
            json!({"version": "v2", "cluster": "demo", "service": "web"}),
        ),
        // The case: the allowed name, in another account.
        (json!({"version": "v2", "cluster": "arn:aws:ecs:us-east-1:999999999999:cluster/demo"}), json!("NotAllowed")),
        (json!({"version": "v2", "cluster": "arn:aws:ecs:eu-west-1:123456789012:cluster/demo"}), json!("NotAllowed")),
        (
            json!({"version": "v2", "cluster": "arn:aws-cn:ecs:us-east-1:123456789012:cluster/demo"}),
            json!("NotAllowed"),
        ),
        (
            json!({"version": "v2", "service": "arn:aws:ecs:us-east-1:999999999999:service/demo/web"}),
            json!("NotAllowed"),
        ),
        // A service ARN of another cluster than the request's.
        (
            json!({"version": "v2", "cluster": "demo", "service": format!("{ARN}:service/prod/web")}),
            json!("InvalidRequest"),
        ),
        (json!({"version": "v2", "cluster": format!("{ARN}:cluster/demo/x")}), json!("InvalidRequest")),
        (json!({"version": "v2", "cluster": format!("{ARN}:service/demo")}), json!("InvalidRequest")),
        (json!({"version": "v2", "cluster": "arn:aws:ecs:us-east-1:1:cluster/demo"}), json!("InvalidRequest")),
        (json!({"version": "v2", "cluster": "de mo"}), json!("InvalidRequest")),
    ];
    for (input, expected) in cases {
        assert_eq!(outcome(&c, Some(&h), input.clone()), expected, "{input}");
    }
    // Without knowing its own account, the door takes names only.
    assert_eq!(outcome(&c, None, json!({"version": "v2", "cluster": format!("{ARN}:cluster/demo")})), "NotAllowed");
    assert_eq!(outcome(&c, None, json!({"version": "v2", "cluster": "demo"}))["cluster"], "demo");
}

#[test]
fn rollbacks_and_status_take_only_their_fields() {
    let c = config("demo/web");
    let h = home();
    let cases = [
        (json!({"action": "rollback"}), json!({"action": "rollback", "cluster": "demo", "service": "web"})),
        (
            json!({"action": "rollback", "to": format!("{ARN}:task-definition/web:41"), "wait": true}),
            json!({"action": "rollback", "cluster": "demo", "service": "web", "to": "web:41", "wait": true}),
        ),
        (
            json!({"action": "rollback", "to": "arn:aws:ecs:us-east-1:999999999999:task-definition/web:41"}),
            json!("NotAllowed"),
        ),
        (json!({"action": "rollback", "to": "web"}), json!("InvalidRequest")),
        (json!({"action": "rollback", "version": "v2"}), json!("InvalidRequest")),
        (json!({"action": "rollback", "dry_run": true}), json!("InvalidRequest")),
        (json!({"action": "status"}), json!({"action": "status", "cluster": "demo", "service": "web"})),
        (json!({"action": "status", "wait": true}), json!("InvalidRequest")),
        (json!({"action": "status", "to": "web:1"}), json!("InvalidRequest")),
        (json!({"action": "continue"}), json!({"action": "continue", "cluster": "demo", "service": "web"})),
        (
            json!({"action": "reject", "service": "web"}),
            json!({"action": "reject", "cluster": "demo", "service": "web"}),
        ),
        (json!({"action": "continue", "wait": true}), json!("InvalidRequest")),
        (json!({"action": "reject", "version": "v2"}), json!("InvalidRequest")),
        (json!({"action": "reject", "service": "db"}), json!("NotAllowed")),
        (json!({"version": "v2", "to": "web:1"}), json!("InvalidRequest")),
        (json!({"version": "v2", "all_or_nothing": true}), json!("InvalidRequest")),
        (json!({"version": "v2", "repository": "Team/Web"}), json!("InvalidRequest")),
        (json!({"version": "v2", "containers": [""]}), json!("InvalidRequest")),
        (json!({}), json!("InvalidRequest")),
    ];
    for (input, expected) in cases {
        assert_eq!(outcome(&c, Some(&h), input.clone()), expected, "{input}");
    }
}

#[test]
fn targets_are_each_checked_resolved_and_allowed() {
    let c = config("demo/web,demo/api,eu-west-1/demo/api");
    let h = home();
    let ok = json!({"version": "v2", "targets": [
        {"cluster": format!("{ARN}:cluster/demo"), "service": "web"},
        {"cluster": "demo", "service": "arn:aws:ecs:eu-west-1:123456789012:service/demo/api", "region": "eu-west-1"},
    ]});
    assert_eq!(
        outcome(&c, Some(&h), ok)["targets"],
        json!([{"cluster": "demo", "service": "web"}, {"cluster": "demo", "service": "api", "region": "eu-west-1"}])
    );
    let target = |cluster: &str, service: &str| json!({"cluster": cluster, "service": service});
    let cases = [
        (json!([target("demo", "web"), target("demo", "db")]), "NotAllowed"),
        (json!([target("arn:aws:ecs:us-east-1:999999999999:cluster/demo", "web")]), "NotAllowed"),
        // A target's ARNs are of its own region.
        (json!([{"cluster": format!("{ARN}:cluster/demo"), "service": "web", "region": "eu-west-1"}]), "NotAllowed"),
        (json!([{"cluster": "demo", "service": "web", "region": "Mars"}]), "InvalidRequest"),
        (json!([target("demo", "web"), target(&format!("{ARN}:cluster/demo"), "web")]), "InvalidRequest"),
        (json!([]), "InvalidRequest"),
        (json!(vec![target("demo", "web"); MAX_TARGETS + 1]), "InvalidRequest"),
        (json!([{"cluster": "demo", "service": "web", "containers": [""]}]), "InvalidRequest"),
    ];
    for (targets, code) in cases {
        let input = json!({"version": "v2", "targets": targets});
        assert_eq!(outcome(&c, Some(&h), input.clone()), code, "{input}");
    }
    let beside = json!({"version": "v2", "cluster": "demo", "targets": [target("demo", "web")]});
    assert_eq!(outcome(&c, Some(&h), beside), "InvalidRequest");
}

/// Issue 23, D11: a top-level `region` (README "Request": every action takes it) is forwarded, and the
/// allow-list judges the service in that region; the request's ARNs are of that region.
#[test]
fn a_top_level_region_is_forwarded_and_judged_there() {
    let c = config("demo/web,eu-west-1/demo/api");
    let h = home();
    for (input, expected) in [
        (
            json!({"action": "status", "region": "us-east-1"}),
            json!({"action": "status", "region": "us-east-1", "cluster": "demo", "service": "web"}),
        ),
        (
            json!({"version": "v2", "region": "eu-west-1", "service": "api", "dry_run": true}),
            json!({"version": "v2", "region": "eu-west-1", "cluster": "demo", "service": "api", "dry_run": true}),
        ),
        (
            json!({"action": "history", "region": "eu-west-1", "service": "arn:aws:ecs:eu-west-1:123456789012:service/demo/api", "cluster": "demo"}),
            json!({"action": "history", "region": "eu-west-1", "cluster": "demo", "service": "api"}),
        ),
        // A target without its own region is in the request's.
        (
            json!({"version": "v2", "region": "eu-west-1", "targets": [{"cluster": "demo", "service": "api"}]}),
            json!({"version": "v2", "region": "eu-west-1", "targets": [{"cluster": "demo", "service": "api"}]}),
        ),
        // demo/web is allowed in the function's region only; demo/api in eu-west-1 only.
        (json!({"action": "status", "region": "eu-west-1"}), json!("NotAllowed")),
        (json!({"action": "status", "service": "api"}), json!("NotAllowed")),
        (
            json!({"version": "v2", "region": "eu-west-1", "targets": [{"cluster": "demo", "service": "web"}]}),
            json!("NotAllowed"),
        ),
        // The request's ARNs are of its region.
        (
            json!({"action": "status", "region": "eu-west-1", "cluster": format!("{ARN}:cluster/demo"), "service": "api"}),
            json!("NotAllowed"),
        ),
        (json!({"action": "status", "region": "Mars"}), json!("InvalidRequest")),
    ] {
        assert_eq!(outcome(&c, Some(&h), input.clone()), expected, "{input}");
    }
}

#[test]
fn an_open_door_still_checks_and_a_closed_one_needs_names() {
    let open = Config { default_cluster: None, default_service: None, ..config("") };
    let h = home();
    assert_eq!(outcome(&open, Some(&h), json!({"version": "v2"})), json!({"version": "v2"}));
    assert_eq!(
        outcome(&open, Some(&h), json!({"version": "v2", "service": format!("{ARN}:service/web")})),
        json!({"version": "v2", "service": "web"})
    );
    assert_eq!(
        outcome(&open, Some(&h), json!({"version": "v2", "service": format!("{ARN}:service/demo/web")})),
        "InvalidRequest"
    );
    assert_eq!(outcome(&open, Some(&h), json!({"version": "v 2"})), "InvalidVersion");
    let closed = Config { default_cluster: None, default_service: None, ..config("demo/web") };
    assert_eq!(outcome(&closed, Some(&h), json!({"version": "v2", "service": "web"})), "NotAllowed");
    let checked =
        check(request(json!({"version": "v2", "cluster": "demo", "service": "web"})), &closed, Some(&h)).unwrap();
    assert_eq!(checked.services, [("demo".to_owned(), "web".to_owned())]);
}

#[test]
fn an_existing_revision_is_deployed_by_name_and_resolved_like_to() {
    let c = config("demo/web");
    let h = home();
    let cases = [
        (
            json!({"task_definition": "web:41"}),
            json!({"cluster": "demo", "service": "web", "task_definition": "web:41"}),
        ),
        (
            json!({"task_definition": format!("{ARN}:task-definition/web:41"), "wait": true, "keep": 20}),
            json!({"cluster": "demo", "service": "web", "task_definition": "web:41", "wait": true, "keep": 20}),
        ),
        (json!({"task_definition": "arn:aws:ecs:us-east-1:999999999999:task-definition/web:41"}), json!("NotAllowed")),
        (json!({"task_definition": "arn:aws:ecs:eu-west-1:123456789012:task-definition/web:41"}), json!("NotAllowed")),
        (json!({"task_definition": format!("{ARN}:task-definition/web")}), json!("InvalidRequest")),
        (json!({"task_definition": "web"}), json!("InvalidRequest")),
        (json!({"task_definition": "web:41", "version": "v2"}), json!("InvalidRequest")),
        (json!({"task_definition": "web:41", "base": "service"}), json!("InvalidRequest")),
        (json!({"task_definition": "web:41", "pin_digest": true}), json!("InvalidRequest")),
        (json!({"task_definition": "web:41", "limit": 3}), json!("InvalidRequest")),
        (json!({"task_definition": "web:41", "keep": 0}), json!("InvalidRequest")),
        (json!({"task_definition": "web:41", "service": "db"}), json!("NotAllowed")),
        // The deployer would deploy the targets and ignore the revision: refused here.
        (
            json!({"task_definition": "web:41", "targets": [{"cluster": "demo", "service": "web"}]}),
            json!("InvalidRequest"),
        ),
        (json!({"version": "v2", "keep": 1001}), json!("InvalidRequest")),
        (json!({"version": "v2", "limit": 5}), json!("InvalidRequest")),
        (json!({"version": "v2", "delete_inactive": true}), json!("InvalidRequest")),
        (
            json!({"version": "v2", "keep": 1000}),
            json!({"version": "v2", "cluster": "demo", "service": "web", "keep": 1000}),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(outcome(&c, Some(&h), input.clone()), expected, "{input}");
    }
    let err = check(request(json!({"task_definition": "web"})), &c, Some(&h)).unwrap_err();
    assert!(err.to_string().contains("\"task_definition\" is \"web\""), "{err}");
}

#[test]
fn history_diff_and_cleanup_take_what_the_deployer_takes() {
    let c = config("demo/web");
    let h = home();
    let cases = [
        (json!({"action": "history"}), json!({"action": "history", "cluster": "demo", "service": "web"})),
        (
            json!({"action": "history", "limit": 100, "repository": "web", "containers": ["app"]}),
            json!({"action": "history", "cluster": "demo", "service": "web", "limit": 100, "repository": "web",
                   "containers": ["app"]}),
        ),
        (json!({"action": "history", "limit": 0}), json!("InvalidRequest")),
        (json!({"action": "history", "limit": 101}), json!("InvalidRequest")),
        (json!({"action": "history", "dry_run": true}), json!("InvalidRequest")),
        (json!({"action": "history", "keep": 3}), json!("InvalidRequest")),
        (json!({"action": "history", "task_definition": "web:1"}), json!("InvalidRequest")),
        (json!({"action": "history", "service": "db"}), json!("NotAllowed")),
        (
            json!({"action": "diff", "version": "v2"}),
            json!({"action": "diff", "version": "v2", "cluster": "demo", "service": "web"}),
        ),
        (
            json!({"action": "diff", "task_definition": format!("{ARN}:task-definition/web:41")}),
            json!({"action": "diff", "cluster": "demo", "service": "web", "task_definition": "web:41"}),
        ),
        (json!({"action": "diff"}), json!("InvalidRequest")),
        (json!({"action": "diff", "version": " v2"}), json!("InvalidVersion")),
        (json!({"action": "diff", "version": "v2", "wait": true}), json!("InvalidRequest")),
        (json!({"action": "diff", "version": "v2", "force": true}), json!("InvalidRequest")),
        (json!({"action": "diff", "version": "v2", "rollback": false}), json!("InvalidRequest")),
        (json!({"action": "diff", "version": "v2", "keep": 3}), json!("InvalidRequest")),
        (json!({"action": "diff", "version": "v2", "task_definition": "web:41"}), json!("InvalidRequest")),
        (
            json!({"action": "diff", "version": "v2", "targets": [{"cluster": "demo", "service": "web"}]}),
            json!("InvalidRequest"),
        ),
        (json!({"action": "diff", "version": "v2", "service": "db"}), json!("NotAllowed")),
        (
            json!({"action": "cleanup", "keep": 20, "delete_inactive": true, "dry_run": true}),
            json!({"action": "cleanup", "cluster": "demo", "service": "web", "keep": 20, "delete_inactive": true,
                   "dry_run": true}),
        ),
        // Without `keep` the deployer's DEPLOY_KEEP_REVISIONS may apply: passed on.
        (json!({"action": "cleanup"}), json!({"action": "cleanup", "cluster": "demo", "service": "web"})),
        (json!({"action": "cleanup", "keep": 0}), json!("InvalidRequest")),
        (json!({"action": "cleanup", "keep": 1001}), json!("InvalidRequest")),
        (json!({"action": "cleanup", "keep": 5, "wait": true}), json!("InvalidRequest")),
        (json!({"action": "cleanup", "keep": 5, "limit": 5}), json!("InvalidRequest")),
        (json!({"action": "cleanup", "keep": 5, "version": "v2"}), json!("InvalidRequest")),
        (json!({"action": "cleanup", "keep": 5, "service": "db"}), json!("NotAllowed")),
        (json!({"action": "cleanup", "keep": 5, "repository": "Web"}), json!("InvalidRequest")),
        // The envelope goes with every action, as the deployer takes it.
        (
            json!({"action": "rollback", "repository": "web", "containers": ["app"]}),
            json!({"action": "rollback", "cluster": "demo", "service": "web", "repository": "web",
                   "containers": ["app"]}),
        ),
        (json!({"action": "rollback", "pin_digest": true}), json!("InvalidRequest")),
        (json!({"action": "status", "keep": 3}), json!("InvalidRequest")),
        (json!({"action": "reject", "task_definition": "web:3"}), json!("InvalidRequest")),
    ];
    for (input, expected) in cases {
        assert_eq!(outcome(&c, Some(&h), input.clone()), expected, "{input}");
    }
}

#[test]
fn requested_by_is_checked_as_the_deployer_checks_it() {
    let c = config("demo/web");
    let h = home();
    let by = |who: &str| outcome(&c, Some(&h), json!({"action": "status", "requested_by": who}));
    assert_eq!(by("slack:U1")["requested_by"], "slack:U1");
    assert_eq!(by(&"x".repeat(MAX_REQUESTED_BY))["requested_by"].as_str().unwrap().len(), MAX_REQUESTED_BY);
    for bad in ["", "a\nb", &"x".repeat(MAX_REQUESTED_BY + 1)] {
        assert_eq!(by(bad), "InvalidRequest", "{bad:?}");
    }
}

#[test]
fn codedeploy_names_and_hooks_come_only_from_the_callers_the_operator_allows() {
    // Issue 23.1/23.2: the probe's bodies, from a bearer-token caller of a door allowing demo/bg.
    let mut c = config("demo/web,demo/bg");
    let bodies = [
        json!({"service": "bg", "version": "v2", "codedeploy": {"application": "AppECS-demo-pay", "deployment_group": "DgpECS-demo-pay"}}),
        json!({"action": "continue", "service": "bg", "codedeploy": {"application": "AppECS-demo-pay", "deployment_group": "DgpECS-demo-pay"}}),
        json!({"action": "reject", "service": "bg", "codedeploy": {"deployment_group": "DgpECS-demo-pay"}}),
        json!({"action": "rollback", "service": "bg", "codedeploy": {"application": "AppECS-demo-pay"}}),
        json!({"action": "status", "service": "bg", "codedeploy": {"deployment_group": "DgpECS-demo-pay"}}),
        json!({"action": "diff", "service": "bg", "version": "v3", "codedeploy": {"deployment_group": "DgpECS-demo-pay"}}),
        json!({"version": "v3", "codedeploy": {"hooks": {}}}),
        json!({"service": "bg", "version": "v2", "codedeploy": {"hooks": {"BeforeInstall": "arn:aws:lambda:us-east-1:999999999999:function:collector"}}}),
        json!({"version": "v3", "codedeploy": {"deployment_config": "CodeDeployDefault.ECSAllAtOnce"}}),
    ];
    let with = |v: &Value, who: &str| {
        let mut v = v.clone();
        v["requested_by"] = json!(who);
        v
    };
    for body in &bodies {
        assert_eq!(outcome(&c, Some(&home()), with(body, "bearer-token")), json!("NotAllowed"), "{body}");
    }
    // An empty object sets nothing: passed on as it is.
    let sent = outcome(&c, Some(&home()), with(&json!({"version": "v3", "codedeploy": {}}), "bearer-token"));
    assert_eq!(sent["version"], "v3", "{sent}");
    // A caller the operator names is forwarded (the deployer then holds the group to the service's).
    let ci = "arn:aws:sts::123456789012:assumed-role/ci/job";
    c.codedeploy_callers = vec![ci.into()];
    for body in &bodies {
        let sent = outcome(&c, Some(&home()), with(body, ci));
        assert_eq!(sent["codedeploy"], body["codedeploy"], "{body}: {sent}");
        assert_eq!(outcome(&c, Some(&home()), with(body, "bearer-token")), json!("NotAllowed"), "{body}");
    }
    let read = Config::from_lookup(
        |n| match n {
            "DEPLOYER_FUNCTION" => Some("deployer".into()),
            "CODEDEPLOY_OVERRIDE_CALLERS" => Some(format!("bearer-token, {ci}")),
            _ => None,
        },
        "us-east-1",
    )
    .unwrap();
    assert_eq!(read.codedeploy_callers, ["bearer-token", ci]);
}
