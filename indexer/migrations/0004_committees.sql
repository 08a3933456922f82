-- Committee verification replaces signed attestations: the contract draws committees per submission, members
-- commit then reveal bonded votes, verdicts can be appealed to larger committees and members can challenge the
-- worker's data. Attestation counters and the attestations table go; draws, their members, appeals, data
-- challenges and the verifier registry come in. Every new table is a projection with `updated_block` (the API
-- derives `confirmed` from it) whose rows are rolled back through the undo journal like the others.

DROP VIEW task_rows;
DROP VIEW account_rows;
DROP VIEW network_rows;
DROP TABLE attestations;

ALTER TABLE tasks
    DROP COLUMN challenge_ends_at,
    DROP COLUMN approvals,
    DROP COLUMN rejections,
    -- Where the current submission's verification stands (NULL: no submission under verification).
    ADD COLUMN verification_phase TEXT
        CHECK (verification_phase IN ('none', 'awaiting_draw', 'commit', 'reveal', 'data_challenge', 'appealable')),
    -- Appeal level of the current or next draw, and draws made so far for the current submission.
    ADD COLUMN verification_level BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN draws              BIGINT NOT NULL DEFAULT 0,
    -- Times the pending draw waited for free seats.
    ADD COLUMN deferrals          BIGINT NOT NULL DEFAULT 0,
    -- When the current phase ends (commit, reveal, response, appeal; the dispute window of an optimistic
    -- submission; the earliest retry of a deferred draw).
    ADD COLUMN phase_ends_at      BIGINT,
    -- The block whose hash seeds the next draw (phases none and awaiting_draw).
    ADD COLUMN seed_block         BIGINT,
    -- The standing verdict of the current submission: none | approve | reject.
    ADD COLUMN verdict            TEXT CHECK (verdict IN ('none', 'approve', 'reject')),
    -- Why the last rejected result was rejected: verdict | data_withheld.
    ADD COLUMN reject_reason      TEXT;

ALTER TABLE accounts
    DROP COLUMN attestations,
    DROP COLUMN approvals,
    DROP COLUMN rejections,
    DROP COLUMN equivocations;

ALTER TABLE network
    DROP COLUMN attestations,
    DROP COLUMN equivocations,
    ADD COLUMN draws           BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN votes           BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN appeals         BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN data_challenges BIGINT NOT NULL DEFAULT 0;

-- One committee drawn for a submission (`attempt`) of a task, with its tally once counted.
CREATE TABLE draws (
    job_id          BIGINT NOT NULL,
    task_index      BIGINT NOT NULL,
    attempt         BIGINT NOT NULL,
    draw            BIGINT NOT NULL,
    level           BIGINT NOT NULL,
    seed            TEXT   NOT NULL,
    -- Seats and distinct members.
    seats           BIGINT NOT NULL,
    members         BIGINT NOT NULL,
    commit_ends_at  BIGINT NOT NULL,
    -- Set by RevealStarted.
    reveal_ends_at  BIGINT,
    -- Set by RoundTallied: the draw's majority (none | approve | reject), the seats of each side and the end of the
    -- appeal window (0: escalated at once or final).
    verdict         TEXT CHECK (verdict IN ('none', 'approve', 'reject')),
    approve_seats   BIGINT,
    reject_seats    BIGINT,
    appeal_ends_at  BIGINT,
    tallied_block   BIGINT,
    block_number    BIGINT NOT NULL,
    block_timestamp BIGINT NOT NULL,
    tx_hash         TEXT   NOT NULL,
    updated_block   BIGINT NOT NULL,
    PRIMARY KEY (job_id, task_index, attempt, draw)
);

-- One member of one draw: its seats, its commitment, its revealed vote and render proof, and its judgement.
CREATE TABLE draw_members (
    job_id          BIGINT  NOT NULL,
    task_index      BIGINT  NOT NULL,
    attempt         BIGINT  NOT NULL,
    draw            BIGINT  NOT NULL,
    verifier        TEXT    NOT NULL,
    member_index    BIGINT  NOT NULL,
    seats           BIGINT  NOT NULL,
    committed_block BIGINT,
    approve         BOOLEAN,
    render_proof    TEXT,
    revealed_block  BIGINT,
    coherent        BOOLEAN,
    slashed         NUMERIC(78, 0),
    settled_block   BIGINT,
    updated_block   BIGINT  NOT NULL,
    PRIMARY KEY (job_id, task_index, attempt, draw, verifier)
);
CREATE INDEX draw_members_verifier ON draw_members (verifier);

