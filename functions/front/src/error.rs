//! The front door's one error type. Every variant has a stable code and an HTTP status; the body has the
//! deployer's shape, `{"error": {"code", "message", "details"}}`, so a client reads both the same way.

use deployer::error::{AwsError, AwsErrorKind};
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum FrontError {
    /// No credentials: no IAM identity and no bearer token, or no Slack signature.
    #[error("unauthorized: {reason}")]
    Unauthorized { reason: String },

    /// Credentials that are wrong: a bad token, a bad or stale Slack signature.
    #[error("forbidden: {reason}")]
    Forbidden { reason: String },

    /// An authenticated caller asked for a service this door may not act on.
    #[error("{reason}")]
    NotAllowed { reason: String, cluster: Option<String>, service: Option<String> },

    #[error("no route for {path}")]
    NotFound { path: String },

    #[error("{path} does not take {method}; it takes {allow}")]
    MethodNotAllowed { path: String, method: String, allow: &'static str },

    #[error("invalid request: {reason}")]
    InvalidRequest { reason: String },

    /// The door lacks a setting it needs for this request (a secret ARN, its own name).
    #[error("not configured: {what}")]
    NotConfigured { what: String },

    /// Invoking the deployer or reading a secret failed.
    #[error(transparent)]
    Aws(#[from] AwsError),

    /// The deployer answered with a function error: its code and body, passed through.
    #[error("{message}")]
    Deployer { code: String, message: String, body: Value },
}

impl FrontError {
    pub fn code(&self) -> &str {
        match self {
            FrontError::Unauthorized { .. } => "Unauthorized",
            FrontError::Forbidden { .. } => "Forbidden",
            FrontError::NotAllowed { .. } => "NotAllowed",
            FrontError::NotFound { .. } => "NotFound",
            FrontError::MethodNotAllowed { .. } => "MethodNotAllowed",
            FrontError::InvalidRequest { .. } => "InvalidRequest",
            FrontError::NotConfigured { .. } => "NotConfigured",
            FrontError::Aws(e) => match e.kind {
                AwsErrorKind::Throttled => "AwsThrottled",
                AwsErrorKind::AccessDenied => "AwsAccessDenied",
                AwsErrorKind::Rejected | AwsErrorKind::Unknown => "AwsCallFailed",
            },
            FrontError::Deployer { code, .. } => code,
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            FrontError::NotConfigured { .. } => 500,
            other => http_status(other.code()),
        }
    }

    pub fn details(&self) -> Value {
        match self {
            FrontError::NotAllowed { cluster, service, .. } => json!({"cluster": cluster, "service": service}),
            FrontError::NotFound { path } => json!({"path": path}),
            FrontError::MethodNotAllowed { allow, .. } => json!({"allow": allow}),
            FrontError::Aws(e) => json!({
                "operation": e.operation, "aws_code": e.aws_code, "outcome_known": e.certainly_not_applied(),
            }),
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
        json!({"error": {"code": self.code(), "message": self.to_string(), "details": self.details()}})
    }
}

/// The HTTP status of an error code, the deployer's and the door's own. Unknown codes are the deployer's
/// or AWS's failures: 502.
pub fn http_status(code: &str) -> u16 {
    match code {
        "InvalidRequest" | "InvalidVersion" => 400,
        "Unauthorized" => 401,
        "Forbidden" | "NotAllowed" => 403,
        "NotFound" | "ClusterNotFound" | "ServiceNotFound" | "RepositoryNotFound" | "TaskDefinitionNotFound" => 404,
        "MethodNotAllowed" => 405,
        "DeploymentInProgress" | "ClusterNotActive" | "ServiceNotActive" | "UnsupportedDeploymentController" => 409,
        "ImageNotFound" | "NoTargetContainer" | "NoRollbackTarget" => 422,
        "NotConfigured" => 500,
        _ => 502,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_status() {
        let cases = [
            ("InvalidRequest", 400),
            ("InvalidVersion", 400),
            ("Unauthorized", 401),
            ("Forbidden", 403),
            ("NotAllowed", 403),
            ("NotFound", 404),
            ("ClusterNotFound", 404),
            ("ServiceNotFound", 404),
            ("RepositoryNotFound", 404),
            ("TaskDefinitionNotFound", 404),
            ("MethodNotAllowed", 405),
            ("DeploymentInProgress", 409),
            ("ClusterNotActive", 409),
            ("ServiceNotActive", 409),
            ("UnsupportedDeploymentController", 409),
            ("ImageNotFound", 422),
            ("NoTargetContainer", 422),
            ("NoRollbackTarget", 422),
            ("NotConfigured", 500),
            ("AwsThrottled", 502),
            ("AwsAccessDenied", 502),
            ("AwsCallFailed", 502),
            ("UpdateServiceFailed", 502),
            ("RolledBack", 502),
            ("DeploymentFailed", 502),
            ("RollbackFailed", 502),
            ("TargetsFailed", 502),
            ("Sandbox.Timedout", 502),
            ("SomethingNew", 502),
        ];
        for (code, status) in cases {
            assert_eq!(http_status(code), status, "{code}");
        }
    }

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
        assert_eq!((err.code(), err.http_status()), ("AwsThrottled", 502));
        assert_eq!(err.to_body()["error"]["details"]["operation"], "Invoke");
    }
}
