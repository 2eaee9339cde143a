//! Every `HOOK_*` variable, read once at cold start, and what `hookDetails` may change of it.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `HOOK_HTTP_URL` | – | the test listener's URL (http or https) the HTTP check requests |
//! | `HOOK_HTTP_METHOD` | `GET` | `GET`, `HEAD`, `POST`, `PUT`, `PATCH`, `DELETE` or `OPTIONS` (no body is sent) |
//! | `HOOK_HTTP_EXPECT_STATUS` | `200` | the status every answer must have |
//! | `HOOK_HTTP_BODY_CONTAINS` | – | a text every answer's body must contain |
//! | `HOOK_HTTP_JSON_POINTER` | – | an RFC 6901 pointer (`/status`) that must exist in every answer's JSON body |
//! | `HOOK_HTTP_JSON_EQUALS` | – | the JSON value (`"ok"`, `true`, `3`) the pointer must point at |
//! | `HOOK_HTTP_MAX_LATENCY_MS` | `2000` | the longest an answer (body included) may take, in milliseconds |
//! | `HOOK_HTTP_REQUESTS` | `3` | how many requests must pass, 1–100 |
//! | `HOOK_HTTP_INTERVAL_SECONDS` | `2` | seconds between two requests, 0–300 (for ECS: the `callBackDelay`) |
//! | `HOOK_HTTP_HEADERS` | – | a JSON object of request headers; their values are never logged nor answered |
//! | `HOOK_ALLOWED_HOSTS` | – | more `host[:port]` entries a `hookDetails` URL may name (the URL's own is allowed) |
//! | `HOOK_ALARMS` | – | comma-separated CloudWatch alarm names or ARNs that must all be `OK` |
//! | `HOOK_TIMEOUT_SECONDS` | `60` | how long one invocation may check, 1–840 (keep it under the function's timeout) |
//! | `HOOK_MAX_DURATION_SECONDS` | `900` | how long an ECS hook may stay IN_PROGRESS before it answers FAILED |
//! | `HOOK_DETAILS_OVERRIDE` | `true` | whether an ECS hook's `hookDetails.check` may change the HTTP check |
//! | `HOOK_SNS_TOPIC_ARN` | – | an SNS topic that gets every final outcome (which check failed, what it saw) |
//!
//! A malformed variable does not stop the function: every invocation then answers `Failed`/`FAILED`
//! naming it, so that no deployment waits for a hook that cannot start.

use std::time::Duration;

use contract::env::{ConfigError, Env};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Uri};
use serde::Deserialize;
use serde_json::Value;

use crate::error::HookError;

/// The most requests a check may make, from the environment or `hookDetails`.
pub const MAX_REQUESTS: u32 = 100;
/// The longest interval between two requests, in seconds.
pub const MAX_INTERVAL_SECONDS: u64 = 300;
/// The highest latency limit, in milliseconds.
pub const MAX_LATENCY_MS: u64 = 60_000;
/// The key of `hookDetails` that may change the HTTP check (ECS only).
pub const CHECK_KEY: &str = "check";

/// One HTTP check: `requests` requests, `interval` apart, each of which must pass.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpCheck {
    pub url: Uri,
    pub method: Method,
    pub expect_status: u16,
    pub body_contains: Option<String>,
    pub json_pointer: Option<String>,
    pub json_equals: Option<Value>,
    pub max_latency: Duration,
    pub requests: u32,
    pub interval: Duration,
}

impl HttpCheck {
    /// The URL as it may be shown: scheme, authority and path, never the query (it may hold a token).
    pub fn shown_url(&self) -> String {
        let scheme = self.url.scheme_str().unwrap_or("http");
        let authority = self.url.authority().map(|a| a.as_str()).unwrap_or_default();
        format!("{scheme}://{authority}{}", self.url.path())
    }
}

