/**
 * The panel's behaviour: settings from the main thread, the daemon connection (via
 * @layerbridge/common), the chosen flow, running it with progress and cancel, and clear errors.
 */

import {
  ConnectionError,
  JobCancelledError,
  LayerbridgeClient,
  type ConnectionState,
  type JobHandle,
  type ModelInfo,
  type WebSocketFactory,
} from "@layerbridge/common";
import type { FlowKind, MainToUi, SelectionInfo, Settings } from "../shared/messages";
import { DEFAULT_SETTINGS, FLOW_KINDS } from "../shared/messages";
import { FIGMA_MAX_IMAGE_SIDE } from "../shared/size";
import { diagnose, PAIR_HINT, type Environment } from "./diagnose";
import { controlNetChoice, type FlowOptions } from "./flowOptions";
import type { ImageOps } from "./imageOps";
import type { MainBridge } from "./mainBridge";
import type { PanelView } from "./panelView";
import { runFlow } from "./runFlow";

export interface PanelDeps {
  bridge: MainBridge;
  view: PanelView;
  createSocket: WebSocketFactory;
  imageOps: ImageOps;
  env: Environment;
  version: string;
  /** Reads Chrome's Local Network Access permission (localNetwork.ts); absent: never read. */
  localNetwork?: () => Promise<PermissionState | null>;
}

/** When the selection no longer fits the chosen flow, the first of these that fits is chosen. */
const PREFERRED: readonly FlowKind[] = ["inpaint", "generate", "refine"];

export class PanelApp {
  private settings: Settings = { ...DEFAULT_SETTINGS };
  private selection: SelectionInfo | null = null;
  private flow: FlowKind = "generate";
  private client: LayerbridgeClient | undefined;
  private state: ConnectionState = "idle";
  private models: ModelInfo[] = [];
  private job: JobHandle | undefined;
  private busy = false;
  /** Cancel was pressed during this run, possibly before its job existed. */
  private cancelRequested = false;

  constructor(private readonly deps: PanelDeps) {}

  start(): void {
    const { view, bridge } = this.deps;
    view.connect.addEventListener("click", () => this.saveAndConnect());
    for (const button of view.modes) {
      button.addEventListener("click", () => this.choose(button.dataset["flow"] as FlowKind));
    }
    view.model.addEventListener("change", () => {
      view.showLoras(this.models, view.model.value);
      view.showControlNets(this.models, view.model.value);
      this.render();
    });
    view.control.addEventListener("change", () => this.render());
    // Opening the LoRA list asks the daemon again: a LoRA trained since connecting shows up.
    view.lorasBox.addEventListener("toggle", () => {
      if (view.lorasBox.open) void this.refreshModels();
    });
    view.strength.addEventListener("input", () => (view.strengthValue.value = Number(view.strength.value).toFixed(2)));
    view.run.addEventListener("click", () => void this.run());
    view.cancel.addEventListener("click", () => void this.cancel());
    bridge.onMessage((message) => this.onMain(message));
    bridge.send({ type: "ui-ready" });
    this.render();
  }

  private onMain(message: MainToUi): void {
    if (message.type === "init") {
      this.settings = message.settings;
      this.deps.view.url.value = message.settings.url;
      this.deps.view.token.value = message.settings.token;
      this.deps.view.prompt.value = message.settings.prompt;
      this.onSelection(message.selection);
      if (message.settings.token !== "") this.connect();
      else this.needPairing();
    } else if (message.type === "selection") {
      this.onSelection(message.selection);
    } else if (message.type === "closing") {
      this.stopForClose();
    }
  }

  /**
   * The plugin is closing (main's "close", or this frame's `pagehide`): the socket goes with the
   * frame, and a job keeps running on the daemon after a disconnect, so cancel it now. The cancel
   * is sent as it is, without waiting: there is no later. It names the job by the id this client
   * gave it, so it follows its submit on the same socket even before the daemon has accepted it.
   */
  stopForClose(): void {
    const job = this.job;
    const client = this.client;
    this.cancelRequested = true;
    if (job === undefined || client === undefined || job.isFinished) return;
    client.request({ type: "job.cancel", job_id: job.jobId }).catch(() => undefined);
  }

