// Errors the client raises: a daemon-reported error, a lost connection, a malformed message.

/** An `error` or `job.failed` from the daemon: `code` is one of ERROR_CODES (or a newer one). */
export class DaemonError extends Error {
  readonly code: string;
  readonly field: string | undefined;
  readonly jobId: string | undefined;

  constructor(code: string, message: string, field?: string | null, jobId?: string | null) {
    super(message);
    this.name = "DaemonError";
    this.code = code;
    this.field = field ?? undefined;
    this.jobId = jobId ?? undefined;
  }
}

/** The socket closed (or never opened) before the request got its reply. */
export class ConnectionError extends Error {
  readonly closeCode: number | undefined;

  constructor(message: string, closeCode?: number) {
    super(message);
    this.name = "ConnectionError";
    this.closeCode = closeCode;
  }
}

/** The daemon sent something the schema does not allow; `path` points into the message. */
export class ProtocolViolation extends Error {
  readonly path: string;

  constructor(message: string, path = "") {
    super(message);
    this.name = "ProtocolViolation";
    this.path = path;
  }
}

/** The job was cancelled (by this client, another client or the daemon). */
export class JobCancelledError extends Error {
  readonly jobId: string;

  constructor(jobId: string) {
    super(`job ${jobId} was cancelled`);
    this.name = "JobCancelledError";
    this.jobId = jobId;
  }
}
