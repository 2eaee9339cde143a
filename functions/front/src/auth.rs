//! Who is calling, and may they. Three ways in:
//!
//! - API Gateway (REST or HTTP API) or a Function URL with IAM authorization: the service verified the
//!   caller's SigV4 signature and put the identity in the request context, which callers cannot forge;
//! - anything else (ALB, Function URL without auth, API Gateway without IAM): `Authorization: Bearer <token>`,
//!   compared in constant time with a token kept in Secrets Manager;
//! - Slack: the `v0` HMAC-SHA256 signature over `v0:<timestamp>:<raw body>` with the app's signing secret,
//!   at most five minutes old, then the user and channel allow-lists.
//!
//! Nothing here logs a token, a secret, a signature or the `Authorization` header.

use hmac::{Hmac, KeyInit, Mac};
use lambda_http::http::HeaderMap;
use lambda_http::request::RequestContext;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::FrontError;

/// How old (or how far in the future) a Slack request may be, in seconds.
pub const SLACK_MAX_SKEW_SECS: u64 = 5 * 60;

/// The caller, once authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// An IAM principal that API Gateway or the Function URL authenticated.
    Iam { arn: String },
    /// Someone who showed the bearer token.
    Token,
}

impl Caller {
    /// For logs: the IAM ARN, or `bearer-token` (never the token).
    pub fn describe(&self) -> &str {
        match self {
            Caller::Iam { arn } => arn,
            Caller::Token => "bearer-token",
        }
    }

    /// Who asked, as the deployer's history records it (`requested_by`): the IAM principal's ARN (or the
    /// caller id API Gateway gave when it gave no ARN), or `bearer-token` for anyone who showed the token;
    /// never the token itself. Made fit for the deployer's rule ([`requested_by`]).
    pub fn requested_by(&self) -> String {
        requested_by(self.describe(), "iam-caller")
    }
}

/// `who` as a `requested_by` the deployer takes: control characters dropped, cut to
/// [`crate::check::MAX_REQUESTED_BY`] bytes on a character boundary, `fallback` when nothing is left.
pub fn requested_by(who: &str, fallback: &str) -> String {
    let mut out = String::with_capacity(who.len().min(crate::check::MAX_REQUESTED_BY));
    for c in who.chars().filter(|c| !c.is_control()) {
        if out.len() + c.len_utf8() > crate::check::MAX_REQUESTED_BY {
            break;
        }
        out.push(c);
    }
    if out.is_empty() {
        fallback.to_owned()
    } else {
        out
    }
}

/// The IAM identity API Gateway or a Function URL verified, if any: REST APIs put it in
/// `requestContext.identity` (`userArn`, `accessKey`), HTTP APIs and Function URLs in
/// `requestContext.authorizer.iam`. ALB requests never carry one.
pub fn iam_identity(context: Option<&RequestContext>) -> Option<String> {
    match context? {
        RequestContext::ApiGatewayV1(ctx) => {
            let id = &ctx.identity;
            let arn = id.user_arn.as_deref().filter(|s| !s.is_empty());
            let key = id.access_key.as_deref().filter(|s| !s.is_empty());
            match (arn, key) {
                (Some(arn), _) => Some(arn.to_owned()),
                (None, Some(_)) => Some(id.caller.clone().unwrap_or_else(|| "iam-caller".into())),
                (None, None) => None,
            }
        }
        RequestContext::ApiGatewayV2(ctx) => {
            let iam = ctx.authorizer.as_ref()?.iam.as_ref()?;
            let arn = iam.user_arn.as_deref().filter(|s| !s.is_empty());
            let key = iam.access_key.as_deref().filter(|s| !s.is_empty());
            match (arn, key) {
                (Some(arn), _) => Some(arn.to_owned()),
                (None, Some(_)) => Some(iam.caller_id.clone().unwrap_or_else(|| "iam-caller".into())),
                (None, None) => None,
            }
        }
        _ => None,
    }
}

