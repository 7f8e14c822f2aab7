// The panel's logic, host-agnostic: pairing and connection, then for each run: read (one modal
// scope) → upload (content-addressed) → submit → progress → place each result (one modal scope
// and one undo step each). Everything Photoshop-specific sits behind the Host interface.
import {
  Emitter,
  LayerbridgeClient,
  describeError,
  type ClientInfo,
  type ControlInput,
  type JobInputs,
  type JobHandle,
  type JobOutput,
  type ModelInfo,
  type WebSocketFactory,
} from "@layerbridge/common";
import type { FormValues } from "./form.js";
import { regionToDocument, type Rect } from "./geometry.js";
import { HostBusyError, type DocumentInfo, type Host, type ReadResult } from "./host/Host.js";
import { planJob, PlanError, type JobPlan } from "./jobPlan.js";
import { BUSY_STAGES, initialState, type JobStage, type PanelMessage, type PanelState } from "./panelState.js";
import { cropGrey, isEmptyMask } from "./pixels.js";
import { resultFormatFor, resultPixels } from "./resultPixels.js";
import type { TokenStore } from "./tokenStore.js";

export const DEFAULT_PORT = 7842;

export interface PanelDeps {
  host: Host;
  tokens: TokenStore;
  createSocket: WebSocketFactory;
  clientInfo: ClientInfo;
  port?: number;
  /** Daemon host; the manifest grants 127.0.0.1 and localhost only. */
  hostname?: string;
  reconnect?: ConstructorParameters<typeof LayerbridgeClient>[0]["reconnect"];
  heartbeatMs?: number;
  /** How long results wait before placing is retried while Photoshop is busy. Default 3000. */
  placeRetryMs?: number;
}

export interface PanelEvents {
  change: PanelState;
  /** One result was placed (tests and the status line use it). */
  placed: { layerId: number; groupId: number; x: number; y: number; width: number; height: number };
}

export class PanelController extends Emitter<PanelEvents> {
  private state: PanelState;
  private client: LayerbridgeClient | undefined;
  private token: string | undefined;
  private job: JobHandle | undefined;
  private stopClientEvents: (() => void)[] = [];
  /** Set while results wait for a busy Photoshop: retries placing at once. */
  private wakePlacing: (() => void) | undefined;

  constructor(private readonly deps: PanelDeps) {
    super();
    this.state = initialState(deps.port ?? DEFAULT_PORT);
  }

  get snapshot(): PanelState {
    return this.state;
  }

  get busy(): boolean {
    return BUSY_STAGES.has(this.state.job.stage);
  }

  /** Load the stored token and connect in the background (never blocks panel creation). */
  async start(): Promise<void> {
    this.token = (await this.deps.tokens.load()) || undefined;
    if (this.token) this.connect();
    else this.update({ connection: "unpaired" });
  }

  /** Store a pasted token and connect with it. */
  async pair(token: string): Promise<void> {
    const trimmed = token.trim();
    if (!trimmed) {
      this.showError({ title: "Paste a token", detail: "The token field is empty.", hint: "Run `layerbridge pair --name photoshop` and paste the last line it prints.", code: "input" });
      return;
    }
    await this.deps.tokens.save(trimmed);
    this.token = trimmed;
    this.update({ message: undefined });
    this.connect();
  }

  async unpair(): Promise<void> {
    await this.deps.tokens.clear();
    this.token = undefined;
    this.disconnect();
    this.update({ connection: "unpaired" });
  }

