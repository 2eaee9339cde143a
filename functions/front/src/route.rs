//! From the shape of an HTTP request (method, path, query, body) to what it asks for. Pure: no
//! authentication, no AWS; the handler authenticates before it acts on a [`Command`].
//!
//! | method | path | command |
//! |---|---|---|
//! | POST | `/deploy` | the JSON body, a deploy request: a `version`, or an existing revision (`task_definition`) |
//! | POST | `/rollback` | the JSON body (may be empty), a rollback request |
//! | POST | `/continue` | the JSON body (may be empty), a `continue` request: hooks awaiting action, or a CodeDeploy deployment waiting to reroute |
//! | POST | `/reject` | the JSON body (may be empty), a `reject` request: the same, answered with a rollback |
//! | GET | `/status?cluster=&service=` | a status request |
//! | GET | `/history?cluster=&service=&limit=` | a `history` request: the service's last deploys and rollbacks, and who asked |
//! | POST | `/diff` | the JSON body, as a deploy's (`version` or `task_definition`): a `diff` request, nothing changed |
//! | POST | `/cleanup` | the JSON body (may be empty): a `cleanup` request (`keep`, `delete_inactive`, `dry_run`, the envelope) |
//! | POST | `/slack` | a Slack slash command (form-urlencoded, verified and parsed by [`crate::slack`]) |
//!
//! A body's `requested_by` is read like any field but never trusted: the handler replaces it with the caller
//! it authenticated ([`crate::auth::Caller::requested_by`]) before the request is checked and sent on.

use contract::request::{Action, DeployRequest};
use lambda_http::http::Method;
use serde_json::{Map, Value};

use crate::error::FrontError;

/// What a request asks for, once its shape is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A deploy request as the deployer takes it: `action` is `deploy` and `version` or `task_definition` is
    /// set.
    Deploy(DeployRequest),
    /// A rollback request: `action` is `rollback`.
    Rollback(DeployRequest),
    /// A `continue` or `reject` request: an answer to a rollout that waits for one.
    Answer(DeployRequest),
    /// `GET /status`: the service to report on, when the query names it.
    Status { region: Option<String>, cluster: Option<String>, service: Option<String> },
    /// `GET /history`: the service, when the query names it, and how many entries.
    History { region: Option<String>, cluster: Option<String>, service: Option<String>, limit: Option<u32> },
    /// `POST /diff`: `action` is `diff`.
    Diff(DeployRequest),
    /// `POST /cleanup`: `action` is `cleanup`.
    Cleanup(DeployRequest),
    /// `POST /slack`: the body is a slash command, read once its signature is verified.
    Slack,
}

/// Which authentication a path needs: Slack's signature for `/slack`, IAM or a bearer token elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Api,
    Slack,
}

pub fn door(path: &str) -> Door {
    if normalise(path) == "/slack" {
        Door::Slack
    } else {
        Door::Api
    }
}

/// `/deploy/` is `/deploy`; an empty path is `/`.
fn normalise(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/"
    } else {
        trimmed
    }
}

