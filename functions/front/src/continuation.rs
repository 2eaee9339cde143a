//! The second half of a Slack command. Slack wants an answer within 3 s, a deploy takes longer, and a
//! Lambda function stops working when it answers: so the door acknowledges at once and invokes itself
//! asynchronously (InvocationType `Event`) with this continuation, which does the work and POSTs the outcome
//! to the command's `response_url`.
//!
//! The continuation arrives as a direct invoke, which anyone allowed to invoke this function could send;
//! it would make this function invoke the deployer. So it is signed: HMAC-SHA256 with the Slack signing
//! secret (which only this door and Slack know) under its own purpose label, over the exact payload bytes
//! and the time it was issued, and it expires after 30 minutes (as Slack's `response_url` does). Within those
//! 30 minutes it runs at most once: it is claimed in the replay table ([`crate::replay::continuation_key`])
//! with a conditional write before its job starts, so a replayed (or twice delivered) continuation changes
//! nothing.
//!
//! Wire shape: `{"continuation": "<payload JSON text>", "issued_at": <unix seconds>, "signature": "<hex>"}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::{sign_internal, verify_internal};
use crate::error::FrontError;
use crate::slack::Job;

const PURPOSE: &str = "ecs-deployer-front-continuation-v1";
/// How long a continuation stays valid: Slack's `response_url` takes answers for 30 minutes.
pub const MAX_AGE_SECS: u64 = 30 * 60;

/// What the continuation must do, and where to say how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Continuation {
    pub job: Job,
    pub user_id: String,
    pub channel_id: String,
    pub response_url: String,
    /// When the command arrived (Unix milliseconds), to report the whole duration.
    pub received_ms: u64,
}

/// The signed wire shape of a continuation, read but not yet verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    continuation: String,
    issued_at: u64,
    signature: String,
}

impl Envelope {
    /// The signature, as sent: what the replay table remembers the continuation by (hashed).
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// Until when (Unix seconds) the continuation must be remembered to run at most once: the end of its
    /// validity, plus a minute of clock skew between this function and DynamoDB's TTL.
    pub fn remember_until(&self) -> u64 {
        self.issued_at.saturating_add(MAX_AGE_SECS + 60)
    }

    /// The envelope of a direct-invoke event, read without any secret: `{"continuation": "<text>",
    /// "issued_at": <unix seconds>, "signature": "<hex>"}` and nothing else. Errors: `InvalidRequest`.
    pub fn from_event(event: &Value) -> Result<Envelope, FrontError> {
        Envelope::deserialize(event)
            .map_err(|e| FrontError::InvalidRequest { reason: format!("not a continuation: {e}") })
    }
}

/// True when a direct-invoke payload is shaped as a continuation (as opposed to an HTTP event).
pub fn is_continuation(event: &Value) -> bool {
    Envelope::from_event(event).is_ok()
}

/// The signed event to invoke this function with.
pub fn seal(c: &Continuation, secret: &[u8], now: u64) -> Value {
    let payload = serde_json::to_string(c).unwrap_or_default();
    let signature = sign_internal(secret, PURPOSE, now, payload.as_bytes());
    serde_json::to_value(Envelope { continuation: payload, issued_at: now, signature }).unwrap_or_default()
}

/// The continuation in `envelope`, when its signature holds and it is fresh at `now` (Unix seconds). Errors:
/// `Forbidden` (a wrong signature, an expired continuation), `InvalidRequest` (a signed payload of another
/// shape).
pub fn open(envelope: &Envelope, secret: &[u8], now: u64) -> Result<Continuation, FrontError> {
    let forbidden = |reason: &str| FrontError::Forbidden { reason: reason.into() };
    if !verify_internal(secret, PURPOSE, envelope.issued_at, envelope.continuation.as_bytes(), &envelope.signature) {
        return Err(forbidden("the continuation's signature does not match"));
    }
    if now.saturating_sub(envelope.issued_at) > MAX_AGE_SECS || envelope.issued_at > now + 60 {
        return Err(forbidden("the continuation has expired"));
    }
    serde_json::from_str(&envelope.continuation)
        .map_err(|e| FrontError::InvalidRequest { reason: format!("the continuation is malformed: {e}") })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn continuation() -> Continuation {
        Continuation {
            job: Job::Deploy { cluster: "prod".into(), service: "web".into(), version: "v2".into() },
            user_id: "U1".into(),
            channel_id: "C1".into(),
            response_url: "https://hooks.slack.com/commands/T1/1/x".into(),
            received_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn a_sealed_continuation_opens_with_the_same_secret_while_fresh() {
        let sealed = seal(&continuation(), b"secret", 1000);
        assert!(is_continuation(&sealed));
        let envelope = Envelope::from_event(&sealed).unwrap();
        assert_eq!(open(&envelope, b"secret", 1000).unwrap(), continuation());
        assert_eq!(open(&envelope, b"secret", 1000 + MAX_AGE_SECS).unwrap(), continuation());

        let codes = [
            (open(&envelope, b"other", 1000), "Forbidden"),
            (open(&envelope, b"secret", 1001 + MAX_AGE_SECS), "Forbidden"),
            (open(&envelope, b"secret", 900), "Forbidden"),
        ];
        for (result, code) in codes {
            assert_eq!(result.unwrap_err().code(), code);
        }
    }

    #[test]
    fn a_tampered_continuation_is_refused() {
        let sealed = seal(&continuation(), b"secret", 1000);
        let mut tampered = sealed.clone();
        tampered["continuation"] = Value::String(sealed["continuation"].as_str().unwrap().replace("\"v2\"", "\"v3\""));
        let open_event = |event: &Value, now| open(&Envelope::from_event(event)?, b"secret", now);
        assert_eq!(open_event(&tampered, 1000).unwrap_err().code(), "Forbidden");
        let mut later = sealed.clone();
        later["issued_at"] = json!(1500);
        assert_eq!(open_event(&later, 1500).unwrap_err().code(), "Forbidden");
        for event in [
            json!({}),
            json!({"continuation": "{}", "issued_at": 1, "signature": "00", "x": 1}),
            json!({"continuation": 5, "issued_at": 1, "signature": "00"}),
            json!([1]),
        ] {
            assert_eq!(Envelope::from_event(&event).unwrap_err().code(), "InvalidRequest", "{event}");
            assert!(!is_continuation(&event));
        }
        // A signed payload that is not a continuation: refused after the signature.
        let odd = json!({"continuation": "[1]", "issued_at": 1000,
                         "signature": sign_internal(b"secret", PURPOSE, 1000, b"[1]")});
        assert_eq!(open_event(&odd, 1000).unwrap_err().code(), "InvalidRequest");
        assert!(!is_continuation(&json!({"httpMethod": "POST"})));
    }
}
