//! Pure decisions: is one HTTP answer good, are the alarms OK, and what does a set of outcomes mean.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::HttpCheck;

/// The most of a body a check reads, in bytes; the rest is not looked at.
pub const BODY_LIMIT: usize = 256 * 1024;
/// The most of a body an outcome quotes, in characters.
const QUOTE_LIMIT: usize = 120;

/// What one request saw: the status, up to [`BODY_LIMIT`] bytes of the body, the time until the body ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub status: u16,
    pub body: Vec<u8>,
    pub latency: Duration,
}

/// One check's result, as the answer and the log show it: which check, whether it passed, what it saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// `http GET http://host/path #2` or `alarm web-5xx`: never a query string nor a header.
    pub check: String,
    pub passed: bool,
    pub saw: String,
}

/// Judges request number `n` (from 1) of `check`: `observed` is the answer, or why there is none.
pub fn judge_response(check: &HttpCheck, n: u32, observed: &Result<Observed, String>) -> Outcome {
    let name = format!("http {} {} #{n}", check.method, check.shown_url());
    let fail = |saw: String| Outcome { check: name.clone(), passed: false, saw };
    let o = match observed {
        Ok(o) => o,
        Err(reason) => return fail(format!("no answer: {reason}")),
    };
    let ms = o.latency.as_millis();
    let text = String::from_utf8_lossy(&o.body);
    if o.status != check.expect_status {
        return fail(format!("HTTP {} (expected {}) in {ms} ms: {}", o.status, check.expect_status, quote(&text)));
    }
    if o.latency > check.max_latency {
        return fail(format!("HTTP {} in {ms} ms, over the limit of {} ms", o.status, check.max_latency.as_millis()));
    }
    if let Some(needle) = &check.body_contains {
        if !text.contains(needle.as_str()) {
            return fail(format!("HTTP {} in {ms} ms, body without {needle:?}: {}", o.status, quote(&text)));
        }
    }
    if let Some(pointer) = &check.json_pointer {
        let Ok(json) = serde_json::from_slice::<Value>(&o.body) else {
            return fail(format!("HTTP {} in {ms} ms, body is not JSON: {}", o.status, quote(&text)));
        };
        match (json.pointer(pointer), &check.json_equals) {
            (None, _) => return fail(format!("HTTP {} in {ms} ms, no {pointer} in the JSON body", o.status)),
            (Some(found), Some(expected)) if found != expected => {
                return fail(format!(
                    "HTTP {} in {ms} ms, {pointer} is {} (expected {expected})",
                    o.status,
                    quote(&found.to_string())
                ))
            }
            _ => {}
        }
    }
    Outcome { check: name, passed: true, saw: format!("HTTP {} in {ms} ms", o.status) }
}

/// Judges the alarms that must be OK from `states` (name, state value) as DescribeAlarms reported them:
/// one outcome per name; a name DescribeAlarms did not report fails ("not found").
pub fn judge_alarms(names: &[String], states: &[(String, String)]) -> Vec<Outcome> {
    names
        .iter()
        .map(|name| {
            let state = states.iter().find(|(n, _)| n == name).map(|(_, s)| s.as_str());
            Outcome {
                check: format!("alarm {name}"),
                passed: state == Some("OK"),
                saw: state.map_or_else(|| "not found".to_owned(), str::to_owned),
            }
        })
        .collect()
}

/// Where a hook stands after a round of checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every check of every round passed.
    Passed,
    /// A check failed: the deployment must not go on.
    Failed,
    /// Everything passed so far; more rounds are due.
    Continue,
}

/// The verdict after `rounds_done` of `rounds_total` rounds whose outcomes are `outcomes`.
pub fn verdict(outcomes: &[Outcome], rounds_done: u32, rounds_total: u32) -> Verdict {
    if outcomes.iter().any(|o| !o.passed) {
        Verdict::Failed
    } else if rounds_done >= rounds_total {
        Verdict::Passed
    } else {
        Verdict::Continue
    }
}

/// One line for a log or an answer: the failed checks and what they saw, else how many passed.
pub fn summary(outcomes: &[Outcome]) -> String {
    let failed: Vec<String> =
        outcomes.iter().filter(|o| !o.passed).map(|o| format!("{}: {}", o.check, o.saw)).collect();
    if failed.is_empty() {
        format!("{} checks passed", outcomes.len())
    } else {
        format!("failed: {}", failed.join("; "))
    }
}

