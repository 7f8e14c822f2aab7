// The Photoshop panel's two waits, against a real daemon (the demo models, on this machine):
//   1. click → upload done for a 4096² canvas (new bytes, so the upload really happens), until
//      blob.stored. The named path (as UXP does it without blob.unnamed: no WebCrypto, so SHA-256
//      first, then blob.has, then the chunks): with the plain-JS SHA-256 (the baseline, where the
//      host has no WebAssembly), then with the WebAssembly SHA-256 the panel hands in (hash-wasm).
//      Then the unnamed path the panel takes with a daemon that has blob.unnamed: the XXH3-128
//      content key the panel hands in (hash-wasm), then the chunks; the daemon hashes them as they
//      arrive and names the blob. Photoshop's own getPixels is not in it (it cannot run here).
//   2. last step → pixels decoded for a 1024² result (a Fill of a 1024² selection): from the job's
//      last progress event to RGBA pixels in hand for putPixels. Baseline: PNG results (the daemon encodes, the panel decodes
//      with fast-png in plain JS, as in UXP); then raw rgba8 results (result_format), which the
//      panel asks for on loopback.
// Both in the same run, each best of 3. Run: node bench/plugin_results.mjs   (after `make install`
// and `npm ci` in plugins/common and plugins/photoshop; the panel's TypeScript is bundled on the
// fly with its esbuild).
import { panelBundle, root } from "./_panel_bundle.mjs";
import { execFileSync } from "node:child_process";
import { randomUUID, getRandomValues } from "node:crypto";
import { join } from "node:path";

// UXP's crypto has getRandomValues and randomUUID only: no subtle.digest to hash with
Object.defineProperty(globalThis, "crypto", { value: { randomUUID, getRandomValues }, configurable: true });

const { lb, cleanup } = await panelBundle([
  'export { LayerbridgeClient, decodeFrame, useContentHasher, useWasmSha256 } from "@layerbridge/common";',
  'export { demoDataDir, serveDaemon } from "@layerbridge/common/testing";',
  'export { createSHA256, createXXHash128 } from "hash-wasm";',
  'export { resultPixels } from "./src/resultPixels.ts";',
  'export { default as WebSocket } from "ws";',
]);

const RUNS = 3;
const best = (xs) => Math.min(...xs);
const ms = (v) => `${v.toFixed(0).padStart(6)} ms`;

console.log("building the demo models and starting a daemon ...");
const data = await lb.demoDataDir();
const token = await data.pair("bench-photoshop");
const daemon = await lb.serveDaemon(data.dir);
let putsWithSha = 0;
let putsWithout = 0;
const client = new lb.LayerbridgeClient({
  url: daemon.url,
  token,
  client: { name: "bench-photoshop", kind: "photoshop", version: "bench" },
  createSocket: (url) => {
    const ws = new lb.WebSocket(url);
    const send = ws.send.bind(ws);
    ws.send = (frame) => {
      // which path each upload took: a blob.put header with or without sha256
      if (typeof frame !== "string") {
        const { header } = lb.decodeFrame(new Uint8Array(frame));
        if (header.sha256) putsWithSha++;
        else putsWithout++;
      }
      send(frame);
    };
    return ws;
  },
  reconnect: false,
  heartbeatMs: 0,
  requestTimeoutMs: 300_000,
});

