/**
 * Vitest global setup for the daemon project: one real daemon (demo models, one paired token,
 * loopback, port 0) for every test file that needs one. Uses @layerbridge/common's test helper;
 * LAYERBRIDGE_BIN overrides the binary (default <repo>/.venv/bin/layerbridge).
 */

import { demoDataDir, serveDaemon } from "@layerbridge/common/testing";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** `adminToken`: for tests that change the daemon's registry meanwhile (models.update). */
    daemon: { url: string; token: string; adminToken: string };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const data = await demoDataDir();
  const token = await data.pair("figma-test");
  const adminToken = await data.pair("figma-test-admin", true);
  const daemon = await serveDaemon(data.dir);
  project.provide("daemon", { url: daemon.url.replace(/\/$/, ""), token, adminToken });
  return async () => {
    await daemon.stop();
    await data.remove();
  };
}
