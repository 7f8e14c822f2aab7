// One real daemon for the run (the end-to-end tests), and the built panel for the browser test.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { demoDataDir, serveDaemon, type DemoDataDir, type RunningDaemon } from "@layerbridge/common/testing";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    daemonUrl: string;
    daemonPort: number;
    daemonToken: string;
  }
}

let data: DemoDataDir | undefined;
let daemon: RunningDaemon | undefined;

export async function setup(project: TestProject): Promise<void> {
  const build = promisify(execFile)(process.execPath, ["scripts/build.mjs", "--preview"], { cwd: project.config.root });
  data = await demoDataDir();
  const token = await data.pair("photoshop-tests");
  daemon = await serveDaemon(data.dir);
  project.provide("daemonUrl", daemon.url);
  project.provide("daemonPort", daemon.port);
  project.provide("daemonToken", token);
  await build;
}

export async function teardown(): Promise<void> {
  await daemon?.stop();
  await data?.remove();
}
