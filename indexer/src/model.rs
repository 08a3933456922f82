//! The projection rows as they are stored, and the serde encodings they share with Postgres' JSON functions:
//! amounts as decimal strings (NUMERIC(78,0)), addresses and hashes as lowercase `0x` hex (TEXT).

use alloy::primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

/// Decimal-string encoding of `U256` (Postgres NUMERIC accepts and `::text` produces it).
pub mod amount {
    use alloy::primitives::U256;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    /// Writes the decimal digits.
    pub fn serialize<S: Serializer>(v: &U256, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    /// Reads decimal digits.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<U256, D::Error> {
        let s = String::deserialize(d)?;
        U256::from_str_radix(&s, 10).map_err(|e| D::Error::custom(format!("amount {s:?}: {e}")))
    }

    /// The same for optional amounts (`null` for none).
    pub mod opt {
        use alloy::primitives::U256;
        use serde::{Deserialize, Deserializer, Serializer, de::Error};

        /// Writes the decimal digits or null.
        pub fn serialize<S: Serializer>(v: &Option<U256>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.collect_str(v),
                None => s.serialize_none(),
            }
        }

        /// Reads decimal digits or null.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<U256>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|s| {
                    U256::from_str_radix(&s, 10)
                        .map_err(|e| D::Error::custom(format!("amount {s:?}: {e}")))
                })
                .transpose()
        }
    }
}

/// Lowercase `0x` hex for addresses, as stored.
pub fn addr(a: &Address) -> String {
    alloy::hex::encode_prefixed(a)
}

/// Lowercase `0x` hex for 32-byte hashes, as stored.
pub fn hash(h: &B256) -> String {
    alloy::hex::encode_prefixed(h)
}

/// Job lifecycle as the API filters it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Some task is neither paid nor refunded.
    Active,
    /// Every task is paid or refunded.
    Finished,
    /// The artist cancelled the job (tasks claimed before may still finish).
    Cancelled,
}

impl JobStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Finished => "finished",
            Self::Cancelled => "cancelled",
        }
    }
}

/// A task's state, as the contract's `TaskState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Claimable.
    Open,
    /// Leased by a worker.
    Claimed,
    /// A result is committed and awaits verification or the challenge window.
    Submitted,
    /// Settled in the worker's favour.
    Paid,
    /// Escrow returned to the artist.
    Refunded,
}

impl TaskStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Claimed => "claimed",
            Self::Submitted => "submitted",
            Self::Paid => "paid",
            Self::Refunded => "refunded",
        }
    }

    /// From the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Open,
            Self::Claimed,
            Self::Submitted,
            Self::Paid,
            Self::Refunded,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// One row of `jobs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct JobRow {
    pub job_id: i64,
    pub artist: Address,
    pub token: Address,
    pub scene_cid: String,
    pub renderer_id: String,
    pub width: i64,
    pub height: i64,
    pub samples_per_pixel: i64,
    pub max_bounces: i64,
    pub frame_start: i64,
    pub frame_count: i64,
    pub regions_x: i64,
    pub regions_y: i64,
    pub cell_size: i64,
    #[serde(with = "amount")]
    pub seed: U256,
    #[serde(with = "amount")]
    pub reward_per_task: U256,
    pub verifier_fee_bps: i64,
    #[serde(with = "amount")]
    pub worker_stake_per_task: U256,
    pub deadline: i64,
    pub lease_duration: i64,
    pub challenge_window: i64,
    pub quorum: i64,
    pub optimistic: bool,
    pub task_count: i64,
    #[serde(with = "amount")]
    pub escrow: U256,
    pub protocol_fee_bps: i64,
    pub status: JobStatus,
    pub open_refund: Option<String>,
    pub tasks_open: i64,
    pub tasks_claimed: i64,
    pub tasks_submitted: i64,
    pub tasks_paid: i64,
    pub tasks_refunded: i64,
    pub rejections: i64,
    #[serde(with = "amount")]
    pub paid_to_workers: U256,
    #[serde(with = "amount")]
    pub refunded: U256,
    pub created_block: i64,
    pub created_tx: B256,
    pub created_at: i64,
    pub updated_block: i64,
}

impl JobRow {
    /// Recomputes `status` from the counters.
    pub fn refresh_status(&mut self) {
        self.status = if self.open_refund.as_deref() == Some("cancelled") {
            JobStatus::Cancelled
        } else if self.tasks_paid + self.tasks_refunded == self.task_count {
            JobStatus::Finished
        } else {
            JobStatus::Active
        };
    }
}

