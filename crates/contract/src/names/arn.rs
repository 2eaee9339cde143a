//! ARNs, read part by part: any ARN ([`Arn`]), the Lambda function's own home ([`Home`]), an ECS resource
//! ([`EcsArn`]) and an allow-list entry ([`AllowedTarget`]).

use std::fmt;

use super::{invalid, is_ecs_name, InputError, Region, TaskDefinitionRef};

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
