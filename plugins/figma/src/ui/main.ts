/** The UI iframe's entry: wires the panel to the main thread (postMessage) and the daemon (WebSocket). */

import { canvasImageOps } from "./canvasImageOps";
import { isDesktopApp, type Environment } from "./diagnose";
import { MainBridge, windowPort } from "./mainBridge";
import { PanelApp } from "./panelApp";
import { PanelView } from "./panelView";

declare const PLUGIN_VERSION: string;

const env: Environment = { desktopApp: isDesktopApp(navigator.userAgent), blockedUrl: null };
// Figma enforces the manifest's allowedDomains as a Content-Security-Policy on this iframe.
document.addEventListener("securitypolicyviolation", (event) => {
  if (event.blockedURI.startsWith("ws")) env.blockedUrl = event.blockedURI;
});

new PanelApp({
  bridge: new MainBridge(windowPort(window)),
  view: new PanelView(document),
  createSocket: (url) => new WebSocket(url),
  imageOps: canvasImageOps,
  env,
  version: PLUGIN_VERSION,
}).start();
