// Handlers doing the work of Tessera's indexer/src/project.rs, so that the benchmark compares engines on equal
// work: every event is stored as a row (name, location, job/task, decoded args as JSON, raw topics and data),
// and the jobs, tasks (created open in bulk when a job is submitted), job_workers, draws and their members,
// appeals, data challenges, verifiers, accounts, balances, token totals and network rows are maintained.
import { ponder } from "ponder:registry";
import {
  account,
  appeal,
  balance,
  dataChallenge,
  draw as drawRow,
  drawMember,
  event as eventRow,
  job,
  jobWorker,
  network,
  task,
  tokenTotals,
  verifier,
} from "ponder:schema";

type Ctx = any;
type Ev = any;
const CHAIN_ID = 31337;

const toJson = (v: unknown): unknown => {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(toJson);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toJson(x)]));
  }
  return v;
};

async function record(name: string, event: Ev, context: Ctx, jobId?: bigint, taskIndex?: bigint) {
  await context.db.insert(eventRow).values({
    id: event.id,
    chainId: CHAIN_ID,
    txHash: event.transaction.hash,
    logIndex: event.log.logIndex,
    blockNumber: event.block.number,
    blockHash: event.block.hash,
    blockTimestamp: event.block.timestamp,
    txIndex: event.transaction.transactionIndex,
    name,
    jobId: jobId ?? null,
    taskIndex: taskIndex ?? null,
    args: toJson(event.args),
    topics: "0x" + (event.log.topics as string[]).filter((t) => t).map((t) => t.slice(2)).join(""),
    data: event.log.data,
  });
}

const sub0 = (a: bigint, b: bigint) => (a > b ? a - b : 0n);

const newAccount = (address: `0x${string}`, block: bigint) => ({
  address,
  bonded: 0n,
  locked: 0n,
  unbonding: 0n,
  unbondingReadyAt: 0n,
  slashed: 0n,
  tasksClaimed: 0n,
  tasksSubmitted: 0n,
  tasksCompleted: 0n,
  tasksRejected: 0n,
  tasksExpired: 0n,
  firstBlock: block,
  updatedBlock: block,
});
async function upsertAccount(context: Ctx, address: `0x${string}`, block: bigint, f: (r: any) => any) {
  const fresh = newAccount(address, block);
  await context.db
    .insert(account)
    .values({ ...fresh, ...f(fresh) })
    .onConflictDoUpdate((r: any) => ({ ...f(r), updatedBlock: block }));
}

async function upsertBalance(context: Ctx, acct: `0x${string}`, token: `0x${string}`, block: bigint, f: (r: any) => any) {
  const fresh = { account: acct, token, balance: 0n, credited: 0n, withdrawn: 0n, workerRewards: 0n, updatedBlock: block };
  await context.db
    .insert(balance)
    .values({ ...fresh, ...f(fresh) })
    .onConflictDoUpdate((r: any) => ({ ...f(r), updatedBlock: block }));
}

async function upsertToken(context: Ctx, token: `0x${string}`, block: bigint, f: (r: any) => any) {
  const fresh = { token, escrowed: 0n, paidToWorkers: 0n, protocolFees: 0n, verifierFees: 0n, refunded: 0n, updatedBlock: block };
  await context.db
    .insert(tokenTotals)
    .values({ ...fresh, ...f(fresh) })
    .onConflictDoUpdate((r: any) => ({ ...f(r), updatedBlock: block }));
}

async function upsertNetwork(context: Ctx, block: bigint, f: (r: any) => any) {
  const fresh = {
    id: 1,
    jobs: 0n,
    jobsCancelled: 0n,
    tasks: 0n,
    tasksPaid: 0n,
    tasksRefunded: 0n,
    tasksRejected: 0n,
    tasksExpired: 0n,
    draws: 0n,
    votes: 0n,
    appeals: 0n,
    dataChallenges: 0n,
    staked: 0n,
    slashed: 0n,
    paused: false,
    protocolFeeBps: null,
    treasury: null,
    updatedBlock: block,
  };
  await context.db
    .insert(network)
    .values({ ...fresh, ...f(fresh) })
    .onConflictDoUpdate((r: any) => ({ ...f(r), updatedBlock: block }));
}

