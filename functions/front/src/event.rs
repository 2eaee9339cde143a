//! The Lambda event as it arrives, before `lambda_http` turns it into an HTTP request. Pure: no AWS, no
//! secret.
//!
//! Three kinds of event reach the door: HTTP events (API Gateway REST and HTTP APIs, ALB, Function URLs), the
//! Slack continuation it sends itself, and anything else a caller with `lambda:InvokeFunction` may send. They
//! are told apart here, in this order, before a secret is read:
//!
//! 1. an object with a `continuation` key is a continuation (its envelope is checked by
//!    [`crate::continuation::Envelope::from_event`]);
//! 2. an event `lambda_http` can read as an HTTP event is checked for what its conversion would `unwrap`
//!    (see [`precheck`]), then converted;
//! 3. an event shaped like an HTTP event that cannot be read or converted is [`Inbound::Malformed`]: answered
//!    400 in its integration's shape, never a panic;
//! 4. anything else is [`Inbound::Unknown`], a function error.
//!
//! `lambda_http` 1.3's conversion (`From<LambdaRequest> for http::Request`) panics on: a `host` header (or
//! `requestContext.domainName`), path or `x-forwarded-proto` that make no URL (`Url::parse(..).unwrap()`), a
//! URI the `http` crate refuses (a raw query with a space or a `"`: `.expect("failed to build request")`),
//! and a body flagged base64 that is not (`.expect("failed to decode aws base64 encoded body")`).
//! [`precheck`] computes the same URL and URI, and decodes the body with the same engine, as results.

use aws_lambda_events::alb::AlbTargetGroupResponse;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use aws_lambda_events::query_map::QueryMap;
use base64::Engine;
use lambda_http::http::{HeaderMap, Uri};
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Request, Response};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::continuation::Envelope;

/// Which HTTP integration sent an event; its answer takes that integration's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// API Gateway REST API (payload 1.0).
    ApiGatewayV1,
    /// API Gateway HTTP API (payload 2.0) and Function URLs.
    ApiGatewayV2,
    /// Application Load Balancer.
    Alb,
}

/// What an event is, once told apart.
#[derive(Debug)]
pub enum Inbound {
    /// A direct invoke in the shape of a Slack continuation; its signature is not checked yet.
    Continuation(Envelope),
    /// An HTTP request, checked and converted.
    Http { origin: Origin, request: Box<Request> },
    /// An HTTP event that cannot be read or converted safely: answered 400 (`InvalidRequest`) with `reason`.
    Malformed { origin: Origin, reason: String },
    /// Neither an HTTP event nor a continuation: a function error (`InvalidRequest`) with `reason`.
    Unknown { reason: String },
}

/// Tells the event apart and, for HTTP events, converts it (see the module documentation). Never panics on
/// any input: the fuzz target `front_event` holds it to that.
pub fn classify(raw: &RawValue) -> Inbound {
    let text = raw.get();
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        // The runtime hands over JSON only; this is for callers of this function.
        Err(e) => return Inbound::Unknown { reason: format!("the event is not JSON: {e}") },
    };
    if value.get("continuation").is_some() {
        return match Envelope::from_event(&value) {
            Ok(envelope) => Inbound::Continuation(envelope),
            Err(err) => Inbound::Unknown { reason: err.to_string() },
        };
    }
    match serde_json::from_str::<LambdaRequest>(text) {
        Ok(event) => convert(event),
        Err(e) => match http_shaped(&value) {
            Some(origin) => Inbound::Malformed { origin, reason: format!("the HTTP event cannot be read: {e}") },
            None => Inbound::Unknown {
                reason: "the event is neither an HTTP event (API Gateway, ALB, Function URL) nor a continuation".into(),
            },
        },
    }
}

/// The integration an event that `lambda_http` could not read seems to come from, if it looks like an HTTP
/// event at all (it has a request context, a method or a path).
fn http_shaped(event: &Value) -> Option<Origin> {
    let has = |key: &str| event.get(key).is_some();
    if !(has("requestContext") || has("httpMethod") || has("rawPath") || has("routeKey")) {
        return None;
    }
    Some(if event["requestContext"].get("elb").is_some() {
        Origin::Alb
    } else if event["version"] == "2.0" || has("rawPath") || has("routeKey") {
        Origin::ApiGatewayV2
    } else {
        Origin::ApiGatewayV1
    })
}

fn origin_of(event: &LambdaRequest) -> Option<Origin> {
    match event {
        LambdaRequest::ApiGatewayV1(_) => Some(Origin::ApiGatewayV1),
        LambdaRequest::ApiGatewayV2(_) => Some(Origin::ApiGatewayV2),
        LambdaRequest::Alb(_) => Some(Origin::Alb),
        _ => None,
    }
}

fn convert(event: LambdaRequest) -> Inbound {
    let Some(origin) = origin_of(&event) else {
        return Inbound::Unknown { reason: "an HTTP event of a kind this door does not serve".into() };
    };
    if let Err(reason) = precheck(&event) {
        return Inbound::Malformed { origin, reason };
    }
    // The pre-check covers every `unwrap` of the conversion; should a new version of `lambda_http` add one,
    // the unwinding panic is caught here and the event is still answered (the release profile of the front
    // unwinds: see `[profile.release-front]`).
    match std::panic::catch_unwind(move || Request::from(event)) {
        Ok(request) => Inbound::Http { origin, request: Box::new(request) },
        Err(_) => Inbound::Malformed { origin, reason: "the HTTP event cannot be converted".into() },
    }
}

/// What the conversion builds a request's URI and body from.
struct UriParts<'a> {
    headers: &'a HeaderMap,
    /// The `host` header, else the request context's domain name (API Gateway).
    host: Option<&'a str>,
    /// The path, with the API's stage where `lambda_http` puts it.
    path: String,
    /// What is appended after `?` (unless empty).
    query: String,
    /// The body and whether it is flagged base64.
    body: Option<(&'a str, bool)>,
}