fn quote(text: &str) -> String {
    let t = text.trim();
    let cut: String = t.chars().take(QUOTE_LIMIT).collect();
    if cut.len() < t.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

#[cfg(test)]
mod tests {
    use hyper::{Method, Uri};
    use serde_json::json;

    use super::*;

    fn check() -> HttpCheck {
        HttpCheck {
            url: Uri::from_static("http://test.internal:8080/health?token=s3cr3t"),
            method: Method::GET,
            expect_status: 200,
            body_contains: None,
            json_pointer: None,
            json_equals: None,
            max_latency: Duration::from_millis(500),
            requests: 3,
            interval: Duration::from_secs(1),
        }
    }

    fn seen(status: u16, body: &str, ms: u64) -> Result<Observed, String> {
        Ok(Observed { status, body: body.as_bytes().to_vec(), latency: Duration::from_millis(ms) })
    }

    #[test]
    fn each_http_condition_passes_and_fails_with_what_it_saw() {
        let with = |f: fn(&mut HttpCheck)| {
            let mut c = check();
            f(&mut c);
            c
        };
        let status = check();
        let latency = check();
        let contains = with(|c| c.body_contains = Some("\"ready\"".into()));
        let pointer = with(|c| c.json_pointer = Some("/db/ok".into()));
        let equals = with(|c| {
            c.json_pointer = Some("/status".into());
            c.json_equals = Some(json!("up"));
        });
        let cases: Vec<(&HttpCheck, Result<Observed, String>, bool, &str)> = vec![
            (&status, seen(200, "fine", 12), true, "HTTP 200 in 12 ms"),
            (&status, seen(500, "boom", 12), false, "HTTP 500 (expected 200) in 12 ms: \"boom\""),
            (&status, Err("connection refused".into()), false, "no answer: connection refused"),
            (&latency, seen(200, "", 800), false, "HTTP 200 in 800 ms, over the limit of 500 ms"),
            (&contains, seen(200, "{\"state\":\"ready\"}", 3), true, "HTTP 200 in 3 ms"),
            (
                &contains,
                seen(200, "starting", 3),
                false,
                "HTTP 200 in 3 ms, body without \"\\\"ready\\\"\": \"starting\"",
            ),
            (&pointer, seen(200, r#"{"db": {"ok": false}}"#, 3), true, "HTTP 200 in 3 ms"),
            (&pointer, seen(200, r#"{"db": {}}"#, 3), false, "HTTP 200 in 3 ms, no /db/ok in the JSON body"),
            (&pointer, seen(200, "<html>", 3), false, "HTTP 200 in 3 ms, body is not JSON: \"<html>\""),
            (&equals, seen(200, r#"{"status": "up"}"#, 3), true, "HTTP 200 in 3 ms"),
            (
                &equals,
                seen(200, r#"{"status": "down"}"#, 3),
                false,
                "HTTP 200 in 3 ms, /status is \"\\\"down\\\"\" (expected \"up\")",
            ),
        ];
        for (c, observed, passed, saw) in cases {
            let o = judge_response(c, 2, &observed);
            assert_eq!((o.passed, o.saw.as_str()), (passed, saw), "{observed:?}");
            assert_eq!(o.check, "http GET http://test.internal:8080/health #2", "no query string");
        }
    }

    #[test]
    fn long_bodies_are_quoted_short() {
        let o = judge_response(&check(), 1, &seen(503, &"x".repeat(5000), 1));
        assert!(o.saw.len() < 200 && o.saw.ends_with('…'), "{}", o.saw);
    }

    #[test]
    fn alarms_must_all_be_ok_and_exist() {
        let names = vec!["web-5xx".to_owned(), "web-latency".to_owned(), "gone".to_owned()];
        let states = vec![("web-5xx".to_owned(), "OK".to_owned()), ("web-latency".to_owned(), "ALARM".to_owned())];
        let got: Vec<(bool, String)> = judge_alarms(&names, &states).into_iter().map(|o| (o.passed, o.saw)).collect();
        assert_eq!(got, [(true, "OK".into()), (false, "ALARM".into()), (false, "not found".into())]);
        let insufficient = judge_alarms(&names[..1], &[("web-5xx".into(), "INSUFFICIENT_DATA".into())]);
        assert!(!insufficient[0].passed);
    }

    #[test]
    fn verdicts_and_summaries() {
        let ok = Outcome { check: "alarm a".into(), passed: true, saw: "OK".into() };
        let bad = Outcome { check: "alarm b".into(), passed: false, saw: "ALARM".into() };
        assert_eq!(verdict(std::slice::from_ref(&ok), 1, 3), Verdict::Continue);
        assert_eq!(verdict(std::slice::from_ref(&ok), 3, 3), Verdict::Passed);
        assert_eq!(verdict(&[ok.clone(), bad.clone()], 1, 3), Verdict::Failed);
        assert_eq!(verdict(std::slice::from_ref(&bad), 3, 3), Verdict::Failed);
        assert_eq!(summary(&[ok.clone(), ok.clone()]), "2 checks passed");
        assert_eq!(summary(&[ok, bad]), "failed: alarm b: ALARM");
    }
}