try {
  await client.connect();

  // ---------------------------------------------------------------- 1. click → upload done
  const side = 4096;
  const canvas = new Uint8Array(side * side * 4);
  for (let i = 0; i < canvas.length; i++) canvas[i] = (i * 2654435761) >>> 24;
  let serial = 0;
  async function clickToUpload() {
    // a canvas the daemon has not seen (an edited document): the upload really happens
    const stamp = ++serial;
    canvas[0] = stamp & 255;
    canvas[1] = (stamp >> 8) & 255;
    canvas[2] = 255 - (stamp & 255);
    const t0 = performance.now();
    await client.upload([{ bytes: canvas, format: "rgba8", width: side, height: side }]);
    return performance.now() - t0;
  }
  const jsRuns = [];
  for (let r = 0; r < RUNS; r++) jsRuns.push(await clickToUpload());
  lb.useWasmSha256(lb.createSHA256);
  await clickToUpload(); // compile the WebAssembly once, as the panel's first upload does
  const wasmRuns = [];
  for (let r = 0; r < RUNS; r++) wasmRuns.push(await clickToUpload());
  const namedPuts = putsWithSha;
  lb.useContentHasher(lb.createXXHash128); // what the panel's UXP entry installs
  await clickToUpload(); // compile the WebAssembly once
  const unnamedRuns = [];
  for (let r = 0; r < RUNS; r++) unnamedRuns.push(await clickToUpload());
  if (namedPuts === 0 || putsWithSha !== namedPuts || putsWithout === 0) {
    throw new Error(`expected named puts, then unnamed ones: ${namedPuts} named, then ${putsWithSha - namedPuts} named and ${putsWithout} unnamed`);
  }

  // ---------------------------------------------------------------- 2. last step → pixels
  // a Fill of a 1024² selection on a 2048² document: the demo model denoises at its native 128²,
  // so what follows the last step is the result's own path (upscale, composite, encode, send)
  const doc = 2048;
  const image = new Uint8Array(doc * doc * 4);
  for (let i = 0; i < image.length; i++) image[i] = i % 4 === 3 ? 255 : ((i * 2654435761) >>> 26) + ((i >> 13) & 127);
  const mask = new Uint8Array(doc * doc);
  for (let y = 512; y < 1536; y++) mask.fill(255, y * doc + 512, y * doc + 1536);
  const [imageSha, maskSha] = await client.upload([
    { bytes: image, format: "rgba8", width: doc, height: doc },
    { bytes: mask, format: "grey8", width: doc, height: doc },
  ]);
  async function lastStepToPixels(format) {
    const job = client.submit({
      kind: "inpaint", model: "demo", prompt: "a lighthouse", image: imageSha, mask: maskSha, steps: 2,
      seed: 7 + serial++, result_format: format, canvas: { width: doc, height: doc, x: 0, y: 0 },
    });
    let lastStep;
    const decoded = new Promise((resolve, reject) => {
      job.on("progress", (p) => {
        if (p.step === p.steps) lastStep = performance.now();
      });
      job.on("result", (output) => {
        const arrived = performance.now();
        const image = lb.resultPixels(output);
        const done = performance.now();
        if (image.width !== 1024 || image.height !== 1024 || image.data.length !== 1024 * 1024 * 4) reject(new Error(`a ${image.width}x${image.height} result`));
        resolve({ arrived, done, bytes: output.bytes.length, format: output.info.format });
      });
      job.finished.catch(reject);
    });
    const r = await decoded;
    await job.finished;
    if (lastStep === undefined) throw new Error("no last progress event");
    if (r.format !== format) throw new Error(`asked ${format}, got ${r.format}`);
    return { total: r.done - lastStep, daemon: r.arrived - lastStep, decode: r.done - r.arrived, bytes: r.bytes };
  }
  await lastStepToPixels("png"); // the inpaint pipeline loads once, outside the timing
  const pick = (runs) => runs.reduce((a, b) => (b.total < a.total ? b : a));
  const pngRuns = [];
  const rawRuns = [];
  for (let r = 0; r < RUNS; r++) {
    pngRuns.push(await lastStepToPixels("png"));
    rawRuns.push(await lastStepToPixels("rgba8"));
  }
  const png = pick(pngRuns);
  const raw = pick(rawRuns);

  // the daemon's side of it, alone: what a 1024² result costs to encode there
  const encode = execFileSync(join(root, ".venv", "bin", "python"), ["-c", [
    "import time, numpy as np", "from PIL import Image",
    "from layerbridge.daemon import image_io", "from layerbridge.daemon.protocol.vocab import ImageFormat",
    "y, x = np.mgrid[0:1024, 0:1024]",
    "a = np.stack([x % 256, y % 256, (x * y) % 256], 2).astype(np.uint8)",
    "a = (a + np.random.default_rng(0).integers(0, 24, a.shape)).astype(np.uint8)",
    "img = Image.fromarray(a, 'RGB').convert('RGBA')",
    "def best(f):\n  t = []\n  for _ in range(3):\n    s = time.perf_counter(); f(); t.append(time.perf_counter() - s)\n  return min(t) * 1000",
    "print(best(lambda: image_io.encode(img, ImageFormat.PNG)), best(lambda: image_io.encode(img, ImageFormat.RGBA8)))",
  ].join("\n")], { encoding: "utf8" }).trim().split(/\s+/).map(Number);

  const mib = canvas.length / 2 ** 20;
  console.log(`\n1. click → upload done, ${side}x${side} RGBA canvas (${mib} MiB), best of ${RUNS}, until blob.stored (named: SHA-256 + blob.has + chunks; unnamed: content key + chunks)`);
  console.log(`   named, plain-JS SHA-256 (baseline) ${ms(best(jsRuns))}`);
  console.log(`   named, WebAssembly SHA-256         ${ms(best(wasmRuns))}  (${(best(jsRuns) / best(wasmRuns)).toFixed(2)}x faster)`);
  console.log(`   unnamed, XXH3-128 content key      ${ms(best(unnamedRuns))}  (${(best(jsRuns) / best(unnamedRuns)).toFixed(2)}x the baseline, ${(best(wasmRuns) / best(unnamedRuns)).toFixed(2)}x the WebAssembly SHA-256; the daemon computes the SHA-256)`);
  console.log(`\n2. last step → pixels decoded, 1024x1024 result, best of ${RUNS} of a Fill (daemon: upscale, composite, encode, send; panel: decode)`);
  const row = (label, r) => `   ${label} ${ms(r.total)}   daemon ${ms(r.daemon)}   panel decode ${ms(r.decode)}   ${(r.bytes / 2 ** 20).toFixed(2)} MiB`;
  console.log(row("PNG (baseline)", png));
  console.log(row("rgba8         ", raw) + `   (${(png.total / raw.total).toFixed(2)}x faster)`);
  console.log(`   daemon encode alone, 1024² RGBA: PNG ${encode[0].toFixed(1)} ms, rgba8 ${encode[1].toFixed(1)} ms`);
} finally {
  client.close();
  await daemon.stop();
  await data.remove();
  cleanup();
}
