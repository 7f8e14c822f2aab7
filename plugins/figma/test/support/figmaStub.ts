/**
 * A recording stub of the `figma` global: just the part of the Plugin API the main thread uses,
 * with nodes that keep a real tree, and an exportAsync that rasterises solid fills (rectangles
 * and ellipses) into a real PNG, so masks and export sizes can be checked by their pixels.
 */

import { createHash } from "node:crypto";
import { pngSize } from "../../src/shared/size";
import { encodePng } from "./png";

type Transform2 = [[number, number, number], [number, number, number]];

export interface ExportCall {
  nodeId: string;
  nodeName: string;
  settings: ExportSettingsImage;
  /** Names of the visible nodes rendered, in paint order. */
  rendered: string[];
  width: number;
  height: number;
}

export interface StubLog {
  exports: ExportCall[];
  /**
   * Edits that go into Figma's undo history and the `commitUndo` calls between them, in order:
   * what one Cmd+Z reverts is everything after the last "commitUndo" (figma.commitUndo docs:
   * "By default, plugin actions are not committed to undo history").
   */
  history: string[];
  posted: unknown[];
  notified: { message: string; error: boolean }[];
  createdImages: string[];
}

let nextId = 1;

/** Shape tools (and createRectangle, createEllipse...) give a new shape a grey #D9D9D9 fill. */
const DEFAULT_FILLED = new Set(["RECTANGLE", "ELLIPSE", "POLYGON", "STAR"]);

const CONTAINERS = new Set(["FRAME", "GROUP", "COMPONENT", "INSTANCE", "SECTION", "PAGE"]);

export class StubNode {
  readonly id: string;
  name: string;
  parent: StubNode | null = null;
  children: StubNode[] = [];
  x = 0;
  y = 0;
  width: number;
  height: number;
  visible = true;
  opacity = 1;
  blendMode = "NORMAL";
  effects: unknown[] = [];
  private fillsValue: unknown[] = [];
  strokes: unknown[] = [];
  strokeWeight = 1;
  /** Figma's default for shapes and frames; vectors and lines default to CENTER. */
  strokeAlign: "INSIDE" | "CENTER" | "OUTSIDE" = "INSIDE";
  isMask = false;
  clipsContent = false;
  removed = false;
  rotationMatrix: [number, number, number, number] = [1, 0, 0, 1];
  private readonly pluginData = new Map<string, string>();

  constructor(
    readonly stub: FigmaStub,
    readonly type: string,
    name: string,
    width = 100,
    height = 100,
  ) {
    this.id = `${nextId++}:1`;
    this.name = name;
    this.width = width;
    this.height = height;
    stub.register(this);
    if (!CONTAINERS.has(type)) delete (this as { children?: unknown }).children;
    if (type === "VECTOR" || type === "LINE") this.strokeAlign = "CENTER";
    if (type === "FRAME" || type === "COMPONENT") (this as { layoutMode?: string }).layoutMode = "NONE";
  }

  get fills(): unknown[] {
    return this.fillsValue;
  }

  /** Fills are an edit the undo history holds (a clone's copy of them is part of the clone). */
  set fills(value: unknown[]) {
    this.stub.log.history.push(`fills ${this.name}`);
    this.fillsValue = value;
  }

  get relativeTransform(): Transform2 {
    const [a, b, c, d] = this.rotationMatrix;
    return [
      [a, b, this.x],
      [c, d, this.y],
    ];
  }

  set relativeTransform(t: Transform2) {
    this.rotationMatrix = [t[0][0], t[0][1], t[1][0], t[1][1]];
    this.x = t[0][2];
    this.y = t[1][2];
  }

  /** Absolute origin: the sum of ancestors' positions (pages sit at 0, 0). */
  get absoluteOrigin(): { x: number; y: number } {
    let x = this.x;
    let y = this.y;
    for (let p = this.parent; p !== null && p.type !== "PAGE"; p = p.parent) {
      x += p.x;
      y += p.y;
    }
    return { x, y };
  }

  get absoluteTransform(): Transform2 {
    const o = this.absoluteOrigin;
    const [a, b, c, d] = this.rotationMatrix;
    return [
      [a, b, o.x],
      [c, d, o.y],
    ];
  }

  get absoluteBoundingBox(): Rect {
    const o = this.absoluteOrigin;
    return { x: o.x, y: o.y, width: this.width, height: this.height };
  }

