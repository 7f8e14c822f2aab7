// The plugins' TypeScript for a Node benchmark: `exports` (lines of `export ... from ...`,
// resolved as from plugins/photoshop) bundled on the fly with the panel's esbuild and imported.
// `cleanup()` removes the temporary bundle. Needs `make install` (the daemon the benches start)
// and `npm ci` in plugins/common and plugins/photoshop.
import { build } from "../plugins/photoshop/node_modules/esbuild/lib/main.js";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export async function panelBundle(exports) {
  process.env.LAYERBRIDGE_BIN ??= join(root, ".venv", "bin", "layerbridge");
  const bundled = await build({
    stdin: { contents: exports.join("\n"), resolveDir: join(root, "plugins/photoshop"), loader: "ts" },
    bundle: true,
    write: false,
    format: "esm",
    platform: "node",
    logLevel: "warning",
    banner: { js: 'import { createRequire as __cr } from "node:module"; const require = __cr(import.meta.url);' },
  });
  const tmp = mkdtempSync(join(tmpdir(), "layerbridge-bench-"));
  const modulePath = join(tmp, "bench-bundle.mjs");
  writeFileSync(modulePath, bundled.outputFiles[0].text);
  const module = await import(pathToFileURL(modulePath).href);
  return { lb: module, cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}
