//! Container image references: `[registry[:port]/]path/repo[:tag][@digest]`.

use contract::names::Version;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `host[:port]`, when the reference names one.
    pub registry: Option<String>,
    /// The repository path inside the registry, e.g. `team/app`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// Splits a reference the way registries do: the digest after `@`, the tag after a `:` that follows the
    /// last `/`, and a first path component that names a registry only when it looks like a host. `None`
    /// for anything outside the grammar: a registry is `host[:port]` (host labels of letters, digits and
    /// `-`), a repository is path components of lowercase letters, digits and `._-` (so a `:` inside one,
    /// as in `a:b:c`, is refused), a tag is an OCI tag, a digest is `algorithm:encoded`.
    pub fn parse(reference: &str) -> Option<ImageRef> {
        let (name_tag, digest) = match reference.split_once('@') {
            Some((n, d)) if digest_ok(d) => (n, Some(d.to_owned())),
            Some(_) => return None,
            None => (reference, None),
        };
        let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => {
                let split = last_slash + i;
                (&name_tag[..split], Some(name_tag[split + 1..].to_owned()))
            }
            None => (name_tag, None),
        };
        if tag.as_deref().is_some_and(|t| !Version::parse(t).is_ok_and(|v| v.tag().is_some())) {
            return None;
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (Some(first.to_owned()), rest),
            _ => (None, name),
        };
        if registry.as_deref().is_some_and(|r| !registry_ok(r)) || !repository.split('/').all(component_ok) {
            return None;
        }
        Some(ImageRef { registry, repository: repository.to_owned(), tag, digest })
    }

    /// The private ECR registry the reference names, in any of its endpoint flavours.
    pub fn ecr(&self) -> Option<EcrRegistry> {
        self.registry.as_deref().and_then(EcrRegistry::parse)
    }

    /// True for a private ECR registry host, whatever its endpoint flavour.
    pub fn is_private_ecr(&self) -> bool {
        self.ecr().is_some()
    }

    /// The same registry (host and port exactly as written) and repository at another version. With
    /// `pinned`, a tag is followed by that digest (`repo:tag@sha256:…`), so the reference cannot move.
    pub fn at_version(&self, version: &Version, pinned: Option<&str>) -> String {
        let mut out = String::new();
        if let Some(registry) = &self.registry {
            out.push_str(registry);
            out.push('/');
        }
        out.push_str(&self.repository);
        match (version.digest(), version.tag()) {
            (Some(d), _) => {
                out.push('@');
                out.push_str(d);
            }
            (None, tag) => {
                out.push(':');
                out.push_str(tag.unwrap_or(version.as_str()));
                if let Some(d) = pinned {
                    out.push('@');
                    out.push_str(d);
                }
            }
        }
        out
    }
}

/// How a private ECR registry is reached. A workload keeps its flavour: a FIPS image is never moved to the
/// standard endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `<account>.dkr.ecr.<region>.amazonaws.com`
    Standard,
    /// `<account>.dkr.ecr-fips.<region>.amazonaws.com`
    Fips,
    /// `<account>.dkr-ecr.<region>.on.aws` (IPv4 and IPv6)
    DualStack,
    /// `<account>.dkr-ecr-fips.<region>.on.aws`
    DualStackFips,
}

impl Endpoint {
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Standard => "standard",
            Endpoint::Fips => "fips",
            Endpoint::DualStack => "dual-stack",
            Endpoint::DualStackFips => "dual-stack-fips",
        }
    }
}

/// A private ECR registry named by an image host: the account that owns it, its region and the endpoint
/// flavour ([registry endpoints](https://docs.aws.amazon.com/general/latest/gr/ecr.html)).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EcrRegistry {
    /// The 12-digit account id, ECR's `registryId`.
    pub account: String,
    pub region: String,
    pub endpoint: Endpoint,
}

