use contract::names::AllowedTarget;

use super::*;
use contract::request::Action;

const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "111122223333";

fn config() -> Config {
    Config::for_service("prod", "web", "team/web").unwrap()
}

fn home() -> Home {
    Home::new("aws", REGION, ACCOUNT).unwrap()
}

/// Resolves in the function's region, with its home known.
fn resolve(request: DeployRequest, config: &Config) -> Result<Resolved, DeployError> {
    let home = home();
    super::resolve(request, config, &Scope::new(REGION, Some(&home)))
}

fn allowing(entries: &[&str]) -> Config {
    Config { allowed: entries.iter().map(|e| AllowedTarget::parse(e).unwrap()).collect(), ..config() }
}

fn request(json: &str) -> DeployRequest {
    serde_json::from_str(json).unwrap()
}

fn deploy(json: &str, config: &Config) -> Result<DeployTarget, DeployError> {
    match resolve(request(json), config)? {
        Resolved::Deploy(t) => Ok(t),
        other => panic!("not a single deploy: {other:?}"),
    }
}

fn fan_out(json: &str) -> Result<Vec<DeployTarget>, DeployError> {
    fan_out_with(json, &config())
}

fn fan_out_with(json: &str, config: &Config) -> Result<Vec<DeployTarget>, DeployError> {
    match resolve(request(json), config)? {
        Resolved::FanOut { targets, .. } => Ok(targets),
        Resolved::Deploy(t) => Ok(vec![t]),
        other => panic!("not a deploy: {other:?}"),
    }
}

#[test]
fn a_version_is_enough_with_defaults() {
    let t = deploy(r#"{"version":"v2"}"#, &config()).unwrap();
    assert_eq!((&*t.at.cluster, &*t.at.service, &*t.repository), ("prod", "web", "team/web"));
    assert_eq!((t.base, t.options.dry_run, t.version.as_str()), (Base::Latest, false, "v2"));
}

#[test]
fn the_request_overrides_every_default() {
    let t = deploy(
        r#"{"version":"v3","cluster":"arn:aws:ecs:eu-west-1:111122223333:cluster/c2","service":"api",
            "repository":"x/y","containers":["main"],"base":"service","dry_run":true}"#,
        &config(),
    )
    .unwrap();
    assert_eq!(&*t.at.cluster, "c2", "an ARN resolves to the name it means");
    assert_eq!((&*t.at.service, &*t.repository), ("api", "x/y"));
    assert_eq!((t.containers, t.base, t.options.dry_run), (vec!["main".to_string()], Base::Service, true));
}

#[test]
fn targets_fan_out_with_shared_fields_and_their_own_overrides() {
    let targets = fan_out(
        r#"{"version":"v4","containers":["app"],"targets":[
            {"cluster":"prod","service":"a"},
            {"cluster":"prod","service":"b","region":"eu-central-1","containers":["main"]}]}"#,
    )
    .unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!((&*targets[0].at.service, targets[0].at.region.as_deref()), ("a", None));
    assert_eq!(targets[0].containers, ["app"]);
    assert_eq!((&*targets[1].at.service, targets[1].at.region.as_deref()), ("b", Some("eu-central-1")));
    assert_eq!(targets[1].containers, ["main"]);
    assert!(targets.iter().all(|t| t.version.as_str() == "v4" && &*t.repository == "team/web"));
}

