/** The panel's DOM: typed handles on index.html's elements and the small renderers over them. */

import { loraLabel, TriggerWordTracker, type ConnectionState, type ErrorDescription, type LoraSpec, type ModelInfo } from "@layerbridge/common";
import type { FlowKind, SelectionInfo } from "../shared/messages";
import { controlNetOptions } from "./flowOptions";

function byId<T extends HTMLElement>(doc: Document, id: string, type: { new (): T }): T {
  const el = doc.getElementById(id);
  if (!(el instanceof type)) throw new Error(`index.html lacks #${id}`);
  return el;
}

/** A blob: URL showing the PNG; the caller revokes it. (A Blob needs an ArrayBuffer-backed copy.) */
function pngObjectUrl(png: Uint8Array): string {
  return URL.createObjectURL(new Blob([new Uint8Array(png)], { type: "image/png" }));
}

export const RUN_LABELS: Record<FlowKind, string> = {
  generate: "Generate",
  inpaint: "Fill region",
  refine: "Restyle",
};

const STATE_LABELS: Record<ConnectionState, string> = {
  idle: "Not connected",
  connecting: "Connecting…",
  handshaking: "Connecting…",
  ready: "Connected",
  reconnecting: "Reconnecting…",
  closed: "Not connected",
};

export class PanelView {
  readonly status: HTMLElement;
  readonly connection: HTMLDetailsElement;
  readonly url: HTMLInputElement;
  readonly token: HTMLInputElement;
  readonly connect: HTMLButtonElement;
  readonly selection: HTMLElement;
  readonly modes: HTMLButtonElement[];
  readonly flowHint: HTMLElement;
  readonly prompt: HTMLTextAreaElement;
  readonly model: HTMLSelectElement;
  readonly batch: HTMLInputElement;
  readonly scale: HTMLSelectElement;
  readonly strength: HTMLInputElement;
  readonly strengthValue: HTMLOutputElement;
  readonly control: HTMLSelectElement;
  readonly controlStrength: HTMLInputElement;
  readonly loras: HTMLElement;
  readonly lorasBox: HTMLDetailsElement;
  readonly loraCount: HTMLElement;
  readonly negative: HTMLTextAreaElement;
  readonly steps: HTMLInputElement;
  readonly guidance: HTMLInputElement;
  readonly seed: HTMLInputElement;
  readonly run: HTMLButtonElement;
  readonly cancel: HTMLButtonElement;
  readonly progress: HTMLElement;
  readonly barFill: HTMLElement;
  readonly progressText: HTMLElement;
  readonly preview: HTMLImageElement;
  readonly error: HTMLElement;
  readonly done: HTMLElement;
  private readonly flowRows: HTMLElement[];
  private readonly urls: string[] = [];
  private readonly triggerWords = new TriggerWordTracker();
  private loraWords = new Map<string, readonly string[]>(); // the listed LoRAs' trigger words
  private previewUrl: string | null = null;

  constructor(private readonly doc: Document) {
    this.status = byId(doc, "status", HTMLElement);
    this.connection = byId(doc, "connection", HTMLDetailsElement);
    this.url = byId(doc, "url", HTMLInputElement);
    this.token = byId(doc, "token", HTMLInputElement);
    this.connect = byId(doc, "connect", HTMLButtonElement);
    this.selection = byId(doc, "selection", HTMLElement);
    this.modes = [...doc.querySelectorAll<HTMLButtonElement>("#modes button[data-flow]")];
    this.flowHint = byId(doc, "flow-hint", HTMLElement);
    this.prompt = byId(doc, "prompt", HTMLTextAreaElement);
    this.model = byId(doc, "model", HTMLSelectElement);
    this.batch = byId(doc, "batch", HTMLInputElement);
    this.scale = byId(doc, "scale", HTMLSelectElement);
    this.strength = byId(doc, "strength", HTMLInputElement);
    this.strengthValue = byId(doc, "strength-value", HTMLOutputElement);
    this.control = byId(doc, "control", HTMLSelectElement);
    this.controlStrength = byId(doc, "control-strength", HTMLInputElement);
    this.loras = byId(doc, "loras", HTMLElement);
    this.lorasBox = byId(doc, "loras-box", HTMLDetailsElement);
    this.loraCount = byId(doc, "lora-count", HTMLElement);
    this.negative = byId(doc, "negative", HTMLTextAreaElement);
    this.steps = byId(doc, "steps", HTMLInputElement);
    this.guidance = byId(doc, "guidance", HTMLInputElement);
    this.seed = byId(doc, "seed", HTMLInputElement);
    this.run = byId(doc, "run", HTMLButtonElement);
    this.cancel = byId(doc, "cancel", HTMLButtonElement);
    this.progress = byId(doc, "progress", HTMLElement);
    this.barFill = byId(doc, "bar-fill", HTMLElement);
    this.progressText = byId(doc, "progress-text", HTMLElement);
    this.preview = byId(doc, "preview", HTMLImageElement);
    this.error = byId(doc, "error", HTMLElement);
    this.done = byId(doc, "done", HTMLElement);
    this.flowRows = [...doc.querySelectorAll<HTMLElement>("[data-flows]")];
  }

