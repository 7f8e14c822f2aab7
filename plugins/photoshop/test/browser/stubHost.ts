// A Host without Photoshop, for the browser preview: a 640×480 document with a selection and a
// few layers; placements are recorded.
import type { DocumentInfo, Host, PlaceRequest, PlaceResult, ReadRequest, ReadResult } from "../../src/host/Host.js";

export class StubHost implements Host {
  readonly placed: PlaceRequest[] = [];
  readonly reads: ReadRequest[] = [];
  selection: DocumentInfo["selection"] = { x: 200, y: 120, width: 160, height: 120 };
  private nextId = 500;

  async describeDocument(): Promise<DocumentInfo> {
    const layers = [
      { id: 3, name: "Sketch", bounds: { x: 0, y: 0, width: 640, height: 480 }, kind: "pixel" },
      { id: 2, name: "Product shot", bounds: { x: 40, y: 30, width: 560, height: 420 }, kind: "pixel" },
      { id: 1, name: "Background", bounds: { x: 0, y: 0, width: 640, height: 480 }, kind: "pixel" },
    ];
    return { id: 1, title: "campaign.psd", mode: "RGB", width: 640, height: 480, resolution: 300, selection: this.selection, activeLayer: layers[1] ?? null, layers };
  }

  async read(request: ReadRequest): Promise<ReadResult> {
    this.reads.push(request);
    const { width, height } = request.rect;
    const image = { width, height, data: new Uint8Array(width * height * 4).fill(128) };
    const mask = request.withSelection ? { width, height, data: new Uint8Array(width * height).fill(255) } : undefined;
    return { rect: request.rect, image, mask, controls: request.controlLayerIds.map(() => ({ width, height, data: new Uint8Array(width * height * 4) })) };
  }

  async place(request: PlaceRequest): Promise<PlaceResult> {
    this.placed.push(request);
    return { layerId: this.nextId++, groupId: request.groupId ?? this.nextId++ };
  }
}
