/** The plugin's main-thread entry: figma API only (no network); the UI iframe talks to the daemon. */

import { MainController } from "./controller";

figma.showUI(__html__, { width: 340, height: 640, themeColors: true, title: "Layerbridge" });

const controller = new MainController(figma);
figma.ui.onmessage = (message: unknown) => {
  void controller.handle(message);
};
figma.on("selectionchange", () => controller.selectionChanged());
figma.on("close", () => controller.closing());
