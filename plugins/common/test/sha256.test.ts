import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sha256Hex, sha256HexSync } from "../src/sha256.js";

const node = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("sha256", () => {
  it("matches the known digest of the empty string and 'abc'", () => {
    expect(sha256HexSync(new Uint8Array())).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(sha256HexSync(new TextEncoder().encode("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("matches node:crypto at every length around the block and padding boundaries", () => {
    for (const n of [1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 65_537]) {
      const b = new Uint8Array(randomBytes(n));
      expect(sha256HexSync(b), `length ${n}`).toBe(node(b));
    }
  });

  it("hashes a view into a larger buffer by its own bytes", () => {
    const big = new Uint8Array(randomBytes(300));
    const view = big.subarray(17, 217);
    expect(sha256HexSync(view)).toBe(node(view));
  });

  it("gives the same answer through WebCrypto", async () => {
    const b = new Uint8Array(randomBytes(5000));
    expect(await sha256Hex(b)).toBe(node(b));
  });
});
