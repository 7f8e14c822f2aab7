// A job's input images by name: `{image, mask, control}` instead of a list of hashes matched to
// params by position. The images are uploaded together (each only when the daemon lacks it) and
// the name each upload returns (the sha256 the daemon gave it, with blob.unnamed; nothing is
// hashed first for it) goes into the field it belongs to.
import type { ControlSpec, JobParams } from "./protocol.js";
import type { BlobSource } from "./upload.js";

/** A ControlNet input: its spec, with the map itself as bytes instead of a hash. */
export type ControlInput = Omit<ControlSpec, "image"> & { image: BlobSource };

export interface JobInputs {
  /** refine / inpaint / expand: the input image. */
  image?: BlobSource;
  /** inpaint: the grey mask, 255 = repaint. */
  mask?: BlobSource;
  control?: readonly ControlInput[];
}

/** The job's parameters without the fields JobInputs fills in. */
export type ParamsWithoutInputs = Omit<JobParams, "image" | "mask" | "control">;

interface Named {
  blob: BlobSource;
  put(params: JobParams, sha256: string): void;
}

/** The uploads `inputs` needs, each knowing which field its hash fills. */
function named(inputs: JobInputs): Named[] {
  const out: Named[] = [];
  if (inputs.image) out.push({ blob: inputs.image, put: (p, sha) => (p.image = sha) });
  if (inputs.mask) out.push({ blob: inputs.mask, put: (p, sha) => (p.mask = sha) });
  (inputs.control ?? []).forEach((spec, i) => {
    out.push({ blob: spec.image, put: (p, sha) => ((p.control ?? [])[i] = { ...spec, image: sha }) });
  });
  return out;
}

/** Uploads the inputs with `upload` and returns the complete job parameters. */
export async function withInputs(
  params: ParamsWithoutInputs,
  inputs: JobInputs,
  upload: (blobs: readonly BlobSource[]) => Promise<string[]>,
): Promise<JobParams> {
  const uploads = named(inputs);
  const hashes = await upload(uploads.map((u) => u.blob));
  const full: JobParams = { ...params };
  if (inputs.control?.length) full.control = new Array<ControlSpec>(inputs.control.length);
  uploads.forEach((u, i) => {
    const sha = hashes[i];
    if (sha === undefined) throw new Error(`the upload returned no hash for input ${i + 1} of ${uploads.length}`);
    u.put(full, sha);
  });
  return full;
}