pub fn route(method: &Method, path: &str, query: Option<&str>, body: &[u8]) -> Result<Command, FrontError> {
    let path = normalise(path);
    let allow = match path {
        "/deploy" | "/rollback" | "/continue" | "/reject" | "/diff" | "/cleanup" | "/slack" => "POST",
        "/status" | "/history" => "GET",
        _ => return Err(FrontError::NotFound { path: path.to_owned() }),
    };
    if method.as_str() != allow {
        return Err(FrontError::MethodNotAllowed { path: path.to_owned(), method: method.to_string(), allow });
    }
    match path {
        "/deploy" => {
            let (request, _) = deploy_request(body, false)?;
            if request.action != Action::Deploy {
                return Err(invalid(format!(
                    "POST /deploy takes deploy requests, not \"action\": \"{}\"; roll back with POST /rollback",
                    request.action.as_str()
                )));
            }
            if request.version.is_none() && request.task_definition.is_none() {
                return Err(invalid(
                    "a deploy request needs \"version\" (or \"task_definition\", an existing revision)".into(),
                ));
            }
            Ok(Command::Deploy(request))
        }
        "/diff" => {
            let (mut request, action_given) = deploy_request(body, false)?;
            if !action_given {
                request.action = Action::Diff;
            }
            if request.action != Action::Diff {
                return Err(invalid(format!(
                    "POST /diff takes diff requests, not \"action\": \"{}\"",
                    request.action.as_str()
                )));
            }
            if request.version.is_none() && request.task_definition.is_none() {
                return Err(invalid("a diff request needs \"version\" or \"task_definition\"".into()));
            }
            Ok(Command::Diff(request))
        }
        "/cleanup" => {
            let (mut request, action_given) = deploy_request(body, true)?;
            if !action_given {
                request.action = Action::Cleanup;
            }
            if request.action != Action::Cleanup {
                return Err(invalid(format!(
                    "POST /cleanup takes cleanup requests, not \"action\": \"{}\"",
                    request.action.as_str()
                )));
            }
            Ok(Command::Cleanup(request))
        }
        "/rollback" => {
            let (mut request, action_given) = deploy_request(body, true)?;
            match request.action {
                // Left out, `action` reads as `deploy`: on this path it means `rollback`.
                Action::Deploy if !action_given => request.action = Action::Rollback,
                Action::Rollback => {}
                other => {
                    return Err(invalid(format!(
                        "POST /rollback takes rollback requests, not \"action\": \"{}\"",
                        other.as_str()
                    )))
                }
            }
            Ok(Command::Rollback(request))
        }
        "/continue" | "/reject" => {
            let wanted = if path == "/continue" { Action::Continue } else { Action::Reject };
            let (mut request, action_given) = deploy_request(body, true)?;
            if !action_given {
                request.action = wanted;
            }
            if request.action != wanted {
                return Err(invalid(format!(
                    "POST {path} takes {} requests, not \"action\": \"{}\"",
                    wanted.as_str(),
                    request.action.as_str()
                )));
            }
            Ok(Command::Answer(request))
        }
        "/status" => {
            let ServiceQuery { region, cluster, service, .. } = service_query(path, query, false)?;
            Ok(Command::Status { region, cluster, service })
        }
        "/history" => {
            let ServiceQuery { region, cluster, service, limit } = service_query(path, query, true)?;
            let limit = limit
                .map(|l| l.parse::<u32>().map_err(|_| invalid(format!("limit is {l:?}; it takes a number"))))
                .transpose()?;
            Ok(Command::History { region, cluster, service, limit })
        }
        _ => Ok(Command::Slack),
    }
}

/// What a `GET` query names: `region`, `cluster`, `service` and, where taken, `limit` (as written).
#[derive(Debug, Default)]
struct ServiceQuery {
    region: Option<String>,
    cluster: Option<String>,
    service: Option<String>,
    limit: Option<String>,
}

/// `region`, `cluster`, `service` and (where `limit` is taken) `limit` from a query, each at most once; an
/// empty value is left out. The region is checked where a body's would be (`check::check`).
fn service_query(path: &str, query: Option<&str>, takes_limit: bool) -> Result<ServiceQuery, FrontError> {
    let mut q = ServiceQuery::default();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let slot = match key.as_ref() {
            "region" => &mut q.region,
            "cluster" => &mut q.cluster,
            "service" => &mut q.service,
            "limit" if takes_limit => &mut q.limit,
            other => {
                let takes =
                    if takes_limit { "region, cluster, service and limit" } else { "region, cluster and service" };
                return Err(invalid(format!("GET {path} takes {takes}, not {other:?}")));
            }
        };
        if slot.is_some() {
            return Err(invalid(format!("{key} is given twice")));
        }
        *slot = Some(value.into_owned()).filter(|v| !v.is_empty());
    }
    Ok(q)
}

fn invalid(reason: String) -> FrontError {
    FrontError::InvalidRequest { reason }
}

/// The body as a [`DeployRequest`], and whether it names its `action` (the typed request cannot tell
/// `deploy` from left out); an empty body is `{}` where `empty_ok`. Errors (`InvalidRequest`): not JSON,
/// not an object, an explicit `null` where a name or the list of targets belongs, or a field the request
/// does not take or of the wrong type (serde's message).
fn deploy_request(body: &[u8], empty_ok: bool) -> Result<(DeployRequest, bool), FrontError> {
    let map = json_object(body, empty_ok)?;
    let action_given = map.contains_key("action");
    // The contract reads `null` as "left out", which would fill in the door's default service; an explicit
    // null is refused instead, as it always was.
    for (key, kind) in [("cluster", "a string"), ("service", "a string"), ("targets", "a list")] {
        if map.get(key).is_some_and(Value::is_null) {
            return Err(invalid(format!("\"{key}\" must be {kind}")));
        }
    }
    let request = serde_json::from_value(Value::Object(map)).map_err(|e| invalid(e.to_string()))?;
    Ok((request, action_given))
}

