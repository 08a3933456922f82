-- Each projection row as the JSON the indexer's row types read: the table's columns, with every NUMERIC
-- amount rendered as text so that no uint256 loses precision on its way through JSON. `key` names the row in
-- error messages and in the undo journal. One definition here instead of one per query.

CREATE VIEW job_rows AS
SELECT j.job_id, j.job_id::text AS key,
       to_jsonb(j) || jsonb_build_object(
         'seed', j.seed::text, 'reward_per_task', j.reward_per_task::text,
         'worker_stake_per_task', j.worker_stake_per_task::text, 'escrow', j.escrow::text,
         'paid_to_workers', j.paid_to_workers::text, 'refunded', j.refunded::text) AS row
FROM jobs j;

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

CREATE VIEW balance_rows AS
SELECT b.account, b.token, b.account || '/' || b.token AS key,
       to_jsonb(b) || jsonb_build_object(
         'balance', b.balance::text, 'credited', b.credited::text, 'withdrawn', b.withdrawn::text,
         'worker_rewards', b.worker_rewards::text) AS row
FROM balances b;

CREATE VIEW token_total_rows AS
SELECT t.token, t.token AS key,
       to_jsonb(t) || jsonb_build_object(
         'escrowed', t.escrowed::text, 'paid_to_workers', t.paid_to_workers::text,
         'protocol_fees', t.protocol_fees::text, 'verifier_fees', t.verifier_fees::text,
         'refunded', t.refunded::text) AS row
FROM token_totals t;

CREATE VIEW network_rows AS
SELECT ''::text AS key, to_jsonb(n) || jsonb_build_object('staked', n.staked::text, 'slashed', n.slashed::text) AS row
FROM network n;
