//! `diff`: what a deploy would change, from its dry run. Pure: the answer and its short text.

use contract::result::{DeployResult, DiffResult, FieldChange, Status};
use serde_json::Value;

/// How many fields the text lists before it says how many more there are.
const TEXT_LINES: usize = 20;
/// How long one value may be in the text (characters) before it is cut with `…`.
const VALUE_CHARS: usize = 80;

/// The `diff` answer of a dry-run deploy `result` (of a version, or of a `task_definition`).
pub fn answer(result: DeployResult) -> DiffResult {
    let unchanged = result.status == Status::AlreadyDeployed || result.changed_fields.is_empty();
    DiffResult {
        status: if unchanged { "unchanged" } else { "changed" }.into(),
        cluster: result.cluster,
        service: result.service,
        version: result.version,
        running_task_definition: result.previous_task_definition,
        base_task_definition: result.base_task_definition,
        text: text(&result.changed_fields),
        changed_fields: result.changed_fields,
    }
}

fn show(value: &Value) -> String {
    let shown = match value {
        Value::Null => "(unset)".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if shown.chars().count() > VALUE_CHARS {
        format!("{}…", shown.chars().take(VALUE_CHARS).collect::<String>())
    } else {
        shown
    }
}

/// One line per field, `container.field: from → to` (task-level fields without a container), at most
/// [`TEXT_LINES`] lines; `no change` when there is none.
pub fn text(changes: &[FieldChange]) -> String {
    if changes.is_empty() {
        return "no change".into();
    }
    let mut lines: Vec<String> = changes
        .iter()
        .take(TEXT_LINES)
        .map(|c| {
            let field = match &c.container {
                Some(container) => format!("{container}.{}", c.field),
                None => c.field.clone(),
            };
            format!("{field}: {} → {}", show(&c.from), show(&c.to))
        })
        .collect();
    if changes.len() > TEXT_LINES {
        lines.push(format!("… and {} more", changes.len() - TEXT_LINES));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn change(container: Option<&str>, field: &str, from: Value, to: Value) -> FieldChange {
        FieldChange { container: container.map(str::to_owned), field: field.into(), from, to }
    }

    #[test]
    fn text_has_one_line_per_field_and_is_bounded() {
        let changes = vec![
            change(Some("app"), "image", json!("web:v1"), json!("web:v2")),
            change(None, "memory", json!("1024"), json!("2048")),
            change(Some("app"), "environment.FLAG", json!("***"), json!("*** (changed)")),
            change(Some("app"), "command", Value::Null, json!(["serve", "--port", "80"])),
        ];
        assert_eq!(
            text(&changes),
            "app.image: web:v1 → web:v2\nmemory: 1024 → 2048\napp.environment.FLAG: *** → *** (changed)\n\
             app.command: (unset) → [\"serve\",\"--port\",\"80\"]"
        );
        let many: Vec<FieldChange> = (0..25).map(|i| change(None, &format!("f{i}"), json!(i), json!(i + 1))).collect();
        let t = text(&many);
        assert_eq!(t.lines().count(), TEXT_LINES + 1);
        assert!(t.ends_with("… and 5 more"));
        assert_eq!(text(&[]), "no change");
        let long = change(None, "x", json!("a".repeat(200)), Value::Null);
        assert!(text(&[long]).contains(&format!("{}… → (unset)", "a".repeat(VALUE_CHARS))));
    }
}
