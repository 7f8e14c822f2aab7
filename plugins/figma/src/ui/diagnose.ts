/**
 * Turns any failure into what a designer can act on, with the Figma-specific causes first: the
 * daemon is not running, the browser blocked local network access, the manifest does not allow
 * the URL, the token was refused.
 */

import { DaemonError, describeError, type ErrorDescription } from "@layerbridge/common";

export interface Environment {
  /** True inside the Figma desktop app (no browser permission prompts there). */
  desktopApp: boolean;
  /** A Content-Security-Policy violation the iframe saw for the daemon's URL, if any. */
  blockedUrl: string | null;
  /** The latest socket closed without ever opening (refused, or blocked by the browser). */
  neverOpened?: boolean;
  /** Chrome's Local Network Access permission as this frame sees it (localNetwork.ts), if read. */
  localNetwork?: PermissionState | null;
}

/** What to do when the browser keeps the frame from reaching this computer. */
export const LOCAL_NETWORK_HINT =
  "Open the file in the Figma desktop app, which has no such block. To stay in the browser, allow figma.com " +
  "to reach your local network (Chrome: the icon left of the address bar → Site settings → Local network access → Allow) " +
  "and reload. If the daemon is not running, start it with `layerbridge serve` (or the tray app).";

export const PAIR_HINT =
  "Run `layerbridge pair --name figma` on the daemon's machine (or use the tray app's Pair button) and paste the token under Connection.";

export function diagnose(error: unknown, env: Environment, url: string): ErrorDescription {
  const base = describeError(error);
  if (error instanceof DaemonError && error.code === "unauthorized") {
    return { ...base, title: "Token refused", hint: PAIR_HINT };
  }
  if (base.code === "connection") {
    if (env.blockedUrl !== null) {
      return {
        ...base,
        title: "Figma blocked the connection",
        detail: `${env.blockedUrl} is not in the plugin's networkAccess.allowedDomains.`,
        hint: "Keep the daemon on ws://localhost:7842 (the manifest's address), or add your address to manifest.json and re-import the plugin.",
      };
    }
    if (!env.desktopApp && env.neverOpened === true && env.localNetwork === "denied") {
      return {
        ...base,
        title: "The browser may be blocking the connection",
        detail: `${url} never opened, and Chrome's Local Network Access denies this plugin's frame access to this computer.`,
        hint: LOCAL_NETWORK_HINT,
      };
    }
    const start = "Start it with `layerbridge serve` (or the tray app) and check the address under Connection.";
    return {
      ...base,
      title: "Cannot reach the Layerbridge daemon",
      detail: `${url}: ${base.detail}`,
      hint: env.desktopApp
        ? start
        : `${start} In a browser, also allow figma.com to access your local network (Chrome: site settings → Local network access), or use the Figma desktop app.`,
    };
  }
  return base;
}

/** The Figma desktop app's Chromium names itself in the user agent. */
export function isDesktopApp(userAgent: string): boolean {
  return /Figma/i.test(userAgent);
}
