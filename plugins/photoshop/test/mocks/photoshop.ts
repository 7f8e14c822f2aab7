// A recording stand-in for Photoshop's 'photoshop' module (aliased in vitest.config.ts): an
// in-memory document with a composite, a selection and layers. Every call is logged in order,
// with whether it ran inside executeAsModal, and writes outside a modal scope throw as they do
// in Photoshop.

export interface Bounds {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

export interface Call {
  fn: string;
  modal: boolean;
  args?: Record<string, unknown>;
}

export class MockLayer {
  layers: MockLayer[] | null = null;
  parent: MockLayer | null = null;
  pixels: { bounds: Bounds; data: Uint8Array } | null = null;
  mask: { bounds: Bounds; data: Uint8Array } | null = null;
  /** Pixels a layer effect (a drop shadow) adds around the layer's own pixels. */
  effectsMargin = 0;

  constructor(
    readonly id: number,
    public name: string,
    readonly kind: string,
    private readonly doc: MockDocument,
  ) {}

  /** Like Photoshop's Layer.bounds: including the effects. */
  get bounds(): Bounds {
    const b = this.boundsNoEffects;
    const m = this.pixels ? this.effectsMargin : 0;
    return { left: b.left - m, top: b.top - m, right: b.right + m, bottom: b.bottom + m };
  }

  get boundsNoEffects(): Bounds {
    return this.pixels?.bounds ?? { left: 0, top: 0, right: 0, bottom: 0 };
  }

  /** Layer.scale(width %, height %, anchor): resamples the pixels (nearest neighbour here). */
  async scale(width: number, height: number, anchor?: string): Promise<void> {
    requireModal("layer.scale");
    record("layer.scale", { layer: this.id, width, height, anchor });
    if (!this.pixels) return;
    const b = this.pixels.bounds;
    const w0 = b.right - b.left;
    const h0 = b.bottom - b.top;
    const w1 = Math.round((w0 * width) / 100);
    const h1 = Math.round((h0 * height) / 100);
    if (anchor !== "top-left") throw new Error(`the mock scales about the top-left only, not ${anchor}`);
    const data = new Uint8Array(w1 * h1 * 4);
    for (let y = 0; y < h1; y++)
      for (let x = 0; x < w1; x++) {
        const s = (Math.min(h0 - 1, Math.floor((y * h0) / h1)) * w0 + Math.min(w0 - 1, Math.floor((x * w0) / w1))) * 4;
        data.set(this.pixels.data.subarray(s, s + 4), (y * w1 + x) * 4);
      }
    this.pixels = { bounds: { left: b.left, top: b.top, right: b.left + w1, bottom: b.top + h1 }, data };
  }

  async translate(x: number, y: number): Promise<void> {
    requireModal("layer.translate");
    record("layer.translate", { layer: this.id, x, y });
    if (!this.pixels) return;
    const b = this.pixels.bounds;
    this.pixels = { ...this.pixels, bounds: { left: b.left + x, top: b.top + y, right: b.right + x, bottom: b.bottom + y } };
  }

  move(target: MockLayer, placement: string): void {
    record("layer.move", { layer: this.id, target: target.id, placement });
    this.doc.detach(this);
    if (placement === "placeInside") {
      target.layers = [this, ...(target.layers ?? [])];
      this.parent = target;
    } else {
      this.doc.layers.unshift(this);
    }
  }
}

export class MockDocument {
  readonly id: number;
  title = "Untitled-1";
  width: number;
  height: number;
  resolution: number;
  layers: MockLayer[] = [];
  activeLayers: MockLayer[] = [];
  /** Document.mode (constants.DocumentMode). */
  mode = "RGBColorMode";
  /** Bits per channel: the selection comes back at this depth (getSelection has no componentSize). */
  depth: 8 | 16 | 32 = 8;
  /** RGBA of the whole canvas. */
  composite: Uint8Array;
  /** Grey selection over the whole canvas; all zero: no selection. */
  selectionMask: Uint8Array;
  private nextId = 100;

  constructor(id: number, width: number, height: number, resolution = 72) {
    this.id = id;
    this.width = width;
    this.height = height;
    this.resolution = resolution;
    this.composite = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++) {
        const i = (y * width + x) * 4;
        this.composite[i] = (x * 255) / width;
        this.composite[i + 1] = (y * 255) / height;
        this.composite[i + 2] = 96;
        this.composite[i + 3] = 255;
      }
    this.selectionMask = new Uint8Array(width * height);
    const background = this.addLayer("Background", "pixel");
    background.pixels = { bounds: { left: 0, top: 0, right: width, bottom: height }, data: this.composite };
    this.activeLayers = [background];
  }