  setPort(port: number): void {
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      this.showError({ title: "Invalid port", detail: `${port} is not a TCP port.`, hint: "Use the port the daemon prints (default 7842).", code: "input" });
      return;
    }
    this.update({ port });
    if (this.token) this.connect();
  }

  /** (Re)connect with the current token and port. */
  connect(): void {
    this.disconnect();
    if (!this.token) return;
    const client = new LayerbridgeClient({
      url: `ws://${this.deps.hostname ?? "127.0.0.1"}:${this.state.port}/`,
      token: this.token,
      client: this.deps.clientInfo,
      createSocket: this.deps.createSocket,
      reconnect: this.deps.reconnect ?? { initialMs: 500, maxMs: 10_000 },
      heartbeatMs: this.deps.heartbeatMs ?? 15_000,
    });
    this.client = client;
    this.stopClientEvents = [
      client.on("state", (connection) => this.update({ connection })),
      client.on("welcome", (w) => this.onModels(w.models, w.server.version)),
      client.on("violation", (v) => this.showError(describeError(v))),
    ];
    this.update({ connection: client.state });
    client.connect().then(
      () => this.update({ message: this.state.message?.code === "connection" ? undefined : this.state.message }),
      (err: unknown) => this.showError(describeError(err)),
    );
  }

  disconnect(): void {
    for (const stop of this.stopClientEvents) stop();
    this.stopClientEvents = [];
    this.client?.close();
    this.client = undefined;
  }

  /** Ask the daemon for the model list again (after adding models in the tray app). */
  async refreshModels(): Promise<void> {
    if (!this.client) return;
    try {
      this.onModels(await this.client.models(), this.state.serverVersion);
    } catch (err) {
      this.showError(describeError(err));
    }
  }

  async cancel(): Promise<void> {
    try {
      await this.job?.cancel();
    } catch (err) {
      this.showError(describeError(err));
    }
  }

  /** One run of the form: resolves when every result is placed (or the run failed). */
  async run(form: FormValues): Promise<void> {
    if (this.busy) return;
    const client = this.client;
    if (!client || client.state !== "ready") {
      this.showError({
        title: this.token ? "Not connected" : "Not paired",
        detail: this.token ? `No daemon answers on port ${this.state.port}.` : "Paste a pairing token first.",
        hint: this.token ? "Start the daemon (`layerbridge serve` or the tray app) and check the port." : "Run `layerbridge pair --name photoshop` and paste the token.",
        code: "connection",
      });
      return;
    }
    this.updateJob({ stage: "reading", step: 0, steps: form.steps, preview: undefined, uploaded: 0, uploadTotal: 0, placed: 0, expected: form.variations, waiting: 0, note: undefined });
    this.update({ message: undefined });
    try {
      const doc = await this.deps.host.describeDocument();
      if (!doc) throw new PlanError("Open a document first.");
      const model = this.state.checkpoints.find((m) => m.id === form.model);
      const plan = planJob(form, doc, model, client.limits);
      const read = plan.read ? await this.deps.host.read(plan.read) : undefined;
      this.updateJob({ stage: "uploading" });
      const inputs = jobInputs(plan, read);
      this.updateJob({ uploadTotal: inputBytes(inputs) });
      let uploaded = 0;
      // raw rgba8 results from a daemon on this machine: neither side encodes or decodes PNG
      const params = { ...plan.params, result_format: resultFormatFor(this.deps.hostname ?? "127.0.0.1") };
      const job = await client.submitWithInputs(params, inputs, {
        onUpload: (p) => {
          if (p.sent === p.total) uploaded += p.total;
          this.updateJob({ uploaded });
        },
      });
      this.updateJob({ stage: "submitting", expected: job.params.batch ?? 1, steps: job.params.steps ?? form.steps, note: sizeNote(plan) });
      this.job = job;
      await this.follow(job, plan, read, doc);
    } catch (err) {
      this.fail(err);
    } finally {
      this.job = undefined;
    }
  }

  /** Place Photoshop-busy results now instead of at the next retry ("Place now"). */
  placeWaiting(): void {
    const wake = this.wakePlacing;
    this.wakePlacing = undefined;
    wake?.();
  }

  private async follow(job: JobHandle, plan: JobPlan, read: ReadResult | undefined, doc: DocumentInfo): Promise<void> {
    const stopEvents = [
      job.on("phase", (phase) => {
        if (phase === "queued" || phase === "running") this.updateJob({ stage: phase });
      }),
      job.on("progress", (p) => this.updateJob({ stage: "running", step: p.step, steps: p.steps, preview: p.preview?.format === "png" ? p.preview.bytes : this.state.job.preview })),
    ];
    // Results are placed one at a time in arrival order, each in its own modal scope. One that
    // Photoshop is too busy to take (a dialog, Free Transform) waits at the head of the queue and
    // is retried; one that fails otherwise is reported and the others still go in.
    const queue: JobOutput[] = [];
    const failures: unknown[] = [];
    let groupId: number | undefined;
    let grown = false;
    let draining: Promise<void> | undefined;
    const groupName = groupLabel(plan, job.params.prompt ?? "");
    const placeOne = async (output: JobOutput): Promise<void> => {
      const image = resultPixels(output);
      // a fill names its canvas: the daemon says where the result lands on it
      const box = output.info.placement ?? placementBox(output.info.region, plan);
      const mask = plan.layerMask && read?.mask ? cropGrey(read.mask, output.info.region) : undefined;
      const placed = await this.deps.host.place({
        documentId: doc.id,
        groupName,
        groupId,
        layerName: layerLabel(job.params.prompt ?? "", output.info.seed, output.info.index),
        image,
        at: { x: box.x, y: box.y },
        size: { width: box.width, height: box.height },
        mask,
        growCanvas: plan.grow && !grown ? plan.grow : undefined,
        historyName: `Layerbridge: ${groupName}`,
      });
      grown = true;
      groupId = placed.groupId;
      this.updateJob({ placed: this.state.job.placed + 1 });
      this.update({ lastSeed: output.info.seed });
      this.emit("placed", { ...placed, ...box });
    };
    const drain = async (): Promise<void> => {
      while (queue.length > 0) {
        const next = queue[0]!;
        try {
          await placeOne(next);
          queue.shift();
        } catch (err) {
          if (err instanceof HostBusyError) {
            this.updateJob({ waiting: queue.length });
            this.update({ message: waitingMessage(queue.length) });
            await new Promise<void>((resolve) => {
              const timer = setTimeout(() => this.placeWaiting(), this.deps.placeRetryMs ?? 3000);
              this.wakePlacing = () => {
                clearTimeout(timer);
                resolve();
              };
            });
            continue;
          }
          queue.shift();
          failures.push(err);
        }
        this.updateJob({ waiting: queue.length > 0 && this.state.job.waiting > 0 ? queue.length : 0 });
        if (this.state.message?.code === "waiting") this.update({ message: undefined });
      }
    };
    const place = (output: JobOutput): void => {
      queue.push(output);
      if (this.state.job.waiting > 0) this.updateJob({ waiting: queue.length });
      draining ??= drain().finally(() => (draining = undefined));
    };
    const stopResult = job.on("result", (output) => {
      this.updateJob({ stage: this.state.job.stage === "running" || this.state.job.stage === "placing" ? "placing" : this.state.job.stage });
      place(output);
    });
    try {
      try {
        await job.finished;
      } finally {
        // what arrived is placed even when the job then fails or is cancelled
        while (draining) await draining;
      }
      if (failures.length) throw new PlacementError(failures, this.state.job.placed + failures.length);
      this.updateJob({ stage: "done", waiting: 0 });
      const placedText = `Placed ${this.state.job.placed} result${this.state.job.placed === 1 ? "" : "s"}`;
      this.update({ message: { kind: "info", title: placedText, detail: `In the group "${groupName}".${sizeNote(plan) ? ` ${sizeNote(plan)}` : ""}`, hint: "", code: "done" } });
    } finally {
      for (const stop of stopEvents) stop();
      stopResult();
      this.wakePlacing = undefined;
    }
  }

  private fail(err: unknown): void {
    if (err instanceof PlacementError) {
      this.updateJob({ stage: "failed", waiting: 0 });
      const first = describeError(err.failures[0]);
      const placed = err.total - err.failures.length;
      this.showError({
        title: `Placed ${placed} of ${err.total} results`,
        detail: `${err.failures.length === 1 ? "One result" : `${err.failures.length} results`} could not be placed: ${first.detail}`,
        hint: first.hint,
        code: "placement",
      });
      return;
    }
    if (err instanceof HostBusyError) {
      this.updateJob({ stage: "failed" });
      this.showError({ title: "Photoshop is busy", detail: err.message, hint: "Close the dialog or finish the transform (Enter), then run again.", code: "busy" });
      return;
    }
    if (err instanceof PlanError) {
      this.updateJob({ stage: "failed" });
      this.showError({ title: "Cannot run yet", detail: err.message, hint: "", code: "input" });
      return;
    }
    const d = describeError(err);
    this.updateJob({ stage: d.code === "cancelled" ? "cancelled" : "failed" });
    if (d.code === "cancelled") {
      this.update({ message: { kind: "info", title: "Cancelled", detail: "The job was stopped; nothing was placed after it.", hint: "", code: "cancelled" } });
      return;
    }
    const field = d.field ? ` (field: ${d.field})` : "";
    this.showError({ ...d, detail: d.detail + field });
  }

  private onModels(models: ModelInfo[], serverVersion: string | undefined): void {
    this.update({
      serverVersion,
      checkpoints: models.filter((m) => (m.kind ?? "checkpoint") === "checkpoint"),
      loras: models.filter((m) => m.kind === "lora"),
    });
  }

  private showError(d: { title: string; detail: string; hint: string; code: string }): void {
    const message: PanelMessage = { kind: "error", title: d.title, detail: d.detail, hint: d.hint, code: d.code };
    this.update({ message });
  }

  private updateJob(patch: Partial<PanelState["job"]>): void {
    this.update({ job: { ...this.state.job, ...patch } });
  }

  private update(patch: Partial<PanelState>): void {
    this.state = { ...this.state, ...patch };
    this.emit("change", this.state);
  }
}