  showState(state: ConnectionState, server?: string): void {
    this.status.dataset["state"] = state;
    this.status.textContent = state === "ready" && server ? `Connected · ${server}` : STATE_LABELS[state];
  }

  /** `control`: a generate that reads the selection as its control image (a ControlNet is picked). */
  showFlow(flow: FlowKind, selection: SelectionInfo | null, busy: boolean, connected: boolean, control = false): void {
    const wanted = control ? selection?.control : selection?.flows[flow];
    const availability = wanted ?? { ok: false as const, reason: "Select a layer first." };
    for (const button of this.modes) {
      const f = button.dataset["flow"] as FlowKind;
      button.setAttribute("aria-selected", String(f === flow));
      button.dataset["available"] = String(selection?.flows[f]?.ok ?? false);
    }
    for (const row of this.flowRows) row.hidden = !(row.dataset["flows"] ?? "").split(" ").includes(flow);
    this.flowHint.textContent = availability.ok ? availability.summary : availability.reason;
    this.run.textContent = control ? "Generate from sketch" : RUN_LABELS[flow];
    this.run.disabled = busy || !connected || !availability.ok;
    this.cancel.hidden = !busy;
    this.selection.textContent = selection?.label ?? "Nothing selected";
  }

  showModels(models: readonly ModelInfo[], wanted: string): void {
    const checkpoints = models.filter((m) => m.kind === "checkpoint");
    this.model.replaceChildren(
      ...checkpoints.map((m) => {
        const option = this.doc.createElement("option");
        option.value = m.id;
        option.textContent = m.name;
        option.title = m.id;
        return option;
      }),
    );
    const pick = checkpoints.find((m) => m.id === wanted) ?? checkpoints.find((m) => m.default) ?? checkpoints[0];
    if (pick !== undefined) this.model.value = pick.id;
  }

  /**
   * The daemon's ControlNets that fit the chosen checkpoint's architecture, each named with the
   * kind of map it follows (depth, lineart...), after "None"; the pick is kept where it still fits.
   */
  showControlNets(models: readonly ModelInfo[], checkpoint: string): void {
    const base = models.find((m) => m.id === checkpoint)?.arch.replace(/-inpaint$/, "");
    const nets = models.filter((m) => m.kind === "controlnet" && m.arch === base);
    const before = this.control.value;
    const none = this.doc.createElement("option");
    none.value = "";
    none.textContent = nets.length > 0 ? "None: from the prompt only" : "None (the daemon has none for this model)";
    const options = nets.flatMap((m) =>
      controlNetOptions(m).map(({ value, type }) => {
        const option = this.doc.createElement("option");
        option.value = value;
        option.textContent = `${m.name} · ${type === "any" ? "any map" : type}`;
        option.title = m.id;
        return option;
      }),
    );
    this.control.replaceChildren(none, ...options);
    this.control.value = options.some((o) => o.value === before) ? before : "";
  }

  /** LoRAs that fit the chosen checkpoint's architecture, each with a checkbox and a weight (the
   * ones already picked stay picked, at their weight). */
  showLoras(models: readonly ModelInfo[], checkpoint: string): void {
    const base = models.find((m) => m.id === checkpoint)?.arch.replace(/-inpaint$/, "");
    const loras = models.filter((m) => m.kind === "lora" && m.arch === base);
    const picked = new Map(this.selectedLoras().map((l) => [l.id, l.weight]));
    this.loraWords = new Map(loras.map((m) => [m.id, m.trigger_words ?? []]));
    if (loras.length === 0) {
      const p = this.doc.createElement("p");
      p.className = "hint";
      p.textContent = "No LoRAs for this model. Add them in the Layerbridge tray app.";
      this.loras.replaceChildren(p);
    } else {
      this.loras.replaceChildren(...loras.map((m) => this.loraRow(m, picked.get(m.id))));
    }
    this.updateLoraCount();
  }

