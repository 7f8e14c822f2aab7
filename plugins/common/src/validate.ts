// Runtime validation of everything the daemon sends, against the committed schema (precompiled
// ajv validators). Past this point the client only sees typed, tagged messages.
import * as validators from "./generated/validators.js";
import type { Validator, ValidationError } from "./generated/validators.js";
import { ProtocolViolation } from "./errors.js";
import type { BlobData, JobProgress, ServerMessage } from "./protocol.js";

const byName = validators as unknown as Readonly<Record<string, Validator | undefined>>;

function describe(errors: readonly ValidationError[] | null | undefined): { text: string; path: string } {
  const first = errors?.[0];
  if (!first) return { text: "does not match the schema", path: "" };
  const path = first.instancePath.replace(/^\//, "").replace(/\//g, ".");
  const extra = first.keyword === "additionalProperties" ? ` (${String(first.params["additionalProperty"])})` : "";
  return { text: `${path || "message"} ${first.message ?? first.keyword}${extra}`, path };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Check a decoded JSON value against the schema of its `type`; throw ProtocolViolation if not. */
export function parseServerMessage(data: unknown): ServerMessage {
  if (!isObject(data)) throw new ProtocolViolation("a message from the daemon must be a JSON object");
  const type = data["type"];
  if (typeof type !== "string") throw new ProtocolViolation("a message from the daemon has no string 'type'", "type");
  const defName = validators.serverMessageDefs[type];
  const validate = defName === undefined ? undefined : byName[defName];
  if (!validate) throw new ProtocolViolation(`unknown message type '${type}' from the daemon`, "type");
  if (!validate(data)) {
    const { text, path } = describe(validate.errors);
    throw new ProtocolViolation(`malformed '${type}' from the daemon: ${text}`, path);
  }
  return data as unknown as ServerMessage;
}

/** The header of a binary frame from the daemon: only blob.data and job.progress travel so. */
export function parseBinaryHeader(data: unknown): BlobData | JobProgress {
  const message = parseServerMessage(data);
  if (message.type === "blob.data" || message.type === "job.progress") return message;
  throw new ProtocolViolation(`'${message.type}' cannot be the header of a binary frame`, "type");
}