/** The images a plan sends, by the job field each fills. */
function jobInputs(plan: JobPlan, read: ReadResult | undefined): JobInputs {
  if (!read) return {};
  const inputs: JobInputs = {};
  if (plan.params.kind !== "generate") inputs.image = { bytes: read.image.data, format: "rgba8", width: read.image.width, height: read.image.height };
  if (plan.params.kind === "inpaint") {
    if (!read.mask || isEmptyMask(read.mask)) throw new PlanError("The selection is empty inside the document: select some pixels to fill.");
    inputs.mask = { bytes: read.mask.data, format: "grey8", width: read.mask.width, height: read.mask.height };
  }
  const control: ControlInput[] = plan.controlTypes.map((c, i) => {
    const layer = read.controls[i];
    if (!layer) throw new Error(`control layer ${i + 1} was not read`);
    return { type: c.type, strength: c.strength, image: { bytes: layer.data, format: "rgba8", width: layer.width, height: layer.height } };
  });
  if (control.length) inputs.control = control;
  return inputs;
}

function inputBytes(inputs: JobInputs): number {
  return (inputs.image?.bytes.length ?? 0) + (inputs.mask?.bytes.length ?? 0) + (inputs.control ?? []).reduce((n, c) => n + c.image.bytes.length, 0);
}

