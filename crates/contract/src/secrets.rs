//! Secrets Manager behind a seam: [`SecretStore`] reads a secret ([`SecretsManager`] with the SDK, a table in
//! tests), [`CachedSecret`] reads it once per Lambda instance. A value never reaches `Debug` or a log.

use std::future::Future;

use aws_config::SdkConfig;
use tokio::sync::OnceCell;

use crate::aws_error::{aws_error, AwsError, AwsErrorKind};

/// A secret's value: kept out of `Debug` and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(value: impl AsRef<[u8]>) -> Secret {
        Secret(value.as_ref().to_vec())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The value as text, when it is UTF-8.
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(redacted)")
    }
}

/// Reads a secret by ARN ([GetSecretValue](https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html)).
pub trait SecretStore: Send + Sync {
    fn read(&self, arn: &str) -> impl Future<Output = Result<Secret, AwsError>> + Send;
}

/// Secrets Manager: the secret's string (trimmed), or its binary value.
#[derive(Debug, Clone)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl SecretsManager {
    pub fn new(config: &SdkConfig) -> SecretsManager {
        SecretsManager { client: aws_sdk_secretsmanager::Client::new(config) }
    }
}

impl SecretStore for SecretsManager {
    async fn read(&self, arn: &str) -> Result<Secret, AwsError> {
        let out =
            self.client.get_secret_value().secret_id(arn).send().await.map_err(|e| aws_error("GetSecretValue", &e))?;
        match (out.secret_string, out.secret_binary) {
            (Some(text), _) => Ok(Secret::new(text.trim().as_bytes())),
            (None, Some(blob)) => Ok(Secret::new(blob.into_inner())),
            (None, None) => Err(AwsError {
                operation: "GetSecretValue",
                kind: AwsErrorKind::Rejected,
                aws_code: None,
                message: "the secret has no value".into(),
            }),
        }
    }
}

/// Why a cached secret is not available.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SecretError {
    /// The variable naming the secret is not set.
    #[error("{setting} is not set")]
    NotConfigured { setting: String },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// One secret, read on first use and kept for the life of the Lambda instance. A failed read is not kept:
/// the next request tries again.
#[derive(Debug, Default)]
pub struct CachedSecret {
    arn: Option<String>,
    value: OnceCell<Secret>,
}

impl CachedSecret {
    pub fn new(arn: Option<String>) -> CachedSecret {
        CachedSecret { arn, value: OnceCell::new() }
    }

    /// Whether a secret is configured at all.
    pub fn is_configured(&self) -> bool {
        self.arn.is_some()
    }

    /// The value; `setting` names the variable that configures it, for the error when it does not.
    pub async fn get(&self, store: &impl SecretStore, setting: &str) -> Result<&Secret, SecretError> {
        let arn = self.arn.as_deref().ok_or_else(|| SecretError::NotConfigured { setting: setting.to_owned() })?;
        self.value.get_or_try_init(|| async { store.read(arn).await.map_err(SecretError::from) }).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    struct Counting(AtomicUsize);

    impl SecretStore for Counting {
        async fn read(&self, arn: &str) -> Result<Secret, AwsError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Secret::new(format!("value of {arn}")))
        }
    }

    #[tokio::test]
    async fn a_secret_is_read_once_and_never_shown() {
        let store = Counting(AtomicUsize::new(0));
        let cached = CachedSecret::new(Some("arn:s".into()));
        assert_eq!(cached.get(&store, "X").await.unwrap().expose_str(), Some("value of arn:s"));
        cached.get(&store, "X").await.unwrap();
        assert_eq!(store.0.load(Ordering::SeqCst), 1);
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(redacted)");
        let err = CachedSecret::new(None).get(&store, "TOKEN_ARN").await.unwrap_err();
        assert_eq!(err.to_string(), "TOKEN_ARN is not set");
    }
}
