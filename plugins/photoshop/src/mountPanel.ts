// Builds the panel from its parts: the controller (logic), the view (DOM) and a host. Shared by
// the UXP entry (main.ts) and the browser preview used by the tests.
import type { WebSocketFactory } from "@layerbridge/common";
import type { Host } from "./host/Host.js";
import { PanelController } from "./panelController.js";
import type { TokenStore } from "./tokenStore.js";
import { PanelView } from "./view/panelView.js";

export const PLUGIN_VERSION = "0.1.0";

export interface MountOptions {
  document: Document;
  host: Host;
  tokens: TokenStore;
  createSocket: WebSocketFactory;
  port?: number;
}

export function mountPanel(options: MountOptions): { controller: PanelController; view: PanelView } {
  const controller = new PanelController({
    host: options.host,
    tokens: options.tokens,
    createSocket: options.createSocket,
    clientInfo: { name: "Layerbridge for Photoshop", kind: "photoshop", version: PLUGIN_VERSION },
    ...(options.port !== undefined ? { port: options.port } : {}),
  });
  const view = new PanelView(options.document, controller, async () => (await options.host.describeDocument())?.layers ?? []);
  void controller.start();
  return { controller, view };
}
