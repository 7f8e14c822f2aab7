// A message a designer can act on, for every error the client can meet: each daemon error code,
// a lost connection, a malformed message, a cancelled job.
import { ConnectionError, DaemonError, JobCancelledError, ProtocolViolation } from "./errors.js";
import type { ErrorCode } from "./protocol.js";

export interface ErrorDescription {
  /** Short headline. */
  title: string;
  /** What happened, with the daemon's own words when it sent any. */
  detail: string;
  /** What to do about it. */
  hint: string;
  /** The daemon's error code, or `connection` / `protocol` / `cancelled` / `unknown`. */
  code: string;
  /** The field the daemon named, if any. */
  field: string | undefined;
}

const HINTS: Readonly<Record<ErrorCode, { title: string; hint: string }>> = {
  bad_message: { title: "The daemon could not read a message", hint: "Update the plugin and the daemon to matching versions." },
  unsupported_protocol: {
    title: "Plugin and daemon speak different protocol versions",
    hint: "Update the plugin or the daemon so both support the same protocol.",
  },
  invalid_input: { title: "A setting was refused", hint: "Change the named setting and try again." },
  too_large: { title: "The image is too large", hint: "Use a smaller selection or document, or raise the daemon's limits." },
  unauthorized: {
    title: "Not paired",
    hint: "Create a token with `layerbridge pair --name NAME` (or in the tray app) and paste it in Pairing.",
  },
  forbidden: { title: "Not allowed for this token", hint: "This needs an admin token; pair again with admin scope." },
  rate_limited: { title: "Too many requests", hint: "Wait a moment and try again." },
  busy: { title: "The daemon is busy", hint: "A limit is reached for now (queued jobs, uploads); try again shortly." },
  not_found: { title: "Not found", hint: "Refresh and try again." },
  unknown_model: { title: "The model is not installed", hint: "Pick another model, or add it in the Layerbridge tray app." },
  unknown_blob: { title: "The daemon lost an input image", hint: "Run the job again; the image will be uploaded again." },
  unknown_job: { title: "The daemon does not know this job", hint: "It may have been cleaned up; run it again." },
  conflict: { title: "Conflicting request", hint: "Another client changed the same thing; try again." },
  model_load_failed: {
    title: "The model could not be loaded",
    hint: "Check the model files in the tray app; the daemon log has details.",
  },
  out_of_memory: {
    title: "The GPU ran out of memory",
    hint: "Use a smaller selection, fewer variations or fewer control layers, then try again.",
  },
  unsupported: { title: "Not supported by this model or daemon", hint: "Pick another mode or model." },
  cancelled: { title: "Cancelled", hint: "Run it again when you are ready." },
  storage_failed: { title: "The daemon could not save a file", hint: "Check free disk space on the daemon's machine." },
  internal: { title: "Internal error in the daemon", hint: "See the daemon log; try again." },
};

/** The client's own errors: headline, hint and code for each class (a cancel reads like the
 * daemon's `cancelled`, a malformed message like its `bad_message`). */
const CLIENT_ERRORS: readonly [new (...args: never[]) => Error, { title: string; hint: string; code: string }][] = [
  [JobCancelledError, { ...HINTS.cancelled, code: "cancelled" }],
  [
    ConnectionError,
    {
      title: "Cannot reach the Layerbridge daemon",
      hint: "Start it with `layerbridge serve` (or the tray app) and check the port.",
      code: "connection",
    },
  ],
  [ProtocolViolation, { title: "Unexpected message from the daemon", hint: HINTS.bad_message.hint, code: "protocol" }],
];

export function describeError(err: unknown): ErrorDescription {
  if (err instanceof DaemonError) {
    const known = (HINTS as Readonly<Record<string, { title: string; hint: string }>>)[err.code];
    return {
      title: known?.title ?? `Daemon error (${err.code})`,
      detail: err.message,
      hint: known?.hint ?? "See the daemon log.",
      code: err.code,
      field: err.field,
    };
  }
  for (const [type, known] of CLIENT_ERRORS) {
    if (err instanceof type) return { ...known, detail: err.message, field: undefined };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { title: "Something went wrong", detail: message, hint: "Try again.", code: "unknown", field: undefined };
}
