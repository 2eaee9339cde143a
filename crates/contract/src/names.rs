//! Inputs parsed into types whose only constructor checks them: a value of one of these types is valid by
//! construction, so later stages never check a string again.

use std::fmt;
use std::ops::Deref;

use crate::text::resource_name;

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

/// A partition (`aws`, `aws-cn`, `aws-us-gov`, `aws-iso-b`, …): `aws`, then `-` and lowercase letters.
fn partition_ok(value: &str) -> bool {
    value == "aws"
        || value.strip_prefix("aws-").is_some_and(|rest| {
            !rest.is_empty() && rest.len() <= 20 && rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        })
}

/// An AWS account id: 12 digits.
pub fn is_account_id(value: &str) -> bool {
    value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit())
}

/// The six parts of an ARN (`arn:<partition>:<service>:<region>:<account>:<resource>`), each checked:
/// a known partition shape, a service of lowercase letters and digits, a region name (or empty, for
/// global services), a 12-digit account (or empty), a resource without whitespace or control characters.
/// See <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html>.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn {
    partition: String,
    service: String,
    region: Option<Region>,
    account: Option<String>,
    resource: String,
}

impl Arn {
    /// At most 2048 bytes. Errors are `InvalidRequest` (`InputError::Invalid`) and say which part is wrong.
    pub fn parse(value: &str) -> Result<Arn, InputError> {
        let refuse = |reason: &str| invalid(format!("{:?} is not an ARN: {reason}", shorten(value)));
        if value.len() > 2048 {
            return Err(refuse("it is longer than 2048 characters"));
        }
        let mut parts = value.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refuse("it takes arn:<partition>:<service>:<region>:<account>:<resource>"));
        };
        if !partition_ok(partition) {
            return Err(refuse("unknown partition"));
        }
        if service.is_empty() || !service.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            return Err(refuse("bad service"));
        }
        let region = match region {
            "" => None,
            r => Some(Region::parse(r).map_err(|_| refuse("bad region"))?),
        };
        let account = match account {
            "" => None,
            a if is_account_id(a) => Some(a.to_owned()),
            _ => return Err(refuse("the account is not 12 digits")),
        };
        if resource.is_empty() || resource.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(refuse("bad resource"));
        }
        Ok(Arn {
            partition: partition.to_owned(),
            service: service.to_owned(),
            region,
            account,
            resource: resource.to_owned(),
        })
    }

    pub fn partition(&self) -> &str {
        &self.partition
    }

    /// The service namespace: `ecs`, `lambda`, `codebuild`, …
    pub fn service(&self) -> &str {
        &self.service
    }

    pub fn region(&self) -> Option<&Region> {
        self.region.as_ref()
    }

    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// Everything after the account: `cluster/prod`, `function:deployer:live`, `build/web-image:b01f…`.
    pub fn resource(&self) -> &str {
        &self.resource
    }
}

fn shorten(value: &str) -> String {
    value.chars().take(200).collect()
}

/// Where a Lambda function runs, read from its own ARN (the invocation's `invoked_function_arn`,
/// `arn:<partition>:lambda:<region>:<account>:function:<name>[:<version or alias>]`): the partition,
/// region and account that ARNs and events must name to be accepted.
/// See <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html#runtimes-api-next>.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    partition: String,
    region: Region,
    account: String,
}

impl Home {
    /// Refuses (`InvalidRequest`) anything but a Lambda function ARN with a region and an account.
    pub fn from_function_arn(value: &str) -> Result<Home, InputError> {
        let arn = Arn::parse(value)?;
        let refuse = || invalid(format!("{:?} is not a Lambda function ARN", shorten(value)));
        let function = arn.resource().strip_prefix("function:").ok_or_else(refuse)?;
        if arn.service() != "lambda" || function.is_empty() {
            return Err(refuse());
        }
        match (arn.region, arn.account) {
            (Some(region), Some(account)) => Ok(Home { partition: arn.partition, region, account }),
            _ => Err(refuse()),
        }
    }

    /// A home from its parts, e.g. for tests: `Home::new("aws", "eu-west-1", "111122223333")`.
    pub fn new(partition: &str, region: &str, account: &str) -> Result<Home, InputError> {
        if !partition_ok(partition) || !is_account_id(account) {
            return Err(invalid(format!("{partition}/{account} is not a partition and account id")));
        }
        Ok(Home { partition: partition.to_owned(), region: Region::parse(region)?, account: account.to_owned() })
    }

    pub fn partition(&self) -> &str {
        &self.partition
    }

    pub fn region(&self) -> &Region {
        &self.region
    }

    pub fn account(&self) -> &str {
        &self.account
    }
}

