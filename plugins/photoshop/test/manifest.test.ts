// The built plugin folder (dist/, built by globalSetup) is loadable: a valid v5 manifest whose
// files exist, the panel id the code registers, and network permission for the daemon's port.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { unzipSync } from "fflate";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");

interface Manifest {
  id: string;
  name: string;
  version: string;
  main: string;
  manifestVersion: number;
  host: { app: string; minVersion: string };
  entrypoints: { type: string; id: string; label: { default: string }; icons?: { path: string }[] }[];
  icons: { path: string; scale?: number[] }[];
  requiredPermissions: { network: { domains: string[] } };
}

const manifest = JSON.parse(readFileSync(join(dist, "manifest.json"), "utf8")) as Manifest;

/** The files a manifest icon stands for: each scale's @Nx file (UXP guide "Icons for Your Plugins"). */
function iconFiles(path: string, scales: number[] = [1]): string[] {
  return scales.map((s) => path.replace(/\.png$/, `@${s}x.png`));
}

describe("built plugin", () => {
  it("has a manifest v5 for Photoshop 25.0 or later", () => {
    expect(manifest.manifestVersion).toBe(5);
    expect(manifest.host.app).toBe("PS");
    const [major] = manifest.host.minVersion.split(".").map(Number);
    expect(major).toBeGreaterThanOrEqual(25);
    expect(manifest.id).toMatch(/^[a-z0-9.]+$/);
    expect(manifest.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("declares the panel the code registers", () => {
    const panel = manifest.entrypoints.find((e) => e.type === "panel");
    expect(panel?.id).toBe("layerbridge.panel");
    expect(readFileSync(join(dist, "main.js"), "utf8")).toContain('"layerbridge.panel"');
  });

  it("references only files that exist (main, script, icons)", () => {
    expect(existsSync(join(dist, manifest.main))).toBe(true);
    const html = readFileSync(join(dist, manifest.main), "utf8");
    for (const ref of html.matchAll(/(?:src|href)="([^"]+)"/g)) expect(existsSync(join(dist, ref[1]!)), ref[1]).toBe(true);
    const icons = [...manifest.icons, ...manifest.entrypoints.flatMap((e) => e.icons ?? [])] as { path: string; scale?: number[] }[];
    for (const icon of icons) for (const f of iconFiles(icon.path, icon.scale)) expect(existsSync(join(dist, f)), f).toBe(true);
  });

  it("grants the WebSocket to the daemon's default port on 127.0.0.1 and localhost only", () => {
    expect(manifest.requiredPermissions.network.domains).toEqual(["ws://127.0.0.1:7842", "ws://localhost:7842"]);
  });

  it("keeps photoshop and uxp as runtime requires and loads without a module system", () => {
    const js = readFileSync(join(dist, "main.js"), "utf8");
    expect(js).toContain('require("photoshop")');
    expect(js).toContain('require("uxp")');
    expect(js).not.toMatch(/^\s*(import|export)\s/m);
    expect(js).not.toMatch(/new Function\(|\beval\(/);
  });

  it("adds permissions for more ports with LAYERBRIDGE_PORTS, and packs a .ccx", () => {
    execFileSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root, env: { ...process.env, LAYERBRIDGE_PORTS: "7842,7900" } });
    const built = JSON.parse(readFileSync(join(dist, "manifest.json"), "utf8")) as Manifest;
    expect(built.requiredPermissions.network.domains).toEqual(["ws://127.0.0.1:7842", "ws://localhost:7842", "ws://127.0.0.1:7900", "ws://localhost:7900"]);
    execFileSync(process.execPath, [join(root, "scripts", "build.mjs")], { cwd: root });
    execFileSync(process.execPath, [join(root, "scripts", "package-ccx.mjs"), "dist-test.ccx"], { cwd: root });
    const files = unzipSync(new Uint8Array(readFileSync(join(root, "dist-test.ccx"))));
    expect(Object.keys(files).sort()).toEqual(expect.arrayContaining(["index.html", "main.js", "manifest.json", "styles.css", "icons/panel@1x.png", "icons/panel@2x.png"]));
    expect(JSON.parse(new TextDecoder().decode(files["manifest.json"]))).toMatchObject({ manifestVersion: 5 });
  });
});
