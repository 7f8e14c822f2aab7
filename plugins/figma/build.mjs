// Builds the plugin into dist/: code.js (main thread) and ui.html (one file, script and style
// inlined, as Figma requires). `node build.mjs` — no watch mode, no dev server.
import { build } from "esbuild";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");
const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8"));

await mkdir(dist, { recursive: true });

// The main thread runs in Figma's sandbox: plain ES2017 keeps it within what that engine parses.
await build({
  entryPoints: [join(root, "src/main/code.ts")],
  outfile: join(dist, "code.js"),
  bundle: true,
  format: "iife",
  target: "es2017",
  logLevel: "warning",
});

const ui = await build({
  entryPoints: [join(root, "src/ui/main.ts")],
  bundle: true,
  write: false,
  format: "iife",
  target: "es2020",
  minifyWhitespace: true,
  minifySyntax: true,
  define: { PLUGIN_VERSION: JSON.stringify(pkg.version) },
  logLevel: "warning",
});
const script = ui.outputFiles[0].text.replace(/<\/script/gi, "<\\/script");
const style = await readFile(join(root, "src/ui/styles.css"), "utf8");
const template = await readFile(join(root, "src/ui/index.html"), "utf8");
if (!template.includes("/*SCRIPT*/") || !template.includes("/*STYLE*/")) {
  throw new Error("src/ui/index.html lost its /*SCRIPT*/ or /*STYLE*/ placeholder");
}
// Replacer functions: the bundle may contain `$&`-like sequences a string replacement would expand.
const html = template.replace("/*STYLE*/", () => style).replace("/*SCRIPT*/", () => script);
await writeFile(join(dist, "ui.html"), html);
console.log(`built dist/code.js and dist/ui.html (${Math.round(html.length / 1024)} KiB)`);
