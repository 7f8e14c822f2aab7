// Builds the panel into dist/ (a folder the UXP Developer Tool can load):
//   manifest.json, index.html, styles.css, icons/, main.js (esbuild bundle; 'photoshop' and 'uxp'
//   stay external require()s, as UXP provides them).
// --preview also builds dist-preview/ for the browser test: the same panel with a stub host.
// LAYERBRIDGE_PORTS=7842,7900 adds network permissions for more daemon ports (default 7842).
import { build } from "esbuild";
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const ports = (process.env.LAYERBRIDGE_PORTS ?? "7842").split(",").map((p) => Number(p.trim())).filter((p) => Number.isInteger(p) && p > 0 && p < 65536);
if (ports.length === 0) throw new Error("LAYERBRIDGE_PORTS lists no valid port");

export function manifestFor(template, portList) {
  const domains = portList.flatMap((p) => [`ws://127.0.0.1:${p}`, `ws://localhost:${p}`]);
  return { ...template, requiredPermissions: { ...template.requiredPermissions, network: { domains } } };
}

await rm(dist, { recursive: true, force: true });
await mkdir(dist, { recursive: true });
const template = JSON.parse(await readFile(join(root, "manifest.json"), "utf8"));
await writeFile(join(dist, "manifest.json"), JSON.stringify(manifestFor(template, ports), null, 2) + "\n");
await cp(join(root, "src", "index.html"), join(dist, "index.html"));
await cp(join(root, "src", "styles.css"), join(dist, "styles.css"));
await cp(join(root, "icons"), join(dist, "icons"), { recursive: true });
await build({
  entryPoints: [join(root, "src", "main.ts")],
  outfile: join(dist, "main.js"),
  bundle: true,
  format: "cjs",
  platform: "neutral",
  mainFields: ["module", "main"],
  target: "es2020",
  external: ["photoshop", "uxp"],
  logLevel: "warning",
  legalComments: "none",
});

if (process.argv.includes("--preview")) {
  const preview = join(root, "dist-preview");
  await rm(preview, { recursive: true, force: true });
  await mkdir(preview, { recursive: true });
  await cp(join(root, "src", "index.html"), join(preview, "index.html"));
  await cp(join(root, "src", "styles.css"), join(preview, "styles.css"));
  await build({
    entryPoints: [join(root, "test", "browser", "preview.ts")],
    outfile: join(preview, "main.js"),
    bundle: true,
    format: "iife",
    platform: "browser",
    target: "es2020",
    logLevel: "warning",
  });
}
console.log(`built ${dist} (ports ${ports.join(", ")})`);