const counter: Record<string, string> = {
  open: "tasksOpen",
  claimed: "tasksClaimed",
  submitted: "tasksSubmitted",
  paid: "tasksPaid",
  refunded: "tasksRefunded",
};
const status = (j: any) =>
  j.openRefund === "cancelled" ? "cancelled" : j.tasksPaid + j.tasksRefunded === j.taskCount ? "finished" : "active";

/** Updates a task; returns its row before and after. */
async function updateTask(context: Ctx, jobId: bigint, taskIndex: bigint, block: bigint, f: (r: any) => any) {
  let before: any;
  const after = await context.db.update(task, { jobId, taskIndex }).set((r: any) => {
    before = { ...r };
    return { ...f(r), updatedBlock: block };
  });
  return { before, after };
}

/** Moves a job's task counters from `from` to `to` and applies `f`; returns the job row. */
async function updateJob(context: Ctx, jobId: bigint, block: bigint, from: string | null, to: string | null, f: (r: any) => any = () => ({})) {
  return context.db.update(job, { jobId }).set((r: any) => {
    const next: any = { ...r, ...f(r), updatedBlock: block };
    if (from) next[counter[from]!] = next[counter[from]!] - 1n;
    if (to) next[counter[to]!] = next[counter[to]!] + 1n;
    next.status = status(next);
    const { jobId: _k, ...rest } = next;
    return rest;
  });
}

/** Releases the stake a task's claim locked (account.locked -= stake). */
async function release(context: Ctx, before: any, block: bigint) {
  if (before.stake != null && before.worker != null) {
    const stake = before.stake as bigint;
    await upsertAccount(context, before.worker, block, (r) => ({ locked: sub0(r.locked, stake) }));
  }
}

// The contract's enums as indexer/src/events.rs stores them.
const PAY = ["verified", "accepted_by_artist", "challenge_window_elapsed"];
const REFUND = ["cancelled", "deadline_passed", "unverified", "attempts_exhausted"];
const REOPEN = ["lease_expired", "rejected", "data_withheld"];
const REJECT = ["verdict", "data_withheld"];
const VERDICT = ["none", "approve", "reject"];
/** Blocks between a submission (appeal, escalation) and the block whose hash seeds its draw (`DRAW_DELAY`). */
const DRAW_DELAY = 1n;
/** A task's verification columns once its submission leaves verification. */
const endVerification = { verificationPhase: null, phaseEndsAt: null, seedBlock: null };
/** The current submission's attempt, as the task row holds it. */
async function attemptOf(context: Ctx, jobId: bigint, taskIndex: bigint): Promise<bigint> {
  const t = await context.db.find(task, { jobId, taskIndex });
  return t.attempt as bigint;
}

ponder.on("DistributedRender:JobSubmitted", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  const s = e.spec;
  const r = s.settings;
  const n = e.taskCount as bigint;
  await record("JobSubmitted", event, context, e.jobId);
  await context.db.insert(job).values({
    jobId: e.jobId,
    artist: e.artist,
    token: e.token,
    sceneCid: s.sceneCid,
    rendererId: s.rendererId,
    width: BigInt(r.width),
    height: BigInt(r.height),
    samplesPerPixel: BigInt(r.samplesPerPixel),
    maxBounces: BigInt(r.maxBounces),
    frameStart: BigInt(r.frameStart),
    frameCount: BigInt(r.frameCount),
    regionsX: BigInt(r.regionsX),
    regionsY: BigInt(r.regionsY),
    cellSize: BigInt(r.cellSize),
    seed: BigInt(r.seed),
    rewardPerTask: BigInt(s.rewardPerTask),
    verifierFeeBps: BigInt(s.verifierFeeBps),
    workerStakePerTask: BigInt(s.workerStakePerTask),
    deadline: BigInt(s.deadline),
    leaseDuration: BigInt(s.leaseDuration),
    challengeWindow: BigInt(s.challengeWindow),
    quorum: BigInt(s.quorum),
    optimistic: s.optimistic,
    taskCount: n,
    escrow: e.escrow,
    protocolFeeBps: e.protocolFeeBps,
    status: "active",
    openRefund: null,
    tasksOpen: n,
    tasksClaimed: 0n,
    tasksSubmitted: 0n,
    tasksPaid: 0n,
    tasksRefunded: 0n,
    rejections: 0n,
    paidToWorkers: 0n,
    refunded: 0n,
    createdBlock: block,
    createdTx: event.transaction.hash,
    createdAt: event.block.timestamp,
    updatedBlock: block,
  });
  // Every task starts open, in bulk (as Tessera does).
  const rows = new Array(Number(n));
  for (let i = 0; i < rows.length; i++) {
    rows[i] = {
      jobId: e.jobId,
      taskIndex: BigInt(i),
      state: "open",
      attempt: 0n,
      verificationLevel: 0n,
      draws: 0n,
      deferrals: 0n,
      timesRejected: 0n,
      timesExpired: 0n,
      updatedBlock: block,
    };
  }
  await context.db.insert(task).values(rows);
  await upsertToken(context, e.token, block, (t) => ({ escrowed: t.escrowed + e.escrow }));
  await upsertNetwork(context, block, (x) => ({ jobs: x.jobs + 1n, tasks: x.tasks + n }));
});

