/**
 * The main thread's message handling: answers the UI's requests with exported inputs, places the
 * results, keeps the UI told about the selection. Takes the figma API as a parameter (tests pass a
 * recording stub).
 */

import type { FlowInput, MainToUi, UiToMain } from "../shared/messages";
import { isUiToMain } from "../shared/messages";
import { FIGMA_MAX_IMAGE_SIDE, fitWithin } from "../shared/size";
import { Cleanup } from "./cleanup";
import { exportPlan, exportPng, exportPngWithout } from "./exportNode";
import { nativeScale } from "./imageNode";
import { placeResults, type PendingPlacement } from "./placeResults";
import { renderMask } from "./renderMask";
import { describeSelection, resolveFlow, type FlowTarget } from "./selection";
import { loadSettings, saveSettings } from "./settings";

export class MainController {
  private readonly pending = new Map<string, PendingPlacement>();
  /** Temporary edits of an export in progress, undone if the plugin closes meanwhile. */
  private readonly cleanup = new Cleanup();

  constructor(private readonly api: PluginAPI) {}

  /** Requests waiting for their results (for tests and diagnostics). */
  get pendingCount(): number {
    return this.pending.size;
  }

  post(message: MainToUi): void {
    this.api.ui.postMessage(message);
  }

  /**
   * The plugin is closing (figma.on("close")): synchronous only, Figma tears the main thread down
   * when this returns. Puts back what an unfinished export changed and tells the UI, which cancels
   * its running job (the UI also does so on its own `pagehide`: this message may not arrive).
   */
  closing(): void {
    this.cleanup.runAll();
    this.pending.clear();
    this.post({ type: "closing" });
  }

  selectionChanged(): void {
    this.post({ type: "selection", selection: describeSelection(this.api.currentPage.selection) });
  }

  /** Handle one message from the UI; never throws (failures go back to the UI as messages). */
  async handle(raw: unknown): Promise<void> {
    if (!isUiToMain(raw)) return;
    const message: UiToMain = raw;
    switch (message.type) {
      case "ui-ready": {
        const settings = await loadSettings(this.api.clientStorage);
        this.post({ type: "init", settings, selection: describeSelection(this.api.currentPage.selection) });
        return;
      }
      case "save-settings":
        await saveSettings(this.api.clientStorage, message.settings);
        return;
      case "prepare":
        try {
          const input = await this.prepare(message);
          this.post({ type: "prepared", requestId: message.requestId, input });
        } catch (error) {
          this.pending.delete(message.requestId);
          this.post({ type: "prepare-failed", requestId: message.requestId, message: messageOf(error) });
        }
        return;
      case "place": {
        const pending = this.pending.get(message.requestId);
        this.pending.delete(message.requestId);
        if (pending === undefined) {
          this.post({ type: "place-failed", requestId: message.requestId, message: "Unknown request" });
          return;
        }
        try {
          const nodes = await placeResults(this.api, pending, message.results, message);
          const what = nodes.length === 1 ? "1 image" : `${nodes.length} images`;
          this.api.notify(`Layerbridge: placed ${what}`);
          this.post({ type: "placed", requestId: message.requestId, nodeIds: nodes.map((n) => n.id) });
        } catch (error) {
          this.post({ type: "place-failed", requestId: message.requestId, message: messageOf(error) });
        } finally {
          // Plugin edits are not committed to the undo history on their own: without this one
          // Cmd+Z would revert every run since the plugin opened. One run, one undo step (with
          // the export's hide-and-show of mask shapes, which it holds as no-ops).
          this.api.commitUndo();
        }
        return;
      }
      case "abandon":
        this.pending.delete(message.requestId);
        return;
      case "notify":
        this.api.notify(message.message, { error: message.error });
        return;
    }
  }

  private async prepare(request: Extract<UiToMain, { type: "prepare" }>): Promise<FlowInput> {
    const { requestId, flow } = request;
    const control = flow === "generate" && request.control === true;
    const resolved = resolveFlow(flow, this.api.currentPage.selection, control);
    if (!resolved.ok) throw new Error(resolved.reason);
    const target = resolved.target;
    const maxSide = Math.min(FIGMA_MAX_IMAGE_SIDE, request.maxSide > 0 ? request.maxSide : FIGMA_MAX_IMAGE_SIDE);
    const input = await this.exportInputs(target, request.scale, maxSide);
    this.pending.set(requestId, { flow, control, sourceId: sourceOf(target).id });
    return input;
  }

  private async exportInputs(target: FlowTarget, scale: number, maxSide: number): Promise<FlowInput> {
    switch (target.flow) {
      case "generate": {
        if (target.control) {
          const plan = exportPlan(target.node, scale, maxSide);
          const control = await exportPng(target.node, plan.scale);
          return withNote({ flow: "generate", target: plan.size, control }, plan.note);
        }
        const size = fitWithin({ width: target.node.width * scale, height: target.node.height * scale });
        const note = size.scaled ? `Sized to ${size.width}×${size.height} (Figma's 4096 px image limit).` : undefined;
        return withNote({ flow: "generate", target: { width: size.width, height: size.height } }, note);
      }
      case "refine": {
        const plan = exportPlan(target.image, await nativeScale(this.api, target.image), maxSide);
        const image = await exportPng(target.image, plan.scale);
        return withNote({ flow: "refine", image, size: plan.size }, plan.note);
      }
      case "inpaint": {
        const plan = exportPlan(target.image, await nativeScale(this.api, target.image));
        const image = await exportPngWithout(target.image, target.shapes, plan.scale, this.cleanup);
        const mask = await renderMask(this.api, target.image, target.shapes, plan.scale, this.cleanup);
        return withNote({ flow: "inpaint", image, mask, size: plan.size }, plan.note);
      }
    }
  }
}

function sourceOf(target: FlowTarget): SceneNode {
  switch (target.flow) {
    case "generate":
      return target.node;
    case "refine":
    case "inpaint":
      return target.image;
  }
}

function withNote<T extends FlowInput>(input: T, note: string | undefined): T {
  return note === undefined ? input : { ...input, note };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
