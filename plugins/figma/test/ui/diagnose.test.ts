import { ConnectionError, DaemonError } from "@layerbridge/common";
import { describe, expect, it } from "vitest";
import { diagnose, isDesktopApp } from "../../src/ui/diagnose";

const url = "ws://localhost:7842";
const browser = { desktopApp: false, blockedUrl: null };
const desktop = { desktopApp: true, blockedUrl: null };

describe("diagnose", () => {
  it("explains a refused token with the pairing command", () => {
    const d = diagnose(new DaemonError("unauthorized", "unknown token"), desktop, url);
    expect(d.title).toBe("Token refused");
    expect(d.hint).toContain("layerbridge pair --name figma");
  });

  it("points a browser user at the local network permission", () => {
    const d = diagnose(new ConnectionError("cannot reach the daemon", 1006), browser, url);
    expect(d.title).toBe("Cannot reach the Layerbridge daemon");
    expect(d.detail).toContain(url);
    expect(d.hint).toContain("layerbridge serve");
    expect(d.hint).toContain("Local network access");
  });

  it("does not mention browser permissions in the desktop app", () => {
    expect(diagnose(new ConnectionError("closed", 1006), desktop, url).hint).not.toContain("Local network");
  });

  it("names the manifest when Figma's CSP blocked the address", () => {
    const d = diagnose(new ConnectionError("closed", 1006), { desktopApp: true, blockedUrl: "ws://localhost:9999/" }, url);
    expect(d.title).toBe("Figma blocked the connection");
    expect(d.detail).toContain("allowedDomains");
  });

  it("says the browser may block the socket when it never opened and the permission is denied", () => {
    const env = { ...browser, neverOpened: true, localNetwork: "denied" as const };
    const d = diagnose(new ConnectionError("closed", 1006), env, url);
    expect(d.title).toBe("The browser may be blocking the connection");
    expect(d.detail).toContain("Local Network Access");
    expect(d.hint).toContain("Figma desktop app");
    expect(d.hint).toContain("layerbridge serve");
  });

  it("does not blame the browser when the permission is granted, or in the desktop app", () => {
    const granted = { ...browser, neverOpened: true, localNetwork: "granted" as const };
    expect(diagnose(new ConnectionError("closed", 1006), granted, url).title).toBe("Cannot reach the Layerbridge daemon");
    const app = { ...desktop, neverOpened: true, localNetwork: "denied" as const };
    expect(diagnose(new ConnectionError("closed", 1006), app, url).title).toBe("Cannot reach the Layerbridge daemon");
  });

  it("does not blame the browser for a socket that opened and was lost", () => {
    const env = { ...browser, neverOpened: false, localNetwork: "denied" as const };
    expect(diagnose(new ConnectionError("connection lost"), env, url).title).toBe("Cannot reach the Layerbridge daemon");
  });

  it("keeps the daemon's own words for other errors", () => {
    const d = diagnose(new DaemonError("unknown_model", "no model 'x'", "model"), desktop, url);
    expect(d).toMatchObject({ detail: "no model 'x'", field: "model", code: "unknown_model" });
  });

  it("recognises the desktop app by its user agent", () => {
    expect(isDesktopApp("Mozilla/5.0 ... Figma/124.1.5 Chrome/120")).toBe(true);
    expect(isDesktopApp("Mozilla/5.0 ... Chrome/142.0 Safari/537.36")).toBe(false);
  });
});
