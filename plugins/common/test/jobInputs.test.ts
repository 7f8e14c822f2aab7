// Job inputs travel by name: each uploaded image's hash lands in the field it was given for.
import { describe, expect, it } from "vitest";
import { withInputs } from "../src/jobInputs.js";
import type { BlobSource } from "../src/upload.js";

const blob = (byte: number): BlobSource => ({ bytes: new Uint8Array([byte]), format: "grey8", width: 1, height: 1 });
/** An upload that names each blob by its byte, so a hash says which blob it came from. */
const upload = async (blobs: readonly BlobSource[]): Promise<string[]> => blobs.map((b) => `sha-of-${b.bytes[0]}`);

describe("withInputs", () => {
  it("puts the image, the mask and each control map into their own fields", async () => {
    const params = await withInputs(
      { kind: "inpaint", model: "m", prompt: "p" },
      { image: blob(1), mask: blob(2), control: [{ type: "canny", strength: 0.5, image: blob(3) }, { type: "tile", image: blob(4) }] },
      upload,
    );
    expect(params).toEqual({
      kind: "inpaint", model: "m", prompt: "p", image: "sha-of-1", mask: "sha-of-2",
      control: [{ type: "canny", strength: 0.5, image: "sha-of-3" }, { type: "tile", image: "sha-of-4" }],
    });
  });

  it("gives a generate with only a control map that map, and no image or mask", async () => {
    const params = await withInputs({ kind: "generate", model: "m" }, { control: [{ type: "scribble", image: blob(9) }] }, upload);
    expect(params).toEqual({ kind: "generate", model: "m", control: [{ type: "scribble", image: "sha-of-9" }] });
  });

  it("uploads nothing and adds no field when there are no inputs", async () => {
    let asked: readonly BlobSource[] | undefined;
    const params = await withInputs({ kind: "generate", model: "m" }, {}, async (b) => ((asked = b), []));
    expect(asked).toEqual([]);
    expect(params).toEqual({ kind: "generate", model: "m" });
  });

  it("fails, naming the input, when the upload returns too few hashes", async () => {
    await expect(withInputs({ kind: "refine", model: "m" }, { image: blob(1) }, async () => [])).rejects.toThrow(/input 1 of 1/);
  });
});
