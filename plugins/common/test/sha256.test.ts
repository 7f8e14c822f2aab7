import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { createSHA256 } from "hash-wasm";
import { sha256Hex, sha256HexSync, sha256HexWasm, useWasmSha256 } from "../src/sha256.js";

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

  it("matches node:crypto through WebAssembly (UXP's path) at block boundaries and on a view", async () => {
    useWasmSha256(createSHA256);
    for (const n of [0, 55, 56, 64, 65, 1000, 1_048_577]) {
      const b = new Uint8Array(randomBytes(n));
      expect(await sha256HexWasm(b), `length ${n}`).toBe(node(b));
    }
    const big = new Uint8Array(randomBytes(300));
    expect(await sha256HexWasm(big.subarray(17, 217))).toBe(node(big.subarray(17, 217)));
  });

  it("uses WebAssembly where the host has no WebCrypto (UXP), and plain JS without either", async () => {
    const b = new Uint8Array(randomBytes(4096));
    useWasmSha256(createSHA256);
    vi.stubGlobal("crypto", {});
    try {
      expect(await sha256Hex(b)).toBe(node(b));
      vi.stubGlobal("WebAssembly", undefined);
      expect(await sha256HexWasm(b)).toBeUndefined();
      expect(await sha256Hex(b)).toBe(node(b));
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
