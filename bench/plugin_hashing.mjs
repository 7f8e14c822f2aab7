// What the Photoshop panel hashes before it uploads a 4096² RGBA canvas (64 MiB), in one process:
//   baseline:        the plain-JS SHA-256, the present path where a host has neither WebCrypto
//                    nor WebAssembly (UXP has no crypto.subtle);
//   WebAssembly SHA-256 (hash-wasm): the path to a daemon without blob.unnamed. UXP runs
//                    WebAssembly ("UXP also supports WebAssembly",
//                    https://developer.adobe.com/photoshop/uxp/2022/guides/code-samples/), but
//                    WebAssembly has no SHA instructions: it cannot reach the target;
//   content key:     XXH3-128 of the bytes under the client's random seed (hash-wasm's
//                    createXXHash128, through the client's own ContentKeys): all the panel
//                    computes before an upload to a daemon with blob.unnamed, which hashes the
//                    SHA-256 itself as the chunks arrive.
// Target: >= 400 MiB/s for what the panel computes before an upload (the content key). Every
// digest is checked: SHA-256 against node:crypto; the content key against Python's
// xxhash.xxh3_128_hexdigest of the same canvas with the same seed (run once), and hash-wasm's
// XXH3-128 against the published test vector of the empty input.
// Run: node bench/plugin_hashing.mjs   (after `make install` and `npm ci` in plugins/common and
// plugins/photoshop: the TypeScript modules are bundled on the fly with the panel's esbuild).
// Exit code 0 when the target is met, 1 when not.
import { build } from "../plugins/photoshop/node_modules/esbuild/lib/main.js";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bundled = await build({
  // the panel's hashing modules with the WebAssembly hashers it hands in (hash-wasm)
  stdin: {
    contents: [
      'export * from "./src/sha256.ts";',
      'export { ContentKeys } from "./src/contentKey.ts";',
      'export { createSHA256, createXXHash128 } from "hash-wasm";',
    ].join("\n"),
    resolveDir: join(root, "plugins/common"),
    loader: "ts",
  },
  bundle: true,
  write: false,
  format: "esm",
  platform: "neutral",
  mainFields: ["module", "main"],
  logLevel: "warning",
});
const url = `data:text/javascript;base64,${Buffer.from(bundled.outputFiles[0].text).toString("base64")}`;
const { sha256HexSync, sha256HexWasm, useWasmSha256, createSHA256, createXXHash128, ContentKeys } = await import(url);
useWasmSha256(createSHA256);

const side = 4096;
const canvas = new Uint8Array(side * side * 4);
for (let i = 0; i < canvas.length; i++) canvas[i] = (i * 2654435761) >>> 24;
const mib = canvas.length / 2 ** 20;

// XXH3_128bits("") of the reference implementation (xxHash, github.com/Cyan4973/xxHash): high
// 0x99AA06D3014798D8, low 0x6001C324468D497F, the empty-input vector its ports test against
const EMPTY_XXH3_128 = "99aa06d3014798d86001c324468d497f";
const probe = await createXXHash128(0, 0);
probe.init();
probe.update(new Uint8Array(0));
if (probe.digest("hex") !== EMPTY_XXH3_128) throw new Error("hash-wasm's XXH3-128 disagrees with the published test vector");

// the client's content keys, with its seed caught on the way in
let seed;
const keys = new ContentKeys((low, high) => {
  seed = [low, high];
  return createXXHash128(low, high);
});
await keys.keysFor([{ bytes: new Uint8Array(1) }]); // compile once, as the panel does on its first upload
const python = execFileSync(join(root, ".venv", "bin", "python"), [
  "-c",
  "import sys, xxhash; print(xxhash.xxh3_128_hexdigest(sys.stdin.buffer.read(), seed=int(sys.argv[1])))",
  String(BigInt(seed[1]) * 2n ** 32n + BigInt(seed[0])),
], { input: canvas, maxBuffer: 1 << 20 }).toString().trim();

const expectedSha = createHash("sha256").update(canvas).digest("hex");
const expectedKey = `${python}:${canvas.length}`;

async function best(label, fn, expected, runs = 3) {
  let fastest = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const got = await fn(canvas);
    const ms = performance.now() - t0;
    if (got !== expected) throw new Error(`${label}: wrong digest ${got}, expected ${expected}`);
    fastest = Math.min(fastest, ms);
  }
  return fastest;
}

await sha256HexWasm(new Uint8Array(1)); // compile once, as the panel does on its first upload
const jsMs = await best("plain-JS SHA-256", sha256HexSync, expectedSha);
const wasmMs = await best("WebAssembly SHA-256", sha256HexWasm, expectedSha);
const keyMs = await best("XXH3-128 content key", async (bytes) => (await keys.keysFor([{ bytes }]))[0], expectedKey);
const target = 400;
const rate = (ms) => mib / (ms / 1000);
const row = (label, ms, note = "") =>
  console.log(`  ${label.padEnd(38)} ${ms.toFixed(0).padStart(6)} ms  ${rate(ms).toFixed(0).padStart(5)} MiB/s  ${note}`);
console.log(`hashing a ${side}x${side} RGBA canvas (${mib} MiB) before an upload, best of 3, digests checked`);
row("plain-JS SHA-256 (baseline)", jsMs);
row("WebAssembly SHA-256 (hash-wasm)", wasmMs, `(${(jsMs / wasmMs).toFixed(1)}x the baseline; the path to a daemon without blob.unnamed)`);
row("XXH3-128 content key (hash-wasm)", keyMs, `(${(jsMs / keyMs).toFixed(1)}x the baseline)`);
console.log("  SHA-256 itself is now computed by the daemon, as the chunks arrive (blob.unnamed): before an");
console.log("  upload the panel computes only the content key.");
console.log(`  target >= ${target} MiB/s for what the panel computes before an upload (the content key): ${rate(keyMs) >= target ? "met" : "NOT met"}`);
process.exitCode = rate(keyMs) >= target ? 0 : 1;
