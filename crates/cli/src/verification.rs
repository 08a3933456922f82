//! A submitted task's verification as the artist sees it: where its committees stand (phase, level, draw,
//! members and their votes, the standing verdict, the phase's deadline), read from the chain for `job status`,
//! and `job appeal`, which checks that the verdict can be appealed before paying the contract's bond.

use crate::market::{KeyArgs, NetArgs};
use alloy::primitives::utils::format_ether;
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use anyhow::{Context, Result, anyhow, bail};
use std::io::{BufRead, Write};
use tessera_bindings::market::{Market, Member, VerificationState};
use tessera_bindings::{MemberState, Phase, TaskState, Verdict, committee, errors};

/// The job's terms that shape its verification (`getJob`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Terms {
    /// The artist.
    pub(crate) artist: Address,
    /// Seats of the first committee.
    pub(crate) quorum: u64,
    /// Whether an undisputed result is paid after the challenge window.
    pub(crate) optimistic: bool,
}

/// Reads the job's verification terms.
pub(crate) async fn terms(m: &Market, job: u64) -> Result<Terms> {
    let j = m
        .market
        .getJob(U256::from(job))
        .call()
        .await
        .map_err(|e| anyhow!("{}", errors::describe(&e)))?;
    Ok(Terms {
        artist: j.artist,
        quorum: u64::try_from(j.quorum).context("quorum does not fit 64 bits")?,
        optimistic: j.optimistic,
    })
}

/// What the phase means for this task, in words.
pub(crate) fn phase_label(v: &VerificationState, optimistic: bool) -> &'static str {
    match v.phase {
        Phase::None if optimistic => "open to dispute",
        Phase::None | Phase::AwaitingDraw => "awaiting draw",
        Phase::Commit => "commit",
        Phase::Reveal => "reveal",
        Phase::DataChallenge => "data challenge",
        Phase::Appealable => "appealable",
    }
}

/// What ends when the current phase ends.
fn deadline_label(v: &VerificationState, optimistic: bool) -> &'static str {
    match v.phase {
        Phase::None if optimistic => "dispute until",
        Phase::None | Phase::AwaitingDraw => "draw from",
        Phase::Commit => "commit until",
        Phase::Reveal => "reveal until",
        Phase::DataChallenge => "answer until",
        Phase::Appealable => "appeal until",
    }
}

fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::None => "none",
        Verdict::Approve => "approve",
        Verdict::Reject => "reject",
    }
}

