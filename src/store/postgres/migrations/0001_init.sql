-- mapsync state store on PostgreSQL, schema version 1: the same tables as the SQLite store's
-- migrations 0001 and 0002, in the schema named by the store's configuration.
-- Text sorts and compares bytewise (COLLATE "C"), as in SQLite.
-- Times are BIGINT milliseconds since the Unix epoch (UTC). JSON values are TEXT, so a record's
-- key order is kept exactly as SQLite keeps it.

CREATE TABLE link (
    pair             TEXT COLLATE "C"    NOT NULL,
    home_id          TEXT COLLATE "C"    NOT NULL,
    external_id      TEXT COLLATE "C"    NOT NULL,
    state            TEXT COLLATE "C"    NOT NULL CHECK (state IN ('active', 'deleted_on_home', 'deleted_on_external', 'conflict')),
    home_version     TEXT COLLATE "C",
    external_version TEXT COLLATE "C",
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    PRIMARY KEY (pair, home_id),
    UNIQUE (pair, external_id)
);

CREATE TABLE ledger (
    pair          TEXT COLLATE "C"    NOT NULL,
    side          TEXT COLLATE "C"    NOT NULL CHECK (side IN ('home', 'external')),
    record_id     TEXT COLLATE "C"    NOT NULL,
    field         TEXT COLLATE "C"    NOT NULL,
    written_json  TEXT COLLATE "C",
    written_hash  TEXT COLLATE "C",
    written_at    BIGINT,
    read_json     TEXT COLLATE "C",
    read_hash     TEXT COLLATE "C",
    read_at       BIGINT,
    PRIMARY KEY (pair, side, record_id, field)
);

CREATE TABLE status_mark (
    pair       TEXT COLLATE "C"    NOT NULL,
    side       TEXT COLLATE "C"    NOT NULL CHECK (side IN ('home', 'external')),
    record_id  TEXT COLLATE "C"    NOT NULL,
    kind       TEXT COLLATE "C"    NOT NULL CHECK (kind IN ('ok', 'error')),
    message    TEXT COLLATE "C",
    written_at BIGINT  NOT NULL,
    PRIMARY KEY (pair, side, record_id)
);

CREATE TABLE outcome (
    pair            TEXT COLLATE "C"    NOT NULL,
    direction       TEXT COLLATE "C"    NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    source_id       TEXT COLLATE "C"    NOT NULL,
    kind            TEXT COLLATE "C"    NOT NULL,
    message         TEXT COLLATE "C",
    attempts        BIGINT  NOT NULL DEFAULT 0,
    first_failed_at BIGINT,
    last_failed_at  BIGINT,
    updated_at      BIGINT  NOT NULL,
    PRIMARY KEY (pair, direction, source_id)
);
CREATE INDEX outcome_failing ON outcome (pair, direction, last_failed_at) WHERE attempts > 0;

CREATE TABLE create_intent (
    pair        TEXT COLLATE "C"    NOT NULL,
    direction   TEXT COLLATE "C"    NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    source_id   TEXT COLLATE "C"    NOT NULL,
    attempt_key TEXT COLLATE "C"    NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (pair, direction, source_id, attempt_key)
);

CREATE TABLE run (
    id              TEXT COLLATE "C"    PRIMARY KEY,
    seq             BIGINT  GENERATED ALWAYS AS IDENTITY,
    pair            TEXT COLLATE "C"    NOT NULL,
    direction       TEXT COLLATE "C"    NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    state           TEXT COLLATE "C"    NOT NULL CHECK (state IN ('running', 'done', 'failed', 'killed')),
    started_at      BIGINT  NOT NULL,
    finished_at     BIGINT,
    counters_json   TEXT COLLATE "C"    NOT NULL DEFAULT '{}',
    cursor_json     TEXT COLLATE "C",
    page            BIGINT,
    records_done    BIGINT  NOT NULL DEFAULT 0,
    checkpointed_at BIGINT
);
CREATE INDEX run_by_pair ON run (pair, direction, started_at);
CREATE UNIQUE INDEX run_one_running ON run (pair, direction) WHERE state = 'running';

