import { describe, expect, it } from "vitest";
import type { MainToUi, UiToMain } from "../../src/shared/messages";
import { MainBridge, type MessagePort } from "../../src/ui/mainBridge";

function fakePort(): MessagePort & { sent: UiToMain[]; deliver(m: MainToUi): void } {
  let handler: (m: MainToUi) => void = () => undefined;
  const sent: UiToMain[] = [];
  return {
    sent,
    send: (m) => sent.push(m),
    listen: (h) => (handler = h),
    deliver: (m) => handler(m),
  };
}

describe("MainBridge", () => {
  it("resolves a prepare with the inputs main exported for that request", async () => {
    const port = fakePort();
    const bridge = new MainBridge(port);
    const pending = bridge.prepare("r1", "generate", 2, 2048);
    expect(port.sent).toEqual([{ type: "prepare", requestId: "r1", flow: "generate", control: false, scale: 2, maxSide: 2048 }]);
    port.deliver({ type: "prepared", requestId: "other", input: { flow: "generate", target: { width: 1, height: 1 } } });
    port.deliver({ type: "prepared", requestId: "r1", input: { flow: "generate", target: { width: 64, height: 32 } } });
    await expect(pending).resolves.toEqual({ flow: "generate", target: { width: 64, height: 32 } });
  });

  it("rejects with main's reason", async () => {
    const port = fakePort();
    const bridge = new MainBridge(port);
    const prepare = bridge.prepare("r1", "inpaint", 1, 4096);
    port.deliver({ type: "prepare-failed", requestId: "r1", message: "Select an image" });
    await expect(prepare).rejects.toThrow("Select an image");
    const place = bridge.place("r2", "p", "demo", []);
    port.deliver({ type: "place-failed", requestId: "r2", message: "deleted" });
    await expect(place).rejects.toThrow("deleted");
  });

  it("passes other messages to listeners", () => {
    const port = fakePort();
    const bridge = new MainBridge(port);
    const seen: string[] = [];
    bridge.onMessage((m) => seen.push(m.type));
    port.deliver({ type: "selection", selection: { label: "x", flows: {} as never, control: { ok: false, reason: "no" } } });
    port.deliver({ type: "placed", requestId: "nobody", nodeIds: [] });
    expect(seen).toEqual(["selection"]);
  });
});