impl EcrRegistry {
    /// Parses `host[:port]`: `<account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]` or
    /// `<account>.dkr-ecr[-fips].<region>.on.aws` (`.on.amazonwebservices.com.cn` in China). Anything else
    /// (Docker Hub, `public.ecr.aws`, a private registry) is `None`.
    pub fn parse(host: &str) -> Option<EcrRegistry> {
        let name = host.split_once(':').map_or(host, |(name, _)| name).to_ascii_lowercase();
        let labels: Vec<&str> = name.split('.').collect();
        let (endpoint, region, domain) = match labels.as_slice() {
            [_, "dkr", "ecr", region, domain @ ..] => (Endpoint::Standard, *region, domain),
            [_, "dkr", "ecr-fips", region, domain @ ..] => (Endpoint::Fips, *region, domain),
            [_, "dkr-ecr", region, domain @ ..] => (Endpoint::DualStack, *region, domain),
            [_, "dkr-ecr-fips", region, domain @ ..] => (Endpoint::DualStackFips, *region, domain),
            _ => return None,
        };
        let domain_ok = match endpoint {
            Endpoint::Standard | Endpoint::Fips => matches!(domain, ["amazonaws", "com"] | ["amazonaws", "com", "cn"]),
            Endpoint::DualStack | Endpoint::DualStackFips => {
                matches!(domain, ["on", "aws"] | ["on", "amazonwebservices", "com", "cn"])
            }
        };
        let account = labels[0];
        let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        let region_ok = region.split('-').count() >= 3
            && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        (domain_ok && account_ok && region_ok).then(|| EcrRegistry {
            account: account.to_owned(),
            region: region.to_owned(),
            endpoint,
        })
    }
}

/// An ECR-to-ECR [pull-through cache](https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache.html)
/// rule: a repository `<prefix>/<name>` of a private registry caches repository `<name>` of the `upstream`
/// registry, where the image really lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullThrough {
    pub prefix: String,
    pub upstream: EcrRegistry,
}

impl PullThrough {
    /// `<prefix>=<upstream registry host>`, e.g. `ecr-central=999999999999.dkr.ecr.us-west-2.amazonaws.com`.
    /// Only an ECR upstream can be checked with DescribeImages, so any other host is refused.
    pub fn parse(entry: &str) -> Result<PullThrough, String> {
        let (prefix, host) = entry
            .split_once('=')
            .ok_or_else(|| format!("entry {entry:?} is not <prefix>=<upstream ECR registry host>"))?;
        let prefix = prefix.trim().trim_matches('/');
        let prefix_ok = !prefix.is_empty()
            && prefix.split('/').all(|p| {
                !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            });
        if !prefix_ok {
            return Err(format!("entry {entry:?}: {prefix:?} is not a repository prefix"));
        }
        let upstream = EcrRegistry::parse(host.trim()).ok_or_else(|| {
            format!("entry {entry:?}: {host:?} is not a private ECR registry host, the only upstream DescribeImages can check")
        })?;
        Ok(PullThrough { prefix: prefix.to_owned(), upstream })
    }

    /// The upstream repository a cache repository path stands for, when it is under this rule's prefix.
    pub fn upstream_repository<'a>(&self, path: &'a str) -> Option<&'a str> {
        path.strip_prefix(self.prefix.as_str())?.strip_prefix('/').filter(|rest| !rest.is_empty())
    }
}

/// `host[:port]`: dot-separated labels of letters, digits and `-`, and a port of 1 to 5 digits.
fn registry_ok(registry: &str) -> bool {
    let (host, port) = match registry.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    };
    let host_ok = host.split('.').all(|label| {
        !label.is_empty() && label.len() <= 63 && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    let port_ok = port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// One repository path component: lowercase letters, digits, `.`, `_`, `-`.
fn component_ok(component: &str) -> bool {
    !component.is_empty()
        && component.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
}

/// `algorithm:encoded`, as in `sha256:` and 64 hex digits.
fn digest_ok(digest: &str) -> bool {
    digest.split_once(':').is_some_and(|(algorithm, encoded)| {
        !algorithm.is_empty()
            && algorithm
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'+' | b'.' | b'_' | b'-'))
            && !encoded.is_empty()
            && encoded.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
    })
}

