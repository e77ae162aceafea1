//! The catalogue of the expression language: every custom filter and test with its signature
//! and an example, and the minijinja built-ins mappings may use. `validate` suggests names from
//! it, and `docs/expression-language.md` is rendered from it (see `mapping::expr_reference`).

use super::names::NameKind;

/// One custom filter or test.
#[derive(Debug, Clone, Copy)]
pub struct Custom {
    pub kind: NameKind,
    pub name: &'static str,
    /// How it is called, e.g. `text | split_once(sep)`.
    pub signature: &'static str,
    pub description: &'static str,
    /// An expression and the JSON value it gives (the pair is checked by a unit test).
    pub example: &'static str,
    pub result: &'static str,
}

/// The filters and tests mapsync adds to minijinja's (registered in `filters.rs`).
pub const CUSTOM: &[Custom] = &[
    Custom {
        kind: NameKind::Filter,
        name: "split_once",
        signature: "text | split_once(sep)",
        description: "Splits at the first `sep` into two parts; without `sep` in the text the second part is `\"\"`. `sep` must not be empty.",
        example: "'Mary Ann Smith' | split_once(' ')",
        result: r#"["Mary","Ann Smith"]"#,
    },
    Custom {
        kind: NameKind::Filter,
        name: "split_list",
        signature: "text | split_list",
        description: "Splits a list typed by a person on commas, semicolons and line breaks, trimming each part and dropping empty ones; `none` gives `[]`.",
        example: "'b@y.com, c@z.com;\\n' | split_list",
        result: r#"["b@y.com","c@z.com"]"#,
    },
    Custom {
        kind: NameKind::Filter,
        name: "compact",
        signature: "list | compact",
        description: "Drops `none`, undefined and empty-string items from a list.",
        example: "['Mary', none, ''] | compact",
        result: r#"["Mary"]"#,
    },
    Custom {
        kind: NameKind::Filter,
        name: "to_objects",
        signature: "list | to_objects(key, **attrs)",
        description: "Turns a list of values into objects holding each value under `key`, plus the given attributes; `none` gives `[]`. For APIs that keep emails or phones as lists of objects.",
        example: "['a@x.io'] | to_objects('value', label='work')",
        result: r#"[{"label":"work","value":"a@x.io"}]"#,
    },
    Custom {
        kind: NameKind::Filter,
        name: "flag_first",
        signature: "objects | flag_first(name)",
        description: "Sets the boolean attribute `name`: true on the first object, false on the others (other attributes kept).",
        example: "['a', 'b'] | to_objects('value') | flag_first('primary')",
        result: r#"[{"primary":true,"value":"a"},{"primary":false,"value":"b"}]"#,
    },
    Custom {
        kind: NameKind::Filter,
        name: "merge",
        signature: "object | merge(other)",
        description: "The object's entries with `other`'s added, replacing same-named ones; `none` on either side counts as `{}`. For an API that wants the id beside the fields.",
        example: "{'name': 'Ada'} | merge({'id': 7})",
        result: r#"{"id":7,"name":"Ada"}"#,
    },
    Custom {
        kind: NameKind::Test,
        name: "matches",
        signature: "value is matches(pattern)",
        description: "True when the value is a string and the whole of it matches the regular expression `pattern` (Rust `regex` syntax); false for anything else. An invalid pattern is an error naming it.",
        example: "'AB-12' is matches('[A-Z]{2}-[0-9]+')",
        result: "true",
    },
    Custom {
        kind: NameKind::Test,
        name: "email",
        signature: "value is email",
        description: "True when the value is a string that is a syntactically valid email address (a dot-atom or quoted local part, hostname labels, a top-level domain of 2 to 63 letters).",
        example: "'a@b.co' is email",
        result: "true",
    },
];

/// minijinja's built-in filters that mappings may use.
pub const BUILTIN_FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "bool",
    "capitalize",
    "chain",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "float",
    "format",
    "groupby",
    "indent",
    "int",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "zip",
];

