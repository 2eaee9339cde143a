//! The front door's one error type. Every variant has a stable code and an HTTP status, both from the
//! contract's one table ([`contract::codes`]); the body has the deployer's shape,
//! `{"error": {"code", "message", "details"}}`, so a client reads both the same way.

use std::fmt;

use contract::aws_error::AwsError;
use contract::codes::{self, Code};
use contract::env::ConfigError;
use contract::names::InputError;
use contract::secrets::SecretError;
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum FrontError {
    /// No credentials: no IAM identity and no bearer token, or no Slack signature. Code `Unauthorized` (401).
    #[error("unauthorized: {reason}")]
    Unauthorized { reason: String },

    /// Credentials that are wrong: a bad token, a bad or stale Slack signature. Code `Forbidden` (403).
    #[error("forbidden: {reason}")]
    Forbidden { reason: String },

    /// An authenticated caller asked for a service this door may not act on. Code `NotAllowed` (403).
    #[error("{reason}")]
    NotAllowed { reason: String, cluster: Option<String>, service: Option<String> },

    /// Code `NotFound` (404).
    #[error("no route for {path}")]
    NotFound { path: String },

    /// Code `MethodNotAllowed` (405); `allow` is the method the path takes, for the `Allow` header.
    #[error("{path} does not take {method}; it takes {allow}")]
    MethodNotAllowed { path: String, method: String, allow: &'static str },

    /// Code `InvalidRequest` (400).
    #[error("invalid request: {reason}")]
    InvalidRequest { reason: String },

    /// The version is not an image tag or a sha256 digest, exactly as sent. Code `InvalidVersion` (400).
    #[error("invalid version {version:?}: {reason}")]
    InvalidVersion { version: String, reason: &'static str },

    /// The door lacks a setting it needs for this request (a secret ARN, its own name), or a setting is
    /// malformed. Code `NotConfigured` (500).
    #[error("not configured: {what}")]
    NotConfigured { what: String },

    /// A failure no input explains (answering a request panicked). Code `Internal` (500).
    #[error("internal error: {reason}")]
    Internal { reason: String },

    /// Invoking the deployer or reading a secret failed. Code `AwsThrottled`, `AwsAccessDenied` or
    /// `AwsCallFailed` (502).
    #[error(transparent)]
    Aws(#[from] AwsError),

    /// The deployer answered with a function error: its code (Lambda's `errorType`) and body, passed through.
    #[error("{message}")]
    Deployer { code: String, message: String, body: Value },
}

/// The code of an error: one of the contract's [`Code`]s for the door's own errors, or the name a deployer
/// error came with, which may be one this door does not know (a newer deployer's, or Lambda's own such as
/// `Sandbox.Timedout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode<'a> {
    Front(Code),
    Deployer(&'a str),
}

impl<'a> ErrorCode<'a> {
    /// The code's name, as scripts see it (`errorType`, `error.code`).
    pub fn as_str(self) -> &'a str {
        match self {
            ErrorCode::Front(code) => code.as_str(),
            ErrorCode::Deployer(name) => name,
        }
    }

    /// The HTTP status, from the contract's table; 502 for a name the table does not know.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::Front(code) => code.http_status(),
            ErrorCode::Deployer(name) => codes::http_status(name),
        }
    }
}

impl fmt::Display for ErrorCode<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for ErrorCode<'_> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl FrontError {
    /// The stable code: the door's own errors have the contract's [`Code`]; a deployer error keeps its name.
    pub fn code(&self) -> ErrorCode<'_> {
        ErrorCode::Front(match self {
            FrontError::Unauthorized { .. } => Code::Unauthorized,
            FrontError::Forbidden { .. } => Code::Forbidden,
            FrontError::NotAllowed { .. } => Code::NotAllowed,
            FrontError::NotFound { .. } => Code::NotFound,
            FrontError::MethodNotAllowed { .. } => Code::MethodNotAllowed,
            FrontError::InvalidRequest { .. } => Code::InvalidRequest,
            FrontError::InvalidVersion { .. } => Code::InvalidVersion,
            FrontError::NotConfigured { .. } => Code::NotConfigured,
            FrontError::Internal { .. } => Code::Internal,
            FrontError::Aws(e) => e.code(),
            FrontError::Deployer { code, .. } => return ErrorCode::Deployer(code),
        })
    }

    /// The HTTP status the door answers with (4xx: the caller's fault; 5xx: the door's, AWS's or the
    /// deployer's).
    pub fn http_status(&self) -> u16 {
        self.code().http_status()
    }

    /// Machine-readable facts about the error: `{"cluster", "service"}`, `{"path"}`, `{"allow"}`,
    /// `{"operation", "aws_code", "outcome_known"}`, the deployer's own `details`, or `{}`.
    pub fn details(&self) -> Value {
        match self {
            FrontError::NotAllowed { cluster, service, .. } => json!({"cluster": cluster, "service": service}),
            FrontError::NotFound { path } => json!({"path": path}),
            FrontError::MethodNotAllowed { allow, .. } => json!({"allow": allow}),
            FrontError::InvalidVersion { version, .. } => json!({"version": version}),
            FrontError::Aws(e) => e.details(),
            FrontError::Deployer { body, .. } => body["error"]["details"].clone(),
            _ => json!({}),
        }
    }

    /// `{"error": {"code", "message", "details"}}`; the deployer's own body when it sent one.
    pub fn to_body(&self) -> Value {
        if let FrontError::Deployer { body, .. } = self {
            if body.get("error").is_some_and(Value::is_object) {
                return body.clone();
            }
        }
        json!({"error": {"code": self.code().as_str(), "message": self.to_string(), "details": self.details()}})
    }
}

