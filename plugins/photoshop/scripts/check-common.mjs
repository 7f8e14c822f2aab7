// The panel's wire types come from @layerbridge/common: fail when they are stale against the
// daemon's schema (runs common's own check; needs `npm ci` in plugins/common, as `make test` does).
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const common = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "common");
if (!existsSync(join(common, "node_modules", "json-schema-to-typescript"))) {
  console.error("plugins/common has no node_modules: run `npm ci` there first (make test does).");
  process.exit(1);
}
const r = spawnSync(process.execPath, [join(common, "scripts", "generate.mjs"), "--check"], { stdio: "inherit" });
process.exit(r.status ?? 1);
