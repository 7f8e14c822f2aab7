// Binds the panel's HTML to the controller: reads the form, renders each state snapshot.
// Plain DOM (works in UXP and in a browser); the ids are the ones in index.html.
import { loraLabel, TriggerWordTracker, type ModelInfo } from "@layerbridge/common";
import { CONTROL_TYPES, DEFAULT_FORM, type ControlChoice, type FormValues, type LoraChoice, type Mode } from "../form.js";
import type { LayerInfo } from "../host/Host.js";
import type { PanelController } from "../panelController.js";
import { BUSY_STAGES, type PanelState } from "../panelState.js";
import { pngDataUrl } from "./dataUrl.js";

const CONNECTION_TEXT: Record<PanelState["connection"], string> = {
  unpaired: "Not paired — paste a token below",
  idle: "Not connected",
  connecting: "Connecting…",
  handshaking: "Connecting…",
  ready: "Connected",
  reconnecting: "Daemon unreachable — retrying…",
  closed: "Disconnected",
};

const RUN_LABEL: Record<Mode, string> = { generate: "Generate", inpaint: "Fill selection", expand: "Expand canvas", refine: "Refine layer" };

export class PanelView {
  private mode: Mode = DEFAULT_FORM.mode;
  private loras: LoraChoice[] = [];
  private readonly triggerWords = new TriggerWordTracker();
  private controls: ControlChoice[] = [];
  private layers: LayerInfo[] = [];
  private lastState: PanelState;
  private lastConnection: PanelState["connection"] | undefined;

  constructor(
    private readonly doc: Document,
    private readonly controller: PanelController,
    private readonly listLayers: () => Promise<LayerInfo[]>,
  ) {
    this.lastState = controller.snapshot;
    this.wire();
    controller.on("change", (s) => this.render(s));
    this.render(controller.snapshot);
  }

  private el<T extends HTMLElement>(id: string): T {
    const found = this.doc.getElementById(id);
    if (!found) throw new Error(`panel markup lacks #${id}`);
    return found as T;
  }

  /** Open or close a collapsible section (a .box with a .box-head and a .box-body). */
  private setOpen(boxId: string, open: boolean): void {
    const box = this.el(boxId);
    box.className = open ? "box open" : "box";
    const body = box.querySelector(".box-body");
    if (body) body.className = open ? "box-body" : "box-body hidden";
  }

  private wire(): void {
    for (const head of Array.from(this.doc.querySelectorAll(".box-head"))) {
      head.addEventListener("click", () => {
        const id = head.getAttribute("data-toggle") ?? "";
        const open = !this.el(id).className.includes("open");
        this.setOpen(id, open);
        // a LoRA trained or added in the tray since the panel connected shows when the list opens
        if (open && id === "loras-box") void this.controller.refreshModels();
      });
    }
    this.el<HTMLButtonElement>("pair").addEventListener("click", () => {
      const input = this.el<HTMLInputElement>("token");
      void this.controller.pair(input.value);
      input.value = "";
    });
    this.el<HTMLButtonElement>("unpair").addEventListener("click", () => void this.controller.unpair());
    this.el<HTMLButtonElement>("reconnect").addEventListener("click", () => this.controller.setPort(Number(this.el<HTMLInputElement>("port").value)));
    this.el<HTMLInputElement>("port").addEventListener("change", () => this.controller.setPort(Number(this.el<HTMLInputElement>("port").value)));
    this.el<HTMLButtonElement>("refresh-models").addEventListener("click", () => void this.controller.refreshModels());
    for (const button of Array.from(this.el("modes").querySelectorAll("button"))) {
      button.addEventListener("click", () => {
        this.mode = (button.getAttribute("data-mode") as Mode | null) ?? "generate";
        this.render(this.lastState);
      });
    }
    const strength = this.el<HTMLInputElement>("strength");
    strength.addEventListener("input", () => (this.el("strength-value").textContent = (Number(strength.value) / 100).toFixed(2)));
    this.el<HTMLButtonElement>("add-lora").addEventListener("click", () => {
      const first = this.lastState.loras[0];
      this.loras.push({ id: first?.id ?? "", weight: first?.default_weight ?? 1 });
      this.insertTriggerWords(first?.id);
      this.renderLoras();
    });
    this.el<HTMLButtonElement>("add-control").addEventListener("click", () => {
      void this.listLayers().then((layers) => {
        this.layers = layers;
        const first = layers[0];
        this.controls.push({ layerId: first?.id ?? 0, type: "canny", strength: 1 });
        this.renderControls();
      });
    });
    this.el<HTMLButtonElement>("run").addEventListener("click", () => void this.controller.run(this.readForm()));
    this.el<HTMLButtonElement>("cancel").addEventListener("click", () => void this.controller.cancel());
    this.el<HTMLButtonElement>("place-now").addEventListener("click", () => this.controller.placeWaiting());
  }

