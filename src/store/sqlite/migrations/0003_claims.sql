-- Claims (one pair, one worker): a holder claims records under a lease before it plans or
-- writes them. `token` is the fencing token: AUTOINCREMENT, so never reused. A claim is held
-- while its row exists; once its lease has run out another holder may take it over, which
-- deletes it (and its keys), so every fenced write with the old token is refused.
CREATE TABLE claim (
    token       INTEGER PRIMARY KEY AUTOINCREMENT,
    holder      TEXT    NOT NULL,
    pair        TEXT    NOT NULL,
    lease_until INTEGER NOT NULL
);

-- The records a claim covers: `home:<id>` or `external:<id>`; a record is in at most one claim.
CREATE TABLE claim_key (
    pair  TEXT    NOT NULL,
    key   TEXT    NOT NULL,
    token INTEGER NOT NULL REFERENCES claim (token) ON DELETE CASCADE,
    PRIMARY KEY (pair, key)
) WITHOUT ROWID;
CREATE INDEX claim_key_by_token ON claim_key (token);

-- Inbox work is held through a claim now: `claim_token` names the claim that holds the row (the
-- row is free when that claim is gone or its lease ran out). A token left behind by a claim that
-- was ended or taken over marks an interrupted attempt.
ALTER TABLE inbox_work ADD COLUMN claim_token INTEGER;
ALTER TABLE inbox_work DROP COLUMN claimed_by;
ALTER TABLE inbox_work DROP COLUMN lease_until;

-- The request budget every process on this store shares, per key (a system): a token bucket
-- (`tokens` as of `updated_at`), and a pause no request may pass (a `Retry-After`).
CREATE TABLE budget (
    key          TEXT    PRIMARY KEY,
    tokens       REAL    NOT NULL,
    updated_at   INTEGER NOT NULL,
    paused_until INTEGER
) WITHOUT ROWID;
