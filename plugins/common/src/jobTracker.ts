// The client's jobs: submit (idempotent by job_id), route the daemon's job events to their
// handles, and after a reconnect resubmit what was never accepted and fetch what was.
import type { ReceivedBlob } from "./blobStore.js";
import { ConnectionError, DaemonError } from "./errors.js";
import { JobHandle, type JobPreview } from "./jobHandle.js";
import type { JobParams, JobSubmit, ResultInfo, ServerMessageOf } from "./protocol.js";
import type { ReplyTo, SimpleRequest } from "./replies.js";

/** What the tracker needs from the connection. */
export interface JobChannel {
  isReady(): boolean;
  request<R extends SimpleRequest>(message: R): Promise<ReplyTo<R>>;
  getBlob(sha256: string): Promise<ReceivedBlob>;
  cachedBlob(sha256: string): ReceivedBlob | undefined;
}

export type JobEvent = ServerMessageOf<"job.started" | "job.progress" | "job.result" | "job.done" | "job.failed" | "job.cancelled">;

export function newJobId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  const rand = c?.randomUUID ? c.randomUUID().replace(/-/g, "") : Math.random().toString(36).slice(2) + Date.now().toString(36);
  return `lb-${rand.slice(0, 24)}`;
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/** A result's bytes could not be fetched. A dropped connection is no failure of the job: after the
 * reconnect, resume() fetches it again and the daemon re-sends its results. */
function resultLost(job: JobHandle, err: unknown): void {
  if (!(err instanceof ConnectionError)) job.abandon(asError(err));
}

/** A job.fetch in flight for a job: the daemon answers job.state, re-sends the results, then the
 * job's final event. Once both the state (which lists every result) and the final event are in,
 * any result not re-sent is fetched. (Either may be handled first: a socket may deliver several
 * messages before the reply's continuation runs.) */
interface Refetch {
  results: readonly ResultInfo[] | undefined;
  finalSeen: boolean;
}

export class JobTracker {
  private readonly jobs = new Map<string, JobHandle>();
  private readonly refetches = new Map<string, Refetch>();
  private readonly submitting = new Set<string>();
  private readonly priorities = new Map<string, JobSubmit["priority"]>();

  constructor(private readonly channel: JobChannel) {}

  get(jobId: string): JobHandle | undefined {
    return this.jobs.get(jobId);
  }

  submit(params: JobParams, jobId: string, priority?: JobSubmit["priority"]): JobHandle {
    const existing = this.jobs.get(jobId);
    if (existing) return existing;
    const handle = this.add(jobId, params);
    if (priority) this.priorities.set(jobId, priority);
    if (this.channel.isReady()) void this.sendSubmit(handle);
    return handle;
  }

  follow(jobId: string, params: JobParams): JobHandle {
    const existing = this.jobs.get(jobId);
    if (existing) return existing;
    const handle = this.add(jobId, params);
    handle.onAccepted({ type: "job.accepted", job_id: jobId, position: 0, seed: params.seed ?? 0, duplicate: true });
    if (this.channel.isReady()) void this.fetch(handle);
    return handle;
  }

  private add(jobId: string, params: JobParams): JobHandle {
    const handle = new JobHandle(jobId, params, (h) => this.cancel(h));
    this.jobs.set(jobId, handle);
    const forget = () => {
      this.jobs.delete(jobId);
      this.priorities.delete(jobId);
      this.refetches.delete(jobId);
    };
    void handle.finished.then(forget, forget);
    return handle;
  }

  /** Route one job event from the daemon to its handle. */
  onEvent(msg: JobEvent, preview?: JobPreview): void {
    const job = this.jobs.get(msg.job_id);
    if (!job) return;
    switch (msg.type) {
      case "job.started":
        job.onStarted();
        return;
      case "job.progress":
        job.onProgress(msg.step, msg.steps, preview);
        return;
      case "job.result":
        this.onResult(job, msg.result);
        return;
      case "job.done":
        this.finalAfterFetch(job);
        job.onDone(msg.results, msg.seconds);
        return;
      case "job.failed":
        job.onFailed(msg.code, msg.message, msg.field);
        return;
      case "job.cancelled":
        job.onCancelled();
        return;
    }
  }

