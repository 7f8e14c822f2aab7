/**
 * A real Layerbridge daemon for tests: a temporary data dir with the tiny demo models, one paired
 * client, `serve --port 0` on loopback. Honours LAYERBRIDGE_BIN.
 */

import { spawn, execFile, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface RunningDaemon {
  url: string;
  token: string;
  dataDir: string;
  stop(): Promise<void>;
}

export function daemonBinary(): string {
  const fromEnv = process.env["LAYERBRIDGE_BIN"];
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  return resolve(__dirname, "../../../../.venv/bin/layerbridge");
}

export async function startDaemon(): Promise<RunningDaemon> {
  const bin = daemonBinary();
  if (!existsSync(bin)) {
    throw new Error(`No daemon at ${bin}: install the project (make test does) or set LAYERBRIDGE_BIN`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), "layerbridge-figma-"));
  const env = { ...process.env, PYTHON_KEYRING_BACKEND: "keyring.backends.null.Keyring" };
  await run(bin, ["--data-dir", dataDir, "models", "demo"], { env, timeout: 120_000 });
  const paired = await run(bin, ["--data-dir", dataDir, "pair", "--name", "figma-test"], { env });
  const token = paired.stdout.trim().split("\n").at(-1)?.trim() ?? "";
  if (token === "") throw new Error(`pair printed no token: ${paired.stdout}`);

  const child = spawn(bin, ["--data-dir", dataDir, "serve", "--port", "0"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = await new Promise<string>((resolveUrl, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`daemon did not start in 60 s:\n${out}\n${stderr}`)), 60_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (ws:\/\/\S+)/.exec(out);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolveUrl(match[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${code}:\n${out}\n${stderr}`));
    });
  });
  return {
    url,
    token,
    dataDir,
    stop: () => stopChild(child, dataDir),
  };
}

async function stopChild(child: ChildProcess, dataDir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dataDir, { recursive: true, force: true });
}