CREATE TABLE oauth_token (
    system        TEXT COLLATE "C"    PRIMARY KEY,
    -- The account the tokens belong to (the mapping's auth.oauth2.account).
    account       TEXT,
    access_token  TEXT COLLATE "C"    NOT NULL,
    refresh_token TEXT COLLATE "C",
    expires_at    BIGINT,
    scopes_json   TEXT COLLATE "C"    NOT NULL DEFAULT '[]',
    updated_at    BIGINT  NOT NULL
);

CREATE TABLE oauth_state (
    nonce_hash    TEXT COLLATE "C"    PRIMARY KEY,
    system        TEXT COLLATE "C"    NOT NULL,
    pkce_verifier TEXT COLLATE "C",
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL
);

CREATE TABLE inbox_event (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source       TEXT COLLATE "C"    NOT NULL,
    dedup_key    TEXT COLLATE "C",
    record_key   TEXT COLLATE "C"    NOT NULL,
    payload_json TEXT COLLATE "C"    NOT NULL,
    received_at  BIGINT  NOT NULL,
    processed_at BIGINT,
    UNIQUE (source, dedup_key)
);
CREATE INDEX inbox_event_pending ON inbox_event (source, record_key, id) WHERE processed_at IS NULL;
CREATE INDEX inbox_event_processed ON inbox_event (received_at) WHERE processed_at IS NOT NULL;

CREATE TABLE inbox_work (
    source          TEXT COLLATE "C"    NOT NULL,
    record_key      TEXT COLLATE "C"    NOT NULL,
    dirty_since     BIGINT  NOT NULL,
    last_event_id   BIGINT  NOT NULL,
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    first_failed_at BIGINT,
    last_error      TEXT COLLATE "C",
    -- The claim that holds the row (free when that claim is gone or its lease ran out); a token
    -- left behind by a claim that was ended or taken over marks an interrupted attempt.
    claim_token     BIGINT,
    PRIMARY KEY (source, record_key)
);
CREATE INDEX inbox_work_ready ON inbox_work (next_attempt_at, dirty_since);

CREATE TABLE dead_letter (
    id              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source          TEXT COLLATE "C"    NOT NULL,
    record_key      TEXT COLLATE "C"    NOT NULL,
    payload_json    TEXT COLLATE "C"    NOT NULL,
    last_error      TEXT COLLATE "C"    NOT NULL,
    attempts        BIGINT  NOT NULL,
    first_failed_at BIGINT  NOT NULL,
    last_failed_at  BIGINT  NOT NULL
);
CREATE INDEX dead_letter_by_source ON dead_letter (source, id);

CREATE TABLE snapshot (
    pair       TEXT COLLATE "C" NOT NULL,
    side       TEXT COLLATE "C" NOT NULL,
    record_id  TEXT COLLATE "C" NOT NULL,
    record     TEXT COLLATE "C" NOT NULL,
    link_value TEXT COLLATE "C",
    match_key  TEXT COLLATE "C",
    PRIMARY KEY (pair, side, record_id)
);
CREATE INDEX snapshot_by_link ON snapshot (pair, side, link_value) WHERE link_value IS NOT NULL;
CREATE INDEX snapshot_by_match ON snapshot (pair, side, match_key) WHERE match_key IS NOT NULL;

-- Defence in depth for E2: a checkpoint's page never moves backwards.
CREATE FUNCTION run_checkpoint_monotone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.page < OLD.page THEN
        RAISE EXCEPTION 'checkpoint page moves backwards';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER run_checkpoint_monotone BEFORE UPDATE OF page ON run
FOR EACH ROW EXECUTE FUNCTION run_checkpoint_monotone();

-- Claims (one pair, one worker): a holder claims records under a lease before it plans or
-- writes them. `token` is the fencing token, from an identity: never reused. A claim is held
-- while its row exists; a takeover deletes it (and its keys), so fenced writes with the old
-- token are refused.
CREATE TABLE claim (
    token       BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    holder      TEXT COLLATE "C"    NOT NULL,
    pair        TEXT COLLATE "C"    NOT NULL,
    lease_until BIGINT  NOT NULL
);

-- The request budget every process on this store shares, per key (a system): a token bucket
-- (`tokens` as of `updated_at`), and a pause no request may pass (a `Retry-After`). A take
-- locks its row, so two instances never interleave one.
CREATE TABLE budget (
    key          TEXT COLLATE "C" PRIMARY KEY,
    tokens       DOUBLE PRECISION NOT NULL,
    updated_at   BIGINT NOT NULL,
    paused_until BIGINT
);

-- The `serve` instances sharing this store and their heartbeats (for `mapsync status`).
CREATE TABLE instance (
    name       TEXT COLLATE "C" PRIMARY KEY,
    started_at BIGINT NOT NULL,
    beat_at    BIGINT NOT NULL
);

-- The records a claim covers: `home:<id>` or `external:<id>`; a record is in at most one claim.
CREATE TABLE claim_key (
    pair  TEXT COLLATE "C"    NOT NULL,
    key   TEXT COLLATE "C"    NOT NULL,
    token BIGINT  NOT NULL REFERENCES claim (token) ON DELETE CASCADE,
    PRIMARY KEY (pair, key)
);
CREATE INDEX claim_key_by_token ON claim_key (token);
