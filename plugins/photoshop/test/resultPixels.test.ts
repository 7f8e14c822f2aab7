import { describe, expect, it } from "vitest";
import { encode } from "fast-png";
import type { JobOutput, ResultInfo } from "@layerbridge/common";
import { isLoopback, resultFormatFor, resultPixels } from "../src/resultPixels.js";

const info = (patch: Partial<ResultInfo>): ResultInfo => ({
  index: 0, blob: "0".repeat(64), format: "png", width: 2, height: 1, region: { x: 0, y: 0, width: 2, height: 1 }, seed: 1,
  params: { kind: "inpaint", model: "demo" }, ...patch,
});

describe("result pixels", () => {
  it("takes rgba8 bytes as they are, without a copy or a decode", () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    const image = resultPixels({ info: info({ format: "rgba8" }), bytes });
    expect(image).toEqual({ width: 2, height: 1, data: bytes });
    expect(image.data).toBe(bytes);
  });

  it("refuses rgba8 bytes of another size than the result's", () => {
    const output: JobOutput = { info: info({ format: "rgba8", width: 3 }), bytes: new Uint8Array(8) };
    expect(() => resultPixels(output)).toThrow(/rgba8 3×1 \(12 bytes\) but 8 bytes/);
  });

  it("decodes a PNG result to the same pixels", () => {
    const data = new Uint8Array([10, 20, 30, 255, 40, 50, 60, 128]);
    const png = encode({ width: 2, height: 1, data, channels: 4 });
    expect([...resultPixels({ info: info({ format: "png" }), bytes: png }).data]).toEqual([...data]);
  });

  it("asks for raw rgba8 from a daemon on this machine only", () => {
    for (const h of ["127.0.0.1", "localhost", "LOCALHOST", "::1", "[::1]", "127.0.0.2"]) expect(isLoopback(h), h).toBe(true);
    for (const h of ["gpu-box.local", "192.168.1.20", "127.0.0.1.example.com", "10.0.0.1"]) expect(isLoopback(h), h).toBe(false);
    expect(resultFormatFor("127.0.0.1")).toBe("rgba8");
    expect(resultFormatFor("gpu-box.local")).toBe("png");
  });
});
