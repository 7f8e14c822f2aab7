// What the panel needs from Photoshop. photoshopHost.ts implements it (the only module that
// requires 'photoshop'); tests and the browser preview use stubs.
import type { Rect } from "../geometry.js";
import type { GreyImage, RgbaImage } from "../pixels.js";

export interface LayerInfo {
  id: number;
  name: string;
  /** Pixel bounds without layer effects (a drop shadow's margin is no pixel to repaint); null
   * for an empty layer. */
  bounds: Rect | null;
  kind: string;
}

/** A document's colour mode (Document.mode), by its Image ▸ Mode menu name. */
export type ColorMode = "RGB" | "Grayscale" | "CMYK" | "Lab" | "Indexed" | "Bitmap" | "Duotone" | "Multichannel";

export interface DocumentInfo {
  id: number;
  title: string;
  width: number;
  height: number;
  mode: ColorMode;
  /** For information only: placement never uses it. */
  resolution: number;
  /** The selection's bounding box, clipped to the canvas; null when nothing is selected. */
  selection: Rect | null;
  activeLayer: LayerInfo | null;
  /** Layers that can feed a control (pixel layers), top first. */
  layers: LayerInfo[];
}

export type PixelSource = { kind: "composite" } | { kind: "layer"; layerId: number };

export interface ReadRequest {
  documentId: number;
  source: PixelSource;
  /** The region to read, in document pixels. */
  rect: Rect;
  /** Also read the selection over `rect` as a grey mask. */
  withSelection: boolean;
  /** Layers to read over the same rect (control images). */
  controlLayerIds: number[];
}

export interface ReadResult {
  rect: Rect;
  image: RgbaImage;
  /** Grey mask over `rect` (255 = selected) when asked. */
  mask: GreyImage | undefined;
  controls: RgbaImage[];
}

/** Pixels added per side (the protocol's Margins). */
export interface Margins {
  left?: number;
  top?: number;
  right?: number;
  bottom?: number;
}

export interface PlaceRequest {
  documentId: number;
  /** Name of the group that gathers one job's variations; created on the first result. */
  groupName: string;
  /** The group made for an earlier result of the same job. */
  groupId: number | undefined;
  layerName: string;
  /** RGBA pixels to place with their top-left at `at` (document pixels). */
  image: RgbaImage;
  at: { x: number; y: number };
  /** The size the result covers in the document when it differs from the image's (a result
   * generated smaller than its box is scaled up to it, anchored at `at`). */
  size?: { width: number; height: number };
  /** Layer mask over the same rect as `image`. */
  mask: GreyImage | undefined;
  /** Expand: grow the canvas by these margins first (first result only). */
  growCanvas: Margins | undefined;
  /** The undo step's name. */
  historyName: string;
}

export interface PlaceResult {
  layerId: number;
  groupId: number;
}

/** Photoshop is in a modal state (a dialog, Free Transform, another plugin's command) and did not
 * leave it in time: the same call succeeds later. */
export class HostBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HostBusyError";
  }
}

export interface Host {
  /** The active document (DOM getters only; no modal scope), or null without one. */
  describeDocument(): Promise<DocumentInfo | null>;
  /** Read pixels (and the selection) in one short modal scope. */
  read(request: ReadRequest): Promise<ReadResult>;
  /** Place one result as a new layer in one short modal scope: one undo step. Rejects with
   * HostBusyError while Photoshop is busy. */
  place(request: PlaceRequest): Promise<PlaceResult>;
}
