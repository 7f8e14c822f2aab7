// The panel with the hashers its UXP entry hands in (src/uxp/wasmHashers.ts), against a real
// daemon that names blobs (blob.unnamed): uploads go unnamed, keyed by hash-wasm's XXH3-128, and
// an unchanged document is only checked with blob.has the second time.
import "../src/uxp/wasmHashers.js";
import { createHash } from "node:crypto";
import { afterEach, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import { decodeFrame, type WebSocketLike } from "@layerbridge/common";
import { DEFAULT_FORM } from "../src/form.js";
import { PhotoshopHost } from "../src/host/photoshopHost.js";
import { PanelController } from "../src/panelController.js";
import { MemoryTokenStore } from "../src/tokenStore.js";
import { MockDocument, resetMock } from "./mocks/photoshop.js";

const port = inject("daemonPort");
const token = inject("daemonToken");
const panels: PanelController[] = [];

afterEach(() => {
  for (const p of panels) p.disconnect();
  panels.length = 0;
});

describe("the panel's WebAssembly hashers against a real daemon", { timeout: 240_000 }, () => {
  it("uploads a Fill's image and mask unnamed, and an unchanged document only with blob.has the next time", async () => {
    const puts: { header: Record<string, unknown>; payload: Buffer }[] = [];
    const texts: Record<string, unknown>[] = [];
    const panel = new PanelController({
      host: new PhotoshopHost(),
      tokens: new MemoryTokenStore(token),
      createSocket: (url): WebSocketLike => {
        const ws = new WebSocket(url);
        const send = ws.send.bind(ws);
        ws.send = ((data: string | ArrayBuffer) => {
          if (typeof data === "string") texts.push(JSON.parse(data) as Record<string, unknown>);
          else {
            const frame = decodeFrame(new Uint8Array(data));
            puts.push({ header: frame.header as Record<string, unknown>, payload: Buffer.from(frame.payload) });
          }
          send(data);
        }) as typeof ws.send;
        return ws;
      },
      clientInfo: { name: "photoshop-tests", kind: "photoshop", version: "0.1.0" },
      port,
      reconnect: { initialMs: 50, maxMs: 200, maxAttempts: 2 },
      heartbeatMs: 0,
      placeRetryMs: 20,
    });
    panels.push(panel);
    await panel.start();
    await new Promise<void>((resolve) => {
      if (panel.snapshot.connection === "ready" && panel.snapshot.checkpoints.length) return resolve();
      const off = panel.on("change", (s) => {
        if (s.connection === "ready" && s.checkpoints.length) {
          off();
          resolve();
        }
      });
    });
    const doc = new MockDocument(1, 96, 80, 300);
    doc.composite.set(crypto.getRandomValues(new Uint8Array(16))); // pixels new to the daemon
    resetMock(doc);
    doc.selectRect(16, 16, 48, 48);
    const form = { ...DEFAULT_FORM, mode: "inpaint" as const, model: "demo", prompt: "a red door", steps: 2, variations: 1 };
    await panel.run(form);
    expect(panel.snapshot.job.stage).toBe("done");
    expect(puts.length).toBeGreaterThan(0);
    expect(puts.every((p) => !("sha256" in p.header))).toBe(true);
    // the job names each input by the sha256 of the bytes its upload carried
    const byId = new Map<unknown, Buffer[]>();
    for (const p of puts) byId.set(p.header["id"], [...(byId.get(p.header["id"]) ?? []), p.payload]);
    const names = [...byId.values()].map((chunks) => createHash("sha256").update(Buffer.concat(chunks)).digest("hex")).sort();
    const params = texts.find((m) => m["type"] === "job.submit")?.["params"] as Record<string, unknown>;
    expect(names).toEqual([params["image"], params["mask"]].sort());
    expect(texts.filter((m) => m["type"] === "blob.has")).toEqual([]);

    const sent = puts.length;
    await panel.run({ ...form, prompt: "a blue door" });
    expect(panel.snapshot.job.stage).toBe("done");
    expect(puts).toHaveLength(sent);
    expect(texts.filter((m) => m["type"] === "blob.has").map((m) => [...(m["sha256"] as string[])].sort())).toEqual([names]);
  });
});
