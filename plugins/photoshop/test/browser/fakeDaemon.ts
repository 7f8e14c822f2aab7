// A scripted daemon behind a WebSocketLike, for the browser preview: enough of the protocol to
// show the panel connected, running (with previews) and placing results. Not a protocol reference:
// the real daemon is exercised by test/panel.daemon.test.ts.
import { decodeFrame, encodeFrame, sha256HexSync, type SocketCloseEvent, type SocketMessageEvent, type WebSocketLike } from "@layerbridge/common";
import { encode } from "fast-png";

export interface FakeDaemonControls {
  /** Stop progress at this step (for a screenshot); undefined runs to the end. */
  holdAtStep: number | undefined;
  /** Fail the next job with this error code. */
  failNextWith: string | undefined;
  stepMs: number;
  /** Models registered after the panel connected (a LoRA just trained): listed by models.list,
   * not by the welcome. */
  registeredLater: object[];
}

export const controls: FakeDaemonControls = { holdAtStep: undefined, failNextWith: undefined, stepMs: 40, registeredLater: [] };

function gradientPng(width: number, height: number, hue: number, alpha = 255): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[i] = (hue + (x * 200) / width) % 255;
      data[i + 1] = 90 + (y * 120) / height;
      data[i + 2] = 160 - (x * 80) / width;
      data[i + 3] = alpha;
    }
  return encode({ width, height, data, channels: 4, depth: 8 });
}

const MODELS = [
  { id: "sdxl-base", name: "SDXL base 1.0", arch: "sdxl", kind: "checkpoint", default: true },
  { id: "dreamshaper-8", name: "DreamShaper 8", arch: "sd15", kind: "checkpoint" },
  { id: "sd15-inpaint", name: "SD 1.5 inpainting", arch: "sd15-inpaint", kind: "checkpoint" },
  { id: "film-grain", name: "Film grain", arch: "sdxl", kind: "lora", default_weight: 0.8 },
  { id: "ink-sketch", name: "Ink sketch", arch: "sdxl", kind: "lora", trigger_words: ["inksk"] },
];

export class FakeDaemonSocket implements WebSocketLike {
  binaryType = "blob";
  readyState = 0;
  bufferedAmount = 0;
  onopen: ((e: unknown) => void) | null = null;
  onmessage: ((e: SocketMessageEvent) => void) | null = null;
  onclose: ((e: SocketCloseEvent) => void) | null = null;
  onerror: ((e: unknown) => void) | null = null;

  constructor(readonly url: string) {
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.({});
    }, 30);
  }

  close(code = 1000, reason = ""): void {
    this.readyState = 3;
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }

  private reply(msg: object): void {
    setTimeout(() => this.onmessage?.({ data: JSON.stringify(msg) }), 5);
  }

  private binary(header: object, payload: Uint8Array): void {
    setTimeout(() => this.onmessage?.({ data: encodeFrame(header, payload) }), 5);
  }

  send(data: string | ArrayBuffer): void {
    if (typeof data !== "string") {
      const { header } = decodeFrame(data) as { header: { sha256: string; offset: number; total: number }; payload: Uint8Array };
      const frame = decodeFrame(data);
      if (header.offset + frame.payload.length >= header.total) this.reply({ type: "blob.stored", sha256: header.sha256, size: header.total });
      return;
    }
    const msg = JSON.parse(data) as Record<string, unknown> & { type: string; id?: string };
    switch (msg.type) {
      case "hello":
        this.reply({
          type: "welcome", reply_to: msg.id, protocol: 1, server: { name: "layerbridge", kind: "other", version: "0.1.0" }, session: "preview", scope: "client",
          capabilities: ["generate", "refine", "inpaint", "expand", "control", "lora", "preview"], models: MODELS,
          limits: { max_frame_bytes: 17825792, max_blob_bytes: 536870912, max_chunk_bytes: 16777216, max_image_pixels: 134217728, max_side: 16384, max_generate_side: 2048, max_steps: 150, max_batch: 8 },
        });
        return;
      case "models.list":
        this.reply({ type: "models.reply", reply_to: msg.id, models: [...MODELS, ...controls.registeredLater] });
        return;
      case "blob.has":
        this.reply({ type: "blob.missing", reply_to: msg.id, sha256: msg["sha256"] });
        return;
      case "ping":
        this.reply({ type: "pong", reply_to: msg.id });
        return;
      case "job.cancel":
        this.cancelled.add(String(msg["job_id"]));
        this.reply({ type: "ok", reply_to: msg.id });
        return;
      case "job.submit":
        this.runJob(msg);
        return;
      default:
        this.reply({ type: "error", reply_to: msg.id, code: "unsupported", message: `${msg.type} is not in the preview daemon` });
    }
  }

  private readonly cancelled = new Set<string>();

  private runJob(msg: Record<string, unknown> & { id?: string }): void {
    const jobId = String(msg["job_id"]);
    const params = msg["params"] as { steps?: number; batch?: number; kind: string; width?: number; height?: number; seed?: number };
    if (controls.failNextWith) {
      const code = controls.failNextWith;
      controls.failNextWith = undefined;
      this.reply({ type: "error", reply_to: msg.id, code, message: code === "out_of_memory" ? "CUDA out of memory while denoising 2048×2048" : `preview failure: ${code}`, job_id: jobId });
      return;
    }
    const seed = params.seed ?? 1234567;
    this.reply({ type: "job.accepted", reply_to: msg.id, job_id: jobId, position: 0, seed, duplicate: false });
    this.reply({ type: "job.started", job_id: jobId });
    const steps = params.steps ?? 20;
    const batch = params.batch ?? 1;
    const preview = gradientPng(32, 32, 40);
    let step = 0;
    const tick = () => {
      if (this.cancelled.has(jobId)) {
        this.reply({ type: "job.cancelled", job_id: jobId });
        return;
      }
      if (controls.holdAtStep !== undefined && step >= controls.holdAtStep) {
        setTimeout(tick, 50);
        return;
      }
      step++;
      this.binary({ type: "job.progress", job_id: jobId, step, steps, preview: "png", preview_width: 32, preview_height: 32 }, preview);
      if (step < steps) {
        setTimeout(tick, controls.stepMs);
        return;
      }
      const w = 48;
      const h = 40;
      for (let i = 0; i < batch; i++) {
        const png = gradientPng(w, h, 60 * i, 255);
        const sha = sha256HexSync(png);
        this.binary({ type: "blob.data", sha256: sha, offset: 0, total: png.length, format: "png", width: w, height: h }, png);
        this.reply({
          type: "job.result", job_id: jobId,
          result: { index: i, blob: sha, format: "png", width: w, height: h, region: { x: 8, y: 8, width: w, height: h }, seed: seed + i, params },
        });
      }
      this.reply({ type: "job.done", job_id: jobId, results: batch, seconds: 1.2 });
    };
    setTimeout(tick, controls.stepMs);
  }
}
