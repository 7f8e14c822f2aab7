// The wire types, generated from the daemon's JSON Schema, under names that read well in code.
// Everything here is types only, except PROTOCOL_VERSION.
import type * as G from "./generated/protocol.js";
import { ERROR_CODES, RETRYABLE_ERROR_CODES } from "./generated/vocab.js";

export { PROTOCOL_VERSION } from "./generated/protocol.js";
export type {
  BlobData,
  BlobGet,
  BlobHas,
  BlobMissing,
  BlobPut,
  BlobReceived,
  BlobStored,
  ClientInfo,
  ClientMessage,
  ClientRecord,
  ClientsList,
  ClientsPair,
  ClientsReply,
  ClientsRevoke,
  ControlSpec,
  DeviceInfo,
  ErrorBody,
  Hello,
  JobAccepted,
  JobCancel,
  JobCancelled,
  JobDone,
  JobFailed,
  JobFetch,
  JobList,
  JobListReply,
  JobParams,
  JobProgress,
  JobResult,
  JobStarted,
  JobState,
  JobSubmit,
  JobSummary,
  Limits,
  LoraSpec,
  Margins,
  ModelInfo,
  ModelsAdd,
  ModelsList,
  ModelsRemove,
  ModelsReply,
  Ok,
  Paired,
  Ping,
  Pong,
  QueueInfo,
  Region,
  ResultInfo,
  ServerMessage,
  StatusReply,
  StatusRequest,
  Welcome,
} from "./generated/protocol.js";

/** The daemon's `error` message (named `Error` in the schema, which would shadow the global). */
export type ErrorMessage = G.Error;
export type ServerMessageType = G.ServerMessage["type"];
export type ClientMessageType = G.ClientMessage["type"];
export type JobKind = G.JobParams["kind"];
export type ImageFormat = G.BlobPut["format"];
export type ControlType = G.ControlSpec["type"];
export type JobStateName = G.JobSummary["state"];
export type Scheduler = NonNullable<G.JobParams["scheduler"]>;
/** A server message of one `type`. */
export type ServerMessageOf<T extends ServerMessageType> = Extract<G.ServerMessage, { type: T }>;
/** A client message without its request id (the client assigns ids). */
export type ClientRequest = DistributiveOmit<Exclude<G.ClientMessage, G.Hello>, "id">;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

// the word lists come from the schema (generated/vocab.ts), never written here a second time
export { CONTROL_TYPES, ERROR_CODES, JOB_KINDS, RETRYABLE_ERROR_CODES } from "./generated/vocab.js";

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Whether a request that failed with `code` may succeed later unchanged (busy, rate limited,
 * out of memory): the daemon's own list, from the schema. */
export function isRetryable(code: string): boolean {
  return RETRYABLE_ERROR_CODES.includes(code);
}
