import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { describeError } from "../src/describeError.js";
import { ConnectionError, DaemonError, JobCancelledError, ProtocolViolation } from "../src/errors.js";
import { ERROR_CODES } from "../src/protocol.js";

const schemaPath = join(dirname(fileURLToPath(import.meta.url)), "..", "protocol.schema.json");

describe("describeError", () => {
  it("knows every error code the daemon's schema lists", () => {
    const schema = JSON.parse(readFileSync(schemaPath, "utf8")) as { $defs: { ErrorCode: { enum: string[] } } };
    expect([...schema.$defs.ErrorCode.enum].sort()).toEqual([...ERROR_CODES].sort());
  });

  it("gives each code its own title and a hint", () => {
    const titles = new Set<string>();
    for (const code of ERROR_CODES) {
      const d = describeError(new DaemonError(code, `daemon says ${code}`, "params.model"));
      expect(d.code).toBe(code);
      expect(d.detail).toBe(`daemon says ${code}`);
      expect(d.field).toBe("params.model");
      expect(d.hint.length).toBeGreaterThan(0);
      expect(d.title).not.toMatch(/^Daemon error/);
      titles.add(d.title);
    }
    expect(titles.size).toBe(ERROR_CODES.length);
  });

  it("describes an unknown code, a lost connection, a malformed message and a cancel", () => {
    expect(describeError(new DaemonError("brand_new", "x")).title).toBe("Daemon error (brand_new)");
    expect(describeError(new ConnectionError("closed")).code).toBe("connection");
    expect(describeError(new ProtocolViolation("bad")).code).toBe("protocol");
    expect(describeError(new JobCancelledError("j")).code).toBe("cancelled");
    expect(describeError("weird").code).toBe("unknown");
    // the client's own errors keep their message as the detail and name no field
    expect(describeError(new ConnectionError("closed"))).toMatchObject({ title: "Cannot reach the Layerbridge daemon", detail: "closed", field: undefined });
    expect(describeError(new ProtocolViolation("bad"))).toMatchObject({ title: "Unexpected message from the daemon", detail: "bad", field: undefined });
    expect(describeError(new JobCancelledError("j"))).toMatchObject({ title: "Cancelled", detail: "job j was cancelled", field: undefined });
  });
});
