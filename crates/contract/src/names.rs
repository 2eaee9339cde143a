//! Inputs parsed into types whose only constructor checks them: a value of one of these types is valid by
//! construction, so later stages never check a string again.

use std::fmt;
use std::ops::Deref;

use crate::text::resource_name;

mod arn;
pub use arn::{is_account_id, AllowedTarget, Arn, EcsArn, EcsResource, Home};

/// Why an input was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// Code `InvalidVersion`.
    #[error("invalid version {version:?}: {reason}")]
    Version { version: String, reason: &'static str },
    /// Code `InvalidRequest`.
    #[error("invalid request: {reason}")]
    Invalid { reason: String },
}

fn invalid(reason: String) -> InputError {
    InputError::Invalid { reason }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum VersionKind {
    Tag,
    Digest,
}

/// The version a caller asks for: an OCI image tag (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`) or a digest
/// (`sha256:` and 64 lowercase hex digits). [`Version::parse`] is the only constructor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    text: String,
    kind: VersionKind,
}

impl Version {
    pub fn parse(raw: &str) -> Result<Self, InputError> {
        let refuse = |reason: &'static str| InputError::Version { version: raw.chars().take(200).collect(), reason };
        if let Some(hex) = raw.strip_prefix("sha256:") {
            return if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                Ok(Version { text: raw.to_owned(), kind: VersionKind::Digest })
            } else {
                Err(refuse("a digest is sha256: followed by 64 lowercase hex digits"))
            };
        }
        let mut bytes = raw.bytes();
        match bytes.next() {
            None => return Err(refuse("the version is empty")),
            Some(b) if !(b.is_ascii_alphanumeric() || b == b'_') => {
                return Err(refuse("a tag starts with a letter, a digit or _"))
            }
            Some(_) => {}
        }
        if raw.len() > 128 {
            return Err(refuse("a tag is at most 128 characters"));
        }
        if !bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
            return Err(refuse("a tag holds only letters, digits, '.', '_' and '-'"));
        }
        Ok(Version { text: raw.to_owned(), kind: VersionKind::Tag })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The tag, when the version is one.
    pub fn tag(&self) -> Option<&str> {
        (self.kind == VersionKind::Tag).then_some(self.text.as_str())
    }

    /// The digest, when the version is one.
    pub fn digest(&self) -> Option<&str> {
        (self.kind == VersionKind::Digest).then_some(self.text.as_str())
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// An ECS resource name: letters, digits, `-` and `_`, 1 to 255 of them (clusters, services, families).
pub fn is_ecs_name(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 255
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The value as given: a name or an ARN.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The name, also when the value is an ARN.
            pub fn name(&self) -> &str {
                resource_name(&self.0)
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_type!(
    /// An ECS cluster: its name or its ARN.
    ClusterName
);
name_type!(
    /// An ECS service: its name or its ARN (old `service/name` or new `service/cluster/name` format).
    ServiceName
);
name_type!(
    /// An ECR repository name: lowercase path components of letters, digits and `._-`, joined by `/`.
    RepositoryName
);
name_type!(
    /// An AWS region name such as `eu-west-1` or `us-gov-west-1`.
    Region
);

/// Whether `value` is an ECS name, or an ECS ARN whose resource is of the kind `is_kind` accepts.
fn name_or_arn(what: &str, value: &str, kind: &str, is_kind: fn(&EcsResource) -> bool) -> Result<(), InputError> {
    if is_ecs_name(value) {
        return Ok(());
    }
    if value.starts_with("arn:") {
        let arn = EcsArn::parse(value).map_err(|e| match e {
            InputError::Invalid { reason } => invalid(format!("{what}: {reason}")),
            other => other,
        })?;
        return if is_kind(arn.resource()) {
            Ok(())
        } else {
            Err(invalid(format!("{what} {value:?} is an ECS ARN, but not of a {kind}")))
        };
    }
    Err(invalid(format!("{what} {value:?} is not an ECS name or ARN")))
}

impl ClusterName {
    /// A cluster name, or a cluster ARN (`arn:<partition>:ecs:<region>:<account>:cluster/<name>`). `what`
    /// names the input in the error (`cluster`, `DEPLOY_CLUSTER`). Whose account and region an ARN names is
    /// checked where the function's own are known (the deployer's `request::resolve`).
    pub fn parse(what: &str, value: &str) -> Result<Self, InputError> {
        name_or_arn(what, value, "cluster", |r| matches!(r, EcsResource::Cluster { .. }))?;
        Ok(ClusterName(value.to_owned()))
    }

    /// The parsed ARN, when the value is one.
    pub fn arn(&self) -> Option<EcsArn> {
        EcsArn::parse(&self.0).ok()
    }
}

impl ServiceName {
    /// A service name, or a service ARN in the new (`service/<cluster>/<name>`) or old (`service/<name>`)
    /// format.
    pub fn parse(what: &str, value: &str) -> Result<Self, InputError> {
        name_or_arn(what, value, "service", |r| matches!(r, EcsResource::Service { .. }))?;
        Ok(ServiceName(value.to_owned()))
    }

    /// The parsed ARN, when the value is one.
    pub fn arn(&self) -> Option<EcsArn> {
        EcsArn::parse(&self.0).ok()
    }
}

impl RepositoryName {
    pub fn parse(value: &str) -> Result<Self, InputError> {
        let ok = (2..=256).contains(&value.len())
            && value.split('/').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
            });
        if ok {
            Ok(RepositoryName(value.to_owned()))
        } else {
            Err(invalid(format!("repository {value:?} is not an ECR repository name")))
        }
    }
}

impl Region {
    pub fn parse(value: &str) -> Result<Self, InputError> {
        let ok = (4..=32).contains(&value.len())
            && value.split('-').count() >= 3
            && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Region(value.to_owned()))
        } else {
            Err(invalid(format!("region {value:?} is not an AWS region name")))
        }
    }
}

