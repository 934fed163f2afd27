-- Each matching process keeps a road show's feature matrices in memory; these
-- tell it whether its copy is in step with the read model. Every change to a
-- party takes the next value of one sequence, under the road show's lock, and
-- stamps it on the party's row and on the road show's token in the same
-- transaction. A sequence value is never handed out twice, even when its
-- transaction rolls back, so a copy that saw token T has seen exactly the
-- committed changes up to T; rows stamped later are what it must catch up on.
CREATE SEQUENCE readmodel_change_seq;

CREATE TABLE roadshow_changes (
    roadshow_id  uuid PRIMARY KEY,  -- parties may come before their road show
    seq          bigint NOT NULL    -- the latest change to its parties
);

ALTER TABLE enterprises ADD COLUMN change_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE participants ADD COLUMN change_seq bigint NOT NULL DEFAULT 0;
CREATE INDEX enterprises_changes ON enterprises (roadshow_id, change_seq);
CREATE INDEX participants_changes ON participants (roadshow_id, change_seq);
