import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { decodeFrame, LayerbridgeClient } from "@layerbridge/common";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import { DEFAULT_SETTINGS } from "../../src/shared/messages";
import { decodePng, encodePng, solidPng } from "../support/png";
import { launchChromium } from "./chromium";
import { selectionFor, startHarness, type Harness, type HarnessScript } from "./harness";

// The real UI page (dist/ui.html) in headless Chromium, talking to a real daemon on 127.0.0.1.
const daemon = inject("daemon");
const SCREENSHOT = join(__dirname, "../../../../docs/figma-plugin.png");
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

/** The Figma desktop app's user agent: its Chromium names the app (diagnose.isDesktopApp). */
const DESKTOP_APP_UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Figma/125.4.9 Chrome/134.0.6998.205 Electron/35.2.1 Safari/537.36";

async function open(script: HarnessScript, on: Browser = browser): Promise<{ page: Page; harness: Harness }> {
  const harness = await startHarness(script);
  const page = await on.newPage({ viewport: { width: 372, height: 752 } });
  page.on("pageerror", (error) => console.error("page error:", error.message));
  await page.goto(harness.url);
  return { page, harness };
}

async function pollPlaced(page: Page): Promise<number[][]> {
  const read = (): Promise<number[][] | null> =>
    page.evaluate(() => (window as unknown as { placedPngs?: number[][] }).placedPngs ?? null);
  const ui = page.frameLocator("#plugin");
  const error = ui.locator("#error");
  // Not yet placed: the error, or how far the run got (a timeout then says where it stalled).
  const where = async (): Promise<string> =>
    (await read()) !== null
      ? "placed"
      : (await error.isVisible())
        ? `error: ${await error.textContent()}`
        : `waiting: ${await ui.locator("#progress-text").textContent()}`;
  await expect.poll(where, { timeout: 90_000 }).toBe("placed");
  return (await read()) ?? [];
}

const generate = (settings: Partial<HarnessScript["settings"]>): HarnessScript => ({
  settings: { ...DEFAULT_SETTINGS, url: daemon.url, token: daemon.token, ...settings },
  selection: selectionFor("Frame “Hero” 128×128", "generate"),
  input: { flow: "generate", target: { width: 128, height: 128 } },
});

