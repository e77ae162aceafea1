//! Status texts: rendering them, and telling what an existing text means (ok, or which error)
//! so a status is written only when its meaning changes (E5).

use crate::expr::{Template, Vars};
use crate::mapping::model::Status;

/// What a status says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "message")]
pub enum StatusMeaning {
    /// The last sync succeeded.
    Ok,
    /// The last sync failed with this message.
    Error(String),
}

/// Renders and recognises status texts.
#[derive(Debug, Clone)]
pub struct StatusTexts {
    ok: Template,
    error: Template,
    ok_shape: (String, String),
    /// The literal text every error text starts with: the error template's source up to its
    /// first `{` (whitespace at its end dropped, since `{{-` may trim it). A text that does not
    /// start with it says no error, which is known without rendering anything.
    error_lead: String,
}

/// Stands in for `now` when working out the fixed parts of the ok text.
const SENTINEL: &str = "\u{1}now\u{1}";

impl StatusTexts {
    /// From the mapping's status declaration.
    pub fn new(status: &Status) -> StatusTexts {
        let rendered = status
            .ok
            .render(&Vars::new().with_str("now", SENTINEL))
            .unwrap_or_default();
        let ok_shape = match rendered.split_once(SENTINEL) {
            Some((a, b)) => (a.to_string(), b.to_string()),
            None => (rendered.clone(), String::new()),
        };
        let source = status.error.source();
        let error_lead = source[..source.find('{').unwrap_or(source.len())]
            .trim_end()
            .to_string();
        StatusTexts {
            ok: status.ok.clone(),
            error: status.error.clone(),
            ok_shape,
            error_lead,
        }
    }

    /// The text for a meaning, at time `now` (RFC 3339).
    pub fn render(&self, meaning: &StatusMeaning, now: &str) -> String {
        let vars = Vars::new().with_str("now", now);
        let out = match meaning {
            StatusMeaning::Ok => self.ok.render(&vars),
            StatusMeaning::Error(m) => self.error.render(&vars.with_str("message", m)),
        };
        // A status template that fails to render still reports something true.
        out.unwrap_or_else(|_| match meaning {
            StatusMeaning::Ok => "ok".to_string(),
            StatusMeaning::Error(m) => format!("error: {m}"),
        })
    }

    /// True when `current` already says `meaning` (the time of an ok text does not matter).
    pub fn says(&self, current: Option<&str>, meaning: &StatusMeaning) -> bool {
        let Some(text) = current else {
            return false;
        };
        match meaning {
            StatusMeaning::Ok => {
                let (pre, post) = &self.ok_shape;
                text.len() >= pre.len() + post.len()
                    && text.starts_with(pre.as_str())
                    && text.ends_with(post.as_str())
            }
            StatusMeaning::Error(_) => {
                // Error texts may carry `now` too: compare with it blanked on both sides.
                let (pre, post) = self.error_shape(meaning);
                text.starts_with(pre.as_str())
                    && text.ends_with(post.as_str())
                    && text.len() >= pre.len() + post.len()
            }
        }
    }

    /// True when any of `texts` already says `meaning`; the error text's shape is worked out
    /// once for all of them, and not at all when there is no text.
    pub fn any_says(&self, texts: &[Option<String>], meaning: &StatusMeaning) -> bool {
        let StatusMeaning::Error(_) = meaning else {
            return texts.iter().any(|t| self.says(t.as_deref(), meaning));
        };
        if !texts.iter().any(|t| self.may_say_an_error(t.as_deref())) {
            return false;
        }
        let (pre, post) = self.error_shape(meaning);
        texts.iter().flatten().any(|text| {
            text.starts_with(pre.as_str())
                && text.ends_with(post.as_str())
                && text.len() >= pre.len() + post.len()
        })
    }

    /// False when `text` cannot be an error text (no text, or not starting as every error text
    /// does); true when it may be one.
    pub fn may_say_an_error(&self, text: Option<&str>) -> bool {
        text.is_some_and(|t| t.starts_with(self.error_lead.as_str()))
    }

    fn error_shape(&self, meaning: &StatusMeaning) -> (String, String) {
        let rendered = self.render(meaning, SENTINEL);
        match rendered.split_once(SENTINEL) {
            Some((a, b)) => (a.to_string(), b.to_string()),
            None => (rendered, String::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Template;

    fn texts() -> StatusTexts {
        StatusTexts::new(&Status {
            fields: Default::default(),
            ok: Template::compile("Last synced: {{ now }}").unwrap(),
            error: Template::compile("Error: {{ message }}").unwrap(),
        })
    }

    #[test]
    fn meanings() {
        let t = texts();
        let ok = t.render(&StatusMeaning::Ok, "2026-11-29T05:00:00Z");
        assert_eq!(ok, "Last synced: 2026-11-29T05:00:00Z");
        assert!(t.says(Some(&ok), &StatusMeaning::Ok));
        assert!(t.says(Some("Last synced: 2021-10-20T21:33:48"), &StatusMeaning::Ok));
        let bad = StatusMeaning::Error("Invalid email x".into());
        assert!(!t.says(Some(&ok), &bad));
        assert!(t.says(Some("Error: Invalid email x"), &bad));
        assert!(!t.says(Some("Error: Invalid email y"), &bad));
        assert!(!t.says(Some("Error: Invalid email x"), &StatusMeaning::Ok));
        assert!(!t.says(None, &StatusMeaning::Ok));
    }

    #[test]
    fn any_says_agrees_with_says_for_each_text() {
        let t = texts();
        let bad = StatusMeaning::Error("Invalid email x".into());
        let texts = [None, Some("Last synced: 2021".to_string())];
        assert!(!t.any_says(&texts, &bad));
        assert!(t.any_says(&texts, &StatusMeaning::Ok));
        let texts = [
            Some("Last synced: 2021".to_string()),
            Some("Error: Invalid email x".into()),
        ];
        assert!(t.any_says(&texts, &bad));
        assert!(!t.any_says(&[None, None], &StatusMeaning::Ok));
        assert!(t.may_say_an_error(Some("Error: anything")));
        assert!(!t.may_say_an_error(Some("Last synced: 2021")));
        assert!(!t.may_say_an_error(None));
    }
}