/// The hook's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub http: Option<HttpCheck>,
    /// Sent with every request; marked sensitive, so that their `Debug` shows no value.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Lower-case `host[:port]` authorities a request may go to.
    pub allowed_hosts: Vec<String>,
    pub alarms: Vec<String>,
    pub budget: Duration,
    pub max_duration: Duration,
    pub details_override: bool,
    /// Where final outcomes are published, if anywhere.
    pub topic: Option<String>,
}

impl Config {
    /// Reads the configuration from `env`. Errors: [`ConfigError`] naming the first bad variable.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Config, ConfigError> {
        let number = |name: &str, default: u64, max: u64, min: u64| -> Result<u64, ConfigError> {
            let Some(text) = env.text(name) else { return Ok(default) };
            match text.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ConfigError::new(name, format!("is {text:?}; it takes a whole number from {min} to {max}"))),
            }
        };
        let mut allowed_hosts: Vec<String> =
            env.list("HOOK_ALLOWED_HOSTS").iter().map(|h| h.to_ascii_lowercase()).collect();
        let http = match env.text("HOOK_HTTP_URL") {
            None => None,
            Some(text) => {
                let url = parse_url(&text).map_err(|reason| ConfigError::new("HOOK_HTTP_URL", reason))?;
                allowed_hosts.push(authority(&url));
                let method = match env.text("HOOK_HTTP_METHOD") {
                    None => Method::GET,
                    Some(m) => parse_method(&m).map_err(|reason| ConfigError::new("HOOK_HTTP_METHOD", reason))?,
                };
                let json_equals = match env.text("HOOK_HTTP_JSON_EQUALS") {
                    None => None,
                    Some(t) => Some(serde_json::from_str(&t).map_err(|_| {
                        ConfigError::new(
                            "HOOK_HTTP_JSON_EQUALS",
                            "is not a JSON value (write a text as \"ok\", with quotes)",
                        )
                    })?),
                };
                let json_pointer = env.text("HOOK_HTTP_JSON_POINTER");
                if let Some(p) = &json_pointer {
                    check_pointer(p).map_err(|reason| ConfigError::new("HOOK_HTTP_JSON_POINTER", reason))?;
                }
                if json_equals.is_some() && json_pointer.is_none() {
                    return Err(ConfigError::new("HOOK_HTTP_JSON_EQUALS", "needs HOOK_HTTP_JSON_POINTER"));
                }
                Some(HttpCheck {
                    url,
                    method,
                    expect_status: number("HOOK_HTTP_EXPECT_STATUS", 200, 599, 100)? as u16,
                    body_contains: env.text("HOOK_HTTP_BODY_CONTAINS"),
                    json_pointer,
                    json_equals,
                    max_latency: Duration::from_millis(number("HOOK_HTTP_MAX_LATENCY_MS", 2000, MAX_LATENCY_MS, 1)?),
                    requests: number("HOOK_HTTP_REQUESTS", 3, u64::from(MAX_REQUESTS), 1)? as u32,
                    interval: Duration::from_secs(number("HOOK_HTTP_INTERVAL_SECONDS", 2, MAX_INTERVAL_SECONDS, 0)?),
                })
            }
        };
        let headers = match env.text("HOOK_HTTP_HEADERS") {
            None => Vec::new(),
            Some(text) => parse_headers(&text).map_err(|reason| ConfigError::new("HOOK_HTTP_HEADERS", reason))?,
        };
        let alarms: Vec<String> = env.list("HOOK_ALARMS").iter().map(|a| alarm_name(a).to_owned()).collect();
        if alarms.len() > 100 {
            return Err(ConfigError::new("HOOK_ALARMS", "names more than 100 alarms"));
        }
        if http.is_none() && alarms.is_empty() {
            return Err(ConfigError::new(
                "HOOK_HTTP_URL",
                "and HOOK_ALARMS are both unset: the hook has nothing to check",
            ));
        }
        Ok(Config {
            http,
            headers,
            allowed_hosts,
            alarms,
            budget: Duration::from_secs(number("HOOK_TIMEOUT_SECONDS", 60, 840, 1)?),
            max_duration: Duration::from_secs(number("HOOK_MAX_DURATION_SECONDS", 900, 86_400, 1)?),
            details_override: env.flag("HOOK_DETAILS_OVERRIDE", true)?,
            topic: env.text("HOOK_SNS_TOPIC_ARN"),
        })
    }
}