  resize(width: number, height: number): void {
    this.width = width;
    this.height = height;
  }

  resizeWithoutConstraints(width: number, height: number): void {
    this.resize(width, height);
  }

  appendChild(child: StubNode): void {
    this.insertChild(this.requireChildren().length, child);
  }

  insertChild(index: number, child: StubNode): void {
    child.detach();
    child.parent = this;
    this.requireChildren().splice(index, 0, child);
  }

  private requireChildren(): StubNode[] {
    if (!CONTAINERS.has(this.type)) throw new Error(`${this.type} cannot have children`);
    return this.children;
  }

  detach(): void {
    if (this.parent === null) return;
    const siblings = this.parent.children;
    const i = siblings.indexOf(this);
    if (i >= 0) siblings.splice(i, 1);
    this.parent = null;
  }

  remove(): void {
    this.stub.log.history.push(`remove ${this.name}`);
    this.detach();
    this.removed = true;
    if ("children" in this) for (const c of [...this.children]) c.remove();
  }

  clone(): StubNode {
    this.stub.log.history.push(`clone ${this.name}`);
    const copy = this.copyTree();
    if (this.parent !== null) this.parent.insertChild(this.parent.children.indexOf(this) + 1, copy);
    return copy;
  }

  private copyTree(): StubNode {
    const copy = new StubNode(this.stub, this.type, this.name, this.width, this.height);
    Object.assign(copy, {
      x: this.x,
      y: this.y,
      visible: this.visible,
      opacity: this.opacity,
      blendMode: this.blendMode,
      effects: [...this.effects],
      strokes: structuredClone(this.strokes),
      strokeWeight: this.strokeWeight,
      strokeAlign: this.strokeAlign,
      isMask: this.isMask,
      clipsContent: this.clipsContent,
      rotationMatrix: [...this.rotationMatrix],
    });
    copy.fillsValue = structuredClone(this.fillsValue);
    if ("layoutMode" in this) Object.assign(copy, { layoutMode: (this as { layoutMode?: string }).layoutMode });
    if ("children" in this) {
      for (const child of this.children) {
        const c = child.copyTree();
        c.parent = copy;
        copy.children.push(c);
      }
    }
    return copy;
  }

  setPluginData(key: string, value: string): void {
    this.pluginData.set(key, value);
  }

  getPluginData(key: string): string {
    return this.pluginData.get(key) ?? "";
  }

  async exportAsync(settings: ExportSettingsImage = { format: "PNG" }): Promise<Uint8Array> {
    await this.stub.beforeExport?.(this);
    const scale = settings.constraint?.type === "SCALE" ? settings.constraint.value : 1;
    const width = Math.max(1, Math.round(this.width * scale));
    const height = Math.max(1, Math.round(this.height * scale));
    const rgba = new Uint8Array(width * height * 4);
    const rendered: string[] = [];
    const origin = this.absoluteOrigin;
    const convert = colorConversion(this.stub.root.documentColorProfile, settings.colorProfile ?? "DOCUMENT");
    const paint = (node: StubNode): void => {
      if (!node.visible) return;
      rendered.push(node.name);
      const color = solidColorOf(node.fills) ?? (hasImageFill(node.fills) ? IMAGE_GREY : null);
      if (color !== null) {
        const o = node.absoluteOrigin;
        fillShape(rgba, width, height, {
          x: (o.x - origin.x) * scale,
          y: (o.y - origin.y) * scale,
          w: node.width * scale,
          h: node.height * scale,
          ellipse: node.type === "ELLIPSE",
          color: convert(color),
        });
      }
      if ("children" in node) for (const child of node.children) paint(child);
    };
    paint(this);
    this.stub.log.exports.push({ nodeId: this.id, nodeName: this.name, settings, rendered, width, height });
    return encodePng(width, height, rgba);
  }
}

interface Color {
  r: number;
  g: number;
  b: number;
}

const IMAGE_GREY: Color = { r: 0.5, g: 0.5, b: 0.5 };

/**
 * What exportAsync's `colorProfile` does to a paint's colour (ExportSettings docs: "DOCUMENT" uses
 * the document's profile, "SRGB" sRGB colours). Paint values are in the document's space, so a
 * Display P3 file exported as "DOCUMENT" hands out its P3 values unchanged; as "SRGB" they are
 * converted (D65 both, same transfer curve: a linear-light matrix) and clipped to sRGB's gamut.
 */