/// The bearer token in `Authorization`, checked against `expected` in constant time: 401 when there is
/// none, 403 when it is wrong. Both sides are hashed first, so neither the content nor the length of the
/// expected token shows in the time taken.
pub fn check_bearer(headers: &HeaderMap, expected: &[u8]) -> Result<(), FrontError> {
    let Some(value) = headers.get(lambda_http::http::header::AUTHORIZATION) else {
        return Err(FrontError::Unauthorized { reason: "no credentials: send Authorization: Bearer <token>".into() });
    };
    let value = value.as_bytes();
    let token = match value.iter().position(|b| *b == b' ') {
        Some(space) if value[..space].eq_ignore_ascii_case(b"bearer") => value[space + 1..].trim_ascii(),
        _ => return Err(FrontError::Unauthorized { reason: "the Authorization header is not a bearer token".into() }),
    };
    if token.is_empty() {
        return Err(FrontError::Unauthorized { reason: "the bearer token is empty".into() });
    }
    if expected.is_empty() {
        return Err(FrontError::NotConfigured { what: "the bearer token secret is empty".into() });
    }
    if bool::from(Sha256::digest(token).as_slice().ct_eq(Sha256::digest(expected).as_slice())) {
        Ok(())
    } else {
        Err(FrontError::Forbidden { reason: "the bearer token is not valid".into() })
    }
}

type HmacSha256 = Hmac<Sha256>;

fn hmac(secret: &[u8], parts: &[&[u8]]) -> HmacSha256 {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok()).collect()
}

/// `v0=<hex HMAC-SHA256 of "v0:<timestamp>:<body>">`, as Slack computes it.
pub fn slack_signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mac = hmac(secret, &[b"v0:", timestamp.as_bytes(), b":", body]);
    format!("v0={}", hex(&mac.finalize().into_bytes()))
}

/// Checks Slack's `X-Slack-Request-Timestamp` and `X-Slack-Signature` over the raw body, at `now` (Unix
/// seconds): missing headers are 401, a stale timestamp or a wrong signature 403.
pub fn verify_slack(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: u64,
) -> Result<(), FrontError> {
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err(FrontError::Unauthorized { reason: "no Slack signature headers".into() });
    };
    let forbidden = |reason: &str| FrontError::Forbidden { reason: reason.into() };
    let sent: u64 = timestamp.trim().parse().map_err(|_| forbidden("the Slack timestamp is not a number"))?;
    if sent.abs_diff(now) > SLACK_MAX_SKEW_SECS {
        return Err(forbidden("the Slack timestamp is more than five minutes away: replayed or clock skew"));
    }
    let sent_mac = signature
        .trim()
        .strip_prefix("v0=")
        .and_then(unhex)
        .ok_or_else(|| forbidden("the Slack signature is not v0=<hex>"))?;
    hmac(secret, &[b"v0:", timestamp.trim().as_bytes(), b":", body])
        .verify_slice(&sent_mac)
        .map_err(|_| forbidden("the Slack signature does not match"))
}

/// Signs an internal message with a key derived for that purpose only (so it can never pass for a Slack
/// request): hex HMAC-SHA256 over `<purpose>:<timestamp>:<body>`.
pub fn sign_internal(secret: &[u8], purpose: &str, timestamp: u64, body: &[u8]) -> String {
    let mac = hmac(secret, &[purpose.as_bytes(), b":", timestamp.to_string().as_bytes(), b":", body]);
    hex(&mac.finalize().into_bytes())
}

/// Verifies [`sign_internal`] in constant time.
pub fn verify_internal(secret: &[u8], purpose: &str, timestamp: u64, body: &[u8], signature: &str) -> bool {
    let Some(sent) = unhex(signature) else { return false };
    hmac(secret, &[purpose.as_bytes(), b":", timestamp.to_string().as_bytes(), b":", body]).verify_slice(&sent).is_ok()
}