  /** The form as the user set it. */
  readForm(): FormValues {
    const num = (id: string, fallback: number) => {
      const v = Number(this.el<HTMLInputElement>(id).value);
      return Number.isFinite(v) ? v : fallback;
    };
    return {
      model: this.el<HTMLSelectElement>("model").value,
      prompt: this.el<HTMLTextAreaElement>("prompt").value,
      negativePrompt: this.el<HTMLTextAreaElement>("negative").value,
      mode: this.mode,
      strength: num("strength", 100) / 100,
      steps: num("steps", DEFAULT_FORM.steps),
      seed: num("seed", 0),
      seedLocked: this.el<HTMLInputElement>("seed-lock").checked,
      variations: num("variations", DEFAULT_FORM.variations),
      loras: this.loras.map((l) => ({ ...l })),
      controls: this.controls.map((c) => ({ ...c })),
      expand: { left: num("expand-left", 0), top: num("expand-top", 0), right: num("expand-right", 0), bottom: num("expand-bottom", 0) },
    };
  }

  render(s: PanelState): void {
    const modelsChanged = s.checkpoints !== this.lastState.checkpoints || this.el<HTMLSelectElement>("model").options.length === 0;
    this.lastState = s;
    const dot = this.el("conn-dot");
    dot.className = `dot ${s.connection}`;
    this.el("conn-status").textContent = CONNECTION_TEXT[s.connection] + (s.connection === "ready" ? ` · port ${s.port}` : "");
    this.el("server-version").textContent = s.serverVersion ? `daemon ${s.serverVersion}` : "";
    if (s.connection === "unpaired" && this.lastConnection !== "unpaired") this.setOpen("pairing", true);
    this.lastConnection = s.connection;
    if (modelsChanged) this.renderModels(s.checkpoints);

    for (const button of Array.from(this.el("modes").querySelectorAll("button"))) {
      button.className = button.getAttribute("data-mode") === this.mode ? "active" : "";
    }
    this.el("expand-row").className = this.mode === "expand" ? "row" : "row hidden";
    this.el("strength-row").className = this.mode === "generate" ? "row hidden" : "row";

    const busy = BUSY_STAGES.has(s.job.stage);
    const run = this.el<HTMLButtonElement>("run");
    run.textContent = RUN_LABEL[this.mode];
    run.disabled = busy || s.connection !== "ready";
    this.el<HTMLButtonElement>("cancel").disabled = !(busy && (s.job.stage === "queued" || s.job.stage === "running" || s.job.stage === "submitting"));
    if (s.lastSeed !== undefined && !this.el<HTMLInputElement>("seed-lock").checked) this.el<HTMLInputElement>("seed").value = String(s.lastSeed);

    const fraction = s.job.stage === "done" ? 1 : s.job.steps > 0 ? s.job.step / s.job.steps : 0;
    this.el("progress-bar").style.width = `${Math.round(fraction * 100)}%`;
    this.el("progress-text").textContent = progressText(s);
    const note = this.el("job-note");
    note.textContent = s.job.note ?? "";
    note.className = s.job.note && s.job.stage !== "idle" ? "muted" : "muted hidden";
    this.el("place-now").className = s.job.waiting > 0 ? "" : "hidden";
    const preview = this.el<HTMLImageElement>("preview");
    if (s.job.preview && busy) {
      preview.src = pngDataUrl(s.job.preview);
      preview.className = "preview";
    } else if (!busy && s.job.stage === "idle") {
      preview.className = "preview hidden";
    }

    const box = this.el("message");
    if (s.message) {
      box.className = `message ${s.message.kind}`;
      this.el("message-title").textContent = s.message.title;
      this.el("message-detail").textContent = s.message.detail;
      this.el("message-hint").textContent = s.message.hint;
    } else {
      box.className = "message hidden";
    }
    this.el("lora-count").textContent = this.loras.length ? `(${this.loras.length})` : "";
    this.el("control-count").textContent = this.controls.length ? `(${this.controls.length})` : "";
  }

  private renderModels(models: ModelInfo[]): void {
    const select = this.el<HTMLSelectElement>("model");
    const previous = select.value;
    select.innerHTML = "";
    for (const m of models) select.appendChild(this.option(m.id, `${m.name || m.id} (${m.arch})`));
    const keep = models.find((m) => m.id === previous) ?? models.find((m) => m.default) ?? models[0];
    if (keep) selectOption(select, keep.id);
  }

