// Test helper (Node only, exported as @layerbridge/common/testing): a real daemon in a temporary
// data dir with the demo models and a paired token. `LAYERBRIDGE_BIN` overrides the binary
// (default <repo>/.venv/bin/layerbridge).
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export function layerbridgeBin(): string {
  const fromEnv = process.env["LAYERBRIDGE_BIN"];
  if (fromEnv) return fromEnv;
  const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
  return join(repo, ".venv", "bin", "layerbridge");
}

export interface DemoDataDir {
  dir: string;
  /** Pair a client; returns its token. */
  pair(name: string, admin?: boolean): Promise<string>;
  remove(): Promise<void>;
}

/** A data dir with the demo models built (`layerbridge models demo`, ~15 s). */
export async function demoDataDir(): Promise<DemoDataDir> {
  const bin = layerbridgeBin();
  const dir = await mkdtemp(join(tmpdir(), "layerbridge-test-"));
  await run(bin, ["--data-dir", dir, "models", "demo"], { env: daemonEnv(), maxBuffer: 16 * 1024 * 1024 });
  return {
    dir,
    async pair(name: string, admin = false): Promise<string> {
      const args = ["--data-dir", dir, "pair", "--name", name, ...(admin ? ["--admin"] : [])];
      const { stdout } = await run(bin, args, { env: daemonEnv() });
      const lines = stdout.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
      const token = lines[lines.length - 1];
      if (!token) throw new Error(`layerbridge pair printed no token: ${stdout}`);
      return token;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

function daemonEnv(): NodeJS.ProcessEnv {
  // keyring must not prompt in CI; the daemon falls back to its own store
  return { ...process.env, PYTHON_KEYRING_BACKEND: process.env["PYTHON_KEYRING_BACKEND"] ?? "keyring.backends.fail.Keyring" };
}

export interface RunningDaemon {
  url: string;
  port: number;
  process: ChildProcess;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<void>;
  /** Everything the daemon wrote to stderr (for failure messages). */
  log(): string;
}

/** `layerbridge serve --port 0` on a data dir (plus `extraArgs`, e.g. `--host`); resolves when it listens. */
export function serveDaemon(dataDir: string, port = 0, timeoutMs = 60_000, extraArgs: string[] = []): Promise<RunningDaemon> {
  const child = spawn(layerbridgeBin(), ["--data-dir", dataDir, "serve", "--port", String(port), ...extraArgs], {
    env: daemonEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    err += d;
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  const exited = new Promise<void>((res) => child.once("exit", () => res()));
  return new Promise<RunningDaemon>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`daemon did not start within ${timeoutMs} ms:\n${err}`));
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited (${code}) before listening:\n${err}`));
    });
    child.stdout?.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const m = /Layerbridge listening on (wss?:\/\/[^\s]+)/.exec(out);
      if (!m?.[1]) return;
      clearTimeout(timer);
      const url = m[1];
      const p = Number(new URL(url).port);
      resolvePromise({
        url: url.endsWith("/") ? url : `${url}/`,
        port: p,
        process: child,
        log: () => err,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
          const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
          await exited;
          clearTimeout(killer);
        },
      });
    });
  });
}