  private onSelection(selection: SelectionInfo): void {
    this.selection = selection;
    if (!selection.flows[this.flow].ok) {
      const fit = PREFERRED.find((f) => selection.flows[f].ok);
      if (fit !== undefined) this.flow = fit;
    }
    this.render();
  }

  private choose(flow: FlowKind): void {
    if (!FLOW_KINDS.includes(flow)) return;
    this.flow = flow;
    this.render();
  }

  private render(): void {
    const server = this.client?.welcome?.server;
    this.deps.view.showState(this.state, server ? `${server.name} ${server.version}` : undefined);
    this.deps.view.showFlow(this.flow, this.selection, this.busy, this.state === "ready", this.usesControl());
  }

  /** A generate with a ControlNet picked reads the selection as its control image. */
  private usesControl(): boolean {
    return this.flow === "generate" && this.deps.view.control.value !== "";
  }

  private needPairing(): void {
    this.deps.view.connection.open = true;
    this.deps.view.showError({ title: "Pair with the daemon", detail: "No token yet.", hint: PAIR_HINT, code: "unauthorized", field: undefined });
  }

  private saveAndConnect(): void {
    this.settings = { ...this.settings, url: this.deps.view.url.value.trim(), token: this.deps.view.token.value.trim() };
    this.deps.bridge.send({ type: "save-settings", settings: this.settings });
    if (this.settings.token === "") this.needPairing();
    else this.connect();
  }

  private connect(): void {
    this.client?.close();
    this.deps.env.blockedUrl = null;
    const client = new LayerbridgeClient({
      url: this.settings.url,
      token: this.settings.token,
      client: { name: "Layerbridge for Figma", kind: "figma", version: this.deps.version },
      createSocket: this.deps.createSocket,
      reconnect: { maxAttempts: 4, maxMs: 4000 },
    });
    this.client = client;
    client.on("state", (state) => {
      if (client !== this.client) return;
      const lost = state === "closed" && this.state === "reconnecting";
      this.state = state;
      this.render();
      // The first connect reports its own failure; this is a daemon that went away later.
      if (lost && client.welcome !== undefined) {
        this.deps.view.showError(diagnose(new ConnectionError("connection lost"), this.deps.env, this.settings.url));
      }
    });
    client.on("welcome", (welcome) => {
      if (client !== this.client) return;
      this.models = welcome.models;
      this.deps.view.showModels(welcome.models, this.settings.model);
      this.deps.view.showLoras(welcome.models, this.deps.view.model.value);
      this.deps.view.showControlNets(welcome.models, this.deps.view.model.value);
      this.deps.view.showError(null);
      this.deps.view.connection.open = false;
    });
    client.connect().catch(async (error: unknown) => {
      if (client !== this.client) return;
      await this.readLocalNetwork(error);
      if (client !== this.client) return;
      this.deps.view.connection.open = true;
      this.deps.view.showError(diagnose(error, this.deps.env, this.settings.url));
    });
  }

  /** A browser socket that never opened may have been blocked: read the permission that tells. */
  /** The daemon's models now (models.list): LoRAs registered or trained since the welcome. */
  private async refreshModels(): Promise<void> {
    const client = this.client;
    if (client === undefined || this.state !== "ready") return;
    try {
      const models = await client.models();
      if (client !== this.client) return;
      this.models = models;
      this.deps.view.showLoras(models, this.deps.view.model.value);
    } catch {
      // the welcome's list stays; a dropped connection reports itself
    }
  }

  private async readLocalNetwork(error: unknown): Promise<void> {
    const { env, localNetwork } = this.deps;
    if (env.desktopApp || env.neverOpened !== true || !(error instanceof ConnectionError) || localNetwork === undefined) return;
    env.localNetwork = await localNetwork().catch(() => null);
  }