  private renderLoras(): void {
    const list = this.el("loras");
    list.innerHTML = "";
    this.loras.forEach((lora, i) => {
      const row = this.row();
      const select = this.doc.createElement("select");
      for (const m of this.lastState.loras) select.appendChild(this.option(m.id, loraLabel(m)));
      selectOption(select, lora.id);
      select.addEventListener("change", () => {
        const before = lora.id;
        lora.id = select.value;
        this.removeTriggerWords(before);
        this.insertTriggerWords(lora.id);
      });
      const weight = this.number(lora.weight, -4, 4, 0.05, (v) => (lora.weight = v));
      weight.title = "weight";
      row.append(select, weight, this.remove(() => {
        const [gone] = this.loras.splice(i, 1);
        this.removeTriggerWords(gone?.id);
        this.renderLoras();
      }));
      list.appendChild(row);
    });
    this.render(this.lastState);
  }

  /** A LoRA was picked: its trigger words go into the prompt (once), as it needs them to act. */
  private insertTriggerWords(loraId: string | undefined): void {
    const prompt = this.el<HTMLTextAreaElement>("prompt");
    prompt.value = this.triggerWords.add(prompt.value, this.wordsOf(loraId));
  }

  /** A LoRA was removed or replaced in its row: the words picking it put in come out again,
   * unless another picked LoRA calls for them. */
  private removeTriggerWords(loraId: string | undefined): void {
    const prompt = this.el<HTMLTextAreaElement>("prompt");
    const stillNeeded = this.loras.flatMap((l) => this.wordsOf(l.id));
    prompt.value = this.triggerWords.remove(prompt.value, this.wordsOf(loraId), stillNeeded);
  }

  private wordsOf(loraId: string | undefined): string[] {
    return this.lastState.loras.find((m) => m.id === loraId)?.trigger_words ?? [];
  }

  private renderControls(): void {
    const list = this.el("controls");
    list.innerHTML = "";
    this.controls.forEach((control, i) => {
      const row = this.row();
      const layer = this.doc.createElement("select");
      for (const l of this.layers) layer.appendChild(this.option(String(l.id), l.name));
      selectOption(layer, String(control.layerId));
      layer.addEventListener("change", () => (control.layerId = Number(layer.value)));
      const type = this.doc.createElement("select");
      for (const t of CONTROL_TYPES) type.appendChild(this.option(t, t));
      selectOption(type, control.type);
      type.addEventListener("change", () => (control.type = type.value as ControlChoice["type"]));
      const strength = this.number(control.strength, 0, 2, 0.05, (v) => (control.strength = v));
      strength.title = "strength";
      row.append(layer, type, strength, this.remove(() => this.controls.splice(i, 1) && this.renderControls()));
      list.appendChild(row);
    });
    this.render(this.lastState);
  }

  private row(): HTMLDivElement {
    const row = this.doc.createElement("div");
    row.className = "row item";
    return row;
  }

  private option(value: string, label: string): HTMLOptionElement {
    const o = this.doc.createElement("option");
    // UXP: an <option> without a value attribute makes select.value undefined (known issues)
    o.setAttribute("value", value);
    o.textContent = label;
    return o;
  }

  private number(value: number, min: number, max: number, step: number, set: (v: number) => void): HTMLInputElement {
    const input = this.doc.createElement("input");
    input.type = "number";
    input.className = "narrow";
    input.min = String(min);
    input.max = String(max);
    input.step = String(step);
    input.value = String(value);
    input.addEventListener("change", () => set(Number(input.value)));
    return input;
  }

  private remove(onClick: () => unknown): HTMLButtonElement {
    const b = this.doc.createElement("button");
    b.type = "button";
    b.className = "quiet";
    b.textContent = "✕";
    b.title = "Remove";
    b.addEventListener("click", () => void onClick());
    return b;
  }
}

/** Shows `value` as the selection. UXP does not show a selection made by setting `select.value`
 * (known issues: "use the selected attribute on the option tags"); browsers honour both. */
export function selectOption(select: HTMLSelectElement, value: string): void {
  for (const option of Array.from(select.options)) {
    const chosen = option.getAttribute("value") === value;
    option.selected = chosen;
    if (chosen) option.setAttribute("selected", "");
    else option.removeAttribute("selected");
  }
}

function progressText(s: PanelState): string {
  const j = s.job;
  switch (j.stage) {
    case "idle":
      return "Idle";
    case "reading":
      return "Reading pixels…";
    case "uploading":
      return j.uploadTotal ? `Uploading ${Math.round((100 * j.uploaded) / j.uploadTotal)}%` : "Uploading…";
    case "submitting":
      return "Submitting…";
    case "queued":
      return "Queued";
    case "running":
      return `Step ${j.step}/${j.steps}`;
    case "placing":
      return j.waiting > 0 ? `${j.waiting} waiting for Photoshop` : `Placing ${j.placed}/${j.expected}`;
    case "done":
      return `Done · ${j.placed} placed`;
    case "failed":
      return "Failed";
    case "cancelled":
      return "Cancelled";
  }
}