  /** After (re)connecting: submit what was never accepted, fetch what was. */
  resume(): void {
    for (const job of this.jobs.values()) {
      if (job.isFinished) continue;
      if (!job.accepted) void this.sendSubmit(job);
      else void this.fetch(job).then(() => (job.cancelRequested ? this.cancel(job) : undefined)).catch(() => {
        // a cancel cut by another drop: cancelRequested stays set and the next resume() sends it
      });
    }
  }

  /** The connection is gone for good. */
  abandonAll(err: Error): void {
    for (const job of this.jobs.values()) job.abandon(err);
    this.jobs.clear();
  }

  private onResult(job: JobHandle, info: ResultInfo): void {
    if (job.hasResult(info.index)) return;
    const have = this.channel.cachedBlob(info.blob);
    if (have) {
      job.onResult({ info, bytes: have.bytes });
      return;
    }
    job.track(
      this.channel.getBlob(info.blob).then(
        (blob) => job.onResult({ info, bytes: blob.bytes }),
        (err: unknown) => resultLost(job, err),
      ),
    );
  }

  private async sendSubmit(handle: JobHandle): Promise<void> {
    if (this.submitting.has(handle.jobId) || handle.isFinished) return;
    this.submitting.add(handle.jobId);
    try {
      const message: Omit<JobSubmit, "id"> = { type: "job.submit", job_id: handle.jobId, params: handle.params };
      const priority = this.priorities.get(handle.jobId);
      if (priority) message.priority = priority;
      const accepted = await this.channel.request(message);
      handle.onAccepted(accepted);
      if (accepted.duplicate) await this.fetch(handle);
      if (handle.cancelRequested) await this.cancel(handle);
    } catch (err) {
      if (err instanceof DaemonError) handle.onFailed(err.code, err.message, err.field);
      else if (!(err instanceof ConnectionError)) handle.abandon(asError(err));
      // ConnectionError: resubmitted with the same job_id after the reconnect
    } finally {
      this.submitting.delete(handle.jobId);
    }
  }

  private async fetch(handle: JobHandle): Promise<void> {
    // registered before the request goes out: the final event may be handled before the reply
    const refetch: Refetch = { results: undefined, finalSeen: false };
    this.refetches.set(handle.jobId, refetch);
    try {
      const state = await this.channel.request({ type: "job.fetch", job_id: handle.jobId });
      if (this.refetches.get(handle.jobId) !== refetch) return; // a later fetch took over
      if (state.job.state === "done") {
        refetch.results = state.job.results ?? [];
        if (refetch.finalSeen) this.recoverResults(handle, refetch);
      } else {
        // queued or running: its results come as live job.result events; failed or cancelled: none
        this.refetches.delete(handle.jobId);
      }
      handle.onSummary(state.job);
    } catch (err) {
      if (this.refetches.get(handle.jobId) === refetch) this.refetches.delete(handle.jobId);
      if (err instanceof DaemonError) handle.onFailed(err.code, err.message, err.field);
    }
  }

  /** The job's final event arrived; after a job.fetch, every result re-sent came before it. */
  private finalAfterFetch(handle: JobHandle): void {
    const refetch = this.refetches.get(handle.jobId);
    if (!refetch) return;
    refetch.finalSeen = true;
    if (refetch.results) this.recoverResults(handle, refetch);
  }

  /** Fetch (blob.get) each result the job.state listed that was not re-sent before the final
   * event: the daemon sends nothing more for this job, so waiting longer would lose it. */
  private recoverResults(handle: JobHandle, refetch: Refetch): void {
    this.refetches.delete(handle.jobId);
    for (const info of refetch.results ?? []) {
      if (!handle.hasResult(info.index)) this.onResult(handle, info);
    }
  }

  private async cancel(handle: JobHandle): Promise<void> {
    if (!handle.accepted || !this.channel.isReady()) return; // sent once accepted / reconnected
    await this.channel.request({ type: "job.cancel", job_id: handle.jobId });
  }
}
