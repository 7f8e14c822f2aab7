// One real daemon for the whole run (building the demo models takes ~15 s): its URL and tokens
// reach the tests through vitest's provide/inject.
import type { TestProject } from "vitest/node";
import { demoDataDir, serveDaemon, type DemoDataDir, type RunningDaemon } from "../testing/daemon.js";

declare module "vitest" {
  export interface ProvidedContext {
    daemonUrl: string;
    daemonToken: string;
    daemonDataDir: string;
  }
}

let data: DemoDataDir | undefined;
let daemon: RunningDaemon | undefined;

export async function setup(project: TestProject): Promise<void> {
  data = await demoDataDir();
  const token = await data.pair("common-tests");
  daemon = await serveDaemon(data.dir);
  project.provide("daemonUrl", daemon.url);
  project.provide("daemonToken", token);
  project.provide("daemonDataDir", data.dir);
}

export async function teardown(): Promise<void> {
  await daemon?.stop();
  await data?.remove();
}
