/**
 * Stands in for Figma around the real UI page: serves a page on 127.0.0.1 that loads dist/ui.html
 * into a sandboxed iframe (opaque origin, so the socket sends `Origin: null` like Figma's) and
 * answers the UI's messages the way the main thread would.
 */

import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { FLOW_KINDS, type FlowAvailability, type FlowInput, type FlowKind, type SelectionInfo, type Settings } from "../../src/shared/messages";

export interface HarnessScript {
  settings: Settings;
  selection: SelectionInfo;
  /** What "main" answers to every prepare. */
  input: FlowInput;
  /** Hold the answer to a prepare until the page calls `window.releasePrepare()`. */
  holdPrepare?: boolean;
}

export interface Harness {
  url: string;
  close(): Promise<void>;
}

/** The harness page: the iframe plus a fake main thread that records what the UI sent. */
function page(script: HarnessScript, ui: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Figma (harness)</title></head>
<body style="margin:0;padding:16px;background:#2c2c2c">
<iframe id="plugin" sandbox="allow-scripts" style="width:340px;height:720px;border:0;border-radius:8px;background:#fff" srcdoc="${escapeAttribute(ui)}"></iframe>
<script>
const SCRIPT = ${JSON.stringify(serializable(script))};
// Byte fields travel as arrays inside this page's source; the UI gets Uint8Arrays, as from Figma.
const INPUT = Object.fromEntries(Object.entries(SCRIPT.input).map(([k, v]) => [k, Array.isArray(v) ? new Uint8Array(v) : v]));
window.received = [];
window.prepares = [];
window.placed = null;
const frame = document.getElementById("plugin");
const toUi = (message) => frame.contentWindow.postMessage({ pluginMessage: message }, "*");
window.addEventListener("message", (event) => {
  if (event.source !== frame.contentWindow) return;
  const message = event.data && event.data.pluginMessage;
  if (!message) return;
  window.received.push(message.type);
  if (message.type === "ui-ready") toUi({ type: "init", settings: SCRIPT.settings, selection: SCRIPT.selection });
  if (message.type === "prepare") {
    window.prepares.push({ flow: message.flow, control: message.control });
    const answer = () => toUi({ type: "prepared", requestId: message.requestId, input: INPUT });
    if (SCRIPT.holdPrepare) window.releasePrepare = answer;
    else answer();
  }
  if (message.type === "place") {
    window.placed = message.results.map((r) => ({ width: r.width, height: r.height, seed: r.seed, bytes: r.png.length,
      signature: Array.from(r.png.slice(1, 4)).map((c) => String.fromCharCode(c)).join("") }));
    window.placedPngs = message.results.map((r) => Array.from(r.png));
    toUi({ type: "placed", requestId: message.requestId, nodeIds: message.results.map((_, i) => "9:" + i) });
  }
});
</script>
</body></html>`;
}

/** The UI goes in as the frame's srcdoc attribute, so the frame loads it with the page. */
function escapeAttribute(html: string): string {
  return html.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
}

function serializable(script: HarnessScript): unknown {
  const input = Object.fromEntries(
    Object.entries(script.input).map(([k, v]) => [k, v instanceof Uint8Array ? Array.from(v) : v]),
  );
  return { ...script, input };
}

export async function startHarness(script: HarnessScript): Promise<Harness> {
  const ui = await readFile(join(__dirname, "../../dist/ui.html"), "utf8");
  const html = page(script, ui);
  const server: Server = createServer((req, res) => {
    if (req.url === "/") {
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

/** A selection on which exactly `flow` can run (`control`: and which can serve as a sketch). */
export function selectionFor(label: string, flow: FlowKind, control = false): SelectionInfo {
  const flows = {} as Record<FlowKind, FlowAvailability>;
  const no = { ok: false as const, reason: "Select something else." };
  for (const f of FLOW_KINDS) flows[f] = f === flow ? { ok: true, summary: `Use ${label}` } : no;
  return { label, flows, control: control ? { ok: true, summary: `Use ${label} as the sketch` } : no };
}
