// What the panel shows: a snapshot the view renders. Pure data.
import type { ConnectionState, ModelInfo } from "@layerbridge/common";

export type JobStage =
  | "idle"
  | "reading"
  | "uploading"
  | "submitting"
  | "queued"
  | "running"
  | "placing"
  | "done"
  | "failed"
  | "cancelled";

export interface PanelMessage {
  kind: "error" | "info";
  title: string;
  detail: string;
  hint: string;
  code: string;
}

export interface PanelState {
  /** "unpaired" when no token is stored ("idle" until the stored token is looked up). */
  connection: ConnectionState | "unpaired";
  port: number;
  serverVersion: string | undefined;
  checkpoints: ModelInfo[];
  loras: ModelInfo[];
  job: {
    stage: JobStage;
    step: number;
    steps: number;
    /** PNG bytes of the latest preview. */
    preview: Uint8Array | undefined;
    uploaded: number;
    uploadTotal: number;
    placed: number;
    expected: number;
    /** Results waiting for a busy Photoshop to take them. */
    waiting: number;
    /** The size a generate is made at and the size it is placed at, when it says something. */
    note: string | undefined;
  };
  /** The seed of the latest result (so the user can lock it). */
  lastSeed: number | undefined;
  message: PanelMessage | undefined;
}

export const BUSY_STAGES: ReadonlySet<JobStage> = new Set(["reading", "uploading", "submitting", "queued", "running", "placing"]);

export function initialState(port: number): PanelState {
  return {
    connection: "idle",
    port,
    serverVersion: undefined,
    checkpoints: [],
    loras: [],
    job: { stage: "idle", step: 0, steps: 0, preview: undefined, uploaded: 0, uploadTotal: 0, placed: 0, expected: 0, waiting: 0, note: undefined },
    lastSeed: undefined,
    message: undefined,
  };
}
