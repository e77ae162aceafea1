//! The filter, test and function names an expression uses, found by a small scan of its tokens
//! (the expression already compiled, so its syntax is valid), and whether the environment
//! registers each one.

use std::fmt;

use super::environment::ENV;

/// What a name is used as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameKind {
    /// `value | name` or `value | name(args)`.
    Filter,
    /// `value is name` or `value is not name`.
    Test,
    /// `name(args)` outside a filter or test position.
    Function,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Filter => "filter",
            NameKind::Test => "test",
            NameKind::Function => "function",
        })
    }
}

/// One use of a name in an expression.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NameUse {
    pub kind: NameKind,
    pub name: String,
}

const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "True", "False", "None",
];

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Ident(&'a str),
    Punct(char),
    Literal,
}

fn tokens(src: &str) -> Vec<Token<'_>> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'\'' || c == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != c {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push(Token::Literal);
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            out.push(Token::Ident(&src[start..i]));
        } else if c.is_ascii_digit() {
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                i += 1;
            }
            out.push(Token::Literal);
        } else {
            let ch = src[i..].chars().next().unwrap_or(' ');
            out.push(Token::Punct(ch));
            i += ch.len_utf8();
        }
    }
    out
}

/// Every filter, test and function name `src` uses, in order of appearance.
pub fn names_used(src: &str) -> Vec<NameUse> {
    let toks = tokens(src);
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        let Token::Ident(name) = t else { continue };
        let prev = i.checked_sub(1).map(|j| &toks[j]);
        let prev2 = i.checked_sub(2).map(|j| &toks[j]);
        let kind = match (prev2, prev) {
            (_, Some(Token::Punct('|'))) => Some(NameKind::Filter),
            (_, Some(Token::Ident("is")))
            | (Some(Token::Ident("is")), Some(Token::Ident("not")))
                if *name != "not" =>
            {
                Some(NameKind::Test)
            }
            (_, Some(Token::Punct('.'))) => None,
            _ if KEYWORDS.contains(name) => None,
            _ if toks.get(i + 1) == Some(&Token::Punct('(')) => Some(NameKind::Function),
            _ => None,
        };
        if let Some(kind) = kind {
            out.push(NameUse {
                kind,
                name: name.to_string(),
            });
        }
    }
    out
}

/// `src` with every slice written as subscripts (`a[1:]` → `a[1][0]`, `a[i:j]` → `a[i][j]`), for
/// minijinja's variable tracking, which skips slices and so would miss `recrod.emails[1:]`;
/// `None` when `src` has no slice. The result is only ever analysed, never evaluated.
pub fn slices_as_subscripts(src: &str) -> Option<String> {
    let mut out = String::with_capacity(src.len() + 8);
    // Open brackets; for `[`, whether anything stood since it or its last `:`.
    let mut stack: Vec<(char, bool)> = Vec::new();
    let mut found = false;
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                while let Some(d) = chars.next() {
                    out.push(d);
                    if d == '\\' {
                        if let Some(e) = chars.next() {
                            out.push(e);
                        }
                    } else if d == c {
                        break;
                    }
                }
                mark(&mut stack);
            }
            '[' | '(' | '{' => {
                mark(&mut stack);
                stack.push((c, false));
                out.push(c);
            }
            ']' => {
                if let Some(('[', false)) = stack.last()
                    && found
                    && out.ends_with("][")
                {
                    out.push('0');
                }
                stack.pop();
                out.push(c);
            }
            ')' | '}' => {
                stack.pop();
                out.push(c);
            }
            ':' if matches!(stack.last(), Some(('[', _))) => {
                if let Some(('[', false)) = stack.last() {
                    out.push('0');
                }
                out.push_str("][");
                if let Some(top) = stack.last_mut() {
                    top.1 = false;
                }
                found = true;
            }
            c if c.is_whitespace() => out.push(c),
            c => {
                mark(&mut stack);
                out.push(c);
            }
        }
    }
    found.then_some(out)
}

/// Something stands in the innermost open bracket.
fn mark(stack: &mut [(char, bool)]) {
    if let Some(top) = stack.last_mut() {
        top.1 = true;
    }
}

/// True when the shared environment registers `name` as a `kind`.
pub fn is_registered(kind: NameKind, name: &str) -> bool {
    let probe = match kind {
        NameKind::Function => return ENV.globals().any(|(n, _)| n == name),
        NameKind::Filter => format!("none | {name}"),
        NameKind::Test => format!("none is {name}"),
    };
    let Ok(expr) = ENV.compile_expression_owned(probe) else {
        return false;
    };
    match expr.eval(()) {
        Ok(_) => true,
        Err(e) => !matches!(
            e.kind(),
            minijinja::ErrorKind::UnknownFilter | minijinja::ErrorKind::UnknownTest
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uses(src: &str) -> Vec<(NameKind, &'static str)> {
        names_used(src)
            .into_iter()
            .map(|u| (u.kind, &*u.name.leak()))
            .collect()
    }

    #[test]
    fn slices_become_subscripts_for_tracking_only() {
        assert_eq!(slices_as_subscripts("record.name"), None);
        assert_eq!(slices_as_subscripts("{'a': 1}"), None);
        assert_eq!(
            slices_as_subscripts("recrod.emails[1:] | join(':')").as_deref(),
            Some("recrod.emails[1][0] | join(':')")
        );
        assert_eq!(slices_as_subscripts("x[:n]").as_deref(), Some("x[0][n]"));
        assert_eq!(
            slices_as_subscripts("x[a:b:c]").as_deref(),
            Some("x[a][b][c]")
        );
        assert_eq!(
            slices_as_subscripts("x[f(a, {'k': b}):]").as_deref(),
            Some("x[f(a, {'k': b})][0]")
        );
        assert_eq!(slices_as_subscripts("x[:]").as_deref(), Some("x[0][0]"));
    }

    #[test]
    fn filters_tests_and_functions_are_told_apart() {
        use NameKind::*;
        assert_eq!(
            uses("(record.name or '') | split_once(' ') | first | default('a | b')"),
            [
                (Filter, "split_once"),
                (Filter, "first"),
                (Filter, "default")
            ]
        );
        assert_eq!(
            uses("not value or value is email and x is not none"),
            [(Test, "email"), (Test, "none")]
        );
        assert_eq!(
            uses("range(3) | list + dict(a=1).items() + [x.lower()]"),
            [(Function, "range"), (Filter, "list"), (Function, "dict")]
        );
        assert_eq!(uses("'is email' ~ \"| frist\" ~ 1.5"), []);
        assert_eq!(uses("x if (a) else not (b)"), []);
    }

    #[test]
    fn the_environment_is_probed() {
        assert!(is_registered(NameKind::Filter, "split_once"));
        assert!(is_registered(NameKind::Filter, "first"));
        assert!(!is_registered(NameKind::Filter, "frist"));
        assert!(is_registered(NameKind::Test, "email"));
        assert!(is_registered(NameKind::Test, "defined"));
        assert!(!is_registered(NameKind::Test, "emial"));
        assert!(is_registered(NameKind::Function, "range"));
        assert!(!is_registered(NameKind::Function, "rnage"));
    }
}
