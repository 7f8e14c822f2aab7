// Text codecs for hosts without them (UXP documents neither TextEncoder nor TextDecoder).
import { describe, expect, it } from "vitest";
import { installTextCodecs } from "../src/textCodecs.js";

type Codecs = { TextEncoder: new () => { encode(s: string): Uint8Array }; TextDecoder: new (label?: string, o?: { fatal?: boolean }) => { decode(b: Uint8Array): string } };

describe("installTextCodecs", () => {
  it("gives a host without codecs a UTF-8 encoder and a UTF-8 / latin1 decoder", () => {
    const host = {} as Record<string, unknown>;
    installTextCodecs(host);
    const { TextEncoder: Enc, TextDecoder: Dec } = host as unknown as Codecs;
    expect([...new Enc().encode("café ✓")]).toEqual([...Buffer.from("café ✓", "utf8")]);
    expect(new Dec().decode(Buffer.from("雨の日 🎨", "utf8"))).toBe("雨の日 🎨");
    expect(new Dec("latin1").decode(new Uint8Array([0x41, 0xe9, 0xff]))).toBe("Aéÿ");
    expect(new Dec().decode(new Uint8Array([0x61, 0xff, 0x62]))).toBe("a\ufffdb");
    expect(() => new Dec("utf-8", { fatal: true }).decode(new Uint8Array([0xc3]))).toThrow();
    expect(() => new Dec("koi8-r")).toThrow(RangeError);
  });

  it("replaces a host decoder that refuses latin1, keeping it for other labels", () => {
    class Utf8Only {
      constructor(label = "utf-8") {
        if (!/^utf-?8$/i.test(label) && label !== "utf-16le") throw new RangeError(label);
      }
      decode(): string {
        return "native";
      }
    }
    const host: Record<string, unknown> = { TextDecoder: Utf8Only };
    installTextCodecs(host);
    const Dec = (host as unknown as Codecs).TextDecoder;
    expect(Dec).not.toBe(Utf8Only);
    expect(new Dec("latin1").decode(new Uint8Array([0xe9]))).toBe("é");
    expect(new Dec("utf-16le").decode(new Uint8Array([]))).toBe("native");
  });

  it("leaves complete host codecs alone", () => {
    const host: Record<string, unknown> = { TextEncoder, TextDecoder };
    installTextCodecs(host);
    expect(host["TextEncoder"]).toBe(TextEncoder);
    expect(host["TextDecoder"]).toBe(TextDecoder);
  });
});
