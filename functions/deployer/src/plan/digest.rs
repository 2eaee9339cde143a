//! Pure: do the service's running tasks run the image a tag resolves to now? References are not enough —
//! `latest` or `main` may have been pushed again — so the digests decide: what ECR resolves the tag to
//! (DescribeImages `imageDigest`) against what each running task reports for the target containers
//! ([DescribeTasks](https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_DescribeTasks.html)
//! `containers[].imageDigest`).

use aws_sdk_ecs::types::Task;
use contract::result::ContainerChange;

use super::image::ImageRef;
use super::same_revision;

/// What the running tasks say about the target containers' images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Running {
    /// Every digest reported (or pinned by the reference) is the one the tag resolves to.
    Same,
    /// Some task runs another digest: the tag moved since it started.
    Moved,
    /// No running task of the revision reports a digest for a target container (none runs), and the
    /// references pin none: nothing runs an image that could be stale.
    Unknown,
}

/// The digest each changed container's reference pins (`repo:tag@sha256:…` or `repo@sha256:…`), when every
/// one pins one: then the reference says what runs, and no task needs to be read.
pub fn pinned_by_reference(changes: &[ContainerChange]) -> Option<Vec<String>> {
    changes.iter().map(|c| c.from.as_deref().and_then(ImageRef::parse).and_then(|i| i.digest)).collect()
}

/// Fills each change's `digest_before` with the digests that the running tasks of `revision` report for its
/// container (distinct ones joined by `,`, in the order first seen), and says whether they all equal its
/// `digest_after`.
pub fn compare(changes: &mut [ContainerChange], revision: &str, tasks: &[Task]) -> Running {
    let mut any = false;
    let mut moved = false;
    for change in changes.iter_mut() {
        let mut seen: Vec<&str> = Vec::new();
        let reported = tasks
            .iter()
            .filter(|t| t.task_definition_arn().is_some_and(|td| same_revision(td, revision)))
            .flat_map(|t| t.containers())
            .filter(|c| c.name() == Some(change.container.as_str()))
            .filter_map(|c| c.image_digest());
        for digest in reported {
            if !seen.contains(&digest) {
                seen.push(digest);
            }
        }
        if seen.is_empty() {
            continue;
        }
        any = true;
        moved |= seen.iter().any(|d| Some(*d) != change.digest_after.as_deref());
        change.digest_before = Some(seen.join(","));
    }
    match (any, moved) {
        (_, true) => Running::Moved,
        (true, false) => Running::Same,
        (false, false) => Running::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::types::Container;

    use super::*;

    fn change(container: &str, from: &str, after: &str) -> ContainerChange {
        ContainerChange {
            container: container.into(),
            from: Some(from.into()),
            to: from.into(),
            digest_before: None,
            digest_after: Some(after.into()),
        }
    }

    fn task(revision: &str, containers: &[(&str, Option<&str>)]) -> Task {
        let mut t = Task::builder().task_definition_arn(format!("arn:aws:ecs:eu-west-1:1:task-definition/{revision}"));
        for (name, digest) in containers {
            t = t.containers(Container::builder().name(*name).set_image_digest(digest.map(str::to_owned)).build());
        }
        t.build()
    }

    const OLD: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const NEW: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn a_tag_pushed_again_is_a_moved_image() {
        let mut changes = [change("app", "r/web:latest", NEW)];
        let tasks = [task("web:3", &[("app", Some(OLD)), ("xray", Some(NEW))]), task("web:3", &[("app", Some(OLD))])];
        assert_eq!(compare(&mut changes, "web:3", &tasks), Running::Moved);
        assert_eq!(changes[0].digest_before.as_deref(), Some(OLD));
    }

    #[test]
    fn the_same_digest_everywhere_is_the_same_image() {
        let mut changes = [change("app", "r/web:latest", NEW)];
        let tasks = [task("web:3", &[("app", Some(NEW))]), task("web:2", &[("app", Some(OLD))])];
        assert_eq!(compare(&mut changes, "web:3", &tasks), Running::Same, "tasks of another revision do not count");
        assert_eq!(changes[0].digest_before.as_deref(), Some(NEW));
    }

    #[test]
    fn one_stale_task_is_enough_and_both_digests_are_shown() {
        let mut changes = [change("app", "r/web:latest", NEW)];
        let tasks = [task("web:3", &[("app", Some(NEW))]), task("web:3", &[("app", Some(OLD))])];
        assert_eq!(compare(&mut changes, "web:3", &tasks), Running::Moved);
        assert_eq!(changes[0].digest_before, Some(format!("{NEW},{OLD}")));
    }

    #[test]
    fn no_reported_digest_is_unknown() {
        let mut changes = [change("app", "r/web:latest", NEW)];
        assert_eq!(compare(&mut changes, "web:3", &[]), Running::Unknown);
        assert_eq!(compare(&mut changes, "web:3", &[task("web:3", &[("app", None)])]), Running::Unknown);
        assert_eq!(changes[0].digest_before, None);
    }

    #[test]
    fn references_that_pin_a_digest_need_no_task() {
        let pinned = change("app", &format!("r/web:v1@{OLD}"), OLD);
        assert_eq!(pinned_by_reference(std::slice::from_ref(&pinned)), Some(vec![OLD.to_owned()]));
        assert_eq!(pinned_by_reference(&[pinned, change("worker", "r/web:v1", OLD)]), None);
    }
}