/// The checks of one invocation: the configuration's, changed by `hookDetails.check` where allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub http: Option<HttpCheck>,
    pub alarms: Vec<String>,
}

/// What `hookDetails.check` may set; any other field is refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CheckOverride {
    url: Option<String>,
    path: Option<String>,
    method: Option<String>,
    expect_status: Option<u16>,
    body_contains: Option<String>,
    json_pointer: Option<String>,
    json_equals: Option<Value>,
    max_latency_ms: Option<u64>,
    requests: Option<u32>,
    interval_seconds: Option<u64>,
}

/// The checks for an invocation with `details` (an ECS hook's `hookDetails`; `None` for CodeDeploy).
///
/// `details.check` may set `url` (only to an allowed host), `path` (replaces the path and query), `method`,
/// `expectStatus`, `bodyContains`, `jsonPointer`, `jsonEquals`, `maxLatencyMs`, `requests` and
/// `intervalSeconds`, each within the limits of the environment variables. Errors:
/// [`HookError::NotAllowed`] for an override the configuration does not allow or cannot read.
pub fn plan(config: &Config, details: Option<&Value>) -> Result<Plan, HookError> {
    let refuse = |reason: String| HookError::NotAllowed { reason };
    let Some(raw) = details.and_then(|d| d.get(CHECK_KEY)) else {
        return Ok(Plan { http: config.http.clone(), alarms: config.alarms.clone() });
    };
    if !config.details_override {
        return Err(refuse("check overrides are turned off (HOOK_DETAILS_OVERRIDE=false)".into()));
    }
    let o: CheckOverride = serde_json::from_value(raw.clone()).map_err(|e| refuse(format!("check: {e}")))?;
    let mut http = match (&config.http, &o.url) {
        (Some(c), _) => c.clone(),
        (None, Some(_)) => HttpCheck {
            url: Uri::from_static("http://localhost/"),
            method: Method::GET,
            expect_status: 200,
            body_contains: None,
            json_pointer: None,
            json_equals: None,
            max_latency: Duration::from_millis(2000),
            requests: 3,
            interval: Duration::from_secs(2),
        },
        (None, None) => return Err(refuse("check: no HOOK_HTTP_URL is configured and no url is given".into())),
    };
    if let Some(url) = &o.url {
        let url = parse_url(url).map_err(|r| refuse(format!("check.url {r}")))?;
        let host = authority(&url);
        if !config.allowed_hosts.contains(&host) {
            return Err(refuse(format!("check.url names host {host}, which is not in HOOK_ALLOWED_HOSTS")));
        }
        http.url = url;
    }
    if let Some(path) = &o.path {
        if !path.starts_with('/') || path.starts_with("//") {
            return Err(refuse("check.path must start with one /".into()));
        }
        let mut parts = http.url.clone().into_parts();
        parts.path_and_query = Some(path.parse().map_err(|_| refuse("check.path is not a valid path".into()))?);
        http.url = Uri::from_parts(parts).map_err(|_| refuse("check.path is not a valid path".into()))?;
    }
    if let Some(m) = &o.method {
        http.method = parse_method(m).map_err(|r| refuse(format!("check.method {r}")))?;
    }
    if let Some(s) = o.expect_status {
        if !(100..=599).contains(&s) {
            return Err(refuse(format!("check.expectStatus {s} is not an HTTP status")));
        }
        http.expect_status = s;
    }
    if let Some(text) = o.body_contains {
        http.body_contains = Some(text);
    }
    if let Some(p) = o.json_pointer {
        check_pointer(&p).map_err(|r| refuse(format!("check.jsonPointer {r}")))?;
        http.json_pointer = Some(p);
    }
    if let Some(v) = o.json_equals {
        http.json_equals = Some(v);
    }
    if http.json_equals.is_some() && http.json_pointer.is_none() {
        return Err(refuse("check.jsonEquals needs a jsonPointer".into()));
    }
    if let Some(ms) = o.max_latency_ms {
        if !(1..=MAX_LATENCY_MS).contains(&ms) {
            return Err(refuse(format!("check.maxLatencyMs takes 1 to {MAX_LATENCY_MS}")));
        }
        http.max_latency = Duration::from_millis(ms);
    }
    if let Some(n) = o.requests {
        if !(1..=MAX_REQUESTS).contains(&n) {
            return Err(refuse(format!("check.requests takes 1 to {MAX_REQUESTS}")));
        }
        http.requests = n;
    }
    if let Some(s) = o.interval_seconds {
        if s > MAX_INTERVAL_SECONDS {
            return Err(refuse(format!("check.intervalSeconds takes 0 to {MAX_INTERVAL_SECONDS}")));
        }
        http.interval = Duration::from_secs(s);
    }
    Ok(Plan { http: Some(http), alarms: config.alarms.clone() })
}

