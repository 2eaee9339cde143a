//! Typed reads of a function's environment, once at cold start. A malformed value is a [`ConfigError`]
//! that stops the start; it is never ignored.

/// A variable of the function's configuration that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable} {reason}")]
pub struct ConfigError {
    /// The environment variable, e.g. `DEPLOY_BASE`.
    pub variable: String,
    /// What is wrong with it, e.g. `is "newest"; it takes "latest" or "service"`.
    pub reason: String,
}

impl ConfigError {
    pub fn new(variable: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError { variable: variable.to_owned(), reason: reason.into() }
    }
}

/// The environment as a lookup function: the process's, or a test's table.
pub struct Env<F> {
    lookup: F,
}

impl Env<fn(&str) -> Option<String>> {
    /// The process environment.
    pub fn process() -> Self {
        Env { lookup: |name| std::env::var(name).ok() }
    }
}

impl<F: Fn(&str) -> Option<String>> Env<F> {
    pub fn new(lookup: F) -> Self {
        Env { lookup }
    }

    /// The trimmed value; an unset or blank variable is `None`.
    pub fn text(&self, name: &str) -> Option<String> {
        (self.lookup)(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// A comma-separated list, each entry trimmed, blanks dropped.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.text(name)
            .map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// `true` or `false`; `default` when unset.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.text(name).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(ConfigError::new(name, format!("is {other:?}; it takes \"true\" or \"false\""))),
        }
    }

    /// One of `choices` (by name); `default` when unset.
    pub fn choice<T: Copy>(&self, name: &str, choices: &[(&str, T)], default: T) -> Result<T, ConfigError> {
        let Some(value) = self.text(name) else { return Ok(default) };
        choices.iter().find(|(n, _)| *n == value).map(|(_, v)| *v).ok_or_else(|| {
            let names: Vec<String> = choices.iter().map(|(n, _)| format!("{n:?}")).collect();
            ConfigError::new(name, format!("is {value:?}; it takes {}", names.join(" or ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::new(move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn values_are_trimmed_and_lists_split() {
        let e = env(&[("A", "  x "), ("B", " "), ("L", " a, b ,,c ")]);
        assert_eq!(e.text("A").as_deref(), Some("x"));
        assert_eq!(e.text("B"), None);
        assert_eq!(e.list("L"), ["a", "b", "c"]);
        assert!(e.list("NONE").is_empty());
    }

    #[test]
    fn flags_and_choices_refuse_other_values() {
        let e = env(&[("T", "true"), ("F", "false"), ("Y", "yes"), ("C", "service")]);
        assert_eq!((e.flag("T", false), e.flag("F", true), e.flag("UNSET", true)), (Ok(true), Ok(false), Ok(true)));
        let err = e.flag("Y", true).unwrap_err();
        assert_eq!(err.to_string(), "Y is \"yes\"; it takes \"true\" or \"false\"");
        assert_eq!(e.choice("C", &[("latest", 1), ("service", 2)], 1), Ok(2));
        let err = e.choice("Y", &[("latest", 1), ("service", 2)], 1).unwrap_err();
        assert_eq!(err.to_string(), "Y is \"yes\"; it takes \"latest\" or \"service\"");
    }
}