/// One revision of a task-definition family: `family:revision`, parsed from that or from a task-definition
/// ARN (`arn:<partition>:ecs:<region>:<account>:task-definition/family:revision`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskDefinitionRef {
    family: String,
    revision: u32,
}

impl TaskDefinitionRef {
    pub fn parse(value: &str) -> Result<Self, InputError> {
        let name = match value.split_once(":task-definition/") {
            Some((_, rest)) if value.starts_with("arn:") => rest,
            _ => value,
        };
        let parsed = name.rsplit_once(':').and_then(|(family, revision)| {
            let family_ok = !family.is_empty()
                && family.len() <= 255
                && family.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            let revision_ok = !revision.is_empty() && revision.bytes().all(|b| b.is_ascii_digit());
            (family_ok && revision_ok).then(|| revision.parse::<u32>().ok()).flatten().map(|r| (family, r))
        });
        match parsed {
            Some((family, revision)) => Ok(TaskDefinitionRef { family: family.to_owned(), revision }),
            None => Err(invalid(format!("\"to\" is {value:?}; it takes family:revision"))),
        }
    }

    pub fn family(&self) -> &str {
        &self.family
    }

    pub fn revision(&self) -> u32 {
        self.revision
    }
}

impl fmt::Display for TaskDefinitionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.family, self.revision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_tags_or_digests() {
        let digest = format!("sha256:{}", "0123456789abcdef".repeat(4));
        for ok in ["v2", "1.2.3", "_build-7", "A", &"a".repeat(128), "latest"] {
            let v = Version::parse(ok).unwrap();
            assert_eq!((v.as_str(), v.tag(), v.digest()), (ok, Some(ok), None), "{ok}");
        }
        let d = Version::parse(&digest).unwrap();
        assert_eq!((d.tag(), d.digest()), (None, Some(digest.as_str())));
    }

    #[test]
    fn everything_else_is_an_invalid_version() {
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
            assert!(matches!(Version::parse(bad), Err(InputError::Version { .. })), "{bad:?}");
        }
    }

    #[test]
    fn names_take_names_or_arns() {
        assert_eq!(ClusterName::parse("cluster", "prod").unwrap().name(), "prod");
        let arn = ServiceName::parse("service", "arn:aws:ecs:eu-west-1:111122223333:service/prod/web").unwrap();
        assert_eq!((arn.name(), &*arn), ("web", "arn:aws:ecs:eu-west-1:111122223333:service/prod/web"));
        let err = ServiceName::parse("service", "a b").unwrap_err();
        assert_eq!(err.to_string(), "invalid request: service \"a b\" is not an ECS name or ARN");
        assert!(ClusterName::parse("cluster", "arn:aws:s3:::bucket").is_err());
        // An ARN of the wrong kind, or with a path that is not ECS names, is not a name of this kind.
        for bad in [
            "arn:aws:ecs:eu-west-1:111122223333:service/prod/web",
            "arn:aws:ecs:eu-west-1:111122223333:cluster/prod/web",
            "arn:aws:ecs:eu-west-1:1:cluster/prod",
            "arn:aws:ecs:eu-west-1:111122223333:cluster/pr od",
        ] {
            assert!(ClusterName::parse("cluster", bad).is_err(), "{bad}");
        }
        assert!(ServiceName::parse("service", "arn:aws:ecs:eu-west-1:111122223333:cluster/prod").is_err());
        assert!(ServiceName::parse("service", "arn:aws:ecs:eu-west-1:111122223333:service/a/b/c").is_err());
        assert!(RepositoryName::parse("team/web").is_ok());
        for bad in ["Team/Web", "a", "x//y", "/x"] {
            assert!(RepositoryName::parse(bad).is_err(), "{bad}");
        }
        assert!(Region::parse("us-gov-west-1").is_ok());
        assert!(Region::parse("Mars").is_err());
    }

    #[test]
    fn arns_are_parsed_whole() {
        let arn = Arn::parse("arn:aws-us-gov:lambda:us-gov-west-1:111122223333:function:deployer:live").unwrap();
        assert_eq!(
            (arn.partition(), arn.service(), arn.region().map(|r| r.as_str()), arn.account(), arn.resource()),
            ("aws-us-gov", "lambda", Some("us-gov-west-1"), Some("111122223333"), "function:deployer:live")
        );
        let global = Arn::parse("arn:aws:iam::111122223333:role/web-task").unwrap();
        assert_eq!((global.region(), global.account()), (None, Some("111122223333")));
        for bad in [
            "",
            "arn",
            "arn:aws:ecs:eu-west-1:111122223333",
            "nra:aws:ecs:eu-west-1:111122223333:cluster/x",
            "arn:amazon:ecs:eu-west-1:111122223333:cluster/x",
            "arn:aws:ECS:eu-west-1:111122223333:cluster/x",
            "arn:aws:ecs:Mars:111122223333:cluster/x",
            "arn:aws:ecs:eu-west-1:1111:cluster/x",
            "arn:aws:ecs:eu-west-1:111122223333:",
            "arn:aws:ecs:eu-west-1:111122223333:cluster/x y",
            "arn:aws:ecs:eu-west-1:111122223333:cluster/x\n",
        ] {
            assert!(Arn::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ecs_arns_name_one_resource() {
        let arn = |s: &str| EcsArn::parse(s).map(|a| a.resource().clone());
        assert_eq!(
            arn("arn:aws:ecs:eu-west-1:111122223333:cluster/prod"),
            Ok(EcsResource::Cluster { name: "prod".into() })
        );
        assert_eq!(
            arn("arn:aws:ecs:eu-west-1:111122223333:service/prod/web"),
            Ok(EcsResource::Service { cluster: Some("prod".into()), name: "web".into() })
        );
        assert_eq!(
            arn("arn:aws:ecs:eu-west-1:111122223333:service/web"),
            Ok(EcsResource::Service { cluster: None, name: "web".into() })
        );
        assert_eq!(
            arn("arn:aws:ecs:eu-west-1:111122223333:task-definition/web:7"),
            Ok(EcsResource::TaskDefinition(TaskDefinitionRef::parse("web:7").unwrap()))
        );
        for bad in [
            "arn:aws:ecs:eu-west-1:111122223333:task/prod/abc",
            "arn:aws:ecs:eu-west-1:111122223333:service/prod/web/x",
            "arn:aws:ecs:eu-west-1:111122223333:service/",
            "arn:aws:ecs:eu-west-1:111122223333:service//web",
            "arn:aws:ecs:eu-west-1:111122223333:cluster/",
            "arn:aws:ecs:eu-west-1:111122223333:task-definition/web",
            "arn:aws:ecs::111122223333:cluster/prod",
            "arn:aws:ecs:eu-west-1::cluster/prod",
            "arn:aws:ecr:eu-west-1:111122223333:repository/web",
        ] {
            assert!(EcsArn::parse(bad).is_err(), "{bad}");
        }
        let home = Home::new("aws", "eu-west-1", "111122223333").unwrap();
        let prod = EcsArn::parse("arn:aws:ecs:eu-west-1:111122223333:cluster/prod").unwrap();
        assert!(prod.is_in(&home, "eu-west-1"));
        assert!(!prod.is_in(&home, "eu-central-1"), "another region");
        for foreign in [
            "arn:aws:ecs:eu-west-1:999999999999:cluster/prod",
            "arn:aws-cn:ecs:eu-west-1:111122223333:cluster/prod",
            "arn:aws:ecs:us-east-1:111122223333:cluster/prod",
        ] {
            assert!(!EcsArn::parse(foreign).unwrap().is_in(&home, "eu-west-1"), "{foreign}");
        }
    }

    #[test]
    fn the_home_comes_from_the_function_arn() {
        let home = Home::from_function_arn("arn:aws:lambda:eu-west-1:111122223333:function:deployer:live").unwrap();
        assert_eq!((home.partition(), home.region().as_str(), home.account()), ("aws", "eu-west-1", "111122223333"));
        for bad in [
            "",
            "arn:aws:lambda:eu-west-1:111122223333:layer:x",
            "arn:aws:ecs:eu-west-1:111122223333:function:x",
            "arn:aws:lambda::111122223333:function:x",
            "arn:aws:lambda:eu-west-1:111122223333:function:",
        ] {
            assert!(Home::from_function_arn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn allow_list_entries_name_region_cluster_and_service() {
        let plain = AllowedTarget::parse("prod/web").unwrap();
        assert!(plain.matches("eu-west-1", "prod", "web", "eu-west-1"));
        assert!(!plain.matches("eu-central-1", "prod", "web", "eu-west-1"), "only the home region");
        assert!(!plain.matches("eu-west-1", "prod", "api", "eu-west-1"));
        let regional = AllowedTarget::parse("eu-central-1/prod/web").unwrap();
        assert!(regional.matches("eu-central-1", "prod", "web", "eu-west-1"));
        assert!(!regional.matches("eu-west-1", "prod", "web", "eu-west-1"));
        assert_eq!(regional.to_string(), "eu-central-1/prod/web");
        for bad in ["prod", "a/b/c/d", "Mars/prod/web", "prod/", "/web", "prod/w b"] {
            assert!(AllowedTarget::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn task_definition_refs_parse_names_and_arns() {
        let r = TaskDefinitionRef::parse("arn:aws:ecs:eu-west-1:1:task-definition/web:41").unwrap();
        assert_eq!((r.family(), r.revision(), r.to_string()), ("web", 41, "web:41".to_owned()));
        assert_eq!(TaskDefinitionRef::parse("web-api_2:7").unwrap().to_string(), "web-api_2:7");
        for bad in ["web", "web:", ":3", "web:x", "we b:3", "web:-1"] {
            let err = TaskDefinitionRef::parse(bad).unwrap_err();
            assert!(err.to_string().contains("it takes family:revision"), "{bad}: {err}");
        }
    }
}
