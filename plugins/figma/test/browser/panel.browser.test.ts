import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DEFAULT_SETTINGS } from "../../src/shared/messages";
import { selectionFor, startHarness, type Harness, type HarnessScript } from "./harness";

// The real UI page (dist/ui.html) in headless Chromium, talking to a real daemon on 127.0.0.1.
const daemon = inject("daemon");
const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const SCREENSHOT = join(__dirname, "../../../../docs/figma-plugin.png");
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`No browser at ${CHROMIUM}: apt-get install -y chromium`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
});

async function open(script: HarnessScript): Promise<{ page: Page; harness: Harness }> {
  const harness = await startHarness(script);
  const page = await browser.newPage({ viewport: { width: 372, height: 752 } });
  page.on("pageerror", (error) => console.error("page error:", error.message));
  await page.goto(harness.url);
  return { page, harness };
}

const generate = (settings: Partial<HarnessScript["settings"]>): HarnessScript => ({
  settings: { ...DEFAULT_SETTINGS, url: daemon.url, token: daemon.token, ...settings },
  selection: selectionFor("Frame “Hero” 128×128", true),
  input: { flow: "generate", target: { width: 128, height: 128 } },
});

describe("the Figma UI page in Chromium", () => {
  it("connects, generates with a preview and hands the result to the main thread", async () => {
    const { page, harness } = await open(generate({ prompt: "a lighthouse on a cliff at dusk", model: "demo" }));
    try {
      const ui = page.frameLocator("#plugin");
      await expect.poll(() => ui.locator("#status").getAttribute("data-state"), { timeout: 20_000 }).toBe("ready");
      await expect.poll(() => ui.locator("#model").inputValue()).toBe("demo");
      await ui.locator("#advanced summary").click();
      await ui.locator("#steps").fill("4");
      await ui.locator("#seed").fill("42");
      await ui.locator("#advanced summary").click();
      await ui.locator("#run").click();
      await expect.poll(() => page.evaluate(() => (window as unknown as { placed: unknown }).placed), { timeout: 60_000 })
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

  it("says the daemon is not running when nothing listens", async () => {
    const { page, harness } = await open(generate({ url: "ws://127.0.0.1:9" }));
    try {
      const ui = page.frameLocator("#plugin");
      await expect
        .poll(() => ui.locator("#error-title").textContent(), { timeout: 30_000 })
        .toBe("Cannot reach the Layerbridge daemon");
      expect(await ui.locator("#error-hint").textContent()).toContain("layerbridge serve");
    } finally {
      await page.close();
      await harness.close();
    }
  });
});
