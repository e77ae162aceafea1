-- The ids a merged record's link field names among several (a JSON array), so both `sync` and
-- the `serve` workers find the merge a counterpart belongs to. Rare: the partial index keeps
-- the look-up to those rows.
ALTER TABLE snapshot ADD COLUMN several TEXT;
CREATE INDEX snapshot_several ON snapshot (pair, side) WHERE several IS NOT NULL;
