// The Photoshop host adapter: the only module that requires 'photoshop'. Reads and writes pixels
// with the Imaging API inside short executeAsModal scopes (never held while the GPU works); each
// placed result is one undo step (history suspended). Coordinates are document pixels throughout:
// no placeEvent, no Smart Objects, nothing scaled by the document's resolution.
import { action, app, constants, core, imaging } from "photoshop";
import type { Document } from "photoshop/dom/Document";
import type { Layer } from "photoshop/dom/Layer";
import { intersect, rectFromBounds, toBounds, type Rect } from "../geometry.js";
import { placeInto, toRgba, type RgbaImage } from "../pixels.js";
import { HostBusyError, type ColorMode, type DocumentInfo, type Host, type LayerInfo, type Margins, type PlaceRequest, type PlaceResult, type ReadRequest, type ReadResult } from "./Host.js";

const RGB_PROFILE = "sRGB IEC61966-2.1";
/** Seconds Photoshop 25.10+ keeps a modal request queued while another modal state ends
 * (executeasmodaloptions.md: "retry until this duration of seconds has passed"; default 1). */
const MODAL_TIMEOUT_S = 15;
/** Quick retries of our own, for versions before 25.10 that refuse at once. */
const MODAL_RETRIES = 3;
/** executeAsModal's error `number` when another modal state holds Photoshop (executeasmodal.md).
 * Its text changed in 25.10 (it now names the plugin holding the state): never match the text. */
const MODAL_BUSY = 9;

// UXP has setTimeout, but @adobe/cc-ext-uxp-types does not declare it.
declare function setTimeout(callback: () => void, ms: number): unknown;

function isModalBusy(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { number?: unknown }).number === MODAL_BUSY;
}

/** executeAsModal with a queueing timeOut, retried a few times while another modal state holds
 * Photoshop; still busy after that: HostBusyError (the caller keeps the work and tries later). */