async function refundOpen(event: Ev, context: Ctx, why: string) {
  const e = event.args as any;
  const block = event.block.number;
  await record(why === "cancelled" ? "JobCancelled" : "OpenTasksReclaimed", event, context, e.jobId);
  const n = e.refundedTasks as bigint;
  const j = await updateJob(context, e.jobId, block, null, null, (r) => ({
    openRefund: why,
    tasksOpen: r.tasksOpen - n,
    tasksRefunded: r.tasksRefunded + n,
    refunded: r.refunded + e.refund,
  }));
  await upsertToken(context, j.token, block, (t) => ({ refunded: t.refunded + e.refund }));
  await upsertNetwork(context, block, (x) => ({
    tasksRefunded: x.tasksRefunded + n,
    jobsCancelled: x.jobsCancelled + (why === "cancelled" ? 1n : 0n),
  }));
}
ponder.on("DistributedRender:JobCancelled", async ({ event, context }) => refundOpen(event, context, "cancelled"));
ponder.on("DistributedRender:OpenTasksReclaimed", async ({ event, context }) => refundOpen(event, context, "deadline_passed"));

ponder.on("DistributedRender:TaskClaimed", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("TaskClaimed", event, context, e.jobId, e.taskIndex);
  const { before } = await updateTask(context, e.jobId, e.taskIndex, block, () => ({
    state: "claimed",
    worker: e.worker,
    leaseId: e.leaseId,
    leaseExpiresAt: e.expiresAt,
    stake: e.stake === 0n ? null : e.stake,
  }));
  await updateJob(context, e.jobId, block, before.state, "claimed");
  await upsertAccount(context, e.worker, block, (a) => ({ locked: a.locked + e.stake, tasksClaimed: a.tasksClaimed + 1n }));
  await context.db.insert(jobWorker).values({ worker: e.worker, jobId: e.jobId, blockNumber: block }).onConflictDoNothing();
});

ponder.on("DistributedRender:ResultSubmitted", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("ResultSubmitted", event, context, e.jobId, e.taskIndex);
  const j = (await context.db.find(job, { jobId: e.jobId }))!;
  // An optimistic result can be disputed until the window ends.
  const windowEnd = j.optimistic ? event.block.timestamp + j.challengeWindow : null;
  const { before } = await updateTask(context, e.jobId, e.taskIndex, block, () => ({
    state: "submitted",
    attempt: BigInt(e.attempt),
    outputCid: e.outputCid,
    cellRoot: e.cellRoot,
    submittedBlock: block,
    verificationPhase: "none",
    verificationLevel: 0n,
    draws: 0n,
    deferrals: 0n,
    verdict: null,
    phaseEndsAt: windowEnd,
    seedBlock: block + DRAW_DELAY,
  }));
  await updateJob(context, e.jobId, block, before.state, "submitted");
  await upsertAccount(context, e.worker, block, (a) => ({ tasksSubmitted: a.tasksSubmitted + 1n }));
});