  get selection(): { bounds: Bounds | null; solid: boolean } {
    let x0 = Infinity;
    let y0 = Infinity;
    let x1 = -1;
    let y1 = -1;
    for (let y = 0; y < this.height; y++)
      for (let x = 0; x < this.width; x++)
        if (this.selectionMask[y * this.width + x]) {
          x0 = Math.min(x0, x);
          y0 = Math.min(y0, y);
          x1 = Math.max(x1, x);
          y1 = Math.max(y1, y);
        }
    return { bounds: x1 < 0 ? null : { left: x0, top: y0, right: x1 + 1, bottom: y1 + 1 }, solid: true };
  }

  /** Select a rectangle (like the marquee tool). */
  selectRect(left: number, top: number, right: number, bottom: number): void {
    this.selectionMask.fill(0);
    for (let y = top; y < bottom; y++) this.selectionMask.fill(255, y * this.width + left, y * this.width + right);
  }

  addLayer(name: string, kind: string): MockLayer {
    const layer = new MockLayer(this.nextId++, name, kind, this);
    if (kind === "group") layer.layers = [];
    this.layers.unshift(layer);
    return layer;
  }

  detach(layer: MockLayer): void {
    const from = layer.parent?.layers ?? this.layers;
    const i = from.indexOf(layer);
    if (i >= 0) from.splice(i, 1);
    layer.parent = null;
  }

  findLayer(id: number): MockLayer | undefined {
    const walk = (ls: MockLayer[]): MockLayer | undefined => {
      for (const l of ls) {
        if (l.id === id) return l;
        const inner = l.layers ? walk(l.layers) : undefined;
        if (inner) return inner;
      }
      return undefined;
    };
    return walk(this.layers);
  }

  async createPixelLayer(options: { name?: string } = {}): Promise<MockLayer> {
    requireModal("createPixelLayer");
    record("createPixelLayer", { name: options.name });
    return this.addLayer(options.name ?? "Layer", "pixel");
  }

  async createLayerGroup(options: { name?: string } = {}): Promise<MockLayer> {
    requireModal("createLayerGroup");
    record("createLayerGroup", { name: options.name });
    return this.addLayer(options.name ?? "Group", "group");
  }

  async resizeCanvas(width: number, height: number, anchor?: string): Promise<void> {
    requireModal("resizeCanvas");
    record("resizeCanvas", { width, height, anchor });
    this.width = width;
    this.height = height;
  }
}

type PixelArray = Uint8Array | Uint16Array | Float32Array;

class MockImageData {
  disposed = false;
  constructor(
    readonly width: number,
    readonly height: number,
    readonly components: number,
    readonly data: PixelArray,
    readonly componentSize: 8 | 16 | 32 = 8,
  ) {}
  readonly hasAlpha = true;
  /** getData's typed array follows componentSize: Uint8Array 0..255, Uint16Array 0..32768,
   * Float32Array 0..1 (imaging.md, "PhotoshopImageData" and "getData"). */
  async getData(): Promise<PixelArray> {
    return this.data;
  }
  async dispose(): Promise<void> {
    this.disposed = true;
  }
}

interface MockState {
  calls: Call[];
  modalDepth: number;
  documents: MockDocument[];
  activeDocument: MockDocument | null;
  /** Behave like a Photoshop whose putLayerMask writes only into a mask the layer already has. */
  masksMustExist: boolean;
  /** executeAsModal calls still to refuse as Photoshop does while it is modal (a dialog, Free
   * Transform, another plugin): an error whose `number` is 9. */
  busyScopes: number;
  /** putPixels calls still to fail (as on a layer Photoshop refuses to write). */
  failingPuts: number;
}

export const mock: MockState = { calls: [], modalDepth: 0, documents: [], activeDocument: null, masksMustExist: false, busyScopes: 0, failingPuts: 0 };

export function resetMock(doc?: MockDocument): void {
  mock.calls = [];
  mock.modalDepth = 0;
  mock.documents = doc ? [doc] : [];
  mock.activeDocument = doc ?? null;
  mock.masksMustExist = false;
  mock.busyScopes = 0;
  mock.failingPuts = 0;
}

/** The error executeAsModal throws while another modal state holds Photoshop: since 25.10 its
 * text names the plugin holding it; `number` 9 is what identifies it (executeasmodal.md). */
