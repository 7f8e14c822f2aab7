// The panel's HTML in headless Chromium (playwright-core, the system's chromium): the real view and
// controller with a stub host and a scripted daemon. Also takes the README screenshot:
// LAYERBRIDGE_UPDATE_SCREENSHOT=1 writes docs/photoshop-panel.png, otherwise dist-preview/.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const page_url = pathToFileURL(join(root, "dist-preview", "index.html")).href;
const executablePath = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";

let browser: Browser;
let page: Page;

beforeAll(async () => {
  browser = await chromium.launch({
    executablePath,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});
afterAll(async () => {
  await browser?.close();
});
beforeEach(async () => {
  page = await browser.newPage({ viewport: { width: 320, height: 900 }, deviceScaleFactor: 2 });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(page_url);
  await page.waitForSelector("#conn-status");
  expect(errors).toEqual([]);
});

const text = (sel: string) => page.locator(sel).innerText();

describe("panel in Chromium", () => {
  it("connects, lists the daemon's checkpoints, and shows the default mode", async () => {
    await expect.poll(() => text("#conn-status")).toMatch(/^Connected/);
    const options = await page.locator("#model option").allInnerTexts();
    expect(options).toEqual(["SDXL base 1.0 (sdxl)", "DreamShaper 8 (sd15)", "SD 1.5 inpainting (sd15-inpaint)"]);
    expect(await page.locator("#model").inputValue()).toBe("sdxl-base");
    // shown by the option's selected attribute: UXP does not show a selection set through select.value
    expect(await page.locator("#model option[selected]").getAttribute("value")).toBe("sdxl-base");
    expect(await text("#run")).toBe("Fill selection");
    expect(await page.locator("#variations").inputValue()).toBe("3");
  });

  it("runs a fill: progress, preview, then three layers placed in one group", async () => {
    await expect.poll(() => text("#conn-status")).toMatch(/^Connected/);
    await page.fill("#prompt", "a brass lamp on the table");
    await page.click("#run");
    await expect.poll(() => text("#progress-text")).toMatch(/^Step|Placing|Done/);
    await expect.poll(() => text("#progress-text"), { timeout: 10_000 }).toBe("Done · 3 placed");
    const placed = await page.evaluate(() => window.layerbridgePreview.host.placed.map((p) => ({ group: p.groupName, at: p.at, mask: Boolean(p.mask) })));
    expect(placed).toHaveLength(3);
    expect(new Set(placed.map((p) => p.group))).toEqual(new Set(["Fill: a brass lamp on the table"]));
    expect(placed[0]?.mask).toBe(true);
    expect(await text("#message-title")).toBe("Placed 3 results");
  });

  it("switches modes: expand shows the margins, generate hides strength", async () => {
    await page.click('#modes button[data-mode="expand"]');
    expect(await page.locator("#expand-row").isVisible()).toBe(true);
    expect(await text("#run")).toBe("Expand canvas");
    await page.click('#modes button[data-mode="generate"]');
    expect(await page.locator("#strength-row").isVisible()).toBe(false);
    expect(await page.locator("#expand-row").isVisible()).toBe(false);
  });

  it("adds LoRA and control-layer rows", async () => {
    await expect.poll(() => text("#conn-status")).toMatch(/^Connected/);
    await page.click("#loras-box .box-head");
    await page.click("#add-lora");
    expect(await page.locator("#loras select option").allInnerTexts()).toEqual(["Film grain", "Ink sketch · inksk"]);
    await page.click("#controls-box .box-head");
    await page.click("#add-control");
    await expect.poll(() => page.locator("#controls .item").count()).toBe(1);
    expect(await page.locator("#controls select").first().locator("option").allInnerTexts()).toEqual(["Sketch", "Product shot", "Background"]);
  });

  it("puts a picked LoRA's trigger word into the prompt, once", async () => {
    await expect.poll(() => text("#conn-status")).toMatch(/^Connected/);
    await page.fill("#prompt", "a red bottle");
    await page.click("#loras-box .box-head");
    await page.click("#add-lora"); // Film grain: no trigger word
    expect(await page.locator("#prompt").inputValue()).toBe("a red bottle");
    await page.locator("#loras select").first().selectOption("ink-sketch");
    expect(await page.locator("#prompt").inputValue()).toBe("a red bottle, inksk");
    await page.locator("#loras select").first().selectOption("film-grain");
    expect(await page.locator("#prompt").inputValue()).toBe("a red bottle"); // replaced: its word goes
    await page.locator("#loras select").first().selectOption("ink-sketch");
    expect(await page.locator("#prompt").inputValue()).toBe("a red bottle, inksk");
  });

  it("lists a LoRA registered after the panel connected when the LoRA list opens", async () => {
    await expect.poll(() => text("#conn-status")).toMatch(/^Connected/);
    await page.evaluate(() => {
      window.layerbridgePreview.controls.registeredLater.push({ id: "brand-red", name: "Brand red", arch: "sdxl", kind: "lora", trigger_words: ["lbbrand"] });
    });
    await page.click("#loras-box .box-head");
    await page.click("#add-lora");
    await expect.poll(() => page.locator("#loras select option").allInnerTexts()).toEqual(["Film grain", "Ink sketch · inksk", "Brand red · lbbrand"]);
  });

  it("takes a removed LoRA's trigger word out of the prompt, and leaves what the designer typed", async () => {
    await expect.poll(() => text("#conn-status")).toMatch(/^Connected/);
    await page.fill("#prompt", "a red bottle");
    await page.click("#loras-box .box-head");
    await page.click("#add-lora");
    await page.locator("#loras select").first().selectOption("ink-sketch");
    await page.fill("#prompt", `${await page.locator("#prompt").inputValue()}, on a table`);
    await page.locator('#loras button[title="Remove"]').first().click();
    expect(await page.locator("#prompt").inputValue()).toBe("a red bottle, on a table");
    await page.fill("#prompt", "inksk bottle"); // typed by the designer
    await page.click("#add-lora");
    await page.locator("#loras select").first().selectOption("ink-sketch");
    await page.locator('#loras button[title="Remove"]').first().click();
    expect(await page.locator("#prompt").inputValue()).toBe("inksk bottle");
  });

  it("shows a clear message for a daemon error", async () => {
    await expect.poll(() => text("#conn-status")).toMatch(/^Connected/);
    await page.evaluate(() => (window.layerbridgePreview.controls.failNextWith = "out_of_memory"));
    await page.click("#run");
    await expect.poll(() => text("#message-title")).toBe("The GPU ran out of memory");
    expect(await page.locator("#message").getAttribute("class")).toBe("message error");
    expect(await text("#message-hint")).toMatch(/smaller selection/);
  });

  it("cancels a running job", async () => {
    await expect.poll(() => text("#conn-status")).toMatch(/^Connected/);
    await page.evaluate(() => (window.layerbridgePreview.controls.holdAtStep = 5));
    await page.click("#run");
    await expect.poll(() => text("#progress-text")).toBe("Step 5/20");
    expect(await page.locator("#cancel").isEnabled()).toBe(true);
    await page.click("#cancel");
    await expect.poll(() => text("#progress-text")).toBe("Cancelled");
  });

  it("asks for a token when unpaired", async () => {
    await page.goto(`${page_url}?unpaired`);
    await expect.poll(() => text("#conn-status")).toMatch(/^Not paired/);
    expect(await page.locator("#pairing").getAttribute("class")).toBe("box open");
    expect(await page.locator("#token").isVisible()).toBe(true);
    expect(await page.locator("#run").isDisabled()).toBe(true);
  });

  it("renders mid-run with a preview (screenshot)", async () => {
    await expect.poll(() => text("#conn-status")).toMatch(/^Connected/);
    await page.fill("#prompt", "a brass desk lamp, warm evening light, photoreal");
    await page.fill("#negative", "blurry, text, watermark");
    await page.click("#loras-box .box-head");
    await page.click("#add-lora");
    await page.evaluate(() => (window.layerbridgePreview.controls.holdAtStep = 12));
    await page.click("#run");
    await expect.poll(() => text("#progress-text")).toBe("Step 12/20");
    expect(await page.locator("#preview").isVisible()).toBe(true);
    const update = process.env["LAYERBRIDGE_UPDATE_SCREENSHOT"] === "1";
    const target = update ? join(root, "..", "..", "docs", "photoshop-panel.png") : join(root, "dist-preview", "photoshop-panel.png");
    await mkdir(dirname(target), { recursive: true });
    await page.locator("#panel").screenshot({ path: target });
    expect(existsSync(target)).toBe(true);
    expect(existsSync(join(root, "..", "..", "docs", "photoshop-panel.png"))).toBe(true);
  });
});
