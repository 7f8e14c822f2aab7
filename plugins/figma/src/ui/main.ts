/** The UI iframe's entry: wires the panel to the main thread (postMessage) and the daemon (WebSocket). */

import "./contentHasher";
import { canvasImageOps } from "./canvasImageOps";
import { isDesktopApp, type Environment } from "./diagnose";
import { localNetworkAccess, watchOpening } from "./localNetwork";
import { MainBridge, windowPort } from "./mainBridge";
import { PanelApp } from "./panelApp";
import { PanelView } from "./panelView";

declare const PLUGIN_VERSION: string;

const env: Environment = { desktopApp: isDesktopApp(navigator.userAgent), blockedUrl: null, neverOpened: false };
// Figma enforces the manifest's allowedDomains as a Content-Security-Policy on this iframe.
document.addEventListener("securitypolicyviolation", (event) => {
  if (event.blockedURI.startsWith("ws")) env.blockedUrl = event.blockedURI;
});

const app = new PanelApp({
  bridge: new MainBridge(windowPort(window)),
  view: new PanelView(document),
  createSocket: watchOpening((url) => new WebSocket(url), env),
  imageOps: canvasImageOps,
  env,
  version: PLUGIN_VERSION,
  localNetwork: () => localNetworkAccess(navigator.permissions),
});
app.start();
// Closing the plugin removes this frame: its socket closes, the job would run on.
window.addEventListener("pagehide", () => app.stopForClose());