/// The registry host of a private ECR registry in a region.
pub fn ecr_registry_host(registry_id: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!("{registry_id}.dkr.ecr.{region}.{suffix}")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;

    use super::*;

    fn img(registry: Option<&str>, repository: &str, tag: Option<&str>, digest: Option<&str>) -> Option<ImageRef> {
        Some(ImageRef {
            registry: registry.map(String::from),
            repository: repository.to_owned(),
            tag: tag.map(String::from),
            digest: digest.map(String::from),
        })
    }

    #[test]
    fn parses_the_shapes_seen_in_task_definitions() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(ImageRef::parse("nginx"), img(None, "nginx", None, None));
        assert_eq!(ImageRef::parse("nginx:1.27"), img(None, "nginx", Some("1.27"), None));
        assert_eq!(ImageRef::parse("library/nginx:1"), img(None, "library/nginx", Some("1"), None));
        assert_eq!(ImageRef::parse("localhost:5000/app"), img(Some("localhost:5000"), "app", None, None));
        assert_eq!(ImageRef::parse("localhost:5000/app:v1"), img(Some("localhost:5000"), "app", Some("v1"), None));
        assert_eq!(ImageRef::parse("localhost/app"), img(Some("localhost"), "app", None, None));
        assert_eq!(
            ImageRef::parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/svc/app:v1"),
            img(Some("123456789012.dkr.ecr.eu-west-1.amazonaws.com"), "team/svc/app", Some("v1"), None)
        );
        assert_eq!(
            ImageRef::parse(&format!("reg.io:443/app@{d}")),
            img(Some("reg.io:443"), "app", None, Some(d.as_str()))
        );
        assert_eq!(
            ImageRef::parse(&format!("reg.io/app:v1@{d}")),
            img(Some("reg.io"), "app", Some("v1"), Some(d.as_str()))
        );
        assert_eq!(
            ImageRef::parse("public.ecr.aws/aws-observability/aws-otel-collector:latest"),
            img(Some("public.ecr.aws"), "aws-observability/aws-otel-collector", Some("latest"), None)
        );
    }

    #[test]
    fn rejects_malformed_references() {
        for bad in [
            "",
            "app:",
            "app@",
            "reg.io/",
            "reg.io//app",
            "/app",
            // A ':' inside a repository path component (issue 16): `a:b:c` once parsed as repository `a:b`
            // and re-parsed as `a` after a rewrite.
            "a:b:c",
            "reg.io:5000/a:b:c",
            "team/a:b/app:v1",
            "App:v1",
            "app:v 1",
            "app:-v1",
            "app@sha256",
            "app@sha256:abc@x",
            "reg.io:99x/app",
            "reg_io.example/app",
            "a b",
        ] {
            assert_eq!(ImageRef::parse(bad), None, "{bad:?}");
        }
    }

    /// What a well-formed reference is made of; every combination must parse and survive a rewrite.
    fn reference() -> impl Strategy<Value = String> {
        let registry = prop::option::of(prop_oneof![
            Just("localhost".to_owned()),
            "[a-z0-9]{1,12}(\\.[a-z0-9-]{1,8}){1,4}",
            "[a-z][a-z0-9]{0,8}(\\.[a-z0-9]{1,8}){0,2}:[0-9]{1,5}",
        ]);
        // A first component with a '.' would name a registry: registries do the same.
        let repository = ("[a-z0-9][a-z0-9_-]{0,10}", prop::collection::vec("[a-z0-9][a-z0-9._-]{0,10}", 0..3))
            .prop_filter("not localhost", |(first, _)| first != "localhost")
            .prop_map(|(first, rest)| std::iter::once(first).chain(rest).collect::<Vec<_>>());
        let tag = prop::option::of("[A-Za-z0-9_][A-Za-z0-9._-]{0,20}");
        let digest = prop::option::of("[0-9a-f]{64}".prop_map(|hex| format!("sha256:{hex}")));
        (registry, repository, tag, digest).prop_map(|(registry, repository, tag, digest)| {
            let mut out = registry.map(|r| format!("{r}/")).unwrap_or_default();
            out.push_str(&repository.join("/"));
            if let Some(t) = tag {
                out.push(':');
                out.push_str(&t);
            }
            if let Some(d) = digest {
                out.push('@');
                out.push_str(&d);
            }
            out
        })
    }

    fn version() -> impl Strategy<Value = Version> {
        prop_oneof!["[A-Za-z0-9_][A-Za-z0-9._-]{0,30}", "[0-9a-f]{64}".prop_map(|hex| format!("sha256:{hex}")),]
            .prop_map(|v| Version::parse(&v).unwrap())
    }

    /// The rewrite keeps registry and repository and sets exactly the new version.
    fn assert_round_trip(reference: &str, version: &Version) -> Result<(), TestCaseError> {
        let Some(img) = ImageRef::parse(reference) else { return Ok(()) };
        let rewritten = img.at_version(version, None);
        let again = ImageRef::parse(&rewritten);
        prop_assert!(again.is_some(), "{reference} → {rewritten} does not parse");
        let again = again.unwrap();
        prop_assert_eq!(&again.registry, &img.registry, "{} → {}", reference, rewritten);
        prop_assert_eq!(&again.repository, &img.repository, "{} → {}", reference, rewritten);
        prop_assert_eq!(again.tag.as_deref(), version.tag());
        prop_assert_eq!(again.digest.as_deref(), version.digest());
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn every_well_formed_reference_parses_and_survives_a_rewrite(r in reference(), v in version()) {
            prop_assert!(ImageRef::parse(&r).is_some(), "{} does not parse", r);
            assert_round_trip(&r, &v)?;
        }

        #[test]
        fn any_reference_that_parses_survives_a_rewrite(r in "[a-zA-Z0-9:/@._-]{0,40}", v in version()) {
            assert_round_trip(&r, &v)?;
        }
    }

    #[test]
    fn swaps_tag_or_digest_and_keeps_registry_with_port() {
        let d = format!("sha256:{}", "b".repeat(64));
        let img = ImageRef::parse(&format!("localhost:5000/team/app:v1@sha256:{}", "a".repeat(64))).unwrap();
        assert_eq!(img.at_version(&Version::parse("v2").unwrap(), None), "localhost:5000/team/app:v2");
        assert_eq!(img.at_version(&Version::parse(&d).unwrap(), None), format!("localhost:5000/team/app@{d}"));
        assert_eq!(
            img.at_version(&Version::parse("v2").unwrap(), Some(&d)),
            format!("localhost:5000/team/app:v2@{d}"),
            "pinned: the tag stays readable, the digest decides"
        );
        assert_eq!(img.at_version(&Version::parse(&d).unwrap(), Some(&d)), format!("localhost:5000/team/app@{d}"));
        assert!(!img.is_private_ecr());
        assert!(ImageRef::parse("123456789012.dkr.ecr.us-east-1.amazonaws.com/a").unwrap().is_private_ecr());
    }

    fn registry(account: &str, region: &str, endpoint: Endpoint) -> Option<EcrRegistry> {
        Some(EcrRegistry { account: account.into(), region: region.into(), endpoint })
    }

    #[test]
    fn ecr_hosts_say_account_region_and_endpoint() {
        use Endpoint::*;
        for (host, expected) in [
            ("123456789012.dkr.ecr.us-west-2.amazonaws.com", registry("123456789012", "us-west-2", Standard)),
            ("999999999999.dkr.ecr.us-east-1.amazonaws.com:443", registry("999999999999", "us-east-1", Standard)),
            ("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", registry("123456789012", "us-east-1", Fips)),
            ("123456789012.dkr-ecr.eu-west-1.on.aws", registry("123456789012", "eu-west-1", DualStack)),
            (
                "123456789012.dkr-ecr-fips.us-gov-west-1.on.aws",
                registry("123456789012", "us-gov-west-1", DualStackFips),
            ),
            ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", registry("123456789012", "cn-north-1", Standard)),
            (
                "123456789012.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn",
                registry("123456789012", "cn-northwest-1", DualStack),
            ),
            ("public.ecr.aws", None),
            ("docker.io", None),
            ("localhost:5000", None),
            ("12345.dkr.ecr.us-east-1.amazonaws.com", None),
            ("123456789012.dkr.ecr.us-east-1.example.com", None),
            ("123456789012.dkr.ecr.US-EAST-1.amazonaws.com.evil", None),
            ("123456789012.dkr-ecr.us-east-1.amazonaws.com", None),
            ("123456789012.dkr.ecr.useast1.amazonaws.com", None),
        ] {
            assert_eq!(EcrRegistry::parse(host), expected, "{host}");
        }
    }

    #[test]
    fn pull_through_rules_name_an_ecr_upstream() {
        let rule = PullThrough::parse("ecr-central=999999999999.dkr.ecr.us-west-2.amazonaws.com").unwrap();
        assert_eq!(rule.prefix, "ecr-central");
        assert_eq!(rule.upstream, registry("999999999999", "us-west-2", Endpoint::Standard).unwrap());
        assert_eq!(rule.upstream_repository("ecr-central/team/web"), Some("team/web"));
        assert_eq!(rule.upstream_repository("ecr-centralx/team/web"), None);
        assert_eq!(rule.upstream_repository("team/web"), None);
        for bad in
            ["ecr-central", "=999999999999.dkr.ecr.us-west-2.amazonaws.com", "docker-hub=registry-1.docker.io", "Up=1"]
        {
            assert!(PullThrough::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ecr_hosts_follow_the_partition() {
        assert_eq!(ecr_registry_host("1", "us-east-1"), "1.dkr.ecr.us-east-1.amazonaws.com");
        assert_eq!(ecr_registry_host("1", "cn-north-1"), "1.dkr.ecr.cn-north-1.amazonaws.com.cn");
    }
}