export function modalBusyError(): Error & { number: number } {
  return Object.assign(new Error("Plugin: com.example.other is running a modal command"), { number: 9 });
}

function record(fn: string, args?: Record<string, unknown>): void {
  mock.calls.push({ fn, modal: mock.modalDepth > 0, ...(args ? { args } : {}) });
}

function requireModal(fn: string): void {
  if (mock.modalDepth === 0) throw new Error(`${fn}: this API needs executeAsModal`);
}

function crop(src: Uint8Array, srcW: number, srcBounds: Bounds, want: Bounds, channels: number): { bounds: Bounds; data: Uint8Array } {
  const b = {
    left: Math.max(want.left, srcBounds.left),
    top: Math.max(want.top, srcBounds.top),
    right: Math.min(want.right, srcBounds.right),
    bottom: Math.min(want.bottom, srcBounds.bottom),
  };
  const w = Math.max(0, b.right - b.left);
  const h = Math.max(0, b.bottom - b.top);
  const out = new Uint8Array(w * h * channels);
  for (let y = 0; y < h; y++) {
    const s = ((b.top + y - srcBounds.top) * srcW + (b.left - srcBounds.left)) * channels;
    out.set(src.subarray(s, s + w * channels), y * w * channels);
  }
  return { bounds: b, data: out };
}

function doc(id?: number): MockDocument {
  const d = id === undefined ? mock.activeDocument : mock.documents.find((x) => x.id === id);
  if (!d) throw new Error(`no document ${id}`);
  return d;
}

export const app = {
  get activeDocument(): MockDocument | null {
    return mock.activeDocument;
  },
  set activeDocument(d: MockDocument | null) {
    record("app.activeDocument", { id: d?.id });
    mock.activeDocument = d;
  },
  get documents(): MockDocument[] {
    return mock.documents;
  },
};

export const constants = {
  LayerKind: { NORMAL: "pixel", GROUP: "group", SMARTOBJECT: "smartObject", TEXT: "text" },
  ElementPlacement: { PLACEINSIDE: "placeInside", PLACEBEFORE: "placeBefore", PLACEATBEGINNING: "placeAtBeginning" },
  AnchorPosition: { TOPLEFT: "top-left", BOTTOMRIGHT: "bottom-right", MIDDLECENTER: "middle-center" },
  DocumentMode: {
    BITMAP: "bitmapMode", CMYK: "CMYKColorMode", DUOTONE: "duotoneMode", GRAYSCALE: "grayscaleMode",
    INDEXEDCOLOR: "indexedColorMode", LAB: "labColorMode", MULTICHANNEL: "multichannelMode", RGB: "RGBColorMode",
  },
};

export const core = {
  async executeAsModal<T>(fn: (context: unknown) => Promise<T>, options: { commandName: string; timeOut?: number }): Promise<T> {
    if (mock.busyScopes > 0) {
      mock.busyScopes--;
      record("executeAsModal:refused", { commandName: options.commandName, timeOut: options.timeOut });
      throw modalBusyError();
    }
    record("executeAsModal:enter", { commandName: options.commandName, timeOut: options.timeOut });
    mock.modalDepth++;
    const context = {
      isCancelled: false,
      hostControl: {
        async suspendHistory(info: { documentID: number; name: string }) {
          record("suspendHistory", { documentID: info.documentID, name: info.name });
          return { historySuspensionID: 1 };
        },
        async resumeHistory(_s: unknown, commit: boolean) {
          record("resumeHistory", { commit });
        },
      },
    };
    try {
      return await fn(context);
    } finally {
      mock.modalDepth--;
      record("executeAsModal:exit", { commandName: options.commandName });
    }
  },
};