/** Some results could not be placed (the others were). */
class PlacementError extends Error {
  constructor(
    readonly failures: unknown[],
    readonly total: number,
  ) {
    super(`${failures.length} of ${total} results could not be placed`);
    this.name = "PlacementError";
  }
}

function waitingMessage(count: number): PanelMessage {
  return {
    kind: "info",
    title: `${count} result${count === 1 ? "" : "s"} waiting for Photoshop`,
    detail: "Photoshop is busy (a dialog, Free Transform or another plugin's command is open). Nothing is lost: placing resumes when it is free.",
    hint: "Finish the transform or close the dialog, then click Place now.",
    code: "waiting",
  };
}

/** Where a result lands in the document: its region moved by the input's origin, and for a
 * generate made at another size than its box, scaled to that box. */
export function placementBox(region: Rect, plan: Pick<JobPlan, "origin" | "placeSize" | "params">): Rect {
  const size = plan.placeSize;
  const w = plan.params.width;
  const h = plan.params.height;
  if (!size || !w || !h) return regionToDocument(region, plan.origin);
  const sx = size.width / w;
  const sy = size.height / h;
  return {
    x: plan.origin.x + Math.round(region.x * sx),
    y: plan.origin.y + Math.round(region.y * sy),
    width: Math.round(region.width * sx),
    height: Math.round(region.height * sy),
  };
}

/** What the panel says about a result's size, when it is generated at another size than it covers. */
export function sizeNote(plan: Pick<JobPlan, "placeSize" | "params">): string | undefined {
  const size = plan.placeSize;
  const { width, height } = plan.params;
  if (!size || !width || !height) return undefined;
  if (size.width === width && size.height === height) return `Generated at ${width}×${height} px, the document's size.`;
  const verb = size.width > width ? "scaled up" : "scaled";
  return `Generated at ${width}×${height} px, ${verb} to ${size.width}×${size.height} px.`;
}

function truncate(text: string, max: number): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

const MODE_LABEL: Record<JobPlan["mode"], string> = { generate: "Generate", inpaint: "Fill", expand: "Expand", refine: "Refine" };

export function groupLabel(plan: Pick<JobPlan, "mode">, prompt: string): string {
  return `${MODE_LABEL[plan.mode]}: ${truncate(prompt, 48) || "(no prompt)"}`;
}

export function layerLabel(prompt: string, seed: number, index: number): string {
  return `${truncate(prompt, 40) || "(no prompt)"} · seed ${seed} · #${index + 1}`;
}

export type { JobStage };