ponder.on("DistributedRender:CommitteeDrawn", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("CommitteeDrawn", event, context, e.jobId, e.taskIndex);
  const attempt = BigInt(e.attempt);
  const draw = BigInt(e.draw);
  let seats = 0n;
  const members = (e.members as `0x${string}`[]).map((v, i) => {
    seats += BigInt(e.seats[i]);
    return {
      jobId: e.jobId,
      taskIndex: e.taskIndex,
      attempt,
      draw,
      verifier: v,
      memberIndex: BigInt(i),
      seats: BigInt(e.seats[i]),
      updatedBlock: block,
    };
  });
  if (members.length > 0) await context.db.insert(drawMember).values(members);
  await context.db.insert(drawRow).values({
    jobId: e.jobId,
    taskIndex: e.taskIndex,
    attempt,
    draw,
    level: BigInt(e.level),
    seed: e.seed,
    seats,
    members: BigInt(members.length),
    commitEndsAt: BigInt(e.commitEndsAt),
    blockNumber: block,
    blockTimestamp: event.block.timestamp,
    txHash: event.transaction.hash,
    updatedBlock: block,
  });
  await updateTask(context, e.jobId, e.taskIndex, block, () => ({
    verificationPhase: "commit",
    verificationLevel: BigInt(e.level),
    draws: draw + 1n,
    phaseEndsAt: BigInt(e.commitEndsAt),
    seedBlock: null,
  }));
  await upsertNetwork(context, block, (x) => ({ draws: x.draws + 1n }));
});

ponder.on("DistributedRender:DrawDeferred", async ({ event, context }) => {
  const e = event.args as any;
  await record("DrawDeferred", event, context, e.jobId, e.taskIndex);
  const retryAt = BigInt(e.retryAt);
  await updateTask(context, e.jobId, e.taskIndex, event.block.number, (t) => ({
    verificationPhase: "awaiting_draw",
    seedBlock: BigInt(e.seedBlock),
    phaseEndsAt: retryAt !== 0n ? retryAt : null,
    deferrals: t.deferrals + (e.empty ? 1n : 0n),
  }));
});

async function updateMember(context: Ctx, e: any, block: bigint, f: (m: any) => any) {
  const attempt = await attemptOf(context, e.jobId, e.taskIndex);
  await context.db
    .update(drawMember, { jobId: e.jobId, taskIndex: e.taskIndex, attempt, draw: BigInt(e.draw), verifier: e.verifier })
    .set((m: any) => ({ ...f(m), updatedBlock: block }));
}

ponder.on("DistributedRender:VoteCommitted", async ({ event, context }) => {
  const e = event.args as any;
  await record("VoteCommitted", event, context, e.jobId, e.taskIndex);
  await updateMember(context, e, event.block.number, () => ({ committedBlock: event.block.number }));
});

ponder.on("DistributedRender:RevealStarted", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("RevealStarted", event, context, e.jobId, e.taskIndex);
  const attempt = await attemptOf(context, e.jobId, e.taskIndex);
  const ends = BigInt(e.revealEndsAt);
  await context.db
    .update(drawRow, { jobId: e.jobId, taskIndex: e.taskIndex, attempt, draw: BigInt(e.draw) })
    .set({ revealEndsAt: ends, updatedBlock: block });
  await updateTask(context, e.jobId, e.taskIndex, block, () => ({ verificationPhase: "reveal", phaseEndsAt: ends }));
});

ponder.on("DistributedRender:VoteRevealed", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("VoteRevealed", event, context, e.jobId, e.taskIndex);
  await updateMember(context, e, block, () => ({ approve: e.approve, renderProof: e.renderProof, revealedBlock: block }));
  await upsertNetwork(context, block, (x) => ({ votes: x.votes + 1n }));
});

ponder.on("DistributedRender:RoundTallied", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("RoundTallied", event, context, e.jobId, e.taskIndex);
  const attempt = await attemptOf(context, e.jobId, e.taskIndex);
  const v = VERDICT[Number(e.verdict)]!;
  const appealEndsAt = BigInt(e.appealEndsAt);
  await context.db.update(drawRow, { jobId: e.jobId, taskIndex: e.taskIndex, attempt, draw: BigInt(e.draw) }).set({
    verdict: v,
    approveSeats: BigInt(e.approveSeats),
    rejectSeats: BigInt(e.rejectSeats),
    appealEndsAt,
    talliedBlock: block,
    updatedBlock: block,
  });
  await updateTask(context, e.jobId, e.taskIndex, block, (t) => ({
    verdict: v !== "none" ? v : t.verdict,
    ...(appealEndsAt !== 0n
      ? { verificationPhase: "appealable", phaseEndsAt: appealEndsAt }
      : {
          // Escalated at once to the next level (or concluded by the settlement events that follow).
          verificationPhase: "awaiting_draw",
          verificationLevel: BigInt(e.level) + 1n,
          phaseEndsAt: null,
          seedBlock: block + DRAW_DELAY,
        }),
  }));
});