/// One row of `tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct TaskRow {
    pub job_id: i64,
    pub task_index: i64,
    pub state: TaskStatus,
    pub worker: Option<Address>,
    pub lease_id: Option<i64>,
    pub lease_expires_at: Option<i64>,
    /// Stake locked for this claim; `None` once released.
    #[serde(with = "amount::opt")]
    pub stake: Option<U256>,
    pub attempt: i64,
    pub output_cid: Option<String>,
    pub cell_root: Option<B256>,
    pub submitted_block: Option<i64>,
    pub times_rejected: i64,
    pub times_expired: i64,
    pub pay_reason: Option<String>,
    #[serde(with = "amount::opt")]
    pub worker_reward: Option<U256>,
    pub refund_reason: Option<String>,
    pub updated_block: i64,
    /// Where the current submission's verification stands (a `Phase` in snake_case); None: none under way.
    pub verification_phase: Option<String>,
    pub verification_level: i64,
    pub draws: i64,
    pub deferrals: i64,
    pub phase_ends_at: Option<i64>,
    pub seed_block: Option<i64>,
    /// The standing verdict of the current submission (`none`, `approve`, `reject`).
    pub verdict: Option<String>,
    pub reject_reason: Option<String>,
}

impl TaskRow {
    /// A task as `submitRenderJob` creates it.
    pub fn open(job_id: i64, task_index: i64, block: i64) -> Self {
        Self {
            job_id,
            task_index,
            state: TaskStatus::Open,
            worker: None,
            lease_id: None,
            lease_expires_at: None,
            stake: None,
            attempt: 0,
            output_cid: None,
            cell_root: None,
            submitted_block: None,
            times_rejected: 0,
            times_expired: 0,
            pay_reason: None,
            worker_reward: None,
            refund_reason: None,
            updated_block: block,
            verification_phase: None,
            verification_level: 0,
            draws: 0,
            deferrals: 0,
            phase_ends_at: None,
            seed_block: None,
            verdict: None,
            reject_reason: None,
        }
    }
}

/// One row of `accounts` (workers and verifiers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct AccountRow {
    pub address: Address,
    #[serde(with = "amount")]
    pub bonded: U256,
    #[serde(with = "amount")]
    pub locked: U256,
    #[serde(with = "amount")]
    pub unbonding: U256,
    pub unbonding_ready_at: i64,
    #[serde(with = "amount")]
    pub slashed: U256,
    pub tasks_claimed: i64,
    pub tasks_submitted: i64,
    pub tasks_completed: i64,
    pub tasks_rejected: i64,
    pub tasks_expired: i64,
    pub first_block: i64,
    pub updated_block: i64,
}

impl AccountRow {
    /// An account first seen at `block`.
    pub fn new(address: Address, block: i64) -> Self {
        Self {
            address,
            bonded: U256::ZERO,
            locked: U256::ZERO,
            unbonding: U256::ZERO,
            unbonding_ready_at: 0,
            slashed: U256::ZERO,
            tasks_claimed: 0,
            tasks_submitted: 0,
            tasks_completed: 0,
            tasks_rejected: 0,
            tasks_expired: 0,
            first_block: block,
            updated_block: block,
        }
    }
}

/// One row of `balances`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct BalanceRow {
    pub account: Address,
    pub token: Address,
    #[serde(with = "amount")]
    pub balance: U256,
    #[serde(with = "amount")]
    pub credited: U256,
    #[serde(with = "amount")]
    pub withdrawn: U256,
    #[serde(with = "amount")]
    pub worker_rewards: U256,
    pub updated_block: i64,
}

/// One row of `token_totals`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct TokenTotalsRow {
    pub token: Address,
    #[serde(with = "amount")]
    pub escrowed: U256,
    #[serde(with = "amount")]
    pub paid_to_workers: U256,
    #[serde(with = "amount")]
    pub protocol_fees: U256,
    #[serde(with = "amount")]
    pub verifier_fees: U256,
    #[serde(with = "amount")]
    pub refunded: U256,
    pub updated_block: i64,
}

/// The `network` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct NetworkRow {
    pub id: bool,
    pub jobs: i64,
    pub jobs_cancelled: i64,
    pub tasks: i64,
    pub tasks_paid: i64,
    pub tasks_refunded: i64,
    pub tasks_rejected: i64,
    pub tasks_expired: i64,
    #[serde(with = "amount")]
    pub staked: U256,
    #[serde(with = "amount")]
    pub slashed: U256,
    pub paused: bool,
    pub protocol_fee_bps: Option<i64>,
    pub treasury: Option<Address>,
    pub updated_block: i64,
    pub draws: i64,
    pub votes: i64,
    pub appeals: i64,
    pub data_challenges: i64,
}

