//! From the shape of an HTTP request (method, path, query, body) to what it asks for. Pure: no
//! authentication, no AWS; the handler authenticates before it acts on a [`Command`].
//!
//! | method | path | command |
//! |---|---|---|
//! | POST | `/deploy` | the JSON body, a deploy request |
//! | POST | `/rollback` | the JSON body (may be empty), a rollback request |
//! | GET | `/status?cluster=&service=` | a status request |
//! | POST | `/slack` | a Slack slash command (form-urlencoded, verified and parsed by [`crate::slack`]) |

use lambda_http::http::Method;
use serde_json::{Map, Value};

use crate::error::FrontError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A deploy request as the deployer takes it.
    Deploy(Map<String, Value>),
    /// A rollback request: `action` is `rollback`.
    Rollback(Map<String, Value>),
    Status {
        cluster: Option<String>,
        service: Option<String>,
    },
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
        "/deploy" | "/rollback" | "/slack" => "POST",
        "/status" => "GET",
        _ => return Err(FrontError::NotFound { path: path.to_owned() }),
    };
    if method.as_str() != allow {
        return Err(FrontError::MethodNotAllowed { path: path.to_owned(), method: method.to_string(), allow });
    }
    match path {
        "/deploy" => {
            let request = json_object(body, false)?;
            match request.get("action") {
                None => {}
                Some(Value::String(a)) if a == "deploy" => {}
                Some(other) => {
                    return Err(invalid(format!(
                        "POST /deploy takes deploy requests, not \"action\": {other}; roll back with POST /rollback"
                    )))
                }
            }
            if !request.contains_key("version") {
                return Err(invalid("a deploy request needs \"version\"".into()));
            }
            Ok(Command::Deploy(request))
        }
        "/rollback" => {
            let mut request = json_object(body, true)?;
            match request.get("action") {
                None => {}
                Some(Value::String(a)) if a == "rollback" => {}
                Some(other) => {
                    return Err(invalid(format!("POST /rollback takes rollback requests, not \"action\": {other}")))
                }
            }
            request.insert("action".into(), Value::String("rollback".into()));
            Ok(Command::Rollback(request))
        }
        "/status" => {
            let (mut cluster, mut service) = (None, None);
            for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
                let slot = match key.as_ref() {
                    "cluster" => &mut cluster,
                    "service" => &mut service,
                    other => return Err(invalid(format!("GET /status takes cluster and service, not {other:?}"))),
                };
                if slot.is_some() {
                    return Err(invalid(format!("{key} is given twice")));
                }
                *slot = Some(value.into_owned()).filter(|v| !v.is_empty());
            }
            Ok(Command::Status { cluster, service })
        }
        _ => Ok(Command::Slack),
    }
}

fn invalid(reason: String) -> FrontError {
    FrontError::InvalidRequest { reason }
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

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn requests_become_commands() {
        let cases: Vec<(&str, &str, Option<&str>, &str, Command)> = vec![
            ("POST", "/deploy", None, r#"{"version":"v2"}"#, Command::Deploy(object(json!({"version": "v2"})))),
            (
                "POST",
                "/deploy/",
                None,
                r#"{"action":"deploy","version":"v2","wait":true}"#,
                Command::Deploy(object(json!({"action": "deploy", "version": "v2", "wait": true}))),
            ),
            ("POST", "/rollback", None, "", Command::Rollback(object(json!({"action": "rollback"})))),
            (
                "POST",
                "/rollback",
                None,
                r#"{"cluster":"prod","service":"web","to":"web:7"}"#,
                Command::Rollback(object(
                    json!({"action": "rollback", "cluster": "prod", "service": "web", "to": "web:7"}),
                )),
            ),
            (
                "GET",
                "/status",
                Some("cluster=prod&service=web"),
                "",
                Command::Status { cluster: Some("prod".into()), service: Some("web".into()) },
            ),
            ("GET", "/status", None, "", Command::Status { cluster: None, service: None }),
            (
                "GET",
                "/status",
                Some("service=my%2Dweb&cluster="),
                "",
                Command::Status { cluster: None, service: Some("my-web".into()) },
            ),
            ("POST", "/slack", None, "token=x&text=help", Command::Slack),
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
            ("GET", "/status", Some("cluster=a&cluster=b"), "", "InvalidRequest"),
            ("GET", "/status", Some("cluster=a&verbose=1"), "", "InvalidRequest"),
        ];
        for (method, path, query, body, code) in cases {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let err = route(&method, path, query, body.as_bytes()).unwrap_err();
            assert_eq!(err.code(), code, "{method} {path} {body}: {err}");
        }
        let err = route(&Method::PUT, "/deploy", None, b"").unwrap_err();
        assert_eq!(err.details(), json!({"allow": "POST"}));
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