async function modal<T>(commandName: string, fn: Parameters<typeof core.executeAsModal<T>>[0]): Promise<T> {
  // timeOut arrived in 25.10, after the type package: the options type lacks it
  const options = { commandName, timeOut: MODAL_TIMEOUT_S } as Parameters<typeof core.executeAsModal<T>>[1];
  for (let attempt = 0; ; attempt++) {
    try {
      return await core.executeAsModal(fn, options);
    } catch (err) {
      if (!isModalBusy(err)) throw err;
      if (attempt >= MODAL_RETRIES) {
        const detail = err instanceof Error ? err.message : String(err);
        throw new HostBusyError(`Photoshop is busy (a dialog, Free Transform or another plugin's command is open): ${detail}`);
      }
      await new Promise<void>((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
    }
  }
}

/** Document.mode (constants.DocumentMode) by its Image ▸ Mode menu name. Read when asked, not at
 * load: nothing of the host is touched before the panel registers. */
function modeName(mode: unknown): ColorMode {
  const m = constants.DocumentMode;
  const names: Record<string, ColorMode> = {
    [m.RGB]: "RGB",
    [m.GRAYSCALE]: "Grayscale",
    [m.CMYK]: "CMYK",
    [m.LAB]: "Lab",
    [m.INDEXEDCOLOR]: "Indexed",
    [m.BITMAP]: "Bitmap",
    [m.DUOTONE]: "Duotone",
    [m.MULTICHANNEL]: "Multichannel",
  };
  return names[String(mode)] ?? "Multichannel";
}

/** A selection's getData() to 8-bit grey: getSelection takes no componentSize, so its data comes
 * at the document's depth: Uint8Array 0..255, Uint16Array 0..32768, Float32Array 0..1
 * (imaging.md, "PhotoshopImageData" value ranges and "getData"). */
export function selectionTo8Bit(data: Uint8Array | Uint16Array | Float32Array, componentSize: number): Uint8Array {
  if (componentSize === 8 || data instanceof Uint8Array) return new Uint8Array(data.buffer, data.byteOffset, data.length);
  const scale = componentSize === 16 ? 255 / 32768 : 255;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.min(255, Math.max(0, Math.round((data[i] ?? 0) * scale)));
  return out;
}
const GREY_PROFILE = "Gray Gamma 2.2";

function findDocument(id: number): Document {
  const doc = app.documents.find((d) => d.id === id);
  if (!doc) throw new Error(`the document (id ${id}) is no longer open`);
  return doc;
}

function layerInfo(layer: Layer): LayerInfo {
  // bounds includes layer effects (a drop shadow's margin); the pixels are boundsNoEffects
  const b = layer.boundsNoEffects;
  const rect = b && b.right > b.left && b.bottom > b.top ? rectFromBounds(b) : null;
  return { id: layer.id, name: layer.name, bounds: rect, kind: String(layer.kind) };
}

function flattenLayers(layers: readonly Layer[], out: LayerInfo[]): void {
  for (const layer of layers) {
    if (layer.kind === constants.LayerKind.GROUP) {
      flattenLayers([...(layer.layers ?? [])], out);
    } else if (layer.kind === constants.LayerKind.NORMAL || layer.kind === constants.LayerKind.SMARTOBJECT) {
      out.push(layerInfo(layer));
    }
  }
}

export class PhotoshopHost implements Host {
  async describeDocument(): Promise<DocumentInfo | null> {
    const doc = app.activeDocument;
    if (!doc) return null;
    const canvas: Rect = { x: 0, y: 0, width: doc.width, height: doc.height };
    const bounds = doc.selection?.bounds ?? null;
    const selection = bounds ? intersect(rectFromBounds(bounds), canvas) : null;
    const active = doc.activeLayers[0];
    const layers: LayerInfo[] = [];
    flattenLayers([...doc.layers], layers);
    return {
      id: doc.id,
      title: doc.title,
      width: doc.width,
      height: doc.height,
      mode: modeName(doc.mode),
      resolution: doc.resolution,
      selection,
      activeLayer: active ? layerInfo(active) : null,
      layers,
    };
  }

  read(request: ReadRequest): Promise<ReadResult> {
    return modal(
      "Layerbridge: read pixels",
      async () => {
        const image = await readRgba(request.documentId, request.source.kind === "layer" ? request.source.layerId : undefined, request.rect);
        let mask: ReadResult["mask"];
        if (request.withSelection) {
          const sel = await imaging.getSelection({ documentID: request.documentId, sourceBounds: toBounds(request.rect) });
          try {
            const data = await sel.imageData.getData({ chunky: true });
            const got = rectFromBounds(sel.sourceBounds);
            const grey = selectionTo8Bit(data, sel.imageData.componentSize);
            mask = { width: request.rect.width, height: request.rect.height, data: placeInto(grey, got, request.rect, 1) };
          } finally {
            await sel.imageData.dispose();
          }
        }
        const controls: RgbaImage[] = [];
        for (const layerId of request.controlLayerIds) controls.push(await readRgba(request.documentId, layerId, request.rect));
        return { rect: request.rect, image, mask, controls };
      },
    );
  }

  place(request: PlaceRequest): Promise<PlaceResult> {
    return modal(
      "Layerbridge: place result",
      async (context) => {
        const doc = findDocument(request.documentId);
        const suspension = await context.hostControl.suspendHistory({ documentID: doc.id, name: request.historyName });
        try {
          if (request.growCanvas) await growCanvas(doc, request.growCanvas);
          let group = request.groupId !== undefined ? findLayer(doc, request.groupId) : undefined;
          if (!group) {
            const made = await doc.createLayerGroup({ name: request.groupName });
            if (!made) throw new Error("Photoshop did not create the layer group");
            group = made;
          }
          const layer = await doc.createPixelLayer({ name: request.layerName });
          if (!layer) throw new Error("Photoshop did not create the layer");
          layer.move(group, constants.ElementPlacement.PLACEINSIDE);
          const target = toBounds({ x: request.at.x, y: request.at.y, width: request.image.width, height: request.image.height });
          const pixels = await imaging.createImageDataFromBuffer(request.image.data, {
            width: request.image.width,
            height: request.image.height,
            components: 4,
            chunky: true,
            colorSpace: "RGB",
            colorProfile: RGB_PROFILE,
          });
          try {
            await imaging.putPixels({ documentID: doc.id, layerID: layer.id, imageData: pixels, targetBounds: target, replace: true });
          } finally {
            await pixels.dispose();
          }
          const size = request.size;
          if (size && (size.width !== request.image.width || size.height !== request.image.height)) {
            await scaleAbout(layer, request.at, size.width / request.image.width, size.height / request.image.height);
          }
          if (request.mask) {
            const mask = await imaging.createImageDataFromBuffer(request.mask.data, {
              width: request.mask.width,
              height: request.mask.height,
              components: 1,
              chunky: true,
              colorSpace: "Grayscale",
              colorProfile: GREY_PROFILE,
            });
            try {
              const put = () => imaging.putLayerMask({ documentID: doc.id, layerID: layer.id, kind: "user", imageData: mask, targetBounds: target, replace: true });
              try {
                await put();
              } catch {
                // A Photoshop that writes only into an existing user mask: add an empty
                // (reveal-all) one to the new layer, then write the patch's mask into it.
                await inDocument(doc, () => action.batchPlay(addRevealAllMask(layer.id), {}));
                await put();
              }
            } finally {
              await mask.dispose();
            }
          }
          await context.hostControl.resumeHistory(suspension, true);
          return { layerId: layer.id, groupId: group.id };
        } catch (err) {
          await context.hostControl.resumeHistory(suspension, false);
          throw err;
        }
      },
    );
  }
}

/** batchPlay commands act on the active document: the designer may have switched to another
 * one while the job ran, so make `doc` active for `fn`, then give the focus back. */
async function inDocument<T>(doc: Document, fn: () => Promise<T>): Promise<T> {
  const previous = app.activeDocument;
  if (previous?.id === doc.id) return fn();
  app.activeDocument = doc;
  try {
    return await fn();
  } finally {
    if (previous) app.activeDocument = previous;
  }
}

/** Select the layer by id and give it a reveal-all user mask (Layer > Layer Mask > Reveal All). */
function addRevealAllMask(layerId: number): Parameters<typeof action.batchPlay>[0] {
  return [
    { _obj: "select", _target: [{ _ref: "layer", _id: layerId }], makeVisible: false },
    { _obj: "make", new: { _class: "channel" }, at: { _ref: "channel", _enum: "channel", _value: "mask" }, using: { _enum: "userMaskEnabled", _value: "revealAll" } },
  ];
}

/** Scale a layer by (sx, sy) about the document point `origin`. Layer.scale anchors on the layer's
 * own bounds, which start later than `origin` when the image has transparent edges: move it
 * back by what that anchor shifted. */
async function scaleAbout(layer: Layer, origin: { x: number; y: number }, sx: number, sy: number): Promise<void> {
  const before = layer.boundsNoEffects;
  await layer.scale(sx * 100, sy * 100, constants.AnchorPosition.TOPLEFT);
  const after = layer.boundsNoEffects;
  const dx = Math.round(origin.x + (before.left - origin.x) * sx - after.left);
  const dy = Math.round(origin.y + (before.top - origin.y) * sy - after.top);
  if (dx || dy) await layer.translate(dx, dy);
}

function findLayer(doc: Document, id: number): Layer | undefined {
  const walk = (layers: readonly Layer[]): Layer | undefined => {
    for (const l of layers) {
      if (l.id === id) return l;
      const inner = l.layers ? walk([...l.layers]) : undefined;
      if (inner) return inner;
    }
    return undefined;
  };
  return walk([...doc.layers]);
}

/** Grow the canvas by exact margins: two anchored resizes (DOM resizeCanvas takes pixels). */
async function growCanvas(doc: Document, m: Margins): Promise<void> {
  const left = m.left ?? 0;
  const top = m.top ?? 0;
  const right = m.right ?? 0;
  const bottom = m.bottom ?? 0;
  if (left || top) await doc.resizeCanvas(doc.width + left, doc.height + top, constants.AnchorPosition.BOTTOMRIGHT);
  if (right || bottom) await doc.resizeCanvas(doc.width + right, doc.height + bottom, constants.AnchorPosition.TOPLEFT);
}

async function readRgba(documentId: number, layerId: number | undefined, rect: Rect): Promise<RgbaImage> {
  const options: Parameters<typeof imaging.getPixels>[0] = {
    documentID: documentId,
    sourceBounds: toBounds(rect),
    colorSpace: "RGB",
    colorProfile: RGB_PROFILE,
    componentSize: 8,
  };
  if (layerId !== undefined) options.layerID = layerId;
  const got = await imaging.getPixels(options);
  try {
    const { width, height, components } = got.imageData;
    const raw = (await got.imageData.getData({ chunky: true })) as Uint8Array;
    const rgba = toRgba(new Uint8Array(raw), width, height, components);
    // the returned bounds are trimmed to pixel-bearing areas: place them into the asked rect
    const data = placeInto(rgba, rectFromBounds(got.sourceBounds), rect, 4);
    return { width: rect.width, height: rect.height, data };
  } finally {
    await got.imageData.dispose();
  }
}
