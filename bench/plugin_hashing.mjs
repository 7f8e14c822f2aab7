// Hashing a 4096² RGBA canvas (64 MiB) the way the Photoshop panel does before an upload: the
// plain-JS SHA-256 (the present path where a host has no WebCrypto, as UXP) is the baseline, run
// in the same process as the WebAssembly one (hash-wasm; UXP supports WebAssembly). Target:
// ≥ 400 MiB/s. Run: node bench/plugin_hashing.mjs   (after `npm ci` in plugins/common and
// plugins/photoshop: the TypeScript module is bundled on the fly with the panel's esbuild).
// Reference figure on an idle machine of this kind: the plain-JS SHA-256 does ~105 MiB/s.
import { build } from "../plugins/photoshop/node_modules/esbuild/lib/main.js";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bundled = await build({
  // the panel's hashing module with the WebAssembly SHA-256 it hands in (hash-wasm)
  stdin: { contents: 'export * from "./src/sha256.ts"; export { createSHA256 } from "hash-wasm";', resolveDir: join(root, "plugins/common"), loader: "ts" },
  bundle: true,
  write: false,
  format: "esm",
  platform: "neutral",
  mainFields: ["module", "main"],
  logLevel: "warning",
});
const url = `data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`;
const { sha256HexSync, sha256HexWasm, useWasmSha256, createSHA256 } = await import(url);
useWasmSha256(createSHA256);

const side = 4096;
const canvas = new Uint8Array(side * side * 4);
for (let i = 0; i < canvas.length; i++) canvas[i] = (i * 2654435761) >>> 24;
const mib = canvas.length / 2 ** 20;
const expected = createHash("sha256").update(canvas).digest("hex");

async function best(label, fn, runs = 3) {
  let fastest = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const got = await fn(canvas);
    const ms = performance.now() - t0;
    if (got !== expected) throw new Error(`${label}: wrong digest ${got}`);
    fastest = Math.min(fastest, ms);
  }
  return fastest;
}

await sha256HexWasm(new Uint8Array(1)); // compile once, as the panel does on its first upload
const jsMs = await best("plain JS", sha256HexSync);
const wasmMs = await best("WebAssembly", sha256HexWasm);
const target = 400;
const wasmRate = mib / (wasmMs / 1000);
console.log(`sha256 of a ${side}x${side} RGBA canvas (${mib} MiB), best of 3`);
console.log(`  plain JS (baseline) ${jsMs.toFixed(0).padStart(6)} ms  ${(mib / (jsMs / 1000)).toFixed(0).padStart(5)} MiB/s`);
console.log(`  WebAssembly         ${wasmMs.toFixed(0).padStart(6)} ms  ${wasmRate.toFixed(0).padStart(5)} MiB/s  (${(jsMs / wasmMs).toFixed(1)}x the baseline)`);
console.log(`  target >= ${target} MiB/s: ${wasmRate >= target ? "met" : "NOT met"}`);
process.exitCode = wasmRate >= target ? 0 : 1;