/// The body as a JSON object; an empty body is `{}` where `empty_ok`.
fn json_object(body: &[u8], empty_ok: bool) -> Result<Map<String, Value>, FrontError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return if empty_ok { Ok(Map::new()) } else { Err(invalid("the body must be a JSON object".into())) };
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid("the body must be a JSON object".into())),
        Err(e) => Err(invalid(format!("the body is not JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(v: Value) -> DeployRequest {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn requests_become_commands() {
        let cases: Vec<(&str, &str, Option<&str>, &str, Command)> = vec![
            ("POST", "/deploy", None, r#"{"version":"v2"}"#, Command::Deploy(request(json!({"version": "v2"})))),
            (
                "POST",
                "/deploy/",
                None,
                r#"{"action":"deploy","version":"v2","wait":true}"#,
                Command::Deploy(request(json!({"action": "deploy", "version": "v2", "wait": true}))),
            ),
            ("POST", "/rollback", None, "", Command::Rollback(request(json!({"action": "rollback"})))),
            (
                "POST",
                "/rollback",
                None,
                r#"{"cluster":"prod","service":"web","to":"web:7"}"#,
                Command::Rollback(request(
                    json!({"action": "rollback", "cluster": "prod", "service": "web", "to": "web:7"}),
                )),
            ),
            (
                "GET",
                "/status",
                Some("cluster=prod&service=web"),
                "",
                Command::Status { region: None, cluster: Some("prod".into()), service: Some("web".into()) },
            ),
            ("GET", "/status", None, "", Command::Status { region: None, cluster: None, service: None }),
            (
                "GET",
                "/status",
                Some("service=my%2Dweb&cluster="),
                "",
                Command::Status { region: None, cluster: None, service: Some("my-web".into()) },
            ),
            ("POST", "/slack", None, "token=x&text=help", Command::Slack),
            (
                "POST",
                "/deploy",
                None,
                r#"{"task_definition":"web:41"}"#,
                Command::Deploy(request(json!({"task_definition": "web:41"}))),
            ),
            (
                "GET",
                "/history",
                Some("cluster=prod&service=web&limit=5"),
                "",
                Command::History {
                    region: None,
                    cluster: Some("prod".into()),
                    service: Some("web".into()),
                    limit: Some(5),
                },
            ),
            (
                "GET",
                "/history/",
                None,
                "",
                Command::History { region: None, cluster: None, service: None, limit: None },
            ),
            (
                "POST",
                "/diff",
                None,
                r#"{"service":"web","version":"v2"}"#,
                Command::Diff(request(json!({"action": "diff", "service": "web", "version": "v2"}))),
            ),
            (
                "POST",
                "/diff",
                None,
                r#"{"action":"diff","task_definition":"web:41"}"#,
                Command::Diff(request(json!({"action": "diff", "task_definition": "web:41"}))),
            ),
            ("POST", "/cleanup", None, "", Command::Cleanup(request(json!({"action": "cleanup"})))),
            (
                "POST",
                "/cleanup",
                None,
                r#"{"keep":20,"delete_inactive":true,"dry_run":true,"requested_by":"someone"}"#,
                Command::Cleanup(request(json!({"action": "cleanup", "keep": 20, "delete_inactive": true,
                    "dry_run": true, "requested_by": "someone"}))),
            ),
            ("POST", "/continue", None, "", Command::Answer(request(json!({"action": "continue"})))),
            (
                "POST",
                "/reject",
                None,
                r#"{"cluster":"prod","service":"web"}"#,
                Command::Answer(request(json!({"action": "reject", "cluster": "prod", "service": "web"}))),
            ),
            (
                "POST",
                "/continue/",
                None,
                r#"{"action":"continue","service":"web"}"#,
                Command::Answer(request(json!({"action": "continue", "service": "web"}))),
            ),
        ];
        for (method, path, query, body, expected) in cases {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let got = route(&method, path, query, body.as_bytes());
            assert_eq!(got.as_ref().ok(), Some(&expected), "{method} {path}: {got:?}");
        }
    }

    #[test]
    fn refusals_have_their_codes() {
        let cases = [
            ("GET", "/", None, "", "NotFound"),
            ("POST", "/deploy/now", None, "{}", "NotFound"),
            ("GET", "/deploy", None, "", "MethodNotAllowed"),
            ("POST", "/status", None, "", "MethodNotAllowed"),
            ("DELETE", "/rollback", None, "", "MethodNotAllowed"),
            ("GET", "/slack", None, "", "MethodNotAllowed"),
            ("POST", "/deploy", None, "", "InvalidRequest"),
            ("POST", "/deploy", None, "[1]", "InvalidRequest"),
            ("POST", "/deploy", None, "{\"version\":", "InvalidRequest"),
            ("POST", "/deploy", None, r#"{"cluster":"prod"}"#, "InvalidRequest"),
            ("POST", "/deploy", None, r#"{"version":"v2","action":"rollback"}"#, "InvalidRequest"),
            ("POST", "/rollback", None, r#"{"action":"status"}"#, "InvalidRequest"),
            ("POST", "/rollback", None, r#"{"action":"deploy"}"#, "InvalidRequest"),
            ("POST", "/deploy", None, r#"{"version":"v2","dryrun":true}"#, "InvalidRequest"),
            ("POST", "/deploy", None, r#"{"version":"v2","wait":"yes"}"#, "InvalidRequest"),
            ("POST", "/deploy", None, r#"{"version":"v2","service":null}"#, "InvalidRequest"),
            ("POST", "/deploy", None, r#"{"version":"v2","targets":{"cluster":"c"}}"#, "InvalidRequest"),
            ("POST", "/deploy", None, r#"{"version":"v2","targets":[{"cluster":"c"}]}"#, "InvalidRequest"),
            ("POST", "/rollback", None, r#"{"cluster":7}"#, "InvalidRequest"),
            ("GET", "/continue", None, "", "MethodNotAllowed"),
            ("POST", "/continue", None, r#"{"action":"reject"}"#, "InvalidRequest"),
            ("POST", "/reject", None, r#"{"action":"rollback"}"#, "InvalidRequest"),
            ("POST", "/reject", None, r#"{"hooks":["h1"]}"#, "InvalidRequest"),
            ("GET", "/status", Some("cluster=a&cluster=b"), "", "InvalidRequest"),
            ("GET", "/status", Some("cluster=a&verbose=1"), "", "InvalidRequest"),
            ("GET", "/status", Some("limit=5"), "", "InvalidRequest"),
            ("GET", "/history", Some("limit=five"), "", "InvalidRequest"),
            ("GET", "/history", Some("limit=-1"), "", "InvalidRequest"),
            ("GET", "/history", Some("limit=1&limit=2"), "", "InvalidRequest"),
            ("GET", "/history", Some("keep=1"), "", "InvalidRequest"),
            ("POST", "/history", None, "", "MethodNotAllowed"),
            ("GET", "/diff", None, "", "MethodNotAllowed"),
            ("GET", "/cleanup", None, "", "MethodNotAllowed"),
            ("POST", "/diff", None, "", "InvalidRequest"),
            ("POST", "/diff", None, r#"{"service":"web"}"#, "InvalidRequest"),
            ("POST", "/diff", None, r#"{"action":"deploy","version":"v2"}"#, "InvalidRequest"),
            ("POST", "/cleanup", None, r#"{"action":"history"}"#, "InvalidRequest"),
            ("POST", "/cleanup", None, r#"{"keep":"20"}"#, "InvalidRequest"),
            ("POST", "/deploy", None, r#"{"action":"diff","version":"v2"}"#, "InvalidRequest"),
        ];
        for (method, path, query, body, code) in cases {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let err = route(&method, path, query, body.as_bytes()).unwrap_err();
            assert_eq!(err.code(), code, "{method} {path} {body}: {err}");
        }
        let err = route(&Method::PUT, "/deploy", None, b"").unwrap_err();
        assert_eq!(err.details(), json!({"allow": "POST"}));
        let err = route(&Method::POST, "/deploy", None, br#"{"version":"v2","dryrun":true}"#).unwrap_err();
        assert!(err.to_string().starts_with("invalid request: unknown field `dryrun`"), "{err}");
        let err = route(&Method::POST, "/deploy", None, br#"{"version":"v2","action":"rollback"}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid request: POST /deploy takes deploy requests, not \"action\": \"rollback\"; roll back with POST /rollback"
        );
    }

    #[test]
    fn only_slack_takes_slack_signatures() {
        assert_eq!(door("/slack"), Door::Slack);
        assert_eq!(door("/slack/"), Door::Slack);
        for path in ["/deploy", "/status", "/", "/slackx", "/x/slack"] {
            assert_eq!(door(path), Door::Api, "{path}");
        }
    }
}
