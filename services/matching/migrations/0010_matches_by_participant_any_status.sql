-- A rescoring locks every match of its parties, withdrawn ones too
-- (`matches_of_parties`: enterprise_id = ANY(..) OR participant_id = ANY(..)).
-- The partial index by participant covers proposed matches only, so the prepared
-- statement's generic plan scanned the whole table on every event: 17 ms at 55,000
-- matches, growing with the road show. With both columns indexed it is a BitmapOr.
CREATE INDEX matches_participant ON matches (participant_id);