/// What an ECS ARN names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcsResource {
    /// `cluster/<name>`
    Cluster { name: String },
    /// `service/<cluster>/<name>` (the new format) or `service/<name>` (the old one, `cluster: None`).
    Service { cluster: Option<String>, name: String },
    /// `task-definition/<family>:<revision>`
    TaskDefinition(TaskDefinitionRef),
}

/// An ECS ARN of a cluster, a service or a task definition, parsed whole: partition, region, account and
/// the resource path, every name in it an ECS name. Other ECS resources (tasks, container instances…) are
/// refused. See <https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs-account-settings.html#ecs-resource-ids>.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsArn {
    partition: String,
    region: Region,
    account: String,
    resource: EcsResource,
}

impl EcsArn {
    /// Errors are `InvalidRequest` (`InputError::Invalid`).
    pub fn parse(value: &str) -> Result<EcsArn, InputError> {
        let arn = Arn::parse(value)?;
        let refuse = |reason: &str| invalid(format!("{:?} is not an ECS ARN: {reason}", shorten(value)));
        if arn.service() != "ecs" {
            return Err(refuse("its service is not ecs"));
        }
        let (Some(region), Some(account)) = (arn.region, arn.account) else {
            return Err(refuse("it names no region or no account"));
        };
        let resource = match arn.resource.split_once('/') {
            Some(("cluster", name)) if is_ecs_name(name) => EcsResource::Cluster { name: name.to_owned() },
            Some(("service", path)) => match path.split_once('/') {
                Some((cluster, name)) if is_ecs_name(cluster) && is_ecs_name(name) => {
                    EcsResource::Service { cluster: Some(cluster.to_owned()), name: name.to_owned() }
                }
                None if is_ecs_name(path) => EcsResource::Service { cluster: None, name: path.to_owned() },
                _ => return Err(refuse("a service is service/<cluster>/<name> or service/<name>")),
            },
            Some(("task-definition", name)) => EcsResource::TaskDefinition(
                TaskDefinitionRef::parse(name).map_err(|_| refuse("a task definition is family:revision"))?,
            ),
            Some(("cluster", _)) => return Err(refuse("a cluster is cluster/<name>")),
            _ => return Err(refuse("not a cluster, service or task definition")),
        };
        Ok(EcsArn { partition: arn.partition, region, account, resource })
    }

    pub fn partition(&self) -> &str {
        &self.partition
    }

    pub fn region(&self) -> &Region {
        &self.region
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    pub fn resource(&self) -> &EcsResource {
        &self.resource
    }

    /// The name the resource path ends with: the cluster's, the service's, or `family:revision`.
    pub fn name(&self) -> String {
        match &self.resource {
            EcsResource::Cluster { name } | EcsResource::Service { name, .. } => name.clone(),
            EcsResource::TaskDefinition(td) => td.to_string(),
        }
    }

    /// Whether the ARN lies in `home`'s partition and account and in `region` (the function's own region,
    /// or another one a request names).
    pub fn is_in(&self, home: &Home, region: &str) -> bool {
        self.partition == home.partition && self.account == home.account && *self.region == *region
    }
}

/// One entry of an allow-list (`DEPLOY_ALLOWED_TARGETS`, the front's `ALLOWED_TARGETS`): `cluster/service`
/// (in the function's own region) or `region/cluster/service`, plain ECS names. It is compared with the
/// fully resolved identity of a target: region, cluster name and service name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AllowedTarget {
    /// `None`: the function's own region.
    pub region: Option<Region>,
    pub cluster: String,
    pub service: String,
}

impl AllowedTarget {
    pub fn parse(entry: &str) -> Result<AllowedTarget, InputError> {
        let parts: Vec<&str> = entry.split('/').collect();
        let (region, cluster, service) = match parts.as_slice() {
            [cluster, service] => (None, *cluster, *service),
            [region, cluster, service] => (Some(Region::parse(region)?), *cluster, *service),
            _ => return Err(invalid(format!("entry {entry:?} is not cluster/service or region/cluster/service"))),
        };
        if !is_ecs_name(cluster) || !is_ecs_name(service) {
            return Err(invalid(format!("entry {entry:?} does not hold plain ECS names")));
        }
        Ok(AllowedTarget { region, cluster: cluster.to_owned(), service: service.to_owned() })
    }

    /// Whether the entry names service `service` of cluster `cluster` in `region`; `home_region` is the
    /// function's own, which an entry without a region stands for.
    pub fn matches(&self, region: &str, cluster: &str, service: &str, home_region: &str) -> bool {
        let entry_region = self.region.as_deref().unwrap_or(home_region);
        entry_region == region && self.cluster == cluster && self.service == service
    }
}

impl fmt::Display for AllowedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(region) = &self.region {
            write!(f, "{region}/")?;
        }
        write!(f, "{}/{}", self.cluster, self.service)
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