/// A secret that is not configured is [`FrontError::NotConfigured`] (`not configured: <setting> is not
/// set`); a failed read is [`FrontError::Aws`].
impl From<SecretError> for FrontError {
    fn from(err: SecretError) -> FrontError {
        match err {
            SecretError::NotConfigured { setting } => {
                FrontError::NotConfigured { what: format!("{setting} is not set") }
            }
            SecretError::Aws(e) => FrontError::Aws(e),
        }
    }
}

/// A version that is neither a tag nor a digest is [`FrontError::InvalidVersion`]; any other refused input
/// [`FrontError::InvalidRequest`].
impl From<InputError> for FrontError {
    fn from(err: InputError) -> FrontError {
        match err {
            InputError::Version { version, reason } => FrontError::InvalidVersion { version, reason },
            InputError::Invalid { reason } => FrontError::InvalidRequest { reason },
        }
    }
}

/// A malformed setting is [`FrontError::NotConfigured`], which stops the start.
impl From<ConfigError> for FrontError {
    fn from(err: ConfigError) -> FrontError {
        FrontError::NotConfigured { what: err.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use contract::aws_error::AwsErrorKind;

    use super::*;

    // Every code's HTTP status: `contract::codes`'s `every_code_has_its_status` holds all of this door's
    // former cases, with the same statuses.

    #[test]
    fn deployer_bodies_pass_through_and_own_errors_take_the_same_shape() {
        let body =
            json!({"error": {"code": "ImageNotFound", "message": "image v9 not found", "details": {"version": "v9"}}});
        let err = FrontError::Deployer {
            code: "ImageNotFound".into(),
            message: "image v9 not found".into(),
            body: body.clone(),
        };
        assert_eq!((err.http_status(), err.to_body()), (422, body));
        assert_eq!(err.details(), json!({"version": "v9"}));

        let err = FrontError::NotAllowed {
            reason: "prod/db is not allowed".into(),
            cluster: Some("prod".into()),
            service: Some("db".into()),
        };
        let body = err.to_body();
        assert_eq!(err.http_status(), 403);
        assert_eq!(body["error"]["code"], "NotAllowed");
        assert_eq!(body["error"]["message"], "prod/db is not allowed");
        assert_eq!(body["error"]["details"], json!({"cluster": "prod", "service": "db"}));

        let err = FrontError::from(AwsError {
            operation: "Invoke",
            kind: AwsErrorKind::Throttled,
            aws_code: Some("TooManyRequestsException".into()),
            message: "rate exceeded".into(),
        });
        assert_eq!((err.code().as_str(), err.http_status()), ("AwsThrottled", 502));
        assert_eq!(err.to_body()["error"]["details"]["operation"], "Invoke");
    }

    #[test]
    fn own_codes_come_from_the_contract_and_deployer_codes_keep_their_name() {
        let err = FrontError::NotConfigured { what: "X is not set".into() };
        assert_eq!((err.code(), err.http_status()), (ErrorCode::Front(Code::NotConfigured), 500));
        let err = FrontError::Deployer { code: "SomethingNew".into(), message: "?".into(), body: json!({}) };
        assert_eq!((err.code(), err.http_status()), (ErrorCode::Deployer("SomethingNew"), 502));
        assert_eq!(err.to_body()["error"]["code"], "SomethingNew");
        let err = FrontError::from(SecretError::NotConfigured { setting: "AUTH_TOKEN_SECRET_ARN".into() });
        assert_eq!(err.to_string(), "not configured: AUTH_TOKEN_SECRET_ARN is not set");
        assert_eq!(err.code(), "NotConfigured");
    }
}
