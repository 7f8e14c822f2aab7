// One submitted job as the caller sees it: typed events, the results with their bytes, and a
// promise that settles when the job is done, failed or cancelled. The client feeds it; it survives
// a reconnect (the client resubmits with the same job_id, or fetches its state).
import { Emitter } from "./emitter.js";
import { DaemonError, JobCancelledError } from "./errors.js";
import type { ImageFormat, JobAccepted, JobParams, JobSummary, ResultInfo } from "./protocol.js";

export type JobPhase = "submitting" | "queued" | "running" | "done" | "failed" | "cancelled";

export interface JobPreview {
  format: ImageFormat;
  width: number | undefined;
  height: number | undefined;
  bytes: Uint8Array;
}

export interface JobProgressEvent {
  jobId: string;
  step: number;
  steps: number;
  preview: JobPreview | undefined;
}

/** One finished image: where it lands (`info.region`), how it was made, and its bytes. */
export interface JobOutput {
  info: ResultInfo;
  bytes: Uint8Array;
}

export interface JobOutcome {
  jobId: string;
  results: JobOutput[];
  seconds: number | undefined;
}

export interface JobEvents {
  accepted: JobAccepted;
  phase: JobPhase;
  progress: JobProgressEvent;
  result: JobOutput;
}

const TRANSITIONS: Readonly<Record<JobPhase, readonly JobPhase[]>> = {
  submitting: ["queued", "running", "done", "failed", "cancelled"],
  queued: ["queued", "running", "done", "failed", "cancelled"],
  running: ["running", "done", "failed", "cancelled"],
  done: [],
  failed: [],
  cancelled: [],
};

export class JobHandle extends Emitter<JobEvents> {
  readonly jobId: string;
  readonly params: JobParams;
  accepted: JobAccepted | undefined;
  /** Set by the client: asks the daemon to cancel (after acceptance, if still submitting). */
  cancelRequested = false;
  private current: JobPhase = "submitting";
  private readonly outputs = new Map<number, JobOutput>();
  private readonly pending = new Set<Promise<unknown>>();
  private expectedResults: number | undefined;
  private seconds: number | undefined;
  private resolveFinished!: (outcome: JobOutcome) => void;
  private rejectFinished!: (err: Error) => void;
  /** Settles with the results, or rejects with DaemonError / JobCancelledError / ConnectionError. */
  readonly finished: Promise<JobOutcome>;

  constructor(jobId: string, params: JobParams, private readonly requestCancel: (handle: JobHandle) => Promise<void>) {
    super();
    this.jobId = jobId;
    this.params = params;
    this.finished = new Promise<JobOutcome>((resolve, reject) => {
      this.resolveFinished = resolve;
      this.rejectFinished = reject;
    });
    // callers that only listen to events must not see an unhandled rejection
    this.finished.catch(() => undefined);
  }

  get phase(): JobPhase {
    return this.current;
  }

  get isFinished(): boolean {
    return this.current === "done" || this.current === "failed" || this.current === "cancelled";
  }

  /** Results received so far, by index. */
  get results(): JobOutput[] {
    return [...this.outputs.values()].sort((a, b) => a.info.index - b.info.index);
  }

  hasResult(index: number): boolean {
    return this.outputs.has(index);
  }

  /** Ask the daemon to stop the job; the job settles with JobCancelledError when it has. */
  cancel(): Promise<void> {
    this.cancelRequested = true;
    if (this.isFinished) return Promise.resolve();
    return this.requestCancel(this);
  }

  // ------------------------------------------------------------------ fed by the client

  private moveTo(next: JobPhase): boolean {
    if (this.current === next && (next === "queued" || next === "running")) return true;
    if (!TRANSITIONS[this.current].includes(next)) return false;
    this.current = next;
    this.emit("phase", next);
    return true;
  }

  onAccepted(msg: JobAccepted): void {
    this.accepted = msg;
    this.emit("accepted", msg);
    if (this.current === "submitting") this.moveTo(msg.position === 0 ? "running" : "queued");
  }

  onStarted(): void {
    this.moveTo("running");
  }

  onProgress(step: number, steps: number, preview: JobPreview | undefined): void {
    if (this.isFinished) return;
    this.moveTo("running");
    this.emit("progress", { jobId: this.jobId, step, steps, preview });
  }

  onResult(output: JobOutput): void {
    if (this.outputs.has(output.info.index)) return; // re-sent after a fetch
    this.outputs.set(output.info.index, output);
    this.emit("result", output);
    this.maybeFinish();
  }

  /** A result whose bytes are still on their way (blob.get): done waits for it. */
  track(work: Promise<unknown>): void {
    this.pending.add(work);
    void work.finally(() => {
      this.pending.delete(work);
      this.maybeFinish();
    });
  }

  onDone(results: number, seconds: number): void {
    this.expectedResults = results;
    this.seconds = seconds;
    this.maybeFinish();
  }

  onFailed(code: string, message: string, field?: string | null): void {
    if (this.moveTo("failed")) this.rejectFinished(new DaemonError(code, message, field, this.jobId));
  }

  onCancelled(): void {
    if (this.moveTo("cancelled")) this.rejectFinished(new JobCancelledError(this.jobId));
  }

  /** The connection is gone for good: the job's fate is unknown to this client. */
  abandon(err: Error): void {
    if (this.isFinished) return;
    this.current = "failed";
    this.emit("phase", "failed");
    this.rejectFinished(err);
  }

  /** The reply to job.fetch after a reconnect. */
  onSummary(job: JobSummary): void {
    switch (job.state) {
      case "queued":
      case "running":
        this.moveTo(job.state);
        return;
      case "done":
        this.onDone(job.results?.length ?? 0, (job.finished_at ?? job.created_at) - job.created_at);
        return;
      case "failed":
        this.onFailed(job.error?.code ?? "internal", job.error?.message ?? "the job failed", job.error?.field);
        return;
      case "cancelled":
        this.onCancelled();
        return;
    }
  }

  private maybeFinish(): void {
    if (this.isFinished || this.expectedResults === undefined || this.pending.size > 0) return;
    if (this.outputs.size < this.expectedResults) return;
    if (this.moveTo("done")) {
      this.resolveFinished({ jobId: this.jobId, results: this.results, seconds: this.seconds });
    }
  }
}