function colorConversion(document: string, wanted: string): (c: Color) => Color {
  const source = document === "DISPLAY_P3" ? "P3" : "SRGB"; // LEGACY files are sRGB
  const target = wanted === "DOCUMENT" ? source : wanted === "DISPLAY_P3_V4" ? "P3" : "SRGB";
  if (source === target) return (c) => c;
  if (source === "SRGB") throw new Error("the stub does not model sRGB to Display P3 exports");
  const P3_TO_SRGB = [
    [1.2249401, -0.2249404, 0],
    [-0.0420569, 1.0420571, 0],
    [-0.0196376, -0.0786361, 1.0982735],
  ] as const;
  const linear = (v: number): number => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const encode = (v: number): number => {
    const x = Math.min(1, Math.max(0, v));
    return x <= 0.0031308 ? x * 12.92 : 1.055 * x ** (1 / 2.4) - 0.055;
  };
  return (c) => {
    const l = [linear(c.r), linear(c.g), linear(c.b)];
    const [r, g, b] = P3_TO_SRGB.map((row) => row[0] * (l[0] ?? 0) + row[1] * (l[1] ?? 0) + row[2] * (l[2] ?? 0));
    return { r: encode(r ?? 0), g: encode(g ?? 0), b: encode(b ?? 0) };
  };
}

function solidColorOf(fills: unknown[]): Color | null {
  for (let i = fills.length - 1; i >= 0; i--) {
    const f = fills[i] as { type?: string; color?: Color; visible?: boolean };
    if (f.type === "SOLID" && f.color !== undefined && f.visible !== false) return f.color;
  }
  return null;
}

function hasImageFill(fills: unknown[]): boolean {
  return fills.some((f) => (f as { type?: string }).type === "IMAGE");
}

function fillShape(
  rgba: Uint8Array,
  width: number,
  height: number,
  s: { x: number; y: number; w: number; h: number; ellipse: boolean; color: Color },
): void {
  const x0 = Math.max(0, Math.floor(s.x));
  const y0 = Math.max(0, Math.floor(s.y));
  const x1 = Math.min(width, Math.ceil(s.x + s.w));
  const y1 = Math.min(height, Math.ceil(s.y + s.h));
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const cx = x + 0.5;
      const cy = y + 0.5;
      if (cx < s.x || cx > s.x + s.w || cy < s.y || cy > s.y + s.h) continue;
      if (s.ellipse) {
        const dx = (cx - (s.x + s.w / 2)) / (s.w / 2);
        const dy = (cy - (s.y + s.h / 2)) / (s.h / 2);
        if (dx * dx + dy * dy > 1) continue;
      }
      const i = (y * width + x) * 4;
      rgba[i] = Math.round(s.color.r * 255);
      rgba[i + 1] = Math.round(s.color.g * 255);
      rgba[i + 2] = Math.round(s.color.b * 255);
      rgba[i + 3] = 255;
    }
  }
}

export interface StubImage {
  hash: string;
  bytes: Uint8Array;
  getSizeAsync(): Promise<{ width: number; height: number }>;
  getBytesAsync(): Promise<Uint8Array>;
}

export class FigmaStub {
  readonly log: StubLog = { exports: [], history: [], posted: [], notified: [], createdImages: [] };
  /** figma.root: only the colour profile the exports depend on. */
  readonly root = { documentColorProfile: "SRGB" as "LEGACY" | "SRGB" | "DISPLAY_P3" };
  readonly mixed: symbol = Symbol("mixed");
  private readonly nodes = new Map<string, StubNode>();
  private readonly images = new Map<string, StubImage>();
  private readonly storage = new Map<string, unknown>();
  readonly currentPage: StubNode & { selection: StubNode[] };
  readonly handlers: Record<string, (() => void)[]> = {};
  /** Runs before each export renders: a test holds an export here to act while it is under way. */
  beforeExport: ((node: StubNode) => Promise<void>) | undefined;

  readonly ui = {
    onmessage: undefined as ((message: unknown) => void) | undefined,
    postMessage: (message: unknown): void => {
      this.log.posted.push(structuredClone(message));
    },
  };

  readonly clientStorage = {
    getAsync: async (key: string): Promise<unknown> => structuredClone(this.storage.get(key)),
    setAsync: async (key: string, value: unknown): Promise<void> => {
      this.storage.set(key, structuredClone(value));
    },
  };

