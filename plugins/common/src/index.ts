// @layerbridge/common: the Layerbridge protocol client shared by the Photoshop and Figma plugins.
export * from "./protocol.js";
export { Backoff, type BackoffOptions } from "./backoff.js";
export { BlobStore, type ReceivedBlob } from "./blobStore.js";
export {
  LayerbridgeClient,
  type ClientEvents,
  type LayerbridgeClientOptions,
  type SubmitOptions,
} from "./client.js";
export { IllegalTransition, type ConnectionState } from "./connectionState.js";
export { ContentKeys, SENT_KEYS, useContentHasher, type ContentHasherFactory } from "./contentKey.js";
export { Emitter, type Listener } from "./emitter.js";
export { ConnectionError, DaemonError, JobCancelledError, ProtocolViolation } from "./errors.js";
export { describeError, type ErrorDescription } from "./describeError.js";
export { decodeFrame, encodeFrame, type DecodedFrame } from "./frames.js";
export {
  JobHandle,
  type JobEvents,
  type JobOutcome,
  type JobOutput,
  type JobPhase,
  type JobPreview,
  type JobProgressEvent,
} from "./jobHandle.js";
export { withInputs, type ControlInput, type JobInputs, type ParamsWithoutInputs } from "./jobInputs.js";
export { JobTracker, newJobId, type JobChannel, type JobEvent } from "./jobTracker.js";
export type { ReplyMap, ReplyTo, SimpleRequest } from "./replies.js";
export { sha256Hex, sha256HexSync, sha256HexWasm, useWasmSha256, type StreamingHasher } from "./sha256.js";
export { installTextCodecs, PortableTextEncoder, portableTextDecoder } from "./textCodecs.js";
export { loraLabel, TriggerWordTracker, withTriggerWords } from "./triggerWords.js";
export { SOCKET_OPEN, type SocketCloseEvent, type SocketMessageEvent, type WebSocketFactory, type WebSocketLike } from "./socket.js";
export { hashBlobs, uploadBlobs, uploadUnnamed, type BlobSource, type UploadChannel, type UploadProgress } from "./upload.js";
export { parseBinaryHeader, parseServerMessage } from "./validate.js";
