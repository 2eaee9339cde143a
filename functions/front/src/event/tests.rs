//! Every kind of event told apart, and every malformed HTTP event that panics `lambda_http`'s conversion
//! answered instead. The malformed fixtures are `events/malformed-*.json`, which the release-build test
//! (`tests/it/front.rs`) also sends to the real binary.

use serde_json::json;

use super::*;

fn raw(event: &Value) -> Box<RawValue> {
    RawValue::from_string(event.to_string()).unwrap()
}

fn fixture(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The malformed fixtures, the integration each comes from, and what the 400 must say.
const MALFORMED: [(&str, &str, Origin, &str); 5] = [
    (
        "malformed-alb-host-port.json",
        include_str!("../../../../events/malformed-alb-host-port.json"),
        Origin::Alb,
        "make no URL",
    ),
    (
        "malformed-alb-forwarded-proto.json",
        include_str!("../../../../events/malformed-alb-forwarded-proto.json"),
        Origin::Alb,
        "x-forwarded-proto",
    ),
    (
        "malformed-function-url-query-space.json",
        include_str!("../../../../events/malformed-function-url-query-space.json"),
        Origin::ApiGatewayV2,
        "no URI",
    ),
    (
        "malformed-function-url-query-quote.json",
        include_str!("../../../../events/malformed-function-url-query-quote.json"),
        Origin::ApiGatewayV2,
        "no URI",
    ),
    (
        "malformed-function-url-base64-body.json",
        include_str!("../../../../events/malformed-function-url-base64-body.json"),
        Origin::ApiGatewayV2,
        "flagged base64",
    ),
];

#[test]
fn events_that_panic_lambda_http_are_answered_400_in_their_shape() {
    for (name, text, origin, reason) in MALFORMED {
        // The input is a real panic of the library, not a made-up case ...
        let converted = std::panic::catch_unwind(|| lambda_http::request::from_str(text));
        assert!(converted.is_err(), "{name}: lambda_http no longer panics on it; keep the case anyway");
        // ... and here it is a 400.
        match classify(&raw(&fixture(text))) {
            Inbound::Malformed { origin: got, reason: why } => {
                assert_eq!(got, origin, "{name}");
                assert!(why.contains(reason), "{name}: {why}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn well_formed_http_events_are_converted_as_lambda_http_converts_them() {
    let cases = [
        include_str!("../../../../events/alb-deploy.json"),
        include_str!("../../../../events/function-url-deploy.json"),
        include_str!("../../../../events/apigw-v1-deploy.json"),
        include_str!("../../../../events/apigw-v2-deploy.json"),
        include_str!("../../../../events/apigw-v2-status.json"),
    ];
    for text in cases {
        let expected = lambda_http::request::from_str(text).unwrap();
        let expected_origin = origin_of(&serde_json::from_str::<LambdaRequest>(text).unwrap()).unwrap();
        match classify(&raw(&fixture(text))) {
            Inbound::Http { origin, request } => {
                assert_eq!(origin, expected_origin);
                assert_eq!((request.method(), request.uri()), (expected.method(), expected.uri()));
                assert_eq!(request.headers(), expected.headers());
                assert_eq!(request.body().as_ref(), expected.body().as_ref());
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn hosts_schemes_queries_and_bodies_that_make_no_request_are_caught() {
    let v2 = |headers: Value, query: &str, body: Option<(&str, bool)>| {
        let mut event = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/status", "rawQueryString": query,
            "headers": headers, "isBase64Encoded": false,
            "requestContext": {"stage": "$default", "http": {"method": "GET", "path": "/status"}, "timeEpoch": 0},
        });
        if let Some((text, b64)) = body {
            event["body"] = json!(text);
            event["isBase64Encoded"] = json!(b64);
        }
        event
    };
    let malformed = [
        v2(json!({"host": "a b.example.com"}), "", None),
        v2(json!({"host": "example.com:65536"}), "", None),
        v2(json!({"host": "[::1"}), "", None),
        v2(json!({"host": "example.com", "x-forwarded-proto": "1https"}), "", None),
        v2(json!({"host": "example.com", "x-forwarded-proto": ""}), "", None),
        v2(json!({"host": "example.com"}), "a=1&b=<x>", None),
        v2(json!({"host": "example.com"}), "a=\u{7f}", None),
        v2(json!({"host": "example.com"}), "", Some(("e30", true))),
        v2(json!({"host": "example.com"}), "", Some(("not base64!", true))),
        // No host header: the domain name of the request context, or localhost.
        json!({"version": "2.0", "rawPath": ":99999", "rawQueryString": "", "headers": {}, "isBase64Encoded": false,
               "requestContext": {"http": {"method": "GET", "path": "/"}, "timeEpoch": 0}}),
        json!({"version": "2.0", "rawPath": "/", "rawQueryString": "", "headers": {}, "isBase64Encoded": false,
               "requestContext": {"domainName": "a b", "http": {"method": "GET", "path": "/"}, "timeEpoch": 0}}),
    ];
    for event in malformed {
        let text = event.to_string();
        assert!(std::panic::catch_unwind(|| lambda_http::request::from_str(&text)).is_err(), "not a panic: {event}");
        assert!(matches!(classify(&raw(&event)), Inbound::Malformed { .. }), "{event}");
    }
    let fine = [
        v2(json!({"host": "example.com:8443", "x-forwarded-proto": "http"}), "cluster=a%20b&service=web", None),
        v2(json!({"host": "example.com"}), "", Some(("e30=", true))),
        v2(json!({"host": "example.com"}), "", Some(("not base64!", false))),
        v2(json!({}), "a=1", None),
    ];
    for event in fine {
        assert!(matches!(classify(&raw(&event)), Inbound::Http { .. }), "{event}");
    }
}

#[test]
fn continuations_and_other_events_are_told_apart_without_a_secret() {
    let sealed = json!({"continuation": "{}", "issued_at": 1, "signature": "00"});
    assert!(matches!(classify(&raw(&sealed)), Inbound::Continuation(_)));
    let unknown = [
        json!({"continuation": 5, "issued_at": 1, "signature": "00"}),
        json!({"continuation": "{}", "issued_at": 1, "signature": "00", "body": "x"}),
        json!({"version": "v2"}),
        json!({"source": "aws.ecs", "detail-type": "ECS Deployment State Change", "detail": {}, "service": "api"}),
        json!([1, 2]),
        json!("text"),
        json!(null),
    ];
    for event in unknown {
        assert!(matches!(classify(&raw(&event)), Inbound::Unknown { .. }), "{event}");
    }
    // Shaped like an HTTP event, unreadable: a 400 in the shape it seems to take.
    let cases = [
        (
            json!({"httpMethod": "POST", "path": "/deploy", "headers": {"a": 1}, "requestContext": {}}),
            Origin::ApiGatewayV1,
        ),
        (json!({"httpMethod": "TELEPORT NOW", "path": "/deploy", "requestContext": {"elb": {}}}), Origin::Alb),
        (json!({"version": "2.0", "rawPath": 7, "requestContext": {}}), Origin::ApiGatewayV2),
    ];
    for (event, origin) in cases {
        match classify(&raw(&event)) {
            Inbound::Malformed { origin: got, .. } => assert_eq!(got, origin, "{event}"),
            other => panic!("{event}: {other:?}"),
        }
    }
}

#[test]
fn answers_take_their_integrations_shape() {
    let response = || {
        let mut r = Response::new(Body::from(r#"{"error":{}}"#));
        *r.status_mut() = lambda_http::http::StatusCode::BAD_REQUEST;
        r.headers_mut().insert("content-type", "application/json".parse().unwrap());
        r
    };
    let alb = respond(Origin::Alb, response());
    assert_eq!(alb["statusCode"], 400);
    assert_eq!(alb["statusDescription"], "400 Bad Request");
    assert_eq!(alb["headers"]["content-type"], "application/json");
    assert_eq!(alb["multiValueHeaders"]["content-type"], json!(["application/json"]));
    assert_eq!((alb["body"].as_str(), alb["isBase64Encoded"].as_bool()), (Some(r#"{"error":{}}"#), Some(false)));
    let v1 = respond(Origin::ApiGatewayV1, response());
    assert_eq!(
        (v1["statusCode"].as_i64(), v1["multiValueHeaders"]["content-type"].clone()),
        (Some(400), json!(["application/json"]))
    );
    assert!(v1.get("statusDescription").is_none());
    let v2 = respond(Origin::ApiGatewayV2, response());
    assert_eq!(
        (v2["statusCode"].as_i64(), v2["headers"]["content-type"].as_str()),
        (Some(400), Some("application/json"))
    );
    assert_eq!(v2["body"], r#"{"error":{}}"#);
}
