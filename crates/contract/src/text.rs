//! Small text helpers both functions use for people: ECS names, console links, Slack mrkdwn, durations.

/// The name in a name or an ECS ARN (`…:cluster/prod`, `…:service/prod/web`, `…:service/web`).
pub fn resource_name(name_or_arn: &str) -> &str {
    if name_or_arn.starts_with("arn:") {
        name_or_arn.rsplit('/').next().unwrap_or(name_or_arn)
    } else {
        name_or_arn
    }
}

/// `https://<region>.console.aws.amazon.com/ecs/v2/clusters/<cluster>/services/<service>`; names or ARNs.
pub fn console_url(region: &str, cluster: &str, service: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/ecs/v2/clusters/{}/services/{}",
        resource_name(cluster),
        resource_name(service)
    )
}

/// `web:1 → web:2`, `→ web:2`, `web:1 →`, or nothing.
pub fn revision_change(from: Option<&str>, to: Option<&str>) -> Option<String> {
    match (from, to) {
        (None, None) => None,
        (Some(f), Some(t)) if f == t => Some(format!("{t}, unchanged")),
        (f, t) => Some(format!("{} → {}", f.unwrap_or("?"), t.unwrap_or("?"))),
    }
}

/// `850 ms`, `12.3 s`, `4 min 05 s`.
pub fn duration_text(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{}.{} s", ms / 1000, (ms % 1000) / 100),
        _ => format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters: escape them in anything a caller or AWS wrote.
pub fn mrkdwn_escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Cuts `text` to at most `limit` characters, on a character boundary, marking the cut.
pub fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(limit.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_links_and_texts() {
        assert_eq!(resource_name("arn:aws:ecs:eu-west-1:1:service/prod/web"), "web");
        assert_eq!(resource_name("web"), "web");
        assert_eq!(
            console_url("eu-west-1", "arn:aws:ecs:eu-west-1:1:cluster/prod", "web"),
            "https://eu-west-1.console.aws.amazon.com/ecs/v2/clusters/prod/services/web"
        );
        assert_eq!(revision_change(Some("web:1"), Some("web:2")).as_deref(), Some("web:1 → web:2"));
        assert_eq!(revision_change(Some("web:2"), Some("web:2")).as_deref(), Some("web:2, unchanged"));
        assert_eq!(revision_change(None, Some("web:2")).as_deref(), Some("? → web:2"));
        assert_eq!(revision_change(None, None), None);
        assert_eq!(
            (duration_text(850), duration_text(12_345), duration_text(245_000)),
            ("850 ms".to_owned(), "12.3 s".to_owned(), "4 min 05 s".to_owned())
        );
        assert_eq!(mrkdwn_escape("<@U1> & co"), "&lt;@U1&gt; &amp; co");
        assert_eq!(truncate("héllo wörld", 5), "héll…");
        assert_eq!(truncate("short", 5), "short");
    }
}
