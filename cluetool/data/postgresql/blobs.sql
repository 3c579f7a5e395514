-- Attachment blobs in the database (`cluetool init --store postgresql://... --blobs-in-db`,
-- issue 22; cluetool.store.blobtable). Content-addressed: a blob's key is the sha256 of
-- its bytes, which are split in chunks of 1 MiB (rows numbered from 0; an empty blob is
-- one empty chunk), so that writing and reading a 500 MiB video needs 1 MiB of memory.
-- Written in the transaction of the batch that brings them; never updated.

CREATE TABLE blobs (
    sha256 text COLLATE "C" PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size   bigint NOT NULL CHECK (size >= 0),
    chunks integer NOT NULL CHECK (chunks >= 1)
);

CREATE TABLE blob_chunks (
    -- Deferred: a blob's chunks are written before its row (whose size they give).
    sha256 text COLLATE "C" NOT NULL REFERENCES blobs (sha256) DEFERRABLE INITIALLY DEFERRED,
    n      integer NOT NULL CHECK (n >= 0),
    data   bytea NOT NULL,
    PRIMARY KEY (sha256, n)
);

-- Evidence: rows are added and (orphans, by `store check --repair`) removed, never
-- changed: a trigger refuses UPDATE on both tables. (The UPDATE privilege itself stays:
-- the checks of the chunks' foreign key lock rows FOR KEY SHARE, which needs it.)
CREATE TRIGGER blobs_no_update BEFORE UPDATE ON blobs
    FOR EACH ROW EXECUTE FUNCTION cluetool_append_only();
CREATE TRIGGER blob_chunks_no_update BEFORE UPDATE ON blob_chunks
    FOR EACH ROW EXECUTE FUNCTION cluetool_append_only();
REVOKE TRUNCATE ON blobs, blob_chunks FROM PUBLIC;
REVOKE TRUNCATE ON blobs, blob_chunks FROM CURRENT_USER;