/// The alarm's name: an ARN (`arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>`, as the template
/// passes them) gives the part after `:alarm:`, anything else is a name already.
pub fn alarm_name(name_or_arn: &str) -> &str {
    match name_or_arn.split_once(":alarm:") {
        Some((prefix, name)) if prefix.starts_with("arn:") && prefix.contains(":cloudwatch:") => name,
        _ => name_or_arn,
    }
}

/// The lower-case `host[:port]` of an absolute URL.
pub fn authority(url: &Uri) -> String {
    url.authority().map(|a| a.as_str().to_ascii_lowercase()).unwrap_or_default()
}

fn parse_url(text: &str) -> Result<Uri, String> {
    let url: Uri = text.parse().map_err(|_| "is not a URL".to_owned())?;
    if !matches!(url.scheme_str(), Some("http" | "https")) {
        return Err("must be an http or https URL".into());
    }
    match url.authority() {
        None => Err("has no host".into()),
        Some(a) if a.as_str().contains('@') => Err("may not carry user information".into()),
        Some(_) => Ok(url),
    }
}

fn parse_method(text: &str) -> Result<Method, String> {
    match text.to_ascii_uppercase().as_str() {
        "GET" => Ok(Method::GET),
        "HEAD" => Ok(Method::HEAD),
        "POST" => Ok(Method::POST),
        "PUT" => Ok(Method::PUT),
        "PATCH" => Ok(Method::PATCH),
        "DELETE" => Ok(Method::DELETE),
        "OPTIONS" => Ok(Method::OPTIONS),
        _ => Err(format!("is {text:?}; it takes GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS")),
    }
}

fn check_pointer(p: &str) -> Result<(), String> {
    if p.is_empty() || p.starts_with('/') {
        Ok(())
    } else {
        Err(format!("{p:?} is not a JSON pointer (it starts with /)"))
    }
}

