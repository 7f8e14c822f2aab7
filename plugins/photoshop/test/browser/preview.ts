// The panel in a plain browser page: the real view and controller, a stub host and a scripted
// daemon. The browser test drives it and takes the README screenshot.
import { mountPanel } from "../../src/mountPanel.js";
import { MemoryTokenStore } from "../../src/tokenStore.js";
import { controls, FakeDaemonSocket } from "./fakeDaemon.js";
import { StubHost } from "./stubHost.js";

const host = new StubHost();
const paired = !location.search.includes("unpaired");
const mounted = mountPanel({
  document,
  host,
  tokens: new MemoryTokenStore(paired ? "lb_preview-token" : undefined),
  createSocket: (url) => new FakeDaemonSocket(url),
});

declare global {
  interface Window {
    layerbridgePreview: { host: StubHost; controls: typeof controls; controller: typeof mounted.controller };
  }
}
window.layerbridgePreview = { host, controls, controller: mounted.controller };
