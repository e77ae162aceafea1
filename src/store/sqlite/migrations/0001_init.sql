-- mapsync state store, schema version 1.
-- Times are INTEGER milliseconds since the Unix epoch (UTC). JSON values are TEXT.
-- Every table that belongs to a sync pair is keyed by `pair`, so one file can hold several pairs.

-- Links between a home record and an external record (the id map).
CREATE TABLE link (
    pair             TEXT    NOT NULL,
    home_id          TEXT    NOT NULL,
    external_id      TEXT    NOT NULL,
    state            TEXT    NOT NULL CHECK (state IN ('active', 'deleted_on_home', 'deleted_on_external', 'conflict')),
    home_version     TEXT,
    external_version TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (pair, home_id),
    UNIQUE (pair, external_id)
);

-- The ledger (shadow): per record and field, what mapsync last wrote and last read.
CREATE TABLE ledger (
    pair          TEXT    NOT NULL,
    side          TEXT    NOT NULL CHECK (side IN ('home', 'external')),
    record_id     TEXT    NOT NULL,
    field         TEXT    NOT NULL,
    written_json  TEXT,
    written_hash  TEXT,
    written_at    INTEGER,
    read_json     TEXT,
    read_hash     TEXT,
    read_at       INTEGER,
    PRIMARY KEY (pair, side, record_id, field)
) WITHOUT ROWID;

-- The last status mapsync wrote on a record, so a status is written only when its meaning changes.
CREATE TABLE status_mark (
    pair       TEXT    NOT NULL,
    side       TEXT    NOT NULL CHECK (side IN ('home', 'external')),
    record_id  TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('ok', 'error')),
    message    TEXT,
    written_at INTEGER NOT NULL,
    PRIMARY KEY (pair, side, record_id)
) WITHOUT ROWID;

-- The last outcome per source record and direction; failures carry their streak.
CREATE TABLE outcome (
    pair            TEXT    NOT NULL,
    direction       TEXT    NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    source_id       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    message         TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    first_failed_at INTEGER,
    last_failed_at  INTEGER,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (pair, direction, source_id)
) WITHOUT ROWID;
CREATE INDEX outcome_failing ON outcome (pair, direction, last_failed_at) WHERE attempts > 0;

-- Create intents (E1): written before a create call, deleted when the create is settled.
CREATE TABLE create_intent (
    pair        TEXT    NOT NULL,
    direction   TEXT    NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    source_id   TEXT    NOT NULL,
    attempt_key TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (pair, direction, source_id, attempt_key)
) WITHOUT ROWID;

-- Runs of `mapsync sync` with their checkpoint (one per run).
CREATE TABLE run (
    id              TEXT    PRIMARY KEY,
    pair            TEXT    NOT NULL,
    direction       TEXT    NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    state           TEXT    NOT NULL CHECK (state IN ('running', 'done', 'failed', 'killed')),
    started_at      INTEGER NOT NULL,
    finished_at     INTEGER,
    counters_json   TEXT    NOT NULL DEFAULT '{}',
    cursor_json     TEXT,
    page            INTEGER,
    records_done    INTEGER NOT NULL DEFAULT 0,
    checkpointed_at INTEGER
);
CREATE INDEX run_by_pair ON run (pair, direction, started_at);
-- At most one running run per pair and direction.
CREATE UNIQUE INDEX run_one_running ON run (pair, direction) WHERE state = 'running';

-- OAuth tokens per system name. Token values are secrets: never logged.
CREATE TABLE oauth_token (
    system        TEXT    PRIMARY KEY,
    access_token  TEXT    NOT NULL,
    refresh_token TEXT,
    expires_at    INTEGER,
    scopes_json   TEXT    NOT NULL DEFAULT '[]',
    updated_at    INTEGER NOT NULL
);

-- OAuth `state` nonces, stored as SHA-256 hashes, consumed once.
CREATE TABLE oauth_state (
    nonce_hash    TEXT    PRIMARY KEY,
    system        TEXT    NOT NULL,
    pkce_verifier TEXT,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);

-- Webhook inbox, one row per event (R5). `dedup_key` is NULL for id-less notifications, which
-- are never deduplicated by body but coalesced per record in `inbox_work`.
CREATE TABLE inbox_event (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    source       TEXT    NOT NULL,
    dedup_key    TEXT,
    record_key   TEXT    NOT NULL,
    payload_json TEXT    NOT NULL,
    received_at  INTEGER NOT NULL,
    processed_at INTEGER,
    UNIQUE (source, dedup_key)
);
CREATE INDEX inbox_event_pending ON inbox_event (source, record_key, id) WHERE processed_at IS NULL;
CREATE INDEX inbox_event_processed ON inbox_event (received_at) WHERE processed_at IS NOT NULL;

-- Work per record key: one row while the record has unprocessed events. A worker claims a row
-- with a lease; `last_event_id` tells an ack whether new events arrived during the claim.
CREATE TABLE inbox_work (
    source          TEXT    NOT NULL,
    record_key      TEXT    NOT NULL,
    dirty_since     INTEGER NOT NULL,
    last_event_id   INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    first_failed_at INTEGER,
    last_error      TEXT,
    claimed_by      TEXT,
    lease_until     INTEGER,
    PRIMARY KEY (source, record_key)
);
CREATE INDEX inbox_work_ready ON inbox_work (next_attempt_at, dirty_since);

-- Dead letters: work that failed permanently or ran out of attempts (R10).
CREATE TABLE dead_letter (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    source          TEXT    NOT NULL,
    record_key      TEXT    NOT NULL,
    payload_json    TEXT    NOT NULL,
    last_error      TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    first_failed_at INTEGER NOT NULL,
    last_failed_at  INTEGER NOT NULL
);
CREATE INDEX dead_letter_by_source ON dead_letter (source, id);

-- Defence in depth for E2: a checkpoint's page never moves backwards.
CREATE TRIGGER run_checkpoint_monotone BEFORE UPDATE OF page ON run
WHEN NEW.page < OLD.page
BEGIN
    SELECT RAISE(ABORT, 'checkpoint page moves backwards');
END;
