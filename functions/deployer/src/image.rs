//! Container image references: `[registry[:port]/]path/repo[:tag][@digest]`.

use crate::version::Version;

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
    /// last `/`, and a first path component that names a registry only when it looks like a host.
    pub fn parse(reference: &str) -> Option<ImageRef> {
        let (name_tag, digest) = match reference.split_once('@') {
            Some((n, d)) if !d.is_empty() => (n, Some(d.to_owned())),
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
        if tag.as_deref() == Some("") {
            return None;
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (Some(first.to_owned()), rest),
            _ => (None, name),
        };
        if repository.is_empty() || repository.split('/').any(str::is_empty) {
            return None;
        }
        Some(ImageRef { registry, repository: repository.to_owned(), tag, digest })
    }

    /// True for a private ECR registry host (`<account>.dkr.ecr.<region>.amazonaws.com[.cn]`).
    pub fn is_private_ecr(&self) -> bool {
        self.registry.as_deref().is_some_and(|r| r.contains(".dkr.ecr."))
    }

    /// The same registry and repository at another version.
    pub fn at_version(&self, version: &Version) -> String {
        let mut out = String::new();
        if let Some(registry) = &self.registry {
            out.push_str(registry);
            out.push('/');
        }
        out.push_str(&self.repository);
        match version {
            Version::Tag(t) => {
                out.push(':');
                out.push_str(t);
            }
            Version::Digest(d) => {
                out.push('@');
                out.push_str(d);
            }
        }
        out
    }
}

/// The registry host of a private ECR registry in a region.
pub fn ecr_registry_host(registry_id: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!("{registry_id}.dkr.ecr.{region}.{suffix}")
}

#[cfg(test)]
mod tests {
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
        for bad in ["", "app:", "app@", "reg.io/", "reg.io//app", "/app"] {
            assert_eq!(ImageRef::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn swaps_tag_or_digest_and_keeps_registry_with_port() {
        let d = format!("sha256:{}", "b".repeat(64));
        let img = ImageRef::parse(&format!("localhost:5000/team/app:v1@sha256:{}", "a".repeat(64))).unwrap();
        assert_eq!(img.at_version(&Version::parse("v2").unwrap()), "localhost:5000/team/app:v2");
        assert_eq!(img.at_version(&Version::parse(&d).unwrap()), format!("localhost:5000/team/app@{d}"));
        assert!(!img.is_private_ecr());
        assert!(ImageRef::parse("1.dkr.ecr.us-east-1.amazonaws.com/a").unwrap().is_private_ecr());
    }

    #[test]
    fn ecr_hosts_follow_the_partition() {
        assert_eq!(ecr_registry_host("1", "us-east-1"), "1.dkr.ecr.us-east-1.amazonaws.com");
        assert_eq!(ecr_registry_host("1", "cn-north-1"), "1.dkr.ecr.cn-north-1.amazonaws.com.cn");
    }
}
