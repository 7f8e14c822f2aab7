/** Vitest global setup for the daemon project: one daemon for every test file that needs one. */

import type { TestProject } from "vitest/node";
import { startDaemon } from "./daemon";

declare module "vitest" {
  export interface ProvidedContext {
    daemon: { url: string; token: string };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const daemon = await startDaemon();
  project.provide("daemon", { url: daemon.url, token: daemon.token });
  return () => daemon.stop();
}