// A run's first job on a model loads it: tens of seconds on a busy CPU, past the default timeout.
describe("the Figma UI page in Chromium", { timeout: 120_000 }, () => {
  it("connects, generates with a preview and hands the result to the main thread", async () => {
    // `localhost`, as in the manifest's allowedDomains (Figma rejects IP literals there).
    const url = daemon.url.replace("127.0.0.1", "localhost");
    const { page, harness } = await open(generate({ url, prompt: "a lighthouse on a cliff at dusk", model: "demo" }));
    try {
      const ui = page.frameLocator("#plugin");
      await expect.poll(() => ui.locator("#status").getAttribute("data-state"), { timeout: 20_000 }).toBe("ready");
      await expect.poll(() => ui.locator("#model").inputValue()).toBe("demo");
      await ui.locator("#advanced summary").click();
      await ui.locator("#steps").fill("4");
      await ui.locator("#seed").fill("42");
      await ui.locator("#advanced summary").click();
      await ui.locator("#run").click();
      await expect.poll(() => page.evaluate(() => (window as unknown as { placed: unknown }).placed), { timeout: 90_000 })
        .toEqual([{ width: 128, height: 128, seed: 42, bytes: expect.any(Number), signature: "PNG" }]);
      await expect.poll(() => ui.locator("#done-text").textContent()).toMatch(/^Placed 1 image in/);
      const previews = Number(await ui.locator("#progress").getAttribute("data-previews"));
      expect(previews).toBeGreaterThan(0);
      const received = await page.evaluate(() => (window as unknown as { received: string[] }).received);
      expect(received).toEqual(["ui-ready", "prepare", "place", "save-settings"]);
      if (process.env["LAYERBRIDGE_SCREENSHOT"] === "1" || !existsSync(SCREENSHOT)) {
        mkdirSync(join(SCREENSHOT, ".."), { recursive: true });
        await page.locator("#plugin").screenshot({ path: SCREENSHOT });
      }
    } finally {
      await page.close();
      await harness.close();
    }
  });

  it("fills a region: uploads image and mask, composites the patch, hands back the whole image", async () => {
    const mask = new Uint8Array(96 * 64 * 4);
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 96; x++) mask.set(x >= 40 && x < 64 && y >= 16 && y < 40 ? [255, 255, 255, 255] : [0, 0, 0, 255], (y * 96 + x) * 4);
    }
    const script: HarnessScript = {
      settings: { ...DEFAULT_SETTINGS, url: daemon.url, token: daemon.token, prompt: "a window", model: "demo-inpaint" },
      selection: selectionFor("Rectangle “Photo” 96×64", "inpaint"),
      input: {
        flow: "inpaint",
        image: solidPng(96, 64, { r: 20, g: 120, b: 220, a: 255 }),
        mask: encodePng(96, 64, mask),
        size: { width: 96, height: 64 },
      },
    };
    const { page, harness } = await open(script);
    try {
      const ui = page.frameLocator("#plugin");
      await expect.poll(() => ui.locator("#status").getAttribute("data-state"), { timeout: 20_000 }).toBe("ready");
      expect(await ui.locator("#run").textContent()).toBe("Fill region");
      await ui.locator("#run").click();
      const pngs = await pollPlaced(page);
      expect(pngs).toHaveLength(1);
      const png = decodePng(new Uint8Array(pngs[0] ?? []));
      expect([png.width, png.height]).toEqual([96, 64]);
      expect(png.at(0, 0)).toEqual({ r: 20, g: 120, b: 220, a: 255 }); // outside the patch: the original
    } finally {
      await page.close();
      await harness.close();
    }
  });

  it("uploads its images unnamed: the daemon names them (blob.unnamed), the page computes no SHA-256", async () => {
    const image = solidPng(64, 48, { r: 200, g: Math.floor(Math.random() * 256), b: 40, a: 255 }); // bytes new to the daemon
    const mask = new Uint8Array(64 * 48 * 4).fill(255);
    const script: HarnessScript = {
      settings: { ...DEFAULT_SETTINGS, url: daemon.url, token: daemon.token, prompt: "a window", model: "demo-inpaint" },
      selection: selectionFor("Rectangle “Photo” 64×48", "inpaint"),
      input: { flow: "inpaint", image, mask: encodePng(64, 48, mask), size: { width: 64, height: 48 } },
    };
    const harness = await startHarness(script);
    const page = await browser.newPage({ viewport: { width: 372, height: 752 } });
    // what the frame's socket sends: blob.put headers with their payloads, and the JSON messages
    const puts: { header: Record<string, unknown>; payload: Uint8Array }[] = [];
    const texts: Record<string, unknown>[] = [];
    page.on("websocket", (ws) =>
      ws.on("framesent", ({ payload }) => {
        if (typeof payload === "string") texts.push(JSON.parse(payload) as Record<string, unknown>);
        else {
          const frame = decodeFrame(new Uint8Array(payload));
          puts.push({ header: frame.header as Record<string, unknown>, payload: frame.payload.slice() });
        }
      }),
    );
    try {
      await page.goto(harness.url);
      const ui = page.frameLocator("#plugin");
      await expect.poll(() => ui.locator("#status").getAttribute("data-state"), { timeout: 20_000 }).toBe("ready");
      await ui.locator("#run").click();
      expect(await pollPlaced(page)).toHaveLength(1);
      // the frames' events reach the test on their own schedule: wait until the submit has come
      await expect.poll(() => texts.some((m) => m["type"] === "job.submit")).toBe(true);
      expect(puts.length).toBeGreaterThan(0);
      expect(puts.every((p) => !("sha256" in p.header) && typeof p.header["id"] === "string")).toBe(true);
      // each input in the job is the sha256 of the bytes its upload carried
      const uploaded = new Map<unknown, Buffer[]>();
      for (const p of puts) uploaded.set(p.header["id"], [...(uploaded.get(p.header["id"]) ?? []), Buffer.from(p.payload)]);
      const names = [...uploaded.values()].map((chunks) => createHash("sha256").update(Buffer.concat(chunks)).digest("hex"));
      const params = texts.find((m) => m["type"] === "job.submit")?.["params"] as Record<string, unknown>;
      expect(names.sort()).toEqual([params["image"], params["mask"]].sort());
      expect(texts.filter((m) => m["type"] === "blob.has")).toEqual([]); // nothing asked of bytes never sent
    } finally {
      await page.close();
      await harness.close();
    }
  });

  it("turns a transparent sketch into two variations through a ControlNet", async () => {
    const strokes = new Uint8Array(64 * 64 * 4);
    for (let x = 8; x < 56; x++) strokes.set([0, 0, 0, 255], (32 * 64 + x) * 4);
    const script: HarnessScript = {
      settings: { ...DEFAULT_SETTINGS, url: daemon.url, token: daemon.token, prompt: "a horizon", model: "demo" },
      selection: selectionFor("Frame “Sketch” 64×64", "generate", true),
      input: { flow: "generate", target: { width: 64, height: 64 }, control: encodePng(64, 64, strokes) },
    };
    const { page, harness } = await open(script);
    try {
      const ui = page.frameLocator("#plugin");
      await expect.poll(() => ui.locator("#status").getAttribute("data-state"), { timeout: 20_000 }).toBe("ready");
      // The daemon's ControlNets for the model, each with the kind of map it follows.
      await expect.poll(() => ui.locator("#control option").allTextContents()).toContain("Demo demo-cn-lineart · lineart");
      await ui.locator("#control").selectOption("demo-cn-lineart");
      expect(await ui.locator("#run").textContent()).toBe("Generate from sketch");
      expect(await ui.locator("#flow-hint").textContent()).toBe("Use Frame “Sketch” 64×64 as the sketch");
      await ui.locator("#batch").fill("2");
      await ui.locator("#advanced summary").click();
      await ui.locator("#steps").fill("2");
      await ui.locator("#run").click();
      const pngs = await pollPlaced(page);
      expect(pngs.map((p) => decodePng(new Uint8Array(p)).width)).toEqual([64, 64]);
      await expect.poll(() => ui.locator("#results img").count()).toBe(2);
      expect(await page.evaluate(() => (window as unknown as { prepares: unknown[] }).prepares)).toEqual([{ flow: "generate", control: true }]);
    } finally {
      await page.close();
      await harness.close();
    }
  });

  it("cancels a running job from the panel", async () => {
    const { page, harness } = await open(generate({ prompt: "slow", model: "demo" }));
    try {
      const ui = page.frameLocator("#plugin");
      await expect.poll(() => ui.locator("#status").getAttribute("data-state"), { timeout: 20_000 }).toBe("ready");
      await ui.locator("#batch").fill("8");
      await ui.locator("#advanced summary").click();
      await ui.locator("#steps").fill("150");
      await ui.locator("#run").click();
      await expect.poll(() => ui.locator("#progress-text").textContent(), { timeout: 30_000 }).toMatch(/^Step \d+ of 150$/);
      await ui.locator("#cancel").click();
      await expect.poll(() => ui.locator("#done-text").textContent(), { timeout: 30_000 }).toBe("Cancelled");
      expect(await page.evaluate(() => (window as unknown as { received: string[] }).received)).toEqual([
        "ui-ready",
        "prepare",
        "abandon",
      ]);
      expect(await ui.locator("#cancel").isHidden()).toBe(true);
    } finally {
      await page.close();
      await harness.close();
    }
  });

  it("cancels before the job is submitted: nothing runs and nothing is placed", async () => {
    const { page, harness } = await open({ ...generate({ prompt: "never", model: "demo" }), holdPrepare: true });
    try {
      const ui = page.frameLocator("#plugin");
      await expect.poll(() => ui.locator("#status").getAttribute("data-state"), { timeout: 20_000 }).toBe("ready");
      await ui.locator("#run").click();
      // Main is still exporting: the Cancel button shows and is clicked before any job exists.
      await expect.poll(() => page.evaluate(() => typeof (window as unknown as { releasePrepare?: unknown }).releasePrepare)).toBe("function");
      await ui.locator("#cancel").click();
      await page.evaluate(() => (window as unknown as { releasePrepare: () => void }).releasePrepare());
      await expect.poll(() => ui.locator("#done-text").textContent(), { timeout: 30_000 }).toBe("Cancelled");
      expect(await page.evaluate(() => (window as unknown as { received: string[] }).received)).toEqual([
        "ui-ready",
        "prepare",
        "abandon",
      ]);
      expect(await ui.locator("#cancel").isHidden()).toBe(true);
    } finally {
      await page.close();
      await harness.close();
    }
  });

  it("lists a LoRA's trigger words as the daemon has them when the list opens, and puts them into the prompt when picked", async () => {
    const admin = new LayerbridgeClient({
      url: daemon.url,
      token: daemon.adminToken,
      client: { name: "figma-test-admin", kind: "test", version: "0.1.0" },
      createSocket: (url) => new WebSocket(url),
      reconnect: false,
    });
    await admin.connect();
    const { page, harness } = await open(generate({ prompt: "", model: "demo" }));
    try {
      const ui = page.frameLocator("#plugin");
      await expect.poll(() => ui.locator("#status").getAttribute("data-state"), { timeout: 20_000 }).toBe("ready");
      // registered (as a trained LoRA is) after the panel connected: the welcome did not list it so
      await admin.request({ type: "models.update", model_id: "demo-lora", trigger_words: ["demostyle", "lbtrained"] });
      await ui.locator("#loras-box summary").click();
      const row = ui.locator('#loras .lora[data-id="demo-lora"]');
      await expect.poll(() => row.locator("span").textContent(), { timeout: 10_000 }).toMatch(/ · demostyle, lbtrained$/);
      await ui.locator("#prompt").fill("a lighthouse");
      await row.locator('input[type="checkbox"]').check();
      expect(await ui.locator("#prompt").inputValue()).toBe("a lighthouse, demostyle, lbtrained");
      await row.locator('input[type="checkbox"]').uncheck();
      expect(await ui.locator("#prompt").inputValue()).toBe("a lighthouse"); // unpicked: its words go
      await row.locator('input[type="checkbox"]').check();
      await row.locator('input[type="checkbox"]').check();
      expect(await ui.locator("#prompt").inputValue()).toBe("a lighthouse, demostyle, lbtrained"); // once
    } finally {
      await admin.request({ type: "models.update", model_id: "demo-lora", trigger_words: ["demostyle"] }).catch(() => undefined);
      admin.close();
      await page.close();
      await harness.close();
    }
  });

  it("says the token was refused and how to pair", async () => {
    const { page, harness } = await open(generate({ token: "lb_wrong" }));
    try {
      const ui = page.frameLocator("#plugin");
      await expect.poll(() => ui.locator("#error-title").textContent(), { timeout: 20_000 }).toBe("Token refused");
      expect(await ui.locator("#error-hint").textContent()).toContain("layerbridge pair --name figma");
      expect(await ui.locator("#connection").getAttribute("open")).not.toBeNull();
      expect(await ui.locator("#run").isDisabled()).toBe(true);
    } finally {
      await page.close();
      await harness.close();
    }
  });

  it("says the daemon is not running when nothing listens (desktop app)", async () => {
    // The switch, not a page option: a page's user agent reaches a frame it creates only later.
    const desktop = await launchChromium([`--user-agent=${DESKTOP_APP_UA}`]);
    const { page, harness } = await open(generate({ url: "ws://127.0.0.1:9" }), desktop);
    try {
      const ui = page.frameLocator("#plugin");
      await expect
        .poll(() => ui.locator("#error-title").textContent(), { timeout: 30_000 })
        .toBe("Cannot reach the Layerbridge daemon");
      expect(await ui.locator("#error-hint").textContent()).toContain("layerbridge serve");
      expect(await ui.locator("#error-hint").textContent()).not.toContain("Local network access");
    } finally {
      await page.close();
      await harness.close();
      await desktop.close();
    }
  });

  it("in a browser, says Local Network Access may block the socket and what to do", async () => {
    // The harness frame is sandboxed (cross-origin), as Figma's is, and nothing delegates the
    // local network permission to it: Chromium reports it denied there, as it would on figma.com.
    const { page, harness } = await open(generate({ url: "ws://127.0.0.1:9" }));
    try {
      const ui = page.frameLocator("#plugin");
      await expect
        .poll(() => ui.locator("#error-title").textContent(), { timeout: 30_000 })
        .toBe("The browser may be blocking the connection");
      expect(await ui.locator("#error-detail").textContent()).toContain("Local Network Access");
      const hint = await ui.locator("#error-hint").textContent();
      expect(hint).toContain("Figma desktop app");
      expect(hint).toContain("Site settings → Local network access → Allow");
      expect(hint).toContain("layerbridge serve");
    } finally {
      await page.close();
      await harness.close();
    }
  });

  it("cancels its running job on the daemon when the plugin closes", async () => {
    const prompt = `closed while running ${Date.now()}`;
    const { page, harness } = await open(generate({ prompt, model: "demo" }));
    const watcher = new LayerbridgeClient({
      url: daemon.url,
      token: daemon.token,
      client: { name: "figma-test-watcher", kind: "test", version: "0.1.0" },
      createSocket: (url) => new WebSocket(url, { headers: { Origin: "null" } }),
      reconnect: false,
    });
    try {
      const ui = page.frameLocator("#plugin");
      await expect.poll(() => ui.locator("#status").getAttribute("data-state"), { timeout: 20_000 }).toBe("ready");
      await ui.locator("#batch").fill("8");
      await ui.locator("#advanced summary").click();
      await ui.locator("#steps").fill("150");
      await ui.locator("#run").click();
      await expect.poll(() => ui.locator("#progress-text").textContent(), { timeout: 30_000 }).toMatch(/^Step \d+ of 150$/);
      // Figma closes a plugin by removing its frame: no click on Cancel, just gone.
      await page.evaluate(() => document.getElementById("plugin")?.remove());
      await watcher.connect();
      const stateOfRun = async (): Promise<string | undefined> =>
        (await watcher.request({ type: "job.list", limit: 20 })).jobs.find((j) => j.prompt === prompt)?.state;
      await expect.poll(stateOfRun, { timeout: 30_000 }).toBe("cancelled");
    } finally {
      watcher.close();
      await page.close();
      await harness.close();
    }
  });
});