/// minijinja's built-in tests that mappings may use.
pub const BUILTIN_TESTS: &[&str] = &[
    "boolean",
    "defined",
    "divisibleby",
    "endingwith",
    "eq",
    "equalto",
    "escaped",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "greaterthan",
    "gt",
    "in",
    "int",
    "integer",
    "iterable",
    "le",
    "lessthan",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "safe",
    "sameas",
    "sequence",
    "startingwith",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

/// minijinja's built-in functions that mappings may use.
pub const BUILTIN_FUNCTIONS: &[&str] = &["dict", "namespace", "range"];

/// Every documented name of a kind: the custom ones, then the built-ins.
pub fn known(kind: NameKind) -> Vec<&'static str> {
    let builtin = match kind {
        NameKind::Filter => BUILTIN_FILTERS,
        NameKind::Test => BUILTIN_TESTS,
        NameKind::Function => BUILTIN_FUNCTIONS,
    };
    CUSTOM
        .iter()
        .filter(|c| c.kind == kind)
        .map(|c| c.name)
        .chain(builtin.iter().copied())
        .collect()
}

/// The documented name nearest to `word`, if it is near enough to be a typo.
pub fn suggest(kind: NameKind, word: &str) -> Option<&'static str> {
    nearest(word, &known(kind))
}

/// The candidate nearest to `word`, if it is near enough to be a typo (at most one edit in
/// three, and at least one allowed): `recrod` → `record`.
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, c)| *d <= (c.chars().count().max(word.chars().count()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance, with a swap of two neighbours counted as one edit (`frist` → `first`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::super::names::is_registered;
    use super::super::{Expr, Vars};
    use super::*;

    #[test]
    fn every_documented_name_is_registered() {
        for kind in [NameKind::Filter, NameKind::Test, NameKind::Function] {
            for name in known(kind) {
                assert!(
                    is_registered(kind, name),
                    "{kind} `{name}` is not registered"
                );
            }
        }
    }

    #[test]
    fn every_example_gives_its_result() {
        for c in CUSTOM {
            let got = Expr::compile(c.example)
                .unwrap_or_else(|e| panic!("{}: {e}", c.name))
                .eval(&Vars::new())
                .unwrap_or_else(|e| panic!("{}: {e}", c.name));
            let want: serde_json::Value = serde_json::from_str(c.result).expect("result is JSON");
            assert_eq!(got, want, "the example of `{}`", c.name);
        }
    }

    #[test]
    fn every_registered_custom_name_is_documented() {
        let re = regex::Regex::new(r#"add_(filter|test)\(\s*"([a-z_]+)""#).expect("pattern");
        let source = include_str!("filters.rs");
        let registered: Vec<(String, String)> = re
            .captures_iter(source)
            .map(|c| (c[1].to_string(), c[2].to_string()))
            .collect();
        assert!(registered.len() >= CUSTOM.len(), "{registered:?}");
        for (kind, name) in registered {
            assert!(
                CUSTOM
                    .iter()
                    .any(|c| c.name == name && c.kind.to_string() == kind),
                "the custom {kind} `{name}` is missing from `language::CUSTOM`"
            );
        }
    }

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(suggest(NameKind::Filter, "frist"), Some("first"));
        let vars = ["record", "target", "value"];
        assert_eq!(nearest("recrod", &vars), Some("record"));
        assert_eq!(nearest("valeu", &vars), Some("value"));
        assert_eq!(nearest("rec", &vars), None);
        assert_eq!(nearest("other", &vars), None);
        assert_eq!(suggest(NameKind::Filter, "split_onec"), Some("split_once"));
        assert_eq!(suggest(NameKind::Test, "emial"), Some("email"));
        assert_eq!(suggest(NameKind::Function, "rnage"), Some("range"));
        assert_eq!(suggest(NameKind::Filter, "completely_else"), None);
    }
}