fn member_state_name(s: MemberState) -> &'static str {
    match s {
        MemberState::Drawn => "drawn, no vote yet",
        MemberState::Committed => "committed",
        MemberState::RevealedApprove => "revealed approve",
        MemberState::RevealedReject => "revealed reject",
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `2025-06-01 12:00:00 UTC` for a unix time.
pub(crate) fn utc(ts: u64) -> String {
    let days = ts / 86_400;
    let secs = ts % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm, for non-negative days).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// `1h 2m 3s`.
fn span(mut s: u64) -> String {
    let mut parts = Vec::new();
    for (unit, len) in [("d", 86_400), ("h", 3600), ("m", 60)] {
        if s >= len {
            parts.push(format!("{}{unit}", s / len));
            s %= len;
        }
    }
    if s > 0 || parts.is_empty() {
        parts.push(format!("{s}s"));
    }
    parts.join(" ")
}

/// A deadline, readable and as unix time, relative to the chain's clock `now`.
pub(crate) fn when(ts: u64, now: u64) -> String {
    let rel = if ts > now {
        format!("in {}", span(ts - now))
    } else if ts == now {
        "now".to_owned()
    } else {
        format!("{} ago", span(now - ts))
    };
    format!("{} (unix {ts}, {rel})", utc(ts))
}

/// The lines `job status` prints under a submitted task.
pub(crate) fn describe(
    v: &VerificationState,
    members: &[Member],
    terms: &Terms,
    now: u64,
) -> Vec<String> {
    let mut lines = Vec::new();
    let phase = phase_label(v, terms.optimistic);
    let verdict = if v.verdict == Verdict::None {
        "none".to_owned()
    } else {
        format!("{} (level {})", verdict_name(v.verdict), v.decided_level)
    };
    let challenged = if v.challenged {
        "data challenged"
    } else {
        "not challenged"
    };
    match v.phase {
        Phase::None | Phase::AwaitingDraw => {
            let next = if v.phase == Phase::None && terms.optimistic {
                "no committee unless disputed".to_owned()
            } else {
                let seed = if v.seed_block == 0 {
                    String::new()
                } else {
                    format!(", seeded by block {}", v.seed_block)
                };
                format!(
                    "draw {} of {} seats due{seed}",
                    v.draws + 1,
                    committee::seats_at(terms.quorum, v.level)
                )
            };
            let deferrals = if v.deferrals > 0 {
                format!(" (deferred {} times for free seats)", v.deferrals)
            } else {
                String::new()
            };
            lines.push(format!(
                "verification  {phase}, level {}: {next}{deferrals}; verdict {verdict}",
                v.level
            ));
        }
        _ => lines.push(format!(
            "verification  {phase}, level {}, draw {}: {} seat{}, {} member{}, committed {}/{}, revealed {}/{}; verdict \
             {verdict}; {challenged}",
            v.level,
            v.draws,
            v.seats,
            plural(v.seats),
            v.members,
            plural(v.members),
            v.committed,
            v.members,
            v.revealed,
            v.members
        )),
    }
    if v.phase_ends_at != 0 {
        lines.push(format!(
            "{:<13} {}",
            deadline_label(v, terms.optimistic),
            when(v.phase_ends_at, now)
        ));
    }
    for (i, m) in members.iter().enumerate() {
        lines.push(format!(
            "member {i:<6} {}  {} seat{}  {}",
            m.verifier.to_string().to_lowercase(),
            m.seats,
            plural(m.seats),
            member_state_name(m.state)
        ));
    }
    lines
}

/// The verification of a submitted task as `job status --json` writes it (docs/cli.md): the same facts as
/// [`describe`], as fields.
pub(crate) fn to_json(
    v: &VerificationState,
    members: &[Member],
    terms: &Terms,
) -> serde_json::Value {
    let member_state = |s: MemberState| match s {
        MemberState::Drawn => "drawn",
        MemberState::Committed => "committed",
        MemberState::RevealedApprove => "approve",
        MemberState::RevealedReject => "reject",
    };
    serde_json::json!({
        "phase": phase_label(v, terms.optimistic),
        "level": v.level,
        "draw": v.draws,
        "seats": v.seats,
        "members": v.members,
        "committed": v.committed,
        "revealed": v.revealed,
        "verdict": verdict_name(v.verdict),
        "decidedLevel": (v.verdict != Verdict::None).then_some(v.decided_level),
        "challenged": v.challenged,
        "phaseEndsAt": (v.phase_ends_at != 0).then_some(v.phase_ends_at),
        "seedBlock": (v.seed_block != 0).then_some(v.seed_block),
        "deferrals": v.deferrals,
        "committee": members.iter().map(|m| serde_json::json!({
            "verifier": crate::lower(m.verifier),
            "seats": m.seats,
            "vote": member_state(m.state),
        })).collect::<Vec<_>>(),
    })
}

/// Members of the current draw, when a draw is under way or decided.
pub(crate) async fn current_members(
    m: &Market,
    job: u64,
    task: u64,
    v: &VerificationState,
) -> Result<Vec<Member>> {
    if v.draws == 0 || matches!(v.phase, Phase::None | Phase::AwaitingDraw) {
        return Ok(Vec::new());
    }
    m.members(job, task, v.draws - 1).await
}

/// The level an appeal of the task's verdict would go to now, or why it cannot be appealed, in words.
pub(crate) fn appeal_refusal(
    job: u64,
    task: u64,
    v: &VerificationState,
    terms: &Terms,
    now: u64,
) -> std::result::Result<u64, String> {
    let ends = when(v.phase_ends_at, now);
    match v.phase {
        Phase::None if terms.optimistic => {
            if now < v.phase_ends_at {
                Ok(0)
            } else {
                Err(format!(
                    "the dispute window of task {task} of job {job} ended at {ends}: the result is paid when \
                     the task is finalized"
                ))
            }
        }
        Phase::Appealable => {
            if now < v.phase_ends_at {
                Ok(v.level + 1)
            } else {
                Err(format!(
                    "the appeal window of task {task} of job {job} ended at {ends}: its {} verdict (level {}) \
                     stands and settles when the task is finalized",
                    verdict_name(v.verdict),
                    v.decided_level
                ))
            }
        }
        Phase::None | Phase::AwaitingDraw => Err(format!(
            "task {task} of job {job} has no verdict to appeal: it awaits the draw of its level {} committee; a \
             verdict can be appealed in the appeal window after the committee votes",
            v.level
        )),
        Phase::Commit | Phase::Reveal | Phase::DataChallenge => Err(format!(
            "task {task} of job {job} has no verdict to appeal yet: its level {} committee is in its {} phase \
             (ends at {ends}); a verdict can be appealed in the appeal window after the committee votes",
            v.level,
            phase_label(v, terms.optimistic)
        )),
    }
}

/// Asks `question` on stderr and reads the answer from stdin: `y` or `yes` is a yes; anything else, or no input
/// at all (stdin closed or not a terminal), is a no.
fn confirm(question: &str) -> Result<bool> {
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the answer")?;
    Ok(matches!(line.trim().to_lowercase().as_str(), "y" | "yes"))
}

/// `job appeal`: appeals a task's standing verdict (or disputes an optimistic result), paying the bond.
pub(crate) async fn appeal(
    net: NetArgs,
    key: KeyArgs,
    job: u64,
    task: u64,
    yes: bool,
) -> Result<()> {
    let m = net.signed(&key).await?;
    let terms = terms(&m, job).await?;
    let t = m.task(job, task).await?;
    if t.state != TaskState::Submitted {
        bail!(
            "task {task} of job {job} is {}, which does not allow an appeal: only a submitted result under \
             verification can be appealed",
            t.state.as_str().to_lowercase()
        );
    }
    if m.me != terms.artist && m.me != t.worker {
        let info = m.verifier_info().await?;
        if info.id.is_zero() || !info.leavingSince.is_zero() {
            bail!(
                "{} may not appeal task {task} of job {job}: only the artist ({}), the worker ({}) or an active \
                 registered verifier may; use the keystore that posted the job",
                m.me,
                terms.artist,
                t.worker
            );
        }
    }
    let v = m.verification(job, task).await?;
    let now = m.now().await?;
    let level = appeal_refusal(job, task, &v, &terms, now).map_err(|e| anyhow!(e))?;
    let bond = m
        .market
        .appealBond(U256::from(job), U256::from(level))
        .call()
        .await
        .map_err(|e| anyhow!("reading the appeal bond: {}", errors::describe(&e)))?;
    let seats = committee::seats_at(terms.quorum, level);
    let what = if v.phase == Phase::None {
        format!("dispute the result of task {task} of job {job}")
    } else {
        format!(
            "appeal the {} verdict (level {}) of task {task} of job {job}",
            verdict_name(v.verdict),
            v.decided_level
        )
    };
    eprintln!(
        "{what}: a committee of {seats} seats at level {level} will be drawn; the bond is {} ETH, credited back \
         unless the final verdict goes against the appeal. Appeals are open until {}.",
        format_ether(bond),
        when(v.phase_ends_at, now)
    );
    let have = m.provider.get_balance(m.me).await?;
    if have < bond {
        bail!(
            "no funds: {} holds {} ETH; the appeal bond is {} ETH plus gas",
            m.me,
            format_ether(have),
            format_ether(bond)
        );
    }
    if !yes {
        if !confirm(&format!("Pay {} ETH to {what}?", format_ether(bond)))? {
            bail!("not appealed: the bond was not confirmed (pass --yes to skip the question)");
        }
        // The prompt may have waited: the verification may have moved on.
        let again = m.verification(job, task).await?;
        let now = m.now().await?;
        let level_now = appeal_refusal(job, task, &again, &terms, now).map_err(|e| anyhow!(e))?;
        if level_now != level || again.draws != v.draws {
            bail!(
                "the verification of task {task} of job {job} changed while waiting for the answer; run the \
                 command again"
            );
        }
    }
    let paid = m.appeal(job, task).await?;
    let after = m.verification(job, task).await?;
    let seats = committee::seats_at(terms.quorum, after.level);
    crate::json::say(
        || {
            format!(
                "task {task} of job {job} appealed to level {}: {} ETH bond paid; a committee of {seats} seats \
                 will be drawn from block {}",
                after.level,
                format_ether(paid),
                after.seed_block
            )
        },
        || {
            serde_json::json!({
                "kind": "appealed",
                "jobId": job,
                "task": task,
                "level": after.level,
                "bondWei": paid.to_string(),
                "seats": seats,
                "seedBlock": after.seed_block,
            })
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(phase: Phase, ends: u64) -> VerificationState {
        VerificationState {
            phase,
            level: 0,
            draws: 1,
            seats: 3,
            members: 2,
            committed: 2,
            revealed: 2,
            verdict: Verdict::Approve,
            decided_level: 0,
            deferrals: 0,
            phase_ends_at: ends,
            seed_block: 0,
            challenged: false,
        }
    }

    const TERMS: Terms = Terms {
        artist: Address::ZERO,
        quorum: 3,
        optimistic: false,
    };

    #[test]
    fn unix_times_read_as_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_748_779_845), "2025-06-01 12:10:45 UTC");
        assert_eq!(
            when(1000, 400),
            "1970-01-01 00:16:40 UTC (unix 1000, in 10m)"
        );
        assert_eq!(
            when(400, 4061),
            "1970-01-01 00:06:40 UTC (unix 400, 1h 1m 1s ago)"
        );
    }

    #[test]
    fn only_a_verdict_in_its_window_or_an_optimistic_result_in_its_window_is_appealable() {
        assert_eq!(
            appeal_refusal(1, 0, &state(Phase::Appealable, 100), &TERMS, 99),
            Ok(1)
        );
        let over =
            appeal_refusal(1, 0, &state(Phase::Appealable, 100), &TERMS, 100).expect_err("refused");
        assert!(over.contains("appeal window"), "{over}");
        let commit =
            appeal_refusal(1, 0, &state(Phase::Commit, 100), &TERMS, 50).expect_err("refused");
        assert!(commit.contains("no verdict to appeal yet"), "{commit}");
        let draw = appeal_refusal(1, 0, &state(Phase::None, 0), &TERMS, 50).expect_err("refused");
        assert!(draw.contains("awaits the draw"), "{draw}");
        let optimistic = Terms {
            optimistic: true,
            ..TERMS
        };
        assert_eq!(
            appeal_refusal(1, 0, &state(Phase::None, 100), &optimistic, 99),
            Ok(0)
        );
        let late =
            appeal_refusal(1, 0, &state(Phase::None, 100), &optimistic, 100).expect_err("refused");
        assert!(late.contains("dispute window"), "{late}");
    }

    #[test]
    fn a_committee_in_progress_is_described_with_its_members() {
        let v = VerificationState {
            committed: 1,
            revealed: 0,
            verdict: Verdict::None,
            ..state(Phase::Commit, 1000)
        };
        let members = [
            Member {
                verifier: Address::repeat_byte(1),
                seats: 2,
                state: MemberState::Committed,
            },
            Member {
                verifier: Address::repeat_byte(2),
                seats: 1,
                state: MemberState::Drawn,
            },
        ];
        let lines = describe(&v, &members, &TERMS, 400);
        assert!(
            lines[0].contains("commit, level 0, draw 1: 3 seats, 2 members"),
            "{lines:?}"
        );
        assert!(
            lines[0].contains("committed 1/2, revealed 0/2"),
            "{lines:?}"
        );
        assert!(lines[1].starts_with("commit until  1970"), "{lines:?}");
        assert!(lines[1].contains("unix 1000, in 10m"), "{lines:?}");
        assert!(lines[2].contains("2 seats  committed"), "{lines:?}");
        assert!(lines[3].contains("1 seat  drawn"), "{lines:?}");
    }
}
