// Upload pacing of the plugins' client, against a real daemon (the demo models, on this machine):
// a 64 MiB rgba8 canvas (4096²) from blob.has to blob.stored, hash known beforehand, so only the
// transfer is timed.
//   baseline: chunks paced on the socket's bufferedAmount (the path for a daemon without blob.ack;
//             in Node's `ws` bufferedAmount is real, in UXP it is undocumented);
//   acked:    at most a 4 MiB window unacknowledged (blob.received), as the panel and the plugin
//             upload now, whatever bufferedAmount says.
// Interleaved, each best of 3, in one run; the ratio is acked / baseline throughput. Also the most
// bytes ever unacknowledged in the acked runs. Run: node bench/plugin_upload.mjs   (after
// `make install` and `npm ci` in plugins/common and plugins/photoshop; the client's TypeScript is
// bundled on the fly with esbuild).
import { panelBundle } from "./_panel_bundle.mjs";
import { createHash } from "node:crypto";

const { lb, cleanup } = await panelBundle([
  'export { LayerbridgeClient, decodeFrame } from "@layerbridge/common";',
  'export { demoDataDir, serveDaemon } from "@layerbridge/common/testing";',
  'export { default as WebSocket } from "ws";',
]);

const RUNS = 3;
const MiB = 1 << 20;
const WINDOW = 4 * MiB;

console.log("building the demo models and starting a daemon ...");
const data = await lb.demoDataDir();
const token = await data.pair("bench-upload");
const daemon = await lb.serveDaemon(data.dir);
let acked = 0;
let maxUnacked = 0;
const client = new lb.LayerbridgeClient({
  url: daemon.url,
  token,
  client: { name: "bench-upload", kind: "photoshop", version: "bench" },
  createSocket: (url) => {
    const ws = new lb.WebSocket(url);
    const send = ws.send.bind(ws);
    ws.send = (frame) => {
      if (typeof frame !== "string") {
        const { header, payload } = lb.decodeFrame(new Uint8Array(frame));
        if (header.ack) maxUnacked = Math.max(maxUnacked, header.offset + payload.length - acked);
      }
      send(frame);
    };
    return ws;
  },
  reconnect: false,
  heartbeatMs: 0,
  requestTimeoutMs: 300_000,
  uploadWindowBytes: WINDOW,
});
client.on("message", (m) => {
  if (m.type === "blob.received") acked = m.received;
});

try {
  const welcome = await client.connect();
  if (!welcome.capabilities.includes("blob.ack")) throw new Error("this daemon does not acknowledge chunks");
  const side = 4096;
  const canvas = new Uint8Array(side * side * 4);
  for (let i = 0; i < canvas.length; i++) canvas[i] = (i * 2654435761) >>> 24;
  let serial = 0;
  async function upload(withAcks) {
    // a canvas the daemon has not seen: the upload really happens
    const stamp = ++serial;
    canvas[0] = stamp & 255;
    canvas[1] = (stamp >> 8) & 255;
    const sha256 = createHash("sha256").update(canvas).digest("hex");
    // the baseline is the client's path for a daemon that lists no blob.ack
    welcome.capabilities = withAcks ? [...welcome.capabilities, "blob.ack"] : welcome.capabilities.filter((c) => c !== "blob.ack");
    acked = 0;
    const t0 = performance.now();
    await client.upload([{ bytes: canvas, format: "rgba8", width: side, height: side, sha256 }]);
    return performance.now() - t0;
  }
  await upload(true); // warm: the daemon's first write of a blob directory
  const baseline = [];
  const withAcks = [];
  for (let r = 0; r < RUNS; r++) {
    baseline.push(await upload(false));
    withAcks.push(await upload(true));
  }
  const mibs = (t) => (canvas.length / MiB) / (t / 1000);
  const b = Math.min(...baseline);
  const a = Math.min(...withAcks);
  console.log(`64 MiB upload, bufferedAmount pacing (baseline): ${b.toFixed(0)} ms  ${mibs(b).toFixed(0)} MiB/s`);
  console.log(`64 MiB upload, acknowledged 4 MiB window:        ${a.toFixed(0)} ms  ${mibs(a).toFixed(0)} MiB/s`);
  console.log(`ratio (acked / baseline throughput): ${(b / a).toFixed(2)}`);
  console.log(`most bytes unacknowledged: ${(maxUnacked / MiB).toFixed(2)} MiB (window ${WINDOW / MiB} MiB)`);
} finally {
  client.close();
  await daemon.stop();
  await data.remove();
  cleanup();
}
