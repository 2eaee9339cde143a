//! Names and ARNs that mean one resource. An ECS name means the resource of that name where the function
//! works; an ARN is taken only when it says the same thing: its partition and account are the function's, its
//! region the one the request works in, and its path is well formed (a service ARN in the new format names
//! its cluster, which must be the request's). What comes out is the plain name, so that allow-lists and
//! everything after them compare one spelling of one resource.
//!
//! ARN formats ([ECS resource types](https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html#amazonelasticcontainerservice-resources-for-iam-policies)):
//!
//! ```text
//! arn:<partition>:ecs:<region>:<account>:cluster/<cluster>
//! arn:<partition>:ecs:<region>:<account>:service/<cluster>/<service>      (and the old service/<service>)
//! arn:<partition>:ecs:<region>:<account>:task-definition/<family>:<revision>
//! arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>] (where the function runs)
//! ```

use crate::names::{ClusterName, Region, ServiceName, TaskDefinitionRef};

/// Where a function runs: the partition, region and account of its own ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    /// `aws`, `aws-cn`, `aws-us-gov`, …
    pub partition: String,
    /// `eu-west-1`, …
    pub region: String,
    /// Twelve digits.
    pub account: String,
}

impl Home {
    /// From a Lambda function ARN (`arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`),
    /// such as the invocation context's `invoked_function_arn`; `None` for anything else.
    pub fn from_function_arn(arn: &str) -> Option<Home> {
        let mut parts = arn.splitn(7, ':');
        let (Some("arn"), Some(partition), Some("lambda"), Some(region), Some(account), Some("function"), Some(name)) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let name_ok = name.split(':').next().is_some_and(|n| !n.is_empty());
        (partition_ok(partition) && Region::parse(region).is_ok() && account_ok(account) && name_ok).then(|| Home {
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
        })
    }
}

/// Why a name or an ARN was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// Not a name or an ARN of the right kind, or an ARN whose parts disagree with the request. Code
    /// `InvalidRequest`.
    #[error("invalid request: {reason}")]
    Malformed { reason: String },
    /// A well-formed ARN of a resource elsewhere: another partition, region or account, or one this function
    /// cannot place because it does not know its own account. Code `NotAllowed`.
    #[error("{reason}")]
    Elsewhere { reason: String },
}

fn malformed(reason: String) -> IdentityError {
    IdentityError::Malformed { reason }
}

fn partition_ok(p: &str) -> bool {
    p.starts_with("aws") && p.len() <= 32 && p.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

fn account_ok(a: &str) -> bool {
    a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())
}

/// The `<resource>` of an ECS ARN of `kind` (`cluster`, `service`, `task-definition`), once its partition,
/// account and region are checked against `home` and `region`. `what` names the input in errors.
fn ecs_resource<'a>(
    what: &str,
    value: &'a str,
    kind: &str,
    home: Option<&Home>,
    region: &str,
) -> Result<&'a str, IdentityError> {
    let mut parts = value.splitn(6, ':');
    let fields = (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next());
    let (Some("arn"), Some(partition), Some("ecs"), Some(arn_region), Some(account), Some(resource)) = fields else {
        return Err(malformed(format!("{what} {value:?} is not an ECS {kind} ARN")));
    };
    let path = match resource.split_once('/') {
        Some((k, path)) if k == kind && !path.is_empty() => path,
        _ => return Err(malformed(format!("{what} {value:?} is not an ECS {kind} ARN"))),
    };
    if !partition_ok(partition) || Region::parse(arn_region).is_err() || !account_ok(account) {
        return Err(malformed(format!("{what} {value:?} is not a well-formed ARN")));
    }
    let Some(home) = home else {
        return Err(IdentityError::Elsewhere {
            reason: format!("{what} is an ARN, and this function cannot tell its own account: name the {kind} instead"),
        });
    };
    if partition != home.partition || account != home.account || arn_region != region {
        return Err(IdentityError::Elsewhere {
            reason: format!(
                "{what} {value:?} is not in this deployer's account and region ({}:{}:{region})",
                home.partition, home.account
            ),
        });
    }
    Ok(path)
}