  private loraRow(model: ModelInfo, pickedWeight: number | undefined): HTMLElement {
    const row = this.doc.createElement("label");
    row.className = "lora";
    row.dataset["id"] = model.id;
    const check = this.doc.createElement("input");
    check.type = "checkbox";
    check.checked = pickedWeight !== undefined;
    check.addEventListener("change", () => {
      // picked: its trigger words go into the prompt (once), as the LoRA needs them to act;
      // unpicked: the words picking it put in come out, unless another picked LoRA needs them
      const words = model.trigger_words ?? [];
      this.prompt.value = check.checked
        ? this.triggerWords.add(this.prompt.value, words)
        : this.triggerWords.remove(this.prompt.value, words, this.pickedTriggerWords());
      this.updateLoraCount();
    });
    const name = this.doc.createElement("span");
    name.textContent = loraLabel(model);
    name.title = model.id;
    const weight = this.doc.createElement("input");
    weight.type = "number";
    weight.step = "0.1";
    weight.min = "-4";
    weight.max = "4";
    weight.value = String(pickedWeight ?? model.default_weight ?? 1);
    row.append(check, name, weight);
    return row;
  }

  selectedLoras(): LoraSpec[] {
    const out: LoraSpec[] = [];
    for (const row of this.loras.querySelectorAll<HTMLElement>(".lora")) {
      const [check, weight] = row.querySelectorAll("input");
      const id = row.dataset["id"];
      if (id !== undefined && check?.checked) out.push({ id, weight: Number(weight?.value ?? 1) || 0 });
    }
    return out;
  }

  private pickedTriggerWords(): string[] {
    return this.selectedLoras().flatMap((l) => [...(this.loraWords.get(l.id) ?? [])]);
  }

  private updateLoraCount(): void {
    const n = this.selectedLoras().length;
    this.loraCount.textContent = n > 0 ? `(${n} on)` : "";
  }

  showProgress(text: string, fraction: number | null): void {
    this.progress.hidden = false;
    this.progressText.textContent = text;
    this.barFill.style.width = fraction === null ? "0" : `${Math.round(fraction * 100)}%`;
  }

  showPreview(png: Uint8Array): void {
    // One preview per step: free the last one rather than keeping every step's image.
    if (this.previewUrl !== null) URL.revokeObjectURL(this.previewUrl);
    this.previewUrl = pngObjectUrl(png);
    this.preview.src = this.previewUrl;
    this.preview.hidden = false;
    this.progress.dataset["previews"] = String(Number(this.progress.dataset["previews"] ?? "0") + 1);
  }

  hideProgress(): void {
    this.progress.hidden = true;
    this.preview.hidden = true;
  }

  showError(error: ErrorDescription | null): void {
    this.error.hidden = error === null;
    if (error === null) return;
    this.setText("error-title", error.title);
    this.setText("error-detail", error.detail);
    this.setText("error-hint", error.hint);
  }

  showDone(text: string, notes: readonly string[], images: readonly Uint8Array[]): void {
    this.done.hidden = false;
    this.setText("done-text", text);
    const list = this.doc.getElementById("notes");
    list?.replaceChildren(
      ...notes.map((n) => {
        const li = this.doc.createElement("li");
        li.textContent = n;
        return li;
      }),
    );
    const results = this.doc.getElementById("results");
    results?.replaceChildren(
      ...images.map((png, i) => {
        const img = this.doc.createElement("img");
        img.alt = `Result ${i + 1}`;
        img.src = this.objectUrl(png);
        return img;
      }),
    );
  }

  clearDone(): void {
    this.done.hidden = true;
    while (this.urls.length > 0) URL.revokeObjectURL(this.urls.pop() ?? "");
  }

  private setText(id: string, text: string): void {
    const el = this.doc.getElementById(id);
    if (el !== null) el.textContent = text;
  }

  private objectUrl(png: Uint8Array): string {
    const url = pngObjectUrl(png);
    this.urls.push(url);
    return url;
  }
}
