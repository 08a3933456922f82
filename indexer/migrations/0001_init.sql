-- Tessera indexer schema. Forward-only: never edit a released migration, add a new one.
-- Addresses and hashes are lowercase 0x-hex text; token amounts are NUMERIC(78,0) (uint256); block numbers,
-- timestamps and ids are BIGINT. See docs/indexer.md.

-- The sync cursor and what the indexer last saw of the chain (one row).
CREATE TABLE sync_state (
    id               BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    chain_id         BIGINT  NOT NULL,
    contract         TEXT    NOT NULL,
    deployment_block BIGINT  NOT NULL,
    -- Every event of blocks <= indexed_block is in the database.
    indexed_block    BIGINT  NOT NULL,
    indexed_hash     TEXT,
    -- The chain head last seen, and its timestamp (lease expiry is judged against it).
    head_block       BIGINT  NOT NULL,
    head_timestamp   BIGINT  NOT NULL,
    confirmations    BIGINT  NOT NULL,
    -- Projections can be rolled back through the undo journal to any block >= undo_from - 1.
    undo_from        BIGINT  NOT NULL,
    reorgs           BIGINT  NOT NULL DEFAULT 0,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Hashes of the blocks the indexer has validated (range ends, blocks with events, the live tail).
CREATE TABLE blocks (
    number      BIGINT PRIMARY KEY,
    hash        TEXT   NOT NULL,
    parent_hash TEXT,
    timestamp   BIGINT NOT NULL
);

-- One sequence orders the live feed: decoded logs and the notices of logs removed by a reorg.
CREATE SEQUENCE feed_seq;

-- Every decoded contract event, keyed by where it is on the chain (replays are idempotent).
CREATE TABLE logs (
    chain_id        BIGINT NOT NULL,
    tx_hash         TEXT   NOT NULL,
    log_index       BIGINT NOT NULL,
    seq             BIGINT NOT NULL DEFAULT nextval('feed_seq'),
    block_number    BIGINT NOT NULL,
    block_hash      TEXT   NOT NULL,
    block_timestamp BIGINT NOT NULL,
    tx_index        BIGINT NOT NULL,
    event           TEXT   NOT NULL,
    job_id          BIGINT,
    task_index      BIGINT,
    args            JSONB  NOT NULL,
    -- The log as the chain has it (topics concatenated), so projections can be rebuilt without the RPC.
    topics          BYTEA  NOT NULL,
    data            BYTEA  NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE UNIQUE INDEX logs_seq ON logs (seq);
CREATE INDEX logs_block ON logs (block_number);
CREATE INDEX logs_job ON logs (job_id, seq) WHERE job_id IS NOT NULL;

-- Logs a reorg removed, as the live feed announces them.
CREATE TABLE removed_logs (
    seq             BIGINT PRIMARY KEY DEFAULT nextval('feed_seq'),
    removed_seq     BIGINT NOT NULL,
    chain_id        BIGINT NOT NULL,
    tx_hash         TEXT   NOT NULL,
    log_index       BIGINT NOT NULL,
    block_number    BIGINT NOT NULL,
    block_hash      TEXT   NOT NULL,
    block_timestamp BIGINT NOT NULL,
    tx_index        BIGINT NOT NULL,
    event           TEXT   NOT NULL,
    job_id          BIGINT,
    task_index      BIGINT,
    args            JSONB  NOT NULL
);

-- Projections. Each row records the block of its last change (updated_block); the API derives `confirmed`.
CREATE TABLE jobs (
    job_id                BIGINT PRIMARY KEY,
    artist                TEXT    NOT NULL,
    token                 TEXT    NOT NULL,
    scene_cid             TEXT    NOT NULL,
    renderer_id           TEXT    NOT NULL,
    width                 BIGINT  NOT NULL,
    height                BIGINT  NOT NULL,
    samples_per_pixel     BIGINT  NOT NULL,
    max_bounces           BIGINT  NOT NULL,
    frame_start           BIGINT  NOT NULL,
    frame_count           BIGINT  NOT NULL,
    regions_x             BIGINT  NOT NULL,
    regions_y             BIGINT  NOT NULL,
    cell_size             BIGINT  NOT NULL,
    seed                  NUMERIC(20, 0) NOT NULL,
    reward_per_task       NUMERIC(78, 0) NOT NULL,
    verifier_fee_bps      BIGINT  NOT NULL,
    worker_stake_per_task NUMERIC(78, 0) NOT NULL,
    deadline              BIGINT  NOT NULL,
    lease_duration        BIGINT  NOT NULL,
    challenge_window      BIGINT  NOT NULL,
    quorum                BIGINT  NOT NULL,
    optimistic            BOOLEAN NOT NULL,
    task_count            BIGINT  NOT NULL,
    escrow                NUMERIC(78, 0) NOT NULL,
    protocol_fee_bps      BIGINT  NOT NULL,
    status                TEXT    NOT NULL CHECK (status IN ('active', 'finished', 'cancelled')),
    -- Set when cancelJob or reclaimOpenTasks refunded every open task at once.
    open_refund           TEXT    CHECK (open_refund IN ('cancelled', 'deadline_passed')),
    tasks_open            BIGINT  NOT NULL,
    tasks_claimed         BIGINT  NOT NULL,
    tasks_submitted       BIGINT  NOT NULL,
    tasks_paid            BIGINT  NOT NULL,
    tasks_refunded        BIGINT  NOT NULL,
    rejections            BIGINT  NOT NULL,
    paid_to_workers       NUMERIC(78, 0) NOT NULL,
    refunded              NUMERIC(78, 0) NOT NULL,
    created_block         BIGINT  NOT NULL,
    created_tx            TEXT    NOT NULL,
    created_at            BIGINT  NOT NULL,
    updated_block         BIGINT  NOT NULL
);
CREATE INDEX jobs_artist ON jobs (artist, job_id);
CREATE INDEX jobs_token ON jobs (token, job_id);
CREATE INDEX jobs_status ON jobs (status, job_id);

CREATE TABLE tasks (
    job_id            BIGINT NOT NULL,
    task_index        BIGINT NOT NULL,
    -- open | claimed | submitted | paid | refunded. An 'open' task of a job whose open_refund is set reads
    -- as refunded (the contract refunds them in O(1) and emits no per-task event).
    state             TEXT   NOT NULL CHECK (state IN ('open', 'claimed', 'submitted', 'paid', 'refunded')),
    worker            TEXT,
    lease_id          BIGINT,
    lease_expires_at  BIGINT,
    stake             NUMERIC(78, 0),
    attempt           BIGINT NOT NULL,
    output_cid        TEXT,
    cell_root         TEXT,
    submitted_block   BIGINT,
    challenge_ends_at BIGINT,
    approvals         BIGINT NOT NULL,
    rejections        BIGINT NOT NULL,
    times_rejected    BIGINT NOT NULL,
    times_expired     BIGINT NOT NULL,
    pay_reason        TEXT,
    worker_reward     NUMERIC(78, 0),
    refund_reason     TEXT,
    updated_block     BIGINT NOT NULL,
    PRIMARY KEY (job_id, task_index)
);
CREATE INDEX tasks_open ON tasks (job_id, task_index) WHERE state = 'open';
CREATE INDEX tasks_worker ON tasks (worker, job_id) WHERE worker IS NOT NULL;

-- Who ever claimed a task of a job (for the jobs-by-worker filter). Insert-only: rolled back by block.
CREATE TABLE job_workers (
    job_id       BIGINT NOT NULL,
    worker       TEXT   NOT NULL,
    block_number BIGINT NOT NULL,
    PRIMARY KEY (worker, job_id)
);
CREATE INDEX job_workers_block ON job_workers (block_number);

-- Every counted attestation. Insert-only: rolled back by block.
CREATE TABLE attestations (
    tx_hash      TEXT    NOT NULL,
    log_index    BIGINT  NOT NULL,
    job_id       BIGINT  NOT NULL,
    task_index   BIGINT  NOT NULL,
    attempt      BIGINT  NOT NULL,
    verifier     TEXT    NOT NULL,
    approve      BOOLEAN NOT NULL,
    block_number BIGINT  NOT NULL,
    PRIMARY KEY (tx_hash, log_index)
);
CREATE INDEX attestations_task ON attestations (job_id, task_index, attempt);
CREATE INDEX attestations_verifier ON attestations (verifier);
CREATE INDEX attestations_block ON attestations (block_number);

-- Workers and verifiers: stake and track record.
CREATE TABLE accounts (
    address              TEXT   PRIMARY KEY,
    bonded               NUMERIC(78, 0) NOT NULL,
    locked               NUMERIC(78, 0) NOT NULL,
    unbonding            NUMERIC(78, 0) NOT NULL,
    unbonding_ready_at   BIGINT NOT NULL,
    slashed              NUMERIC(78, 0) NOT NULL,
    tasks_claimed        BIGINT NOT NULL,
    tasks_submitted      BIGINT NOT NULL,
    tasks_completed      BIGINT NOT NULL,
    tasks_rejected       BIGINT NOT NULL,
    tasks_expired        BIGINT NOT NULL,
    attestations         BIGINT NOT NULL,
    approvals            BIGINT NOT NULL,
    rejections           BIGINT NOT NULL,
    equivocations        BIGINT NOT NULL,
    first_block          BIGINT NOT NULL,
    updated_block        BIGINT NOT NULL
);

-- Withdrawable balances per account and token, with what flowed through them.
CREATE TABLE balances (
    account        TEXT NOT NULL,
    token          TEXT NOT NULL,
    balance        NUMERIC(78, 0) NOT NULL,
    credited       NUMERIC(78, 0) NOT NULL,
    withdrawn      NUMERIC(78, 0) NOT NULL,
    worker_rewards NUMERIC(78, 0) NOT NULL,
    updated_block  BIGINT NOT NULL,
    PRIMARY KEY (account, token)
);

-- Volume per payment token.
CREATE TABLE token_totals (
    token           TEXT PRIMARY KEY,
    escrowed        NUMERIC(78, 0) NOT NULL,
    paid_to_workers NUMERIC(78, 0) NOT NULL,
    protocol_fees   NUMERIC(78, 0) NOT NULL,
    verifier_fees   NUMERIC(78, 0) NOT NULL,
    refunded        NUMERIC(78, 0) NOT NULL,
    updated_block   BIGINT NOT NULL
);

-- Network-wide counters and settings (one row).
CREATE TABLE network (
    id               BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    jobs             BIGINT  NOT NULL,
    jobs_cancelled   BIGINT  NOT NULL,
    tasks            BIGINT  NOT NULL,
    tasks_paid       BIGINT  NOT NULL,
    tasks_refunded   BIGINT  NOT NULL,
    tasks_rejected   BIGINT  NOT NULL,
    tasks_expired    BIGINT  NOT NULL,
    attestations     BIGINT  NOT NULL,
    equivocations    BIGINT  NOT NULL,
    staked           NUMERIC(78, 0) NOT NULL,
    slashed          NUMERIC(78, 0) NOT NULL,
    paused           BOOLEAN NOT NULL,
    protocol_fee_bps BIGINT,
    treasury         TEXT,
    updated_block    BIGINT  NOT NULL
);

-- Before-images of projection rows changed in blocks that may still be reorged away (the live tail).
-- image NULL: the row did not exist.
CREATE TABLE undo_log (
    id           BIGSERIAL PRIMARY KEY,
    block_number BIGINT NOT NULL,
    entity       TEXT   NOT NULL,
    key          TEXT   NOT NULL,
    image        JSONB
);
CREATE INDEX undo_log_block ON undo_log (block_number);