/// Checks, as results, everything `lambda_http`'s conversion of `event` would `unwrap` or `expect`: the URL
/// it builds from the host (the `host` header, else `requestContext.domainName`), the `x-forwarded-proto`
/// scheme and the path (with the API's stage), the URI it makes of that and the query, and the base64 body.
/// Errors: what is malformed, for a 400.
pub fn precheck(event: &LambdaRequest) -> Result<(), String> {
    let UriParts { headers, host, path, query, body } = match event {
        LambdaRequest::ApiGatewayV1(ev) => UriParts {
            headers: &ev.headers,
            host: header_host(&ev.headers).or(ev.request_context.domain_name.as_deref()),
            path: path_with_stage(ev.request_context.stage.as_deref(), ev.path.as_deref().unwrap_or_default()),
            query: encoded_query(&ev.multi_value_query_string_parameters, &ev.query_string_parameters),
            body: ev.body.as_deref().map(|b| (b, ev.is_base64_encoded)),
        },
        LambdaRequest::ApiGatewayV2(ev) => UriParts {
            headers: &ev.headers,
            host: header_host(&ev.headers).or(ev.request_context.domain_name.as_deref()),
            path: path_with_stage(ev.request_context.stage.as_deref(), ev.raw_path.as_deref().unwrap_or_default()),
            query: ev.raw_query_string.clone().unwrap_or_default(),
            body: ev.body.as_deref().map(|b| (b, ev.is_base64_encoded)),
        },
        LambdaRequest::Alb(ev) => UriParts {
            headers: &ev.headers,
            host: header_host(&ev.headers),
            path: ev.path.clone().unwrap_or_default(),
            query: encoded_query(&ev.multi_value_query_string_parameters, &ev.query_string_parameters),
            body: ev.body.as_deref().map(|b| (b, ev.is_base64_encoded)),
        },
        _ => return Err("an HTTP event of a kind this door does not serve".into()),
    };
    let mut uri = match host {
        None => url::Url::parse(&format!("http://localhost{path}"))
            .map(|u| u.path().to_owned())
            .map_err(|e| format!("the path makes no URL ({e})"))?,
        Some(host) => {
            let scheme = headers.get("x-forwarded-proto").and_then(|s| s.to_str().ok()).unwrap_or("https");
            url::Url::parse(&format!("{scheme}://{host}{path}"))
                .map(|u| u.to_string())
                .map_err(|e| format!("the host, scheme (x-forwarded-proto) and path make no URL ({e})"))?
        }
    };
    if !query.is_empty() {
        uri.push('?');
        uri.push_str(&query);
    }
    Uri::try_from(uri.as_str()).map_err(|e| format!("the request makes no URI ({e}): is the query string encoded?"))?;
    if let Some((body, true)) = body {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("the body is flagged base64 and is not ({e})"))?;
    }
    Ok(())
}

fn header_host(headers: &HeaderMap) -> Option<&str> {
    headers.get(lambda_http::http::header::HOST).and_then(|s| s.to_str().ok())
}

/// The path API Gateway events are converted with: the stage in front unless it is `$default`, already
/// there, or `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set (as `lambda_http` does).
fn path_with_stage(stage: Option<&str>, path: &str) -> String {
    match stage {
        _ if std::env::var_os("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_some() => path.to_owned(),
        None | Some("$default") => path.to_owned(),
        Some(stage) if path.starts_with(&format!("/{stage}/")) => path.to_owned(),
        Some(stage) => format!("/{stage}{path}"),
    }
}

/// The query string `lambda_http` appends for REST API and ALB events: the multi-value map when it has
/// entries, else the single-value map, form-encoded.
fn encoded_query(multi: &QueryMap, single: &QueryMap) -> String {
    let map = if multi.is_empty() { single } else { multi };
    map.to_query_string()
}

/// The Lambda answer for an HTTP `response`, in the shape `origin` takes (as `lambda_http` builds it):
/// REST APIs read `multiValueHeaders`, HTTP APIs `headers`, ALBs both and a `statusDescription`.
pub fn respond(origin: Origin, response: Response<Body>) -> Value {
    let (parts, body) = response.into_parts();
    let (body, is_base64_encoded) = match body {
        b @ Body::Text(_) => (Some(b), false),
        b @ Body::Binary(_) => (Some(b), true),
        _ => (None, false),
    };
    let status_code = i64::from(parts.status.as_u16());
    let answer = match origin {
        Origin::ApiGatewayV1 => {
            let mut r = ApiGatewayProxyResponse::default();
            r.status_code = status_code;
            r.multi_value_headers = parts.headers;
            r.body = body;
            r.is_base64_encoded = is_base64_encoded;
            serde_json::to_value(r)
        }
        Origin::ApiGatewayV2 => {
            let mut r = ApiGatewayV2httpResponse::default();
            r.status_code = status_code;
            r.headers = parts.headers;
            r.body = body;
            r.is_base64_encoded = is_base64_encoded;
            serde_json::to_value(r)
        }
        Origin::Alb => {
            let mut r = AlbTargetGroupResponse::default();
            r.status_code = status_code;
            r.status_description =
                Some(format!("{} {}", parts.status.as_u16(), parts.status.canonical_reason().unwrap_or_default()));
            r.headers = parts.headers.clone();
            r.multi_value_headers = parts.headers;
            r.body = body;
            r.is_base64_encoded = is_base64_encoded;
            serde_json::to_value(r)
        }
    };
    // Cannot fail: these responses hold numbers, strings and header maps of valid header values.
    answer.unwrap_or_default()
}

#[cfg(test)]
mod tests;