  constructor() {
    const page = new StubNode(this, "PAGE", "Page 1", 0, 0) as StubNode & { selection: StubNode[] };
    page.selection = [];
    this.currentPage = page;
  }

  register(node: StubNode): void {
    this.nodes.set(node.id, node);
  }

  /** The stub seen through the real API's type: the one cast the tests need. */
  get api(): PluginAPI {
    return this as unknown as PluginAPI;
  }

  select(...nodes: StubNode[]): void {
    this.currentPage.selection = nodes;
  }

  /** A node as the user would have drawn it: shapes come with Figma's default grey fill. */
  add(type: string, name: string, box: Rect, parent: StubNode = this.currentPage): StubNode {
    const node = new StubNode(this, type, name, box.width, box.height);
    if (DEFAULT_FILLED.has(type)) node.fills = [{ type: "SOLID", color: { r: 0xd9 / 255, g: 0xd9 / 255, b: 0xd9 / 255 } }];
    node.x = box.x;
    node.y = box.y;
    parent.appendChild(node);
    return node;
  }

  /** A rectangle showing an image of `pixels` size, scaled to `box` with FILL. */
  addImage(name: string, box: Rect, pixels: { width: number; height: number }, parent?: StubNode): StubNode {
    const image = this.putImage(solidPngOf(pixels.width, pixels.height));
    const node = this.add("RECTANGLE", name, box, parent);
    node.fills = [{ type: "IMAGE", imageHash: image.hash, scaleMode: "FILL" }];
    return node;
  }

  private putImage(bytes: Uint8Array): StubImage {
    const hash = createHash("sha1").update(bytes).digest("hex");
    const size = pngSize(bytes);
    if (size === null) throw new Error("Image type is unsupported");
    const image: StubImage = {
      hash,
      bytes,
      getSizeAsync: async () => size,
      getBytesAsync: async () => bytes,
    };
    this.images.set(hash, image);
    return image;
  }

  // --------------------------------------------------------------- the PluginAPI surface used

  commitUndo(): void {
    this.log.history.push("commitUndo");
  }

  /**
   * The undo history as Cmd+Z walks it, oldest first: each step holds the edits between two
   * commits (the last one also what is not committed yet); a commit with nothing before it adds
   * no step.
   */
  undoSteps(): string[][] {
    const steps: string[][] = [[]];
    for (const entry of this.log.history) {
      if (entry === "commitUndo") steps.push([]);
      else steps[steps.length - 1]?.push(entry);
    }
    return steps.filter((step) => step.length > 0);
  }

  createFrame(): StubNode {
    this.log.history.push("createFrame");
    const frame = new StubNode(this, "FRAME", "Frame", 100, 100);
    frame.fills = [{ type: "SOLID", color: { r: 1, g: 1, b: 1 } }];
    this.currentPage.appendChild(frame);
    return frame;
  }

  createRectangle(): StubNode {
    this.log.history.push("createRectangle");
    const rect = new StubNode(this, "RECTANGLE", "Rectangle", 100, 100);
    this.currentPage.appendChild(rect);
    return rect;
  }

  createImage(bytes: Uint8Array): StubImage {
    const size = pngSize(bytes);
    if (size !== null && (size.width > 4096 || size.height > 4096)) {
      throw new Error("Image is too large");
    }
    const image = this.putImage(bytes);
    this.log.createdImages.push(image.hash);
    return image;
  }

  getImageByHash(hash: string): StubImage | null {
    return this.images.get(hash) ?? null;
  }

  async getNodeByIdAsync(id: string): Promise<StubNode | null> {
    const node = this.nodes.get(id);
    return node === undefined || node.removed ? null : node;
  }

  notify(message: string, options?: { error?: boolean }): { cancel(): void } {
    this.log.notified.push({ message, error: options?.error ?? false });
    return { cancel() {} };
  }

  on(event: string, handler: () => void): void {
    (this.handlers[event] ??= []).push(handler);
  }

  showUI(..._args: unknown[]): void {}

  /** Every node currently in the page's tree, depth first. */
  allNodes(): StubNode[] {
    const out: StubNode[] = [];
    const walk = (n: StubNode): void => {
      for (const c of n.children) {
        out.push(c);
        if ("children" in c) walk(c);
      }
    };
    walk(this.currentPage);
    return out;
  }
}

function solidPngOf(width: number, height: number): Uint8Array {
  return encodePng(width, height, new Uint8Array(width * height * 4).fill(128));
}
