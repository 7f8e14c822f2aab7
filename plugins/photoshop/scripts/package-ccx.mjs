// Packs dist/ into layerbridge-photoshop.ccx (a .ccx is a zip of the plugin folder with
// manifest.json at its root), installable by double-click with Creative Cloud. Run `npm run build` first.
// Adobe's packaging guide asks for the UXP Developer Tool's Package action, which needs the tool
// and a running Photoshop (neither runs in CI): use that for what you hand out; this script is
// the fallback with the same layout, and the tests check it.
import { zipSync } from "fflate";
import { readdir, readFile, writeFile, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const out = join(root, process.argv[2] ?? "layerbridge-photoshop.ccx");

async function walk(dir, files = {}) {
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    if ((await stat(path)).isDirectory()) await walk(path, files);
    else files[relative(dist, path).split("\\").join("/")] = new Uint8Array(await readFile(path));
  }
  return files;
}

const files = await walk(dist).catch(() => {
  throw new Error("dist/ is missing: run `npm run build` first");
});
if (!files["manifest.json"]) throw new Error("dist/manifest.json is missing: run `npm run build` first");
await writeFile(out, zipSync(files, { level: 9, mtime: new Date("2025-01-01T00:00:00Z") }));
console.log(`wrote ${relative(process.cwd(), out) || out} (${Object.keys(files).length} files)`);
