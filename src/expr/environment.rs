//! The one minijinja environment every expression compiles in: strict undefined, the custom
//! filters and tests, and no auto-escaping.

use std::sync::LazyLock;

use minijinja::{Environment, UndefinedBehavior};

use super::filters;

/// The shared environment. Expressions compiled in it live as long as the process, so compiled
/// mappings hold no borrowed state.
pub(crate) static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.set_recursion_limit(64);
    filters::register(&mut env);
    env
});