/// The cluster name `value` (a name or a cluster ARN) means, in `region`. Errors: [`IdentityError`].
pub fn cluster_name(what: &str, value: &str, home: Option<&Home>, region: &str) -> Result<String, IdentityError> {
    if !value.starts_with("arn:") {
        return ClusterName::parse(what, value).map(|n| n.name().to_owned()).map_err(|e| malformed(reason(e)));
    }
    let name = ecs_resource(what, value, "cluster", home, region)?;
    match ClusterName::parse(what, name) {
        Ok(n) if !name.starts_with("arn:") => Ok(n.name().to_owned()),
        _ => Err(malformed(format!("{what} {value:?} does not end in a cluster name"))),
    }
}

/// The service name `value` (a name or a service ARN) means in `cluster` (a name, already resolved), in
/// `region`. A new-format service ARN names its cluster, which must be `cluster`. Errors: [`IdentityError`].
pub fn service_name(
    what: &str,
    value: &str,
    cluster: &str,
    home: Option<&Home>,
    region: &str,
) -> Result<String, IdentityError> {
    if !value.starts_with("arn:") {
        return ServiceName::parse(what, value).map(|n| n.name().to_owned()).map_err(|e| malformed(reason(e)));
    }
    let path = ecs_resource(what, value, "service", home, region)?;
    let (in_cluster, name) = match path.split_once('/') {
        Some((c, s)) => (Some(c), s),
        None => (None, path),
    };
    let is_name = |s: &str| !s.starts_with("arn:") && ServiceName::parse(what, s).is_ok();
    if !is_name(name) || in_cluster.is_some_and(|c| !is_name(c)) {
        return Err(malformed(format!("{what} {value:?} is not a service ARN: service/<cluster>/<service>")));
    }
    if let Some(c) = in_cluster.filter(|c| *c != cluster) {
        return Err(malformed(format!(
            "{what} {value:?} is a service of cluster {c}, and the request names cluster {cluster}"
        )));
    }
    Ok(name.to_owned())
}

/// The `family:revision` that `value` (that, or a task-definition ARN) means, in `region`. Errors:
/// [`IdentityError`].
pub fn task_definition(value: &str, home: Option<&Home>, region: &str) -> Result<TaskDefinitionRef, IdentityError> {
    revision("to", value, home, region)
}

/// The same for the request field `field` (`to`, `task_definition`), which errors name.
pub fn revision(
    field: &str,
    value: &str,
    home: Option<&Home>,
    region: &str,
) -> Result<TaskDefinitionRef, IdentityError> {
    let what = format!("\"{field}\"");
    let revision =
        if value.starts_with("arn:") { ecs_resource(&what, value, "task-definition", home, region)? } else { value };
    TaskDefinitionRef::parse(revision)
        .map_err(|_| malformed(format!("{what} is {value:?}; it takes family:revision or a task-definition ARN")))
}

