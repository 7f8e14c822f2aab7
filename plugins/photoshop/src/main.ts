// The UXP entry: real Photoshop host, secure token storage, the UXP WebSocket. The panel markup is
// index.html (the manifest's main); UXP gives each lifecycle handler 300 ms, so connecting happens
// in the background.
import "./uxp/textCodecs.js"; // first: dependencies build text codecs at load
import "./uxp/wasmHashers.js";
import type { WebSocketLike } from "@layerbridge/common";
import { PhotoshopHost } from "./host/photoshopHost.js";
import { mountPanel } from "./mountPanel.js";
import { SecureTokenStore } from "./uxp/secureTokenStore.js";
import { registerPanel } from "./uxp/entrypoints.js";

const PORT_KEY = "layerbridge.port";

let mounted: ReturnType<typeof mountPanel> | undefined;

function storedPort(): number | undefined {
  const raw = globalThis.localStorage?.getItem(PORT_KEY);
  const port = raw ? Number(raw) : NaN;
  return Number.isInteger(port) ? port : undefined;
}

registerPanel("layerbridge.panel", {
  create() {
    if (mounted) return;
    const port = storedPort();
    mounted = mountPanel({
      document,
      host: new PhotoshopHost(),
      tokens: new SecureTokenStore(),
      createSocket: (url): WebSocketLike => new WebSocket(url),
      ...(port !== undefined ? { port } : {}),
    });
    mounted.controller.on("change", (s) => globalThis.localStorage?.setItem(PORT_KEY, String(s.port)));
  },
  show() {
    // the connection lives while the plugin is loaded; nothing to do on show/hide
  },
  hide() {},
  destroy() {
    mounted?.controller.disconnect();
    mounted = undefined;
  },
});
