// Writes the plugin's icons (a two-layer glyph) as PNGs into icons/. Run once; the PNGs are committed.
// A manifest icon {path: "icons/panel.png", scale: [1, 2]} means icons/panel@1x.png and
// icons/panel@2x.png (UXP guide "Icons for Your Plugins": export with @1x and @2x suffixes).
import { encode } from "fast-png";
import { writeFile, mkdir } from "node:fs/promises";

function icon(size) {
  const data = new Uint8Array(size * size * 4);
  const set = (x, y, r, g, b) => { const i = (y * size + x) * 4; data[i] = r; data[i + 1] = g; data[i + 2] = b; data[i + 3] = 255; };
  const u = size / 23;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const inBack = x >= 3 * u && x < 15 * u && y >= 3 * u && y < 15 * u;
      const inFront = x >= 8 * u && x < 20 * u && y >= 8 * u && y < 20 * u;
      if (inFront) set(x, y, 55, 142, 240);
      else if (inBack) set(x, y, 200, 200, 200);
    }
  return encode({ width: size, height: size, data, channels: 4, depth: 8 });
}
await mkdir("icons", { recursive: true });
const icons = [["panel@1x.png", 23], ["panel@2x.png", 46], ["plugin@1x.png", 24], ["plugin@2x.png", 48]];
for (const [name, size] of icons) await writeFile(`icons/${name}`, icon(size));