impl Default for NetworkRow {
    fn default() -> Self {
        Self {
            id: true,
            jobs: 0,
            jobs_cancelled: 0,
            tasks: 0,
            tasks_paid: 0,
            tasks_refunded: 0,
            tasks_rejected: 0,
            tasks_expired: 0,
            staked: U256::ZERO,
            slashed: U256::ZERO,
            paused: false,
            protocol_fee_bps: None,
            treasury: None,
            updated_block: 0,
            draws: 0,
            votes: 0,
            appeals: 0,
            data_challenges: 0,
        }
    }
}

/// The key of a submission: (job, task, attempt).
pub type SubmissionKey = (i64, i64, i64);

/// One row of `draws`: a committee drawn for a submission, with its tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct DrawRow {
    pub job_id: i64,
    pub task_index: i64,
    pub attempt: i64,
    pub draw: i64,
    pub level: i64,
    pub seed: B256,
    pub seats: i64,
    pub members: i64,
    pub commit_ends_at: i64,
    pub reveal_ends_at: Option<i64>,
    pub verdict: Option<String>,
    pub approve_seats: Option<i64>,
    pub reject_seats: Option<i64>,
    pub appeal_ends_at: Option<i64>,
    pub tallied_block: Option<i64>,
    pub block_number: i64,
    pub block_timestamp: i64,
    pub tx_hash: B256,
    pub updated_block: i64,
}

/// One row of `draw_members`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct MemberRow {
    pub job_id: i64,
    pub task_index: i64,
    pub attempt: i64,
    pub draw: i64,
    pub verifier: Address,
    pub member_index: i64,
    pub seats: i64,
    pub committed_block: Option<i64>,
    pub approve: Option<bool>,
    pub render_proof: Option<B256>,
    pub revealed_block: Option<i64>,
    pub coherent: Option<bool>,
    #[serde(with = "amount::opt")]
    pub slashed: Option<U256>,
    pub settled_block: Option<i64>,
    pub updated_block: i64,
}

/// One row of `appeals`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct AppealRow {
    pub job_id: i64,
    pub task_index: i64,
    pub attempt: i64,
    pub level: i64,
    pub appellant: Address,
    pub request_approve: bool,
    #[serde(with = "amount")]
    pub bond: U256,
    pub upheld: Option<bool>,
    pub settled_block: Option<i64>,
    pub block_number: i64,
    pub block_timestamp: i64,
    pub tx_hash: B256,
    pub updated_block: i64,
}

/// One row of `data_challenges`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ChallengeRow {
    pub job_id: i64,
    pub task_index: i64,
    pub attempt: i64,
    pub draw: i64,
    pub challenger: Address,
    pub cells: Vec<i64>,
    pub respond_by: i64,
    pub provided_by: Option<Address>,
    pub data_hashes: Option<Vec<B256>>,
    pub provided_block: Option<i64>,
    pub block_number: i64,
    pub block_timestamp: i64,
    pub tx_hash: B256,
    pub updated_block: i64,
}

/// One row of `verifiers` (the registry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct VerifierRow {
    pub address: Address,
    pub registry_id: i64,
    pub tickets: i64,
    #[serde(with = "amount")]
    pub stake: U256,
    pub registered_block: i64,
    pub left_block: Option<i64>,
    pub releasable_at: Option<i64>,
    pub released_block: Option<i64>,
    pub updated_block: i64,
}

/// One row of `job_workers` (insert-only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct JobWorkerRow {
    pub job_id: i64,
    pub worker: Address,
    pub block_number: i64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rows_use_the_stored_encodings() {
        let mut row = AccountRow::new(Address::repeat_byte(0xAB), 7);
        row.bonded = U256::MAX;
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(
            json["address"],
            "0xabababababababababababababababababababab"
        );
        assert_eq!(
            json["bonded"],
            "115792089237316195423570985008687907853269984665640564039457584007913129639935"
        );
        let back: AccountRow = serde_json::from_value(json).unwrap();
        assert_eq!(back, row);
        assert_eq!(
            hash(&B256::repeat_byte(1)),
            format!("0x{}", "01".repeat(32))
        );
    }

    #[test]
    fn job_status_follows_the_counters() {
        let json = serde_json::json!({"status": "active"});
        let s: JobStatus = serde_json::from_value(json["status"].clone()).unwrap();
        assert_eq!(s, JobStatus::Active);
        assert_eq!(JobStatus::Cancelled.as_str(), "cancelled");
    }
}
