// The wire's word lists come from the daemon's schema, not from a second hand-written copy.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CONTROL_TYPES, ERROR_CODES, JOB_KINDS, isRetryable } from "../src/index.js";

const schema = JSON.parse(readFileSync(new URL("../protocol.schema.json", import.meta.url), "utf8")) as { $defs: Record<string, { enum?: string[]; "x-retryable"?: string[] }> };

describe("the wire's vocabulary", () => {
  it("lists exactly the schema's error codes, job kinds and control types", () => {
    expect([...ERROR_CODES]).toEqual(schema.$defs["ErrorCode"]!.enum);
    expect([...JOB_KINDS]).toEqual(schema.$defs["JobKind"]!.enum);
    expect([...CONTROL_TYPES]).toEqual(schema.$defs["ControlType"]!.enum);
  });

  it("calls retryable what the daemon calls retryable, and nothing else", () => {
    for (const code of ERROR_CODES) expect(isRetryable(code), code).toBe(schema.$defs["ErrorCode"]!["x-retryable"]!.includes(code));
    expect(isRetryable("busy")).toBe(true);
    expect(isRetryable("invalid_input")).toBe(false);
    expect(isRetryable("a_code_from_a_newer_daemon")).toBe(false);
  });
});
