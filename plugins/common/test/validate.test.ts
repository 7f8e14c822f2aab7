import { describe, expect, it } from "vitest";
import { ProtocolViolation } from "../src/errors.js";
import { parseBinaryHeader, parseServerMessage } from "../src/validate.js";
import { WELCOME } from "./fakeSocket.js";

const SHA = "a".repeat(64);

describe("parseServerMessage", () => {
  it("accepts a welcome and narrows it by type", () => {
    const msg = parseServerMessage(JSON.parse(JSON.stringify(WELCOME)));
    expect(msg.type).toBe("welcome");
    if (msg.type === "welcome") expect(msg.limits.max_batch).toBe(8);
  });

  it("rejects a value that is not an object", () => {
    expect(() => parseServerMessage([1, 2])).toThrow(ProtocolViolation);
    expect(() => parseServerMessage("welcome")).toThrow(/JSON object/);
  });

  it("rejects a message without a type", () => {
    expect(() => parseServerMessage({ job_id: "x" })).toThrow(/no string 'type'/);
  });

  it("rejects an unknown message type", () => {
    expect(() => parseServerMessage({ type: "job.exploded", job_id: "x" })).toThrow(/unknown message type 'job.exploded'/);
  });

  it("rejects a missing required field and names it", () => {
    expect(() => parseServerMessage({ type: "job.progress", job_id: "j1", step: 1 })).toThrow(/steps/);
  });

  it("rejects a field of the wrong type and gives its path", () => {
    try {
      parseServerMessage({ type: "job.progress", job_id: "j1", step: "one", steps: 4 });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ProtocolViolation);
      expect((err as ProtocolViolation).path).toBe("step");
      expect((err as Error).message).toMatch(/step must be integer/);
    }
  });

  it("rejects an unknown field", () => {
    expect(() => parseServerMessage({ type: "pong", surprise: true })).toThrow(/surprise/);
  });

  it("rejects a malformed nested result", () => {
    const bad = {
      type: "job.result",
      job_id: "j1",
      result: { index: 0, blob: "not-a-sha", format: "png", width: 8, height: 8, region: { x: 0, y: 0, width: 8, height: 8 }, seed: 1, params: { kind: "generate", model: "demo" } },
    };
    expect(() => parseServerMessage(bad)).toThrow(/result.blob/);
  });

  it("rejects a region with zero width", () => {
    const bad = {
      type: "job.result",
      job_id: "j1",
      result: { index: 0, blob: SHA, format: "png", width: 8, height: 8, region: { x: 0, y: 0, width: 0, height: 8 }, seed: 1, params: { kind: "generate", model: "demo" } },
    };
    expect(() => parseServerMessage(bad)).toThrow(/region.width/);
  });

  it("rejects an invalid job id pattern", () => {
    expect(() => parseServerMessage({ type: "job.started", job_id: "../etc" })).toThrow(ProtocolViolation);
  });
});

describe("parseBinaryHeader", () => {
  it("accepts blob.data", () => {
    expect(parseBinaryHeader({ type: "blob.data", sha256: SHA, offset: 0, total: 3, format: "png" }).type).toBe("blob.data");
  });

  it("refuses a text-only message as a binary header", () => {
    expect(() => parseBinaryHeader({ type: "pong" })).toThrow(/cannot be the header of a binary frame/);
  });
});

describe("string lengths", () => {
  it("rejects a reply_to longer than 64 characters (counted in code points)", () => {
    expect(() => parseServerMessage({ type: "pong", reply_to: "x".repeat(65) })).toThrow(/reply_to/);
    expect(parseServerMessage({ type: "pong", reply_to: "😀".repeat(64) }).type).toBe("pong");
  });
});