/// A JSON object of header names and text values. Errors never show a value.
fn parse_headers(text: &str) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let map: serde_json::Map<String, Value> =
        serde_json::from_str(text).map_err(|_| "is not a JSON object of header names and values".to_owned())?;
    map.into_iter()
        .map(|(name, value)| {
            let header =
                HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("has an invalid header name {name:?}"))?;
            let Value::String(v) = value else { return Err(format!("has a value of {name} that is not a text")) };
            let mut v = HeaderValue::from_str(&v).map_err(|_| format!("has an invalid value of {name}"))?;
            v.set_sensitive(true);
            Ok((header, v))
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    pub(crate) fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_env(&Env::new(move |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())))
    }

    #[test]
    fn defaults_and_every_variable() {
        let c = config(&[("HOOK_HTTP_URL", "http://test.internal:8080/health?token=s3cr3t")]).unwrap();
        let h = c.http.clone().unwrap();
        assert_eq!((&h.method, h.expect_status, h.requests), (&Method::GET, 200, 3));
        assert_eq!((h.max_latency, h.interval), (Duration::from_millis(2000), Duration::from_secs(2)));
        assert_eq!(h.shown_url(), "http://test.internal:8080/health");
        assert_eq!(c.allowed_hosts, ["test.internal:8080"]);
        assert_eq!((c.budget, c.details_override), (Duration::from_secs(60), true));

        let c = config(&[
            ("HOOK_HTTP_URL", "https://green.example.com/ready"),
            ("HOOK_HTTP_METHOD", "head"),
            ("HOOK_HTTP_EXPECT_STATUS", "204"),
            ("HOOK_HTTP_BODY_CONTAINS", "ok"),
            ("HOOK_HTTP_JSON_POINTER", "/status"),
            ("HOOK_HTTP_JSON_EQUALS", "\"up\""),
            ("HOOK_HTTP_MAX_LATENCY_MS", "250"),
            ("HOOK_HTTP_REQUESTS", "10"),
            ("HOOK_HTTP_INTERVAL_SECONDS", "0"),
            ("HOOK_HTTP_HEADERS", r#"{"Authorization": "Bearer hunter2", "X-Env": "green"}"#),
            ("HOOK_ALLOWED_HOSTS", "Other.example.com, 127.0.0.1:9000"),
            ("HOOK_ALARMS", "web-5xx, web-latency"),
            ("HOOK_TIMEOUT_SECONDS", "30"),
            ("HOOK_MAX_DURATION_SECONDS", "120"),
            ("HOOK_DETAILS_OVERRIDE", "false"),
        ])
        .unwrap();
        let h = c.http.clone().unwrap();
        assert_eq!((&h.method, h.expect_status, h.requests, h.interval), (&Method::HEAD, 204, 10, Duration::ZERO));
        assert_eq!((h.json_pointer.as_deref(), h.json_equals), (Some("/status"), Some(json!("up"))));
        assert_eq!(c.allowed_hosts, ["other.example.com", "127.0.0.1:9000", "green.example.com"]);
        assert_eq!(c.alarms, ["web-5xx", "web-latency"]);
        assert!(!c.details_override);
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("green\""), "a header value is shown: {shown}");
    }

    #[test]
    fn bad_variables_are_named_without_their_secrets() {
        for (pairs, variable) in [
            (vec![], "HOOK_HTTP_URL"),
            (vec![("HOOK_HTTP_URL", "ftp://x/")], "HOOK_HTTP_URL"),
            (vec![("HOOK_HTTP_URL", "http://user:pw@x/")], "HOOK_HTTP_URL"),
            (vec![("HOOK_HTTP_URL", "/health")], "HOOK_HTTP_URL"),
            (vec![("HOOK_HTTP_URL", "http://x/"), ("HOOK_HTTP_METHOD", "TRACE")], "HOOK_HTTP_METHOD"),
            (vec![("HOOK_HTTP_URL", "http://x/"), ("HOOK_HTTP_REQUESTS", "0")], "HOOK_HTTP_REQUESTS"),
            (vec![("HOOK_HTTP_URL", "http://x/"), ("HOOK_HTTP_EXPECT_STATUS", "99")], "HOOK_HTTP_EXPECT_STATUS"),
            (vec![("HOOK_HTTP_URL", "http://x/"), ("HOOK_HTTP_JSON_POINTER", "status")], "HOOK_HTTP_JSON_POINTER"),
            (vec![("HOOK_HTTP_URL", "http://x/"), ("HOOK_HTTP_JSON_EQUALS", "up")], "HOOK_HTTP_JSON_EQUALS"),
            (vec![("HOOK_HTTP_URL", "http://x/"), ("HOOK_HTTP_JSON_EQUALS", "1")], "HOOK_HTTP_JSON_EQUALS"),
            (
                vec![("HOOK_HTTP_URL", "http://x/"), ("HOOK_HTTP_HEADERS", r#"{"X-Key": "bad\nvalue-s3cr3t"}"#)],
                "HOOK_HTTP_HEADERS",
            ),
            (vec![("HOOK_ALARMS", "a"), ("HOOK_TIMEOUT_SECONDS", "900")], "HOOK_TIMEOUT_SECONDS"),
            (vec![("HOOK_ALARMS", "a"), ("HOOK_DETAILS_OVERRIDE", "yes")], "HOOK_DETAILS_OVERRIDE"),
        ] {
            let err = config(&pairs).unwrap_err();
            assert_eq!(err.variable, variable, "{pairs:?}: {err}");
            assert!(!err.to_string().contains("s3cr3t"), "{err}");
        }
        let arns = config(&[("HOOK_ALARMS", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web-5xx,web:latency")]);
        assert_eq!(arns.unwrap().alarms, ["web-5xx", "web:latency"]);
        let alarms_only = config(&[("HOOK_ALARMS", "web-5xx")]).unwrap();
        assert!(alarms_only.http.is_none() && alarms_only.allowed_hosts.is_empty());
    }

    #[test]
    fn hook_details_change_the_check_within_what_the_configuration_allows() {
        let c =
            config(&[("HOOK_HTTP_URL", "http://test.internal:8080/health"), ("HOOK_ALLOWED_HOSTS", "canary.internal")])
                .unwrap();
        // No details, or details without `check` (the user's own keys, the hook's state): the configuration.
        assert_eq!(plan(&c, None).unwrap().http, c.http);
        assert_eq!(plan(&c, Some(&json!({"S3_BUCKET_NAME": "b", "ecsDeployerHook": {}}))).unwrap().http, c.http);

        let p = plan(
            &c,
            Some(&json!({"check": {"path": "/ready?deep=1", "expectStatus": 204, "requests": 5,
            "intervalSeconds": 1, "jsonPointer": "/ok", "jsonEquals": true, "maxLatencyMs": 100, "method": "POST",
            "bodyContains": "yes"}})),
        )
        .unwrap();
        let h = p.http.unwrap();
        assert_eq!(h.url.to_string(), "http://test.internal:8080/ready?deep=1");
        assert_eq!((&h.method, h.expect_status, h.requests), (&Method::POST, 204, 5));
        assert_eq!((h.json_equals, h.body_contains.as_deref()), (Some(json!(true)), Some("yes")));
        let p = plan(&c, Some(&json!({"check": {"url": "http://CANARY.internal/x"}}))).unwrap();
        assert_eq!(p.http.unwrap().url.to_string(), "http://CANARY.internal/x", "hosts compare without case");

        for (check, says) in [
            (json!({"url": "http://evil.example.com/"}), "not in HOOK_ALLOWED_HOSTS"),
            (json!({"url": "http://test.internal:9999/"}), "not in HOOK_ALLOWED_HOSTS"),
            (json!({"url": "file:///etc/passwd"}), "check.url"),
            (json!({"url": "ftp://test.internal:8080/"}), "http or https"),
            (json!({"path": "//evil.example.com/"}), "one /"),
            (json!({"path": "health"}), "one /"),
            (json!({"requests": 1000}), "check.requests"),
            (json!({"intervalSeconds": 3600}), "check.intervalSeconds"),
            (json!({"alarms": ["other"]}), "unknown field"),
            (json!({"headers": {"Authorization": "x"}}), "unknown field"),
            (json!({"jsonEquals": 1}), "needs a jsonPointer"),
            (json!("GET /"), "check"),
        ] {
            let err = plan(&c, Some(&json!({"check": check.clone()}))).unwrap_err();
            assert_eq!(err.code().as_str(), "NotAllowed");
            assert!(err.to_string().contains(says), "{check}: {err}");
        }
        let off = Config { details_override: false, ..c };
        assert!(plan(&off, Some(&json!({"check": {"requests": 1}}))).is_err());
    }
}
