// Registers the panel with UXP. Handlers return at once (UXP gives each 300 ms): the daemon
// connection is made in the background by the panel controller.
import { entrypoints } from "uxp";

export interface PanelLifecycle {
  create(root: unknown): void;
  show(): void;
  hide(): void;
  destroy(): void;
}

/** What `entrypoints.setup` really takes (the type package declares `panels` as an array with
 * every handler required, which is not what UXP accepts). */
interface EntrypointsSetup {
  setup(config: { panels: Record<string, PanelLifecycle> }): void;
}

export function registerPanel(panelId: string, lifecycle: PanelLifecycle): void {
  (entrypoints as unknown as EntrypointsSetup).setup({
    panels: {
      [panelId]: {
        create(root: unknown) {
          lifecycle.create(root);
        },
        show() {
          lifecycle.show();
        },
        hide() {
          lifecycle.hide();
        },
        destroy() {
          lifecycle.destroy();
        },
      },
    },
  });
}