  private options(): FlowOptions {
    const v = this.deps.view;
    const num = (input: HTMLInputElement, fallback: number): number => {
      const n = Number(input.value);
      return input.value.trim() === "" || !Number.isFinite(n) ? fallback : n;
    };
    return {
      model: v.model.value,
      prompt: v.prompt.value.trim(),
      negativePrompt: v.negative.value.trim(),
      seed: v.seed.value.trim() === "" ? null : Math.max(0, Math.floor(num(v.seed, 0))),
      steps: Math.max(1, Math.round(num(v.steps, 20))),
      guidance: num(v.guidance, 7),
      batch: Math.max(1, Math.round(num(v.batch, 1))),
      strength: num(v.strength, 0.6),
      controlNet: controlNetChoice(this.models, v.control.value),
      controlStrength: num(v.controlStrength, 1),
      loras: v.selectedLoras(),
    };
  }

  private async run(): Promise<void> {
    const client = this.client;
    const { view, bridge } = this.deps;
    if (client === undefined || this.busy) return;
    const options = this.options();
    const flow = this.flow;
    const control = this.usesControl();
    const requestId = bridge.newRequestId();
    this.busy = true;
    this.cancelRequested = false;
    view.showError(null);
    view.clearDone();
    view.progress.dataset["previews"] = "0";
    view.showProgress("Exporting from Figma…", null);
    this.render();
    const started = Date.now();
    try {
      const limits = client.limits;
      // What the daemon reads at generate size: an image to refine, a control image.
      const bounded = flow === "refine" || control;
      const maxSide = bounded && limits ? limits.max_generate_side : FIGMA_MAX_IMAGE_SIDE;
      const input = await bridge.prepare(requestId, flow, Number(view.scale.value) || 1, maxSide, control);
      if (this.cancelRequested) throw new CancelledBeforeSubmit();
      view.showProgress("Uploading…", null);
      const outcome = await runFlow(client, input, options, this.deps.imageOps, {
        onUpload: (p) => view.showProgress(`Uploading… ${Math.round((100 * p.sent) / p.total)}%`, p.sent / p.total),
        onJob: (job) => {
          this.job = job;
          // Cancel was pressed while uploading: stop the job as soon as it exists.
          if (this.cancelRequested) void this.cancelJob(job);
          job.on("phase", (phase) => {
            if (phase === "queued") view.showProgress(`Queued (position ${job.accepted?.position ?? "?"})`, null);
          });
        },
        onProgress: (step, steps, preview) => {
          view.showProgress(`Step ${step} of ${steps}`, step / steps);
          if (preview?.format === "png") view.showPreview(preview.bytes);
        },
      });
      view.showProgress("Placing in Figma…", 1);
      await bridge.place(requestId, options.prompt, options.model, outcome.images);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const what = outcome.images.length === 1 ? "1 image" : `${outcome.images.length} images`;
      view.showDone(`Placed ${what} in ${seconds} s`, outcome.notes, outcome.images.map((i) => i.png));
      this.settings = { ...this.settings, model: options.model, prompt: options.prompt };
      bridge.send({ type: "save-settings", settings: this.settings });
    } catch (error) {
      bridge.send({ type: "abandon", requestId });
      if (error instanceof JobCancelledError || error instanceof CancelledBeforeSubmit) view.showDone("Cancelled", [], []);
      else view.showError(diagnose(error, this.deps.env, this.settings.url));
    } finally {
      this.busy = false;
      this.job = undefined;
      view.hideProgress();
      this.render();
    }
  }

  private async cancel(): Promise<void> {
    if (!this.busy) return;
    this.cancelRequested = true;
    this.deps.view.showProgress("Cancelling…", null);
    if (this.job !== undefined) await this.cancelJob(this.job);
  }

  private async cancelJob(job: JobHandle): Promise<void> {
    try {
      await job.cancel();
    } catch (error) {
      this.deps.view.showError(diagnose(error, this.deps.env, this.settings.url));
    }
  }
}

/** The run was cancelled while main was still exporting its inputs: no job was submitted. */
class CancelledBeforeSubmit extends Error {
  constructor() {
    super("cancelled before the job was submitted");
    this.name = "CancelledBeforeSubmit";
  }
}
