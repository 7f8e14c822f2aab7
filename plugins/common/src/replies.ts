// Which reply each request gets: the typing of LayerbridgeClient.request.
import type {
  BlobMissing,
  ClientRequest,
  ClientsReply,
  JobAccepted,
  JobListReply,
  JobState,
  ModelsReply,
  Ok,
  Paired,
  Pong,
  ServerMessage,
  StatusReply,
} from "./protocol.js";

export interface ReplyMap {
  ping: Pong;
  "blob.has": BlobMissing;
  "job.submit": JobAccepted;
  "job.cancel": Ok;
  "job.fetch": JobState;
  "job.list": JobListReply;
  status: StatusReply;
  "models.list": ModelsReply;
  "models.add": ServerMessage;
  "models.remove": ServerMessage;
  "clients.list": ClientsReply;
  "clients.pair": Paired;
  "clients.revoke": ServerMessage;
}

/** Requests answered by a single reply message (blob.get: blob.data frames, then blob.sent). */
export type SimpleRequest = Exclude<ClientRequest, { type: "blob.get" }>;
/** The reply type of a request; requests newer than this map get any ServerMessage. */
export type ReplyTo<R extends SimpleRequest> = R["type"] extends keyof ReplyMap ? ReplyMap[R["type"]] : ServerMessage;
