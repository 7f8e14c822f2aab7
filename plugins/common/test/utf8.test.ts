import { describe, expect, it, vi } from "vitest";

describe("utf8 without TextEncoder/TextDecoder (older UXP)", () => {
  it("round-trips ASCII, accents, CJK and emoji, and rejects malformed bytes", async () => {
    vi.stubGlobal("TextEncoder", undefined);
    vi.stubGlobal("TextDecoder", undefined);
    vi.resetModules();
    const { encodeUtf8, decodeUtf8 } = await import("../src/utf8.js");
    vi.unstubAllGlobals();
    for (const text of ["hello", "café crème", "雨の日", "🎨 layer ✓", ""]) {
      const bytes = encodeUtf8(text);
      expect([...bytes]).toEqual([...Buffer.from(text, "utf8")]);
      expect(decodeUtf8(bytes)).toBe(text);
    }
    expect(() => decodeUtf8(new Uint8Array([0xc3]))).toThrow(/UTF-8/);
    expect(() => decodeUtf8(new Uint8Array([0xe2, 0x28, 0xa1]))).toThrow(/UTF-8/);
    expect(() => decodeUtf8(new Uint8Array([0xff]))).toThrow(/UTF-8/);
  });
});