/// Which Slack users and channels may use the command. A command is accepted when its user is in
/// `users` (if that list is set) and its channel in `channels` (if that list is set). When both are empty
/// nobody is: a door left unconfigured is closed.
pub fn slack_allows(users: &[String], channels: &[String], user_id: &str, channel_id: &str) -> Result<(), String> {
    if users.is_empty() && channels.is_empty() {
        return Err("this deploy command accepts nobody yet: its admin must set SLACK_ALLOWED_USERS or \
                    SLACK_ALLOWED_CHANNELS"
            .into());
    }
    if !users.is_empty() && !users.iter().any(|u| u == user_id) {
        return Err(format!("you (<@{user_id}>) may not deploy with this command: ask its admin to add you"));
    }
    if !channels.is_empty() && !channels.iter().any(|c| c == channel_id) {
        return Err("deploys cannot be started from this channel: use one of the deploy channels".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use lambda_http::http::HeaderValue;
    use serde_json::json;

    use super::*;

    // Slack's published example ("Verifying requests from Slack"): signing secret, timestamp, body, signature.
    const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const SLACK_TIMESTAMP: &str = "1531420618";
    const SLACK_BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SLACK_SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";
    const SLACK_NOW: u64 = 1_531_420_618;

    fn code(r: Result<(), FrontError>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(e) => match e.code().as_str() {
                "Unauthorized" => "Unauthorized",
                "Forbidden" => "Forbidden",
                "NotConfigured" => "NotConfigured",
                other => panic!("unexpected code {other}"),
            },
        }
    }

    #[test]
    fn callers_are_named_for_the_history_without_any_secret() {
        let arn = "arn:aws:iam::123456789012:user/ci";
        assert_eq!(Caller::Iam { arn: arn.into() }.requested_by(), arn);
        assert_eq!(Caller::Token.requested_by(), "bearer-token");
        assert_eq!(Caller::Iam { arn: String::new() }.requested_by(), "iam-caller");
        assert_eq!(requested_by("a\nb\u{7}c", "x"), "abc");
        assert_eq!(requested_by("\n", "x"), "x");
        let long = format!("arn:aws:sts::123456789012:assumed-role/{}/é", "r".repeat(600));
        let cut = requested_by(&long, "x");
        assert!(cut.len() <= crate::check::MAX_REQUESTED_BY && long.starts_with(&cut), "{}", cut.len());
        let accents = "é".repeat(300);
        assert_eq!(requested_by(&accents, "x").len(), 512);
    }

    #[test]
    fn slacks_published_example_verifies() {
        assert_eq!(slack_signature(SLACK_SECRET.as_bytes(), SLACK_TIMESTAMP, SLACK_BODY.as_bytes()), SLACK_SIGNATURE);
        let verify = |secret: &str, ts: Option<&str>, sig: Option<&str>, body: &str, now: u64| {
            code(verify_slack(secret.as_bytes(), ts, sig, body.as_bytes(), now))
        };
        let resigned = slack_signature(SLACK_SECRET.as_bytes(), "1531420700", SLACK_BODY.as_bytes());
        let cases = [
            // name, secret, timestamp, signature, body, now, outcome
            ("the example", SLACK_SECRET, Some(SLACK_TIMESTAMP), Some(SLACK_SIGNATURE), SLACK_BODY, SLACK_NOW, "ok"),
            (
                "4m59s later",
                SLACK_SECRET,
                Some(SLACK_TIMESTAMP),
                Some(SLACK_SIGNATURE),
                SLACK_BODY,
                SLACK_NOW + 299,
                "ok",
            ),
            (
                "upper-case hex",
                SLACK_SECRET,
                Some(SLACK_TIMESTAMP),
                Some(&SLACK_SIGNATURE.to_uppercase().replace("V0=", "v0=")),
                SLACK_BODY,
                SLACK_NOW,
                "ok",
            ),
            (
                "stale: 5m01s later",
                SLACK_SECRET,
                Some(SLACK_TIMESTAMP),
                Some(SLACK_SIGNATURE),
                SLACK_BODY,
                SLACK_NOW + 301,
                "Forbidden",
            ),
            (
                "from the future",
                SLACK_SECRET,
                Some(SLACK_TIMESTAMP),
                Some(SLACK_SIGNATURE),
                SLACK_BODY,
                SLACK_NOW - 301,
                "Forbidden",
            ),
            (
                "replayed with another timestamp",
                SLACK_SECRET,
                Some("1531420700"),
                Some(SLACK_SIGNATURE),
                SLACK_BODY,
                SLACK_NOW,
                "Forbidden",
            ),
            (
                "another body",
                SLACK_SECRET,
                Some(SLACK_TIMESTAMP),
                Some(SLACK_SIGNATURE),
                &SLACK_BODY.replace("text=", "text=prod"),
                SLACK_NOW,
                "Forbidden",
            ),
            (
                "the wrong secret",
                "8f742231b10e8888abcd99yyyzzz85a6",
                Some(SLACK_TIMESTAMP),
                Some(SLACK_SIGNATURE),
                SLACK_BODY,
                SLACK_NOW,
                "Forbidden",
            ),
            (
                "re-signed for its own timestamp",
                SLACK_SECRET,
                Some("1531420700"),
                Some(&resigned),
                SLACK_BODY,
                SLACK_NOW,
                "ok",
            ),
            (
                "no v0= prefix",
                SLACK_SECRET,
                Some(SLACK_TIMESTAMP),
                Some(&SLACK_SIGNATURE[3..]),
                SLACK_BODY,
                SLACK_NOW,
                "Forbidden",
            ),
            (
                "v1 signature",
                SLACK_SECRET,
                Some(SLACK_TIMESTAMP),
                Some(&SLACK_SIGNATURE.replace("v0=", "v1=")),
                SLACK_BODY,
                SLACK_NOW,
                "Forbidden",
            ),
            (
                "truncated signature",
                SLACK_SECRET,
                Some(SLACK_TIMESTAMP),
                Some(&SLACK_SIGNATURE[..40]),
                SLACK_BODY,
                SLACK_NOW,
                "Forbidden",
            ),
            (
                "non-hex signature",
                SLACK_SECRET,
                Some(SLACK_TIMESTAMP),
                Some("v0=zz"),
                SLACK_BODY,
                SLACK_NOW,
                "Forbidden",
            ),
            (
                "non-numeric timestamp",
                SLACK_SECRET,
                Some("soon"),
                Some(SLACK_SIGNATURE),
                SLACK_BODY,
                SLACK_NOW,
                "Forbidden",
            ),
            ("no signature", SLACK_SECRET, Some(SLACK_TIMESTAMP), None, SLACK_BODY, SLACK_NOW, "Unauthorized"),
            ("no timestamp", SLACK_SECRET, None, Some(SLACK_SIGNATURE), SLACK_BODY, SLACK_NOW, "Unauthorized"),
        ];
        for (name, secret, ts, sig, body, now, outcome) in cases {
            assert_eq!(verify(secret, ts, sig, body, now), outcome, "{name}");
        }
    }

    #[test]
    fn bearer_tokens_are_required_and_compared() {
        let expected = b"s3cr3t-token-0123456789";
        let cases: [(Option<&str>, &str); 9] = [
            (Some("Bearer s3cr3t-token-0123456789"), "ok"),
            (Some("bearer s3cr3t-token-0123456789"), "ok"),
            (Some("Bearer  s3cr3t-token-0123456789 "), "ok"),
            (Some("Bearer s3cr3t-token-012345678"), "Forbidden"),
            (Some("Bearer s3cr3t-token-01234567890"), "Forbidden"),
            (Some("Bearer "), "Unauthorized"),
            (Some("Basic czNjcjN0"), "Unauthorized"),
            (Some("s3cr3t-token-0123456789"), "Unauthorized"),
            (None, "Unauthorized"),
        ];
        for (header, outcome) in cases {
            let mut headers = HeaderMap::new();
            if let Some(h) = header {
                headers.insert("authorization", HeaderValue::from_str(h).unwrap());
            }
            assert_eq!(code(check_bearer(&headers, expected)), outcome, "{header:?}");
        }
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer x"));
        assert_eq!(code(check_bearer(&headers, b"")), "NotConfigured");
    }

    #[test]
    fn error_messages_never_echo_the_token() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer wrong-token-value"));
        let err = check_bearer(&headers, b"right-token-value").unwrap_err();
        let shown = format!("{err} {:?} {}", err, err.to_body());
        assert!(!shown.contains("wrong-token-value") && !shown.contains("right-token-value"), "{shown}");
    }

    fn context(event: serde_json::Value) -> RequestContext {
        let request: lambda_http::Request = lambda_http::request::from_str(&event.to_string()).unwrap();
        lambda_http::RequestExt::request_context(&request)
    }

    #[test]
    fn iam_identities_come_only_from_the_request_context() {
        let v1 = |identity: serde_json::Value| {
            json!({"resource": "/deploy", "path": "/deploy", "httpMethod": "POST", "headers": {}, "body": "{}",
                   "requestContext": {"httpMethod": "POST", "stage": "prod", "identity": identity,
                                      "path": "/prod/deploy"}})
        };
        let v2 = |authorizer: serde_json::Value| {
            json!({"version": "2.0", "routeKey": "POST /deploy", "rawPath": "/deploy", "headers": {}, "body": "{}",
                   "requestContext": {"stage": "$default", "authorizer": authorizer,
                                      "http": {"method": "POST", "path": "/deploy"}}})
        };
        let arn = "arn:aws:sts::123456789012:assumed-role/ci/build";
        let cases = [
            (
                "REST with IAM",
                v1(json!({"userArn": arn, "accessKey": "ASIAEXAMPLE", "caller": "AROA:build"})),
                Some(arn),
            ),
            ("REST, key only", v1(json!({"accessKey": "ASIAEXAMPLE", "caller": "AROA:build"})), Some("AROA:build")),
            ("REST without IAM", v1(json!({"sourceIp": "192.0.2.1", "userArn": null, "accessKey": null})), None),
            ("REST with an API key", v1(json!({"apiKey": "k", "apiKeyId": "id"})), None),
            (
                "HTTP API with IAM",
                v2(json!({"iam": {"userArn": arn, "accessKey": "ASIAEXAMPLE", "accountId": "123456789012"}})),
                Some(arn),
            ),
            ("HTTP API with a JWT", v2(json!({"jwt": {"claims": {"sub": "x"}, "scopes": null}})), None),
            ("HTTP API with a Lambda authorizer", v2(json!({"lambda": {"userArn": arn}})), None),
            ("Function URL without auth", v2(json!(null)), None),
        ];
        for (name, event, expected) in cases {
            assert_eq!(iam_identity(Some(&context(event))).as_deref(), expected, "{name}");
        }
        let target_group = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/1";
        let alb = json!({"requestContext": {"elb": {"targetGroupArn": target_group}}, "httpMethod": "POST",
                         "path": "/deploy", "headers": {"x-amzn-requestcontext": arn}, "body": "{}",
                         "isBase64Encoded": false});
        assert_eq!(iam_identity(Some(&context(alb))), None);
        assert_eq!(iam_identity(None), None);
    }

    #[test]
    fn internal_signatures_are_bound_to_purpose_time_and_body() {
        let sig = sign_internal(b"k", "continuation", 100, b"{}");
        assert!(verify_internal(b"k", "continuation", 100, b"{}", &sig));
        assert!(!verify_internal(b"k", "continuation", 101, b"{}", &sig));
        assert!(!verify_internal(b"k", "other", 100, b"{}", &sig));
        assert!(!verify_internal(b"k", "continuation", 100, b"{ }", &sig));
        assert!(!verify_internal(b"j", "continuation", 100, b"{}", &sig));
        assert!(!verify_internal(b"k", "continuation", 100, b"{}", "nothex"));
        // A Slack signature over the same bytes is another value: the two cannot stand in for each other.
        assert_ne!(slack_signature(b"k", "100", b"{}"), format!("v0={sig}"));
    }

    #[test]
    fn slack_allow_lists_are_closed_by_default() {
        let users = vec!["U1".to_owned()];
        let channels = vec!["C1".to_owned()];
        let none: Vec<String> = vec![];
        let cases = [
            (&none, &none, "U1", "C1", false),
            (&users, &none, "U1", "C9", true),
            (&users, &none, "U2", "C1", false),
            (&none, &channels, "U9", "C1", true),
            (&none, &channels, "U1", "C2", false),
            (&users, &channels, "U1", "C1", true),
            (&users, &channels, "U1", "C2", false),
            (&users, &channels, "U2", "C1", false),
        ];
        for (u, c, user, channel, allowed) in cases {
            assert_eq!(slack_allows(u, c, user, channel).is_ok(), allowed, "{u:?} {c:?} {user} {channel}");
        }
        assert!(slack_allows(&none, &none, "U1", "C1").unwrap_err().contains("SLACK_ALLOWED_USERS"));
    }
}
