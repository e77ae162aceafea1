-- The audit trail: each record's recent history for `mapsync explain`, kept to the newest N
-- entries per record (`seq` orders entries appended at the same millisecond).
CREATE TABLE audit (
    seq        BIGSERIAL PRIMARY KEY,
    pair       TEXT NOT NULL,
    side       TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    direction  TEXT,
    detail     TEXT NOT NULL
);
CREATE INDEX audit_by_record ON audit (pair, side, record_id, seq);
