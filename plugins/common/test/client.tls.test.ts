// The client over wss:// against a real LAN-mode daemon (bound to 127.0.0.2, a self-signed
// certificate made on first use): trusted through the `ws` package's `ca` option, refused without.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { LayerbridgeClient } from "../src/client.js";
import type { WebSocketLike } from "../src/socket.js";
import { layerbridgeBin, serveDaemon, type RunningDaemon } from "../testing/daemon.js";

const run = promisify(execFile);
const LAN_HOST = "127.0.0.2";
const env = { ...process.env, PYTHON_KEYRING_BACKEND: "keyring.backends.fail.Keyring" };

let dir = "";
let daemon: RunningDaemon | undefined;
let token = "";
let ca = "";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "layerbridge-tls-"));
  await writeFile(join(dir, "settings.json"), JSON.stringify({ server: { allowed_hosts: [LAN_HOST] } }));
  const { stdout } = await run(layerbridgeBin(), ["--data-dir", dir, "pair", "--name", "tls-tests"], { env });
  token = stdout.trim().split(/\r?\n/).at(-1) ?? "";
  daemon = await serveDaemon(dir, 0, 60_000, ["--host", LAN_HOST]);
  ca = await readFile(join(dir, "tls", "cert.pem"), "utf8");
});

afterAll(async () => {
  await daemon?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function client(options: WebSocket.ClientOptions): LayerbridgeClient {
  return new LayerbridgeClient({
    url: daemon?.url ?? "",
    token,
    client: { name: "tls-tests", kind: "test", version: "0.1.0" },
    createSocket: (u) => new WebSocket(u, options) as WebSocketLike,
    reconnect: false,
    connectTimeoutMs: 20_000,
  });
}

describe("common client over wss://", { timeout: 60_000 }, () => {
  it("a LAN-mode daemon announces wss://", () => {
    expect(daemon?.url.startsWith(`wss://${LAN_HOST}:`)).toBe(true);
  });

  it("connects when the daemon's certificate is trusted (ws's ca option)", async () => {
    const c = client({ ca });
    const welcome = await c.connect();
    expect(welcome.scope).toBe("client");
    expect((await c.status()).type).toBe("status.reply");
    c.close();
  });

  it("is refused when the certificate is not trusted", async () => {
    const c = client({});
    const err = await c.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(c.state).toBe("closed");
  });
});
