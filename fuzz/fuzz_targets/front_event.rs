#![no_main]
//! The Lambda event before `lambda_http`: HTTP events of each integration built from fuzzed hosts, schemes,
//! paths, stages, queries and bodies (and raw JSON), told apart and converted by `event::classify`. The
//! fuzzer's panic hook aborts on any panic, even one `classify` would catch: so a crash here is an event whose
//! conversion panics although the pre-check let it through.

use arbitrary::Arbitrary;
use front::event::{classify, respond, Inbound};
use lambda_http::{Body, Response};
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use serde_json::{json, Value};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    kind: u8,
    host: Option<&'a str>,
    proto: Option<&'a str>,
    domain: Option<&'a str>,
    path: &'a str,
    stage: Option<&'a str>,
    query: &'a str,
    query_map: Vec<(&'a str, &'a str)>,
    body: Option<&'a str>,
    base64: bool,
    raw: &'a str,
}

fn event(input: &Input) -> Option<String> {
    let mut headers = serde_json::Map::new();
    if let Some(host) = input.host {
        headers.insert("host".into(), json!(host));
    }
    if let Some(proto) = input.proto {
        headers.insert("x-forwarded-proto".into(), json!(proto));
    }
    let query: serde_json::Map<String, Value> =
        input.query_map.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
    let event = match input.kind % 5 {
        0 => json!({
            "version": "2.0", "routeKey": "$default", "rawPath": input.path, "rawQueryString": input.query,
            "headers": headers, "body": input.body, "isBase64Encoded": input.base64,
            "requestContext": {"stage": input.stage, "domainName": input.domain,
                               "http": {"method": "POST", "path": input.path}, "timeEpoch": 0},
        }),
        1 => json!({
            "resource": "/{proxy+}", "path": input.path, "httpMethod": "POST", "headers": headers,
            "multiValueHeaders": {}, "queryStringParameters": query, "body": input.body,
            "isBase64Encoded": input.base64,
            "requestContext": {"stage": input.stage, "domainName": input.domain, "httpMethod": "POST",
                               "identity": {}, "path": input.path},
        }),
        2 => json!({
            "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/x/1"}},
            "httpMethod": "POST", "path": input.path, "queryStringParameters": query, "headers": headers,
            "body": input.body, "isBase64Encoded": input.base64,
        }),
        3 => json!({"continuation": input.raw, "issued_at": 1, "signature": input.query}),
        _ => return serde_json::from_str::<Value>(input.raw).ok().map(|v| v.to_string()),
    };
    Some(event.to_string())
}

fuzz_target!(|input: Input| {
    let Some(text) = event(&input) else { return };
    let Ok(raw) = RawValue::from_string(text) else { return };
    match classify(&raw) {
        Inbound::Http { origin, request } => {
            let _ = (request.method(), request.uri().path(), request.uri().query(), request.body());
            let answer = respond(origin, Response::new(Body::from(r#"{"status":"ok"}"#)));
            assert_eq!(answer["statusCode"], 200);
        }
        Inbound::Malformed { origin, reason } => {
            let mut response = Response::new(Body::from(reason));
            *response.status_mut() = lambda_http::http::StatusCode::BAD_REQUEST;
            assert_eq!(respond(origin, response)["statusCode"], 400);
        }
        Inbound::Continuation(_) | Inbound::Unknown { .. } => {}
    }
});
