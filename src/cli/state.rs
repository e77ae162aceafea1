//! Where the state store is: `--state` (or `MAPSYNC_STATE`) names a SQLite file, or a
//! `postgres://…` URL for a store several processes share; without it, `<mapping>.state.db`
//! next to the mapping. The one place that opens a store for a command.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::store::{
    PostgresConfig, PostgresStore, SqliteConfig, SqliteStore, StateStore, StoreError,
};

/// A state store's location, as `--state` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum StateLocation {
    Sqlite(PathBuf),
    Postgres(String),
}

impl StateLocation {
    /// `--state`'s value, or the default file next to the mapping.
    pub(super) fn of(state: Option<&Path>, mapping: &Path) -> StateLocation {
        match state {
            Some(state) => StateLocation::parse(state),
            None => StateLocation::Sqlite(default_state_path(mapping)),
        }
    }

    /// A `postgres://` or `postgresql://` URL, a `sqlite:` path, or a plain path.
    pub(super) fn parse(state: &Path) -> StateLocation {
        let text = state.to_string_lossy();
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return StateLocation::Postgres(text.into_owned());
        }
        match text.strip_prefix("sqlite:") {
            Some(path) => StateLocation::Sqlite(PathBuf::from(path)),
            None => StateLocation::Sqlite(state.to_path_buf()),
        }
    }

    /// Whether the store is there already (a URL always counts: the server decides).
    pub(super) fn exists(&self) -> bool {
        match self {
            StateLocation::Sqlite(path) => path.exists(),
            StateLocation::Postgres(_) => true,
        }
    }

    /// Opens (creating and migrating as needed) the store.
    pub(super) fn open(&self) -> Result<Arc<dyn StateStore>, StoreError> {
        Ok(match self {
            StateLocation::Sqlite(path) => {
                Arc::new(SqliteStore::open(path, &SqliteConfig::default())?)
            }
            StateLocation::Postgres(url) => {
                Arc::new(PostgresStore::open(&PostgresConfig::from_url(url)?)?)
            }
        })
    }
}

impl std::fmt::Display for StateLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateLocation::Sqlite(path) => write!(f, "{}", path.display()),
            StateLocation::Postgres(url) => match PostgresConfig::from_url(url) {
                Ok(config) => f.write_str(&config.location()),
                Err(_) => f.write_str("the PostgreSQL URL"),
            },
        }
    }
}

/// Runs `mapsync state migrate`.
pub(super) fn migrate(args: &super::MigrateArgs) -> super::Exit {
    use super::Exit;
    let Some(mapping) = super::sync::load(&args.mapping.mapping) else {
        return Exit::Invalid;
    };
    let from = StateLocation::parse(&args.from);
    let to = StateLocation::parse(&args.to);
    if !from.exists() {
        eprintln!("error: no state store at {from}; check --from");
        return Exit::Store;
    }
    let open = |location: &StateLocation| {
        location.open().map_err(|e| {
            eprintln!("error: {e}");
            Exit::Store
        })
    };
    let (source, target) = match (open(&from), open(&to)) {
        (Ok(s), Ok(t)) => (s, t),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let pair = mapping.pair_key();
    let checks = (|| Ok::<_, StoreError>((source.inbox_depth()?, target.link_counts(&pair)?)))();
    match checks {
        Ok((depth, _)) if depth > 0 => {
            eprintln!(
                "error: the inbox of {from} still holds {depth} records; stop `mapsync serve` only \
                 once `mapsync status` shows an empty inbox, then migrate"
            );
            return Exit::Usage;
        }
        Ok((_, links)) if links.total() > 0 => {
            eprintln!(
                "error: {to} already holds {} links of this pair; migrate into an empty store \
                 (another schema: ?schema=name)",
                links.total()
            );
            return Exit::Usage;
        }
        Ok(_) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::Store;
        }
    }
    let systems: Vec<String> = mapping.systems.keys().cloned().collect();
    match crate::store::copy_store(
        source.as_ref(),
        target.as_ref(),
        &pair,
        &systems,
        jiff::Timestamp::now(),
    ) {
        Ok(r) => {
            super::print(&format!(
                "Copied {} links, {} ledger entries, {} status marks, {} create intents, {} OAuth \
                 tokens and {} dead letters from {from} to {to}.\n",
                r.links, r.ledger_entries, r.status_marks, r.intents, r.tokens, r.dead_letters
            ));
            Exit::Ok
        }
        Err(e) => {
            eprintln!("error: {e}; nothing in {from} changed, run the command again");
            Exit::Store
        }
    }
}

/// `<dir>/<mapping stem>.state.db`, next to the mapping.
pub(super) fn default_state_path(mapping: &Path) -> PathBuf {
    let stem = mapping
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("mapsync");
    mapping.with_file_name(format!("{stem}.state.db"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_a_file_or_a_postgres_url() {
        let mapping = Path::new("/m/crm.yaml");
        assert_eq!(
            StateLocation::of(None, mapping),
            StateLocation::Sqlite(PathBuf::from("/m/crm.state.db"))
        );
        assert_eq!(
            StateLocation::of(Some(Path::new("postgres://u@h/db?schema=s")), mapping),
            StateLocation::Postgres("postgres://u@h/db?schema=s".into())
        );
        assert_eq!(
            StateLocation::of(Some(Path::new("sqlite:/tmp/x.db")), mapping),
            StateLocation::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(
            StateLocation::of(Some(Path::new("x.db")), mapping),
            StateLocation::Sqlite(PathBuf::from("x.db"))
        );
        let shown = StateLocation::parse(Path::new("postgres://u:pw@h:5433/db")).to_string();
        assert_eq!(shown, "postgres://h:5433/db (schema mapsync)");
    }
}