fn reason(err: crate::names::InputError) -> String {
    match err {
        crate::names::InputError::Invalid { reason } => reason,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> Home {
        Home { partition: "aws".into(), region: "us-east-1".into(), account: "123456789012".into() }
    }

    fn kind(r: Result<String, IdentityError>) -> String {
        match r {
            Ok(name) => name,
            Err(IdentityError::Malformed { .. }) => "Malformed".into(),
            Err(IdentityError::Elsewhere { .. }) => "Elsewhere".into(),
        }
    }

    #[test]
    fn a_function_arn_tells_where_it_runs() {
        assert_eq!(Home::from_function_arn("arn:aws:lambda:us-east-1:123456789012:function:front"), Some(home()));
        let gov = Home::from_function_arn("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f:live").unwrap();
        assert_eq!((gov.partition.as_str(), gov.region.as_str()), ("aws-us-gov", "us-gov-west-1"));
        for bad in [
            "",
            "front",
            "arn:aws:lambda:us-east-1:123456789012:function:",
            "arn:aws:lambda:us-east-1:12345678901:function:f",
            "arn:aws:ecs:us-east-1:123456789012:cluster/demo",
            "arn:aws:lambda:Mars:123456789012:function:f",
            "arn:AWS:lambda:us-east-1:123456789012:function:f",
        ] {
            assert_eq!(Home::from_function_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn clusters_are_names_or_arns_of_this_account_and_region() {
        let h = home();
        let cluster = |v: &str| kind(cluster_name("cluster", v, Some(&h), "us-east-1"));
        let cases = [
            ("demo", "demo"),
            ("arn:aws:ecs:us-east-1:123456789012:cluster/demo", "demo"),
            // The issue's case: another account's cluster of the same name.
            ("arn:aws:ecs:us-east-1:999999999999:cluster/demo", "Elsewhere"),
            ("arn:aws:ecs:eu-west-1:123456789012:cluster/demo", "Elsewhere"),
            ("arn:aws-cn:ecs:us-east-1:123456789012:cluster/demo", "Elsewhere"),
            ("arn:aws:ecs:us-east-1:123456789012:cluster/", "Malformed"),
            ("arn:aws:ecs:us-east-1:123456789012:cluster/a/b", "Malformed"),
            ("arn:aws:ecs:us-east-1:123456789012:service/demo/web", "Malformed"),
            ("arn:aws:ecs:us-east-1:123456789012:cluster", "Malformed"),
            ("arn:aws:ecs:us-east-1:1234:cluster/demo", "Malformed"),
            ("arn:aws:s3:::demo", "Malformed"),
            ("arn:aws:ecs:us-east-1:123456789012:cluster/de mo", "Malformed"),
            ("de mo", "Malformed"),
            ("", "Malformed"),
        ];
        for (value, expected) in cases {
            assert_eq!(cluster(value), expected, "{value}");
        }
        let unknown = cluster_name("cluster", "arn:aws:ecs:us-east-1:123456789012:cluster/demo", None, "us-east-1");
        assert_eq!(kind(unknown), "Elsewhere", "an ARN cannot be placed without knowing the account");
        assert_eq!(kind(cluster_name("cluster", "demo", None, "us-east-1")), "demo");
        // A target in another region takes ARNs of that region.
        let other = cluster_name("cluster", "arn:aws:ecs:eu-west-1:123456789012:cluster/demo", Some(&h), "eu-west-1");
        assert_eq!(kind(other), "demo");
    }

    #[test]
    fn a_service_arn_names_the_requests_cluster() {
        let h = home();
        let service = |v: &str| kind(service_name("service", v, "demo", Some(&h), "us-east-1"));
        let cases = [
            ("web", "web"),
            ("arn:aws:ecs:us-east-1:123456789012:service/demo/web", "web"),
            ("arn:aws:ecs:us-east-1:123456789012:service/web", "web"),
            ("arn:aws:ecs:us-east-1:123456789012:service/prod/web", "Malformed"),
            ("arn:aws:ecs:us-east-1:999999999999:service/demo/web", "Elsewhere"),
            ("arn:aws:ecs:us-east-1:123456789012:service/demo/web/x", "Malformed"),
            ("arn:aws:ecs:us-east-1:123456789012:service/demo/", "Malformed"),
            ("arn:aws:ecs:us-east-1:123456789012:cluster/web", "Malformed"),
            ("arn:aws:ecs:us-east-1:123456789012:service/arn:aws:ecs", "Malformed"),
        ];
        for (value, expected) in cases {
            assert_eq!(service(value), expected, "{value}");
        }
    }

    #[test]
    fn rollback_targets_are_revisions_here() {
        let h = home();
        let to = |v: &str| match task_definition(v, Some(&h), "us-east-1") {
            Ok(r) => r.to_string(),
            Err(e) => kind(Err(e)),
        };
        assert_eq!(to("web:41"), "web:41");
        assert_eq!(to("arn:aws:ecs:us-east-1:123456789012:task-definition/web:41"), "web:41");
        assert_eq!(to("arn:aws:ecs:us-east-1:999999999999:task-definition/web:41"), "Elsewhere");
        assert_eq!(to("arn:aws:ecs:us-east-1:123456789012:task-definition/web"), "Malformed");
        assert_eq!(to("web"), "Malformed");
    }
}