ponder.on("DistributedRender:VerdictAppealed", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("VerdictAppealed", event, context, e.jobId, e.taskIndex);
  const attempt = await attemptOf(context, e.jobId, e.taskIndex);
  await context.db.insert(appeal).values({
    jobId: e.jobId,
    taskIndex: e.taskIndex,
    attempt,
    level: BigInt(e.level),
    appellant: e.appellant,
    requestApprove: e.requestApprove,
    bond: e.bond,
    blockNumber: block,
    blockTimestamp: event.block.timestamp,
    txHash: event.transaction.hash,
    updatedBlock: block,
  });
  await updateTask(context, e.jobId, e.taskIndex, block, () => ({
    verificationPhase: "awaiting_draw",
    verificationLevel: BigInt(e.level),
    phaseEndsAt: null,
    seedBlock: block + DRAW_DELAY,
  }));
  await upsertNetwork(context, block, (x) => ({ appeals: x.appeals + 1n }));
});

ponder.on("DistributedRender:DataChallenged", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("DataChallenged", event, context, e.jobId, e.taskIndex);
  const attempt = await attemptOf(context, e.jobId, e.taskIndex);
  const respondBy = BigInt(e.respondBy);
  await context.db.insert(dataChallenge).values({
    jobId: e.jobId,
    taskIndex: e.taskIndex,
    attempt,
    draw: BigInt(e.draw),
    challenger: e.challenger,
    cells: (e.cells as number[]).map((c) => BigInt(c)),
    respondBy,
    blockNumber: block,
    blockTimestamp: event.block.timestamp,
    txHash: event.transaction.hash,
    updatedBlock: block,
  });
  await updateTask(context, e.jobId, e.taskIndex, block, () => ({ verificationPhase: "data_challenge", phaseEndsAt: respondBy }));
  await upsertNetwork(context, block, (x) => ({ dataChallenges: x.dataChallenges + 1n }));
});

ponder.on("DistributedRender:DataProvided", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("DataProvided", event, context, e.jobId, e.taskIndex);
  const j = (await context.db.find(job, { jobId: e.jobId }))!;
  // The answer concerns the current draw, whose commit phase starts again for a window.
  const { after } = await updateTask(context, e.jobId, e.taskIndex, block, () => ({
    verificationPhase: "commit",
    phaseEndsAt: event.block.timestamp + j.challengeWindow,
  }));
  await context.db
    .update(dataChallenge, { jobId: e.jobId, taskIndex: e.taskIndex, attempt: after.attempt, draw: after.draws - 1n })
    .set({ providedBy: e.by, dataHashes: e.dataHashes, providedBlock: block, updatedBlock: block });
});

ponder.on("DistributedRender:VoteSettled", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("VoteSettled", event, context, e.jobId, e.taskIndex);
  await updateMember(context, e, block, () => ({ coherent: e.coherent, slashed: e.slashed, settledBlock: block }));
  if (e.slashed !== 0n) {
    const v = await context.db.find(verifier, { address: e.verifier });
    if (v) {
      await context.db.update(verifier, { address: e.verifier }).set({ stake: sub0(v.stake, e.slashed), updatedBlock: block });
      // The StakeSlashed just before this event took verifier stake, not bonded stake (Tessera looks ahead
      // for this pair; a Ponder handler cannot, so it gives the bonded stake back).
      await upsertAccount(context, e.verifier, block, (a) => ({ bonded: a.bonded + e.slashed }));
    }
  }
});

ponder.on("DistributedRender:AppealSettled", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("AppealSettled", event, context, e.jobId, e.taskIndex);
  const attempt = await attemptOf(context, e.jobId, e.taskIndex);
  await context.db
    .update(appeal, { jobId: e.jobId, taskIndex: e.taskIndex, attempt, level: BigInt(e.level) })
    .set({ upheld: e.upheld, settledBlock: block, updatedBlock: block });
});

