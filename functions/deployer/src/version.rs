//! The version a caller asks for: an OCI image tag or a sha256 digest.

use std::fmt;

use crate::error::DeployError;

/// A version that is known to be a valid OCI tag or digest. The only way to get one is [`Version::parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Version {
    /// `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`
    Tag(String),
    /// `sha256:` followed by 64 lowercase hex digits.
    Digest(String),
}

impl Version {
    pub fn parse(raw: &str) -> Result<Self, DeployError> {
        let invalid =
            |reason: &'static str| DeployError::InvalidVersion { version: raw.chars().take(200).collect(), reason };
        if let Some(hex) = raw.strip_prefix("sha256:") {
            return if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                Ok(Version::Digest(raw.to_owned()))
            } else {
                Err(invalid("a digest is sha256: followed by 64 lowercase hex digits"))
            };
        }
        let mut bytes = raw.bytes();
        match bytes.next() {
            None => return Err(invalid("the version is empty")),
            Some(b) if !(b.is_ascii_alphanumeric() || b == b'_') => {
                return Err(invalid("a tag starts with a letter, a digit or _"))
            }
            Some(_) => {}
        }
        if raw.len() > 128 {
            return Err(invalid("a tag is at most 128 characters"));
        }
        if !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
            return Err(invalid("a tag holds only letters, digits, '.', '_' and '-'"));
        }
        Ok(Version::Tag(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Version::Tag(s) | Version::Digest(s) => s,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_tags_and_digests() {
        let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
        for ok in ["v2", "1.2.3", "_build-7", "A", &"a".repeat(128), "latest"] {
            assert_eq!(Version::parse(ok).unwrap(), Version::Tag(ok.to_owned()), "{ok}");
        }
        assert_eq!(Version::parse(&digest).unwrap(), Version::Digest(digest.clone()));
    }

    #[test]
    fn rejects_everything_else() {
        let cases = [
            "",
            "-v2",
            ".v2",
            "v2:latest",
            "v 2",
            "v2/x",
            "v2@sha256:abc",
            "ü",
            &"a".repeat(129),
            "sha256:abc",
            &format!("sha256:{}", "A".repeat(64)),
            &format!("sha512:{}", "a".repeat(128)),
        ];
        for bad in cases {
            let err = Version::parse(bad).unwrap_err();
            assert_eq!(err.code(), "InvalidVersion", "{bad:?}");
        }
    }
}