#[test]
fn bad_target_lists_are_refused() {
    for bad in [
        r#"{"version":"v2","targets":[]}"#,
        r#"{"version":"v2","service":"x","targets":[{"cluster":"c","service":"s"}]}"#,
        r#"{"version":"v2","targets":[{"cluster":"c","service":"s"},{"cluster":"c","service":"s"}]}"#,
        r#"{"version":"v2","targets":[{"cluster":"c","service":"s","region":"Mars"}]}"#,
        r#"{"version":"v2","all_or_nothing":true}"#,
    ] {
        let err = fan_out(bad).unwrap_err();
        assert_eq!(err.code().as_str(), "InvalidRequest", "{bad}");
    }
    let many: Vec<String> = (0..=MAX_TARGETS).map(|i| format!(r#"{{"cluster":"c","service":"s{i}"}}"#)).collect();
    let req = format!(r#"{{"version":"v2","targets":[{}]}}"#, many.join(","));
    assert_eq!(fan_out(&req).unwrap_err().code().as_str(), "InvalidRequest");
}

#[test]
fn the_allow_list_names_what_may_be_touched() {
    let d = allowing(&["prod/web"]);
    assert!(deploy(r#"{"version":"v2"}"#, &d).is_ok());
    assert!(deploy(r#"{"version":"v2","service":"arn:aws:ecs:eu-west-1:111122223333:service/prod/web"}"#, &d).is_ok());
    let err = deploy(r#"{"version":"v2","service":"api"}"#, &d).unwrap_err();
    assert_eq!(err.code().as_str(), "NotAllowed");
    let home = home();
    let scope = Scope::new(REGION, Some(&home));
    let err = resolve_service(Some("staging".into()), Some("web".into()), None, &d, &scope).unwrap_err();
    assert_eq!(err.code().as_str(), "NotAllowed");
}

/// Issue 16, case 3: the allow-list compared only the last segment of an ARN.
#[test]
fn the_allow_list_compares_the_resolved_identity() {
    let d = allowing(&["prod/web", "eu-central-1/prod/api"]);
    for (json, code) in [
        // Another account's cluster of the same name.
        (r#"{"version":"v2","cluster":"arn:aws:ecs:eu-west-1:999999999999:cluster/prod"}"#, "NotAllowed"),
        (r#"{"version":"v2","service":"arn:aws:ecs:eu-west-1:999999999999:service/prod/web"}"#, "NotAllowed"),
        (r#"{"version":"v2","cluster":"arn:aws-cn:ecs:eu-west-1:111122223333:cluster/prod"}"#, "NotAllowed"),
        // Another region's service of the same names: only eu-central-1/prod/api is allowed there.
        (r#"{"version":"v2","targets":[{"cluster":"prod","service":"web","region":"eu-central-1"}]}"#, "NotAllowed"),
        (r#"{"version":"v2","targets":[{"cluster":"prod","service":"api"}]}"#, "NotAllowed"),
    ] {
        let err = resolve(request(json), &d).unwrap_err();
        assert_eq!(err.code().as_str(), code, "{json}: {err}");
    }
    let ok = fan_out_with(
        r#"{"version":"v2","targets":[{"cluster":"prod","service":"api","region":"eu-central-1"},
        {"cluster":"arn:aws:ecs:eu-west-1:111122223333:cluster/prod","service":"web"}]}"#,
        &d,
    )
    .unwrap();
    assert_eq!((&*ok[1].at.cluster, &*ok[1].at.service), ("prod", "web"));
}

#[test]
fn an_arn_names_one_resource_of_this_account_and_region() {
    let arn = |path: &str| format!("arn:aws:ecs:{REGION}:{ACCOUNT}:{path}");
    let ok = |json: String| deploy(&json, &config()).map(|t| (t.at.cluster.to_string(), t.at.service.to_string()));
    assert_eq!(
        ok(format!(r#"{{"version":"v2","service":"{}"}}"#, arn("service/prod/api"))).unwrap(),
        ("prod".into(), "api".into())
    );
    // The old format names no cluster: it takes one beside it.
    assert_eq!(
        ok(format!(r#"{{"version":"v2","cluster":"c2","service":"{}"}}"#, arn("service/api"))).unwrap(),
        ("c2".into(), "api".into())
    );
    for (json, why) in [
        (format!(r#"{{"version":"v2","service":"{}"}}"#, arn("service/api")), "old format"),
        (format!(r#"{{"version":"v2","service":"{}"}}"#, arn("service/staging/web")), "names cluster staging"),
        (
            format!(r#"{{"version":"v2","cluster":"{}","service":"{}"}}"#, arn("cluster/c2"), arn("service/prod/web")),
            "names cluster prod",
        ),
        (r#"{"version":"v2","cluster":"arn:aws:ecs:us-east-1:111122223333:cluster/prod"}"#.into(), "region us-east-1"),
        (format!(r#"{{"version":"v2","cluster":"{}"}}"#, arn("service/prod/web")), "not of a cluster"),
        (format!(r#"{{"version":"v2","cluster":"{}"}}"#, arn("task/prod/abc")), "not a cluster"),
        (r#"{"version":"v2","cluster":"arn:aws:ecs:eu-west-1:1:cluster/prod"}"#.into(), "12 digits"),
    ] {
        let err = resolve(request(&json), &config()).unwrap_err();
        assert_eq!(err.code().as_str(), "InvalidRequest", "{json}: {err}");
        assert!(err.to_string().contains(why), "{json}: {err}");
    }
    // A target in another region takes ARNs of that region only.
    let targets = fan_out(&format!(
        r#"{{"version":"v2","targets":[{{"cluster":"arn:aws:ecs:eu-central-1:{ACCOUNT}:cluster/prod","service":"web","region":"eu-central-1"}}]}}"#
    ))
    .unwrap();
    assert_eq!((&*targets[0].at.cluster, targets[0].at.region.as_deref()), ("prod", Some("eu-central-1")));
    let err = fan_out(&format!(
        r#"{{"version":"v2","targets":[{{"cluster":"{}","service":"web","region":"eu-central-1"}}]}}"#,
        arn("cluster/prod")
    ))
    .unwrap_err();
    assert!(err.to_string().contains("but the target is in eu-central-1"), "{err}");
    // Without the function's home (no invoked function ARN), no ARN is accepted at all.
    let unknown = super::resolve(
        request(&format!(r#"{{"version":"v2","cluster":"{}"}}"#, arn("cluster/prod"))),
        &config(),
        &Scope::new(REGION, None),
    )
    .unwrap_err();
    assert!(unknown.to_string().contains("does not say which account"), "{unknown}");
    // A home of another region than the function's is no home.
    let home = home();
    let elsewhere = super::resolve(
        request(&format!(r#"{{"version":"v2","cluster":"{}"}}"#, arn("cluster/prod"))),
        &config(),
        &Scope::new("us-east-1", Some(&home)),
    );
    assert_eq!(elsewhere.unwrap_err().code().as_str(), "InvalidRequest");
}

/// Issue 16, case 7: the version was trimmed before it was checked.
#[test]
fn versions_are_checked_exactly_as_sent() {
    for raw in [" v2 ", "v2\n", "\u{a0}v2", "\tv2", "v2 ", "\u{feff}v2"] {
        let json = serde_json::json!({"version": raw}).to_string();
        let err = deploy(&json, &config()).unwrap_err();
        assert_eq!(err.code().as_str(), "InvalidVersion", "{raw:?}");
        assert_eq!(err.details()["version"], raw, "the error shows the version as sent");
    }
}

#[test]
fn a_rollback_target_arn_is_of_this_account_and_a_task_definition() {
    let rollback =
        |to: &str| resolve(request(&serde_json::json!({"action": "rollback", "to": to}).to_string()), &config());
    let Resolved::Rollback(r) = rollback(&format!("arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:7")).unwrap()
    else {
        panic!("a rollback")
    };
    assert_eq!(r.to.map(|t| t.to_string()), Some("web:7".into()));
    let err = rollback("arn:aws:ecs:eu-west-1:999999999999:task-definition/web:7").unwrap_err();
    assert_eq!(err.code().as_str(), "NotAllowed");
    let err = rollback(&format!("arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/web")).unwrap_err();
    assert!(err.to_string().contains("not a task-definition ARN"), "{err}");
}

#[test]
fn a_deploy_needs_a_version_and_takes_no_rollback_target() {
    let err = deploy(r#"{"cluster":"prod"}"#, &config()).unwrap_err();
    assert!(err.to_string().contains("no version"), "{err}");
    let err = deploy(r#"{"version":"v2","to":"web:3"}"#, &config()).unwrap_err();
    assert_eq!(err.code().as_str(), "InvalidRequest");
}

#[test]
fn missing_names_and_bad_names_are_invalid_requests() {
    let err = deploy(r#"{"version":"v2"}"#, &Config::default()).unwrap_err();
    assert_eq!(err.code().as_str(), "InvalidRequest");
    assert!(err.to_string().contains("DEPLOY_CLUSTER"), "{err}");
    for bad in [r#"{"version":"v2","service":"a b"}"#, r#"{"version":"v2","repository":"Team/Web"}"#] {
        assert_eq!(deploy(bad, &config()).unwrap_err().code().as_str(), "InvalidRequest", "{bad}");
    }
    let err = deploy(r#"{"version":"v2;rm"}"#, &config()).unwrap_err();
    assert_eq!(err.code().as_str(), "InvalidVersion");
}

#[test]
fn rollbacks_and_status_take_only_service_fields() {
    let Resolved::Rollback(r) =
        resolve(request(r#"{"action":"rollback","to":"web:7","wait":true}"#), &config()).unwrap()
    else {
        panic!("a rollback")
    };
    assert_eq!((r.to.map(|t| t.to_string()), r.wait, &*r.at.service), (Some("web:7".into()), true, "web"));
    for (bad, field) in [
        (r#"{"action":"rollback","version":"v1"}"#, "version"),
        (r#"{"action":"rollback","base":"service"}"#, "base"),
        (r#"{"action":"status","wait":true}"#, "wait"),
        (r#"{"action":"status","dry_run":true}"#, "dry_run"),
    ] {
        let err = resolve(request(bad), &config()).unwrap_err();
        assert!(err.to_string().contains(&format!("\"{field}\" does not go with")), "{bad}: {err}");
    }
    let err = resolve(request(r#"{"action":"rollback","to":"web"}"#), &config()).unwrap_err();
    assert!(err.to_string().contains("it takes family:revision"), "{err}");
    assert!(matches!(resolve(request(r#"{"action":"status"}"#), &config()).unwrap(), Resolved::Status(_)));
    for (body, action) in [(r#"{"action":"continue"}"#, Action::Continue), (r#"{"action":"reject"}"#, Action::Reject)] {
        let Resolved::Hooks { at, action: got } = resolve(request(body), &config()).unwrap() else { panic!("{body}") };
        assert_eq!((&*at.service, got), ("web", action));
    }
    let err = resolve(request(r#"{"action":"reject","force":true}"#), &config()).unwrap_err();
    assert!(err.to_string().contains("\"force\" does not go with action reject"), "{err}");
}

/// Case 8 of issue 11: the envelope a pipeline deploys with is taken by every action.
#[test]
fn every_action_takes_the_same_envelope() {
    let envelope =
        r#""cluster":"prod","service":"web","repository":"web","region":"eu-central-1","containers":["app"]"#;
    let Resolved::Status(at) = resolve(request(&format!(r#"{{"action":"status",{envelope}}}"#)), &config()).unwrap()
    else {
        panic!("a status")
    };
    assert_eq!((&*at.cluster, &*at.service, at.region.as_deref()), ("prod", "web", Some("eu-central-1")));
    let Resolved::Rollback(r) =
        resolve(request(&format!(r#"{{"action":"rollback","to":"web:2",{envelope}}}"#)), &config()).unwrap()
    else {
        panic!("a rollback")
    };
    assert_eq!((r.at.region.as_deref(), r.to.map(|t| t.to_string())), (Some("eu-central-1"), Some("web:2".into())));
    let t = deploy(&format!(r#"{{"version":"v2",{envelope}}}"#), &config()).unwrap();
    assert_eq!(
        (&*t.repository, t.at.region.as_deref(), t.containers.as_slice()),
        ("web", Some("eu-central-1"), &["app".to_string()][..])
    );

    // The envelope is checked everywhere, and what belongs to one action only is still refused elsewhere.
    for (bad, code) in [
        (r#"{"action":"status","repository":"Team/Web"}"#, "InvalidRequest"),
        (r#"{"action":"status","region":"Mars"}"#, "InvalidRequest"),
        (r#"{"action":"rollback","containers":[""]}"#, "InvalidRequest"),
        (r#"{"action":"status","pin_digest":true}"#, "InvalidRequest"),
    ] {
        assert_eq!(resolve(request(bad), &config()).unwrap_err().code().as_str(), code, "{bad}");
    }
    assert!(serde_json::from_str::<DeployRequest>(r#"{"action":"status","repo":"web"}"#).is_err(), "unknown keys");
}

#[test]
fn a_top_level_region_is_the_default_of_every_target() {
    let targets = fan_out(
        r#"{"version":"v4","region":"eu-west-2","targets":[
            {"cluster":"prod","service":"a"},
            {"cluster":"prod","service":"b","region":"eu-central-1"}]}"#,
    )
    .unwrap();
    let regions: Vec<_> = targets.iter().map(|t| t.at.region.as_deref()).collect();
    assert_eq!(regions, [Some("eu-west-2"), Some("eu-central-1")]);
}

#[test]
fn pin_digest_comes_from_the_request_or_the_configuration() {
    assert!(!deploy(r#"{"version":"v2"}"#, &config()).unwrap().pin_digest);
    assert!(deploy(r#"{"version":"v2","pin_digest":true}"#, &config()).unwrap().pin_digest);
    let pinning = Config { pin_digest: true, ..config() };
    assert!(deploy(r#"{"version":"v2"}"#, &pinning).unwrap().pin_digest);
    assert!(!deploy(r#"{"version":"v2","pin_digest":false}"#, &pinning).unwrap().pin_digest);
}

#[test]
fn revision_actions_take_their_own_fields_and_refuse_the_others() {
    let ok = |json: &str| resolve(request(json), &config()).unwrap_or_else(|e| panic!("{json}: {e}"));
    let refused = |json: &str, config: &Config| {
        let err = resolve(request(json), config).expect_err(json);
        (err.code().as_str().to_owned(), err.to_string())
    };
    match ok(r#"{"task_definition":"web:41","wait":true,"keep":5,"requested_by":"slack:U1"}"#) {
        Resolved::Redeploy(r) => {
            assert_eq!((r.revision.to_string(), r.options.wait, r.keep), ("web:41".into(), true, Some(5)));
            assert_eq!(r.requested_by.as_deref(), Some("slack:U1"));
        }
        other => panic!("{other:?}"),
    }
    match ok(r#"{"task_definition":"arn:aws:ecs:eu-west-1:111122223333:task-definition/web:41"}"#) {
        Resolved::Redeploy(r) => assert_eq!(r.revision.to_string(), "web:41"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(ok(r#"{"action":"history"}"#), Resolved::History { limit: DEFAULT_HISTORY, .. }));
    assert!(matches!(ok(r#"{"action":"history","limit":100}"#), Resolved::History { limit: 100, .. }));
    match ok(r#"{"action":"cleanup","keep":20,"dry_run":true,"delete_inactive":true}"#) {
        Resolved::Cleanup(c) => assert_eq!((c.keep, c.dry_run, c.delete_inactive), (20, true, true)),
        other => panic!("{other:?}"),
    }
    match ok(r#"{"action":"diff","version":"v2"}"#) {
        Resolved::Diff(t) => assert!(t.options.dry_run, "a diff never changes anything"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(ok(r#"{"action":"diff","task_definition":"web:3"}"#), Resolved::DiffRevision(_)));
    match ok(r#"{"version":"v2","keep":3}"#) {
        Resolved::Deploy(t) => assert_eq!((t.keep, t.revision), (Some(3), None)),
        other => panic!("{other:?}"),
    }
    let configured = Config { keep_revisions: Some(7), ..config() };
    match resolve(request(r#"{"action":"cleanup"}"#), &configured).unwrap() {
        Resolved::Cleanup(c) => assert_eq!(c.keep, 7, "DEPLOY_KEEP_REVISIONS is cleanup's default"),
        other => panic!("{other:?}"),
    }

    for (json, says) in [
        (r#"{"task_definition":"web:41","version":"v2"}"#, "\"version\" does not go with \"task_definition\""),
        (r#"{"task_definition":"web:41","base":"service"}"#, "\"base\" does not go with \"task_definition\""),
        (r#"{"task_definition":"web"}"#, "family:revision"),
        (r#"{"action":"history","limit":0}"#, "\"limit\" takes 1 to 100"),
        (r#"{"action":"history","keep":3}"#, "\"keep\" does not go with action history"),
        (r#"{"action":"status","limit":3}"#, "\"limit\" does not go with action status"),
        (r#"{"action":"cleanup"}"#, "no \"keep\""),
        (r#"{"action":"cleanup","keep":0}"#, "\"keep\" takes 1 to 1000"),
        (r#"{"action":"cleanup","keep":5,"version":"v2"}"#, "\"version\" does not go with action cleanup"),
        (r#"{"action":"diff","version":"v2","wait":true}"#, "\"wait\" does not go with action diff"),
        (r#"{"action":"rollback","task_definition":"web:3"}"#, "\"task_definition\" does not go with action rollback"),
        (r#"{"version":"v2","limit":3}"#, "belong to cleanup and history"),
        (r#"{"version":"v2","requested_by":""}"#, "\"requested_by\" takes 1 to 512"),
        (
            r#"{"task_definition":"web:3","targets":[{"cluster":"prod","service":"web"}]}"#,
            "does not go with \"targets\"",
        ),
    ] {
        let (code, message) = refused(json, &config());
        assert_eq!(code, "InvalidRequest", "{json}: {message}");
        assert!(message.contains(says), "{json}: {message}");
    }
    let (code, _) =
        refused(r#"{"task_definition":"arn:aws:ecs:eu-west-1:999999999999:task-definition/web:41"}"#, &config());
    assert_eq!(code, "NotAllowed", "another account's revision");
    let (code, _) = refused(r#"{"action":"history","service":"api"}"#, &allowing(&["prod/web"]));
    assert_eq!(code, "NotAllowed", "history takes the same allow-list as deploys");
    let (code, _) = refused(r#"{"action":"cleanup","keep":3,"service":"api"}"#, &allowing(&["prod/web"]));
    assert_eq!(code, "NotAllowed", "cleanup too");
}