ponder.on("DistributedRender:TaskPaid", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("TaskPaid", event, context, e.jobId, e.taskIndex);
  const { before } = await updateTask(context, e.jobId, e.taskIndex, block, () => ({
    stake: null,
    state: "paid",
    payReason: PAY[Number(e.reason)],
    workerReward: e.workerReward,
    ...endVerification,
  }));
  await release(context, before, block);
  const j = await updateJob(context, e.jobId, block, before.state, "paid", (r) => ({
    paidToWorkers: r.paidToWorkers + e.workerReward,
  }));
  await upsertAccount(context, e.worker, block, (a) => ({ tasksCompleted: a.tasksCompleted + 1n }));
  await upsertBalance(context, e.worker, j.token, block, (b) => ({ workerRewards: b.workerRewards + e.workerReward }));
  await upsertToken(context, j.token, block, (t) => ({
    paidToWorkers: t.paidToWorkers + e.workerReward,
    protocolFees: t.protocolFees + e.protocolFee,
    verifierFees: t.verifierFees + e.verifierFees,
  }));
  await upsertNetwork(context, block, (x) => ({ tasksPaid: x.tasksPaid + 1n }));
});

ponder.on("DistributedRender:TaskRejected", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("TaskRejected", event, context, e.jobId, e.taskIndex);
  const { before } = await updateTask(context, e.jobId, e.taskIndex, block, (t) => ({
    stake: null,
    timesRejected: t.timesRejected + 1n,
    rejectReason: REJECT[Number(e.reason)],
    ...endVerification,
  }));
  await release(context, before, block);
  await updateJob(context, e.jobId, block, null, null, (r) => ({ rejections: r.rejections + 1n }));
  await upsertAccount(context, e.worker, block, (a) => ({ tasksRejected: a.tasksRejected + 1n }));
  await upsertNetwork(context, block, (x) => ({ tasksRejected: x.tasksRejected + 1n }));
});

ponder.on("DistributedRender:TaskReopened", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  const expired = REOPEN[Number(e.reason)] === "lease_expired";
  await record("TaskReopened", event, context, e.jobId, e.taskIndex);
  const { before } = await updateTask(context, e.jobId, e.taskIndex, block, (t) => ({
    timesExpired: t.timesExpired + (expired ? 1n : 0n),
    worker: null,
    leaseId: null,
    leaseExpiresAt: null,
    stake: null,
    outputCid: null,
    cellRoot: null,
    submittedBlock: null,
    verificationPhase: null,
    verificationLevel: 0n,
    draws: 0n,
    deferrals: 0n,
    phaseEndsAt: null,
    seedBlock: null,
    verdict: null,
    state: "open",
    attempt: BigInt(e.attempt),
  }));
  await release(context, before, block);
  await updateJob(context, e.jobId, block, before.state, "open");
  if (expired) {
    await upsertAccount(context, e.previousWorker, block, (a) => ({ tasksExpired: a.tasksExpired + 1n }));
    await upsertNetwork(context, block, (x) => ({ tasksExpired: x.tasksExpired + 1n }));
  }
});

ponder.on("DistributedRender:TaskRefunded", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("TaskRefunded", event, context, e.jobId, e.taskIndex);
  let expired = false;
  const { before } = await updateTask(context, e.jobId, e.taskIndex, block, (t) => {
    expired = t.state === "claimed";
    return {
      stake: null,
      timesExpired: t.timesExpired + (expired ? 1n : 0n),
      state: "refunded",
      refundReason: REFUND[Number(e.reason)],
      leaseId: null,
      leaseExpiresAt: null,
      ...endVerification,
    };
  });
  await release(context, before, block);
  const j = await updateJob(context, e.jobId, block, before.state, "refunded", (r) => ({ refunded: r.refunded + e.amount }));
  await upsertToken(context, j.token, block, (t) => ({ refunded: t.refunded + e.amount }));
  await upsertNetwork(context, block, (x) => ({
    tasksRefunded: x.tasksRefunded + 1n,
    tasksExpired: x.tasksExpired + (expired ? 1n : 0n),
  }));
  if (expired && before.worker) {
    await upsertAccount(context, before.worker, block, (a) => ({ tasksExpired: a.tasksExpired + 1n }));
  }
});

ponder.on("DistributedRender:BalanceCredited", async ({ event, context }) => {
  const e = event.args as any;
  await record("BalanceCredited", event, context);
  await upsertBalance(context, e.account, e.token, event.block.number, (b) => ({
    balance: b.balance + e.amount,
    credited: b.credited + e.amount,
  }));
});