export const imaging = {
  async getPixels(options: { documentID?: number; layerID?: number; sourceBounds: Bounds }) {
    requireModal("getPixels");
    record("getPixels", { ...options });
    const d = doc(options.documentID);
    let source: { bounds: Bounds; data: Uint8Array } = { bounds: { left: 0, top: 0, right: d.width, bottom: d.height }, data: d.composite };
    if (options.layerID !== undefined) {
      const layer = d.findLayer(options.layerID);
      if (!layer?.pixels) throw new Error(`layer ${options.layerID} has no pixels`);
      source = layer.pixels;
    }
    const got = crop(source.data, source.bounds.right - source.bounds.left, source.bounds, options.sourceBounds, 4);
    return { imageData: new MockImageData(got.bounds.right - got.bounds.left, got.bounds.bottom - got.bounds.top, 4, got.data), sourceBounds: got.bounds, level: 0 };
  },
  async getSelection(options: { documentID?: number; sourceBounds: Bounds }) {
    requireModal("getSelection");
    record("getSelection", { ...options });
    const d = doc(options.documentID);
    const got = crop(d.selectionMask, d.width, { left: 0, top: 0, right: d.width, bottom: d.height }, options.sourceBounds, 1);
    // the selection comes at the document's depth, in that depth's range
    const data = d.depth === 16 ? Uint16Array.from(got.data, (v) => Math.round((v * 32768) / 255)) : d.depth === 32 ? Float32Array.from(got.data, (v) => v / 255) : got.data;
    return { imageData: new MockImageData(got.bounds.right - got.bounds.left, got.bounds.bottom - got.bounds.top, 1, data, d.depth), sourceBounds: got.bounds };
  },
  async createImageDataFromBuffer(data: Uint8Array, options: { width: number; height: number; components: number; colorSpace: string }) {
    if (data.length !== options.width * options.height * options.components) {
      throw new Error(`createImageDataFromBuffer: ${data.length} elements for ${options.width}x${options.height}x${options.components}`);
    }
    record("createImageDataFromBuffer", { width: options.width, height: options.height, components: options.components, colorSpace: options.colorSpace });
    return new MockImageData(options.width, options.height, options.components, data);
  },
  async putPixels(options: { documentID?: number; layerID: number; imageData: MockImageData; targetBounds: Bounds }) {
    requireModal("putPixels");
    if (mock.failingPuts > 0) {
      mock.failingPuts--;
      throw new Error("putPixels: the target layer is not a pixel layer");
    }
    record("putPixels", { layerID: options.layerID, targetBounds: options.targetBounds, width: options.imageData.width, height: options.imageData.height });
    const layer = doc(options.documentID).findLayer(options.layerID);
    if (!layer) throw new Error(`no layer ${options.layerID}`);
    // only left/top of targetBounds count (imaging.md, putPixels): the size is the image's
    const { left, top } = options.targetBounds;
    layer.pixels = { bounds: { left, top, right: left + options.imageData.width, bottom: top + options.imageData.height }, data: options.imageData.data as Uint8Array };
  },
  async putLayerMask(options: { documentID?: number; layerID: number; imageData: MockImageData; targetBounds: Bounds }) {
    requireModal("putLayerMask");
    record("putLayerMask", { layerID: options.layerID, targetBounds: options.targetBounds, width: options.imageData.width, height: options.imageData.height });
    const layer = doc(options.documentID).findLayer(options.layerID);
    if (!layer) throw new Error(`no layer ${options.layerID}`);
    if (mock.masksMustExist && !layer.mask) throw new Error("The layer has no user mask");
    const { left, top } = options.targetBounds;
    layer.mask = { bounds: { left, top, right: left + options.imageData.width, bottom: top + options.imageData.height }, data: options.imageData.data as Uint8Array };
  },
};

type Descriptor = Record<string, unknown>;

/** batchPlay understands the two descriptors the host sends: select a layer by id, and add a
 * reveal-all user mask to the selected layer. Like Photoshop, both act on the active document.
 * Anything else is an error, so a new descriptor needs its behaviour written here first. */
export const action = {
  async batchPlay(commands: Descriptor[], _options: Record<string, unknown>): Promise<Descriptor[]> {
    requireModal("batchPlay");
    const d = doc(undefined);
    for (const command of commands) {
      record("batchPlay", { ...command });
      if (command["_obj"] === "select") {
        const ref = (command["_target"] as Array<{ _ref: string; _id: number }>)[0];
        const layer = ref?._ref === "layer" ? d.findLayer(ref._id) : undefined;
        if (!layer) throw new Error(`select: no layer ${JSON.stringify(ref)}`);
        d.activeLayers = [layer];
      } else if (command["_obj"] === "make" && (command["using"] as Descriptor)?.["_value"] === "revealAll") {
        const layer = d.activeLayers[0];
        if (!layer || layer.mask) throw new Error("make mask: no active layer, or it has a mask");
        layer.mask = { bounds: { left: 0, top: 0, right: d.width, bottom: d.height }, data: new Uint8Array(d.width * d.height).fill(255) };
      } else {
        throw new Error(`batchPlay: the mock does not know ${JSON.stringify(command)}`);
      }
    }
    return commands.map(() => ({}));
  },
};

export default { action, app, core, imaging, constants };
