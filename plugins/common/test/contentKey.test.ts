// Content keys: XXH3-128 of the bytes, seeded per client, plus their length; what a client
// remembers of its uploads is bounded (least recently used first out).
import { createXXHash128 } from "hash-wasm";
import { describe, expect, it } from "vitest";
import { ContentKeys, SENT_KEYS } from "../src/contentKey.js";

describe("ContentKeys", () => {
  it("keys bytes by their XXH3-128 under the client's seed and their length", async () => {
    let seed: [number, number] | undefined;
    const keys = new ContentKeys((low, high) => {
      seed = [low, high];
      return createXXHash128(low, high);
    });
    const bytes = new Uint8Array([1, 2, 3, 4]);
    const [key] = (await keys.keysFor([{ bytes }]))!;
    const reference = await createXXHash128(seed![0], seed![1]);
    reference.init();
    reference.update(bytes);
    expect(key).toBe(`${reference.digest("hex")}:4`);
  });

  it("gives two clients different keys for the same bytes (a seed each, at random)", async () => {
    const bytes = new Uint8Array(64).fill(1);
    const [a] = (await new ContentKeys(createXXHash128).keysFor([{ bytes }]))!;
    const [b] = (await new ContentKeys(createXXHash128).keysFor([{ bytes }]))!;
    expect(a).not.toBe(b);
  });

  it("needs no key for a blob whose sha256 is given", async () => {
    const keys = await new ContentKeys(createXXHash128).keysFor([{ bytes: new Uint8Array(1), sha256: "0".repeat(64) }, { bytes: new Uint8Array(1) }]);
    expect(keys?.[0]).toBeUndefined();
    expect(keys?.[1]).toMatch(/^[0-9a-f]{32}:1$/);
  });

  it("has no keys without a hasher, or when the hasher cannot be created", async () => {
    expect(await new ContentKeys(null).keysFor([{ bytes: new Uint8Array(1) }])).toBeUndefined();
    expect(await new ContentKeys(() => Promise.reject(new Error("refused"))).keysFor([{ bytes: new Uint8Array(1) }])).toBeUndefined();
  });

  it(`remembers the ${SENT_KEYS} most recently used uploads`, () => {
    const keys = new ContentKeys(null);
    for (let i = 0; i < SENT_KEYS; i++) keys.remember(`k${i}`, `sha${i}`);
    expect(keys.get("k0")).toBe("sha0"); // used: now the most recent
    keys.remember("new", "sha-new");
    expect(keys.get("k1")).toBeUndefined(); // the least recently used went
    expect(keys.get("k0")).toBe("sha0");
    expect(keys.get("new")).toBe("sha-new");
    expect(keys.get(`k${SENT_KEYS - 1}`)).toBe(`sha${SENT_KEYS - 1}`);
  });
});