ponder.on("DistributedRender:Withdrawn", async ({ event, context }) => {
  const e = event.args as any;
  await record("Withdrawn", event, context);
  await upsertBalance(context, e.account, e.token, event.block.number, (b) => ({
    balance: sub0(b.balance, e.amount),
    withdrawn: b.withdrawn + e.amount,
  }));
});

ponder.on("DistributedRender:Staked", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("Staked", event, context);
  await upsertAccount(context, e.account, block, () => ({ bonded: e.bonded }));
  await upsertNetwork(context, block, (x) => ({ staked: x.staked + e.amount }));
});

ponder.on("DistributedRender:UnstakeRequested", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("UnstakeRequested", event, context);
  await upsertAccount(context, e.account, block, (a) => ({
    bonded: sub0(a.bonded, e.amount),
    unbonding: a.unbonding + e.amount,
    unbondingReadyAt: e.readyAt,
  }));
  await upsertNetwork(context, block, (x) => ({ staked: sub0(x.staked, e.amount) }));
});

ponder.on("DistributedRender:StakeWithdrawn", async ({ event, context }) => {
  const e = event.args as any;
  await record("StakeWithdrawn", event, context);
  await upsertAccount(context, e.account, event.block.number, (a) => ({
    unbonding: sub0(a.unbonding, e.amount),
    unbondingReadyAt: 0n,
  }));
});

ponder.on("DistributedRender:StakeSlashed", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("StakeSlashed", event, context);
  await upsertAccount(context, e.account, block, (a) => ({ bonded: sub0(a.bonded, e.amount), slashed: a.slashed + e.amount }));
  await upsertNetwork(context, block, (x) => ({ staked: sub0(x.staked, e.amount), slashed: x.slashed + e.amount }));
});

ponder.on("DistributedRender:VerifierRegistered", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("VerifierRegistered", event, context);
  const held = await context.db.find(verifier, { address: e.verifier });
  // The stake added came out of bonded stake (registerVerifier bonds what it is sent first).
  const added = held && held.releasedBlock == null ? sub0(e.stake, held.stake) : e.stake;
  await context.db
    .insert(verifier)
    .values({
      address: e.verifier,
      registryId: e.id,
      tickets: e.tickets,
      stake: e.stake,
      registeredBlock: block,
      updatedBlock: block,
    })
    .onConflictDoUpdate(() => ({ registryId: e.id, tickets: e.tickets, stake: e.stake, updatedBlock: block }));
  await upsertAccount(context, e.verifier, block, (a) => ({ bonded: sub0(a.bonded, added) }));
});

ponder.on("DistributedRender:VerifierLeft", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("VerifierLeft", event, context);
  if (await context.db.find(verifier, { address: e.verifier })) {
    await context.db
      .update(verifier, { address: e.verifier })
      .set({ leftBlock: block, releasableAt: e.releasableAt, updatedBlock: block });
  }
});

ponder.on("DistributedRender:VerifierReleased", async ({ event, context }) => {
  const e = event.args as any;
  const block = event.block.number;
  await record("VerifierReleased", event, context);
  if (await context.db.find(verifier, { address: e.verifier })) {
    await context.db
      .update(verifier, { address: e.verifier })
      .set({ releasedBlock: block, tickets: 0n, stake: 0n, updatedBlock: block });
  }
  await upsertAccount(context, e.verifier, block, (a) => ({ bonded: a.bonded + e.stake }));
});

ponder.on("DistributedRender:PausedSet", async ({ event, context }) => {
  await record("PausedSet", event, context);
  await upsertNetwork(context, event.block.number, () => ({ paused: (event.args as any).paused }));
});
ponder.on("DistributedRender:ProtocolFeeSet", async ({ event, context }) => {
  await record("ProtocolFeeSet", event, context);
  await upsertNetwork(context, event.block.number, () => ({ protocolFeeBps: (event.args as any).feeBps }));
});
ponder.on("DistributedRender:TreasurySet", async ({ event, context }) => {
  await record("TreasurySet", event, context);
  await upsertNetwork(context, event.block.number, () => ({ treasury: (event.args as any).treasury }));
});
ponder.on("DistributedRender:OwnershipTransferStarted", async ({ event, context }) => record("OwnershipTransferStarted", event, context));
ponder.on("DistributedRender:OwnershipTransferred", async ({ event, context }) => record("OwnershipTransferred", event, context));
ponder.on("DistributedRender:TokenAllowed", async ({ event, context }) => record("TokenAllowed", event, context));
