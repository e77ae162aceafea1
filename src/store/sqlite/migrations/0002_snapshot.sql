-- The snapshot: a full sync's index of the target collection, so each source record finds its
-- target by id, by the target's link field, or by match key without holding every record in
-- memory. A cache: rebuilt at the start of every sync.
CREATE TABLE snapshot (
    pair       TEXT NOT NULL,
    side       TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    record     TEXT NOT NULL,
    link_value TEXT,
    match_key  TEXT,
    PRIMARY KEY (pair, side, record_id)
) WITHOUT ROWID;
CREATE INDEX snapshot_by_link ON snapshot (pair, side, link_value) WHERE link_value IS NOT NULL;
CREATE INDEX snapshot_by_match ON snapshot (pair, side, match_key) WHERE match_key IS NOT NULL;