-- Appeals (level 0: the dispute of an optimistic result), with their settlement.
CREATE TABLE appeals (
    job_id          BIGINT  NOT NULL,
    task_index      BIGINT  NOT NULL,
    attempt         BIGINT  NOT NULL,
    level           BIGINT  NOT NULL,
    appellant       TEXT    NOT NULL,
    request_approve BOOLEAN NOT NULL,
    bond            NUMERIC(78, 0) NOT NULL,
    -- NULL until settled: bond returned (true) or forfeited (false).
    upheld          BOOLEAN,
    settled_block   BIGINT,
    block_number    BIGINT  NOT NULL,
    block_timestamp BIGINT  NOT NULL,
    tx_hash         TEXT    NOT NULL,
    updated_block   BIGINT  NOT NULL,
    PRIMARY KEY (job_id, task_index, attempt, level)
);
CREATE INDEX appeals_appellant ON appeals (appellant);

-- Data-availability challenges (at most one per draw) and the worker's answer.
CREATE TABLE data_challenges (
    job_id          BIGINT   NOT NULL,
    task_index      BIGINT   NOT NULL,
    attempt         BIGINT   NOT NULL,
    draw            BIGINT   NOT NULL,
    challenger      TEXT     NOT NULL,
    cells           BIGINT[] NOT NULL,
    respond_by      BIGINT   NOT NULL,
    provided_by     TEXT,
    data_hashes     TEXT[],
    provided_block  BIGINT,
    block_number    BIGINT   NOT NULL,
    block_timestamp BIGINT   NOT NULL,
    tx_hash         TEXT     NOT NULL,
    updated_block   BIGINT   NOT NULL,
    PRIMARY KEY (job_id, task_index, attempt, draw)
);

-- The verifier registry: tickets and the stake behind them (less slashes), leave and release.
CREATE TABLE verifiers (
    address          TEXT   PRIMARY KEY,
    registry_id      BIGINT NOT NULL,
    tickets          BIGINT NOT NULL,
    stake            NUMERIC(78, 0) NOT NULL,
    registered_block BIGINT NOT NULL,
    left_block       BIGINT,
    releasable_at    BIGINT,
    released_block   BIGINT,
    updated_block    BIGINT NOT NULL
);

-- The row views (see 0002), again for the changed tables and new for the new ones.
CREATE VIEW task_rows AS
SELECT t.job_id, t.task_index, t.state, t.job_id || '/' || t.task_index AS key,
       to_jsonb(t) || jsonb_build_object('stake', t.stake::text, 'worker_reward', t.worker_reward::text) AS row
FROM tasks t;

CREATE VIEW account_rows AS
SELECT a.address, a.address AS key,
       to_jsonb(a) || jsonb_build_object(
         'bonded', a.bonded::text, 'locked', a.locked::text, 'unbonding', a.unbonding::text,
         'slashed', a.slashed::text) AS row
FROM accounts a;

CREATE VIEW network_rows AS
SELECT ''::text AS key, to_jsonb(n) || jsonb_build_object('staked', n.staked::text, 'slashed', n.slashed::text) AS row
FROM network n;

CREATE VIEW draw_rows AS
SELECT d.job_id, d.task_index, d.attempt, d.job_id || '/' || d.task_index || '/' || d.attempt || '/' || d.draw AS key,
       to_jsonb(d) AS row
FROM draws d;

CREATE VIEW member_rows AS
SELECT m.job_id, m.task_index, m.attempt, m.verifier,
       m.job_id || '/' || m.task_index || '/' || m.attempt || '/' || m.draw || '/' || m.verifier AS key,
       to_jsonb(m) || jsonb_build_object('slashed', m.slashed::text) AS row
FROM draw_members m;

CREATE VIEW appeal_rows AS
SELECT a.job_id, a.task_index, a.attempt, a.job_id || '/' || a.task_index || '/' || a.attempt || '/' || a.level AS key,
       to_jsonb(a) || jsonb_build_object('bond', a.bond::text) AS row
FROM appeals a;

CREATE VIEW challenge_rows AS
SELECT c.job_id, c.task_index, c.attempt, c.job_id || '/' || c.task_index || '/' || c.attempt || '/' || c.draw AS key,
       to_jsonb(c) AS row
FROM data_challenges c;

CREATE VIEW verifier_rows AS
SELECT v.address, v.address AS key, to_jsonb(v) || jsonb_build_object('stake', v.stake::text) AS row
FROM verifiers v;
