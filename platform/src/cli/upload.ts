// One upload of a file as a request body: streamed from disk through
// node:http(s) (never read whole; the socket's backpressure paces the
// reads), with a byte count for the progress bar, and the server's answer
// read up to a bound. Connection failures come back as a typed result, so
// the caller decides what is worth a retry.
import { createReadStream } from "node:fs";
import http from "node:http";
import type { IncomingHttpHeaders } from "node:http";
import https from "node:https";

/** The most answer bytes the CLI reads: an import's answer is a summary, far below this. */
export const ANSWER_BYTES_MAX = 16 * 1024 * 1024;
/** Read size from the file: large enough for throughput, small enough that progress moves smoothly. */
const READ_CHUNK_BYTES = 256 * 1024;

export interface Answer {
  readonly kind: "answer";
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** The server could not be reached, or went away before answering. Safe to retry with the same key. */
export interface Unreachable {
  readonly kind: "unreachable";
  readonly reason: string;
}

/** The file could not be read (it vanished or changed mid-upload): not the server's fault, no retry. */
export interface Unreadable {
  readonly kind: "unreadable";
  readonly reason: string;
}

export type Outcome = Answer | Unreachable | Unreadable;

export interface UploadOptions {
  readonly url: URL;
  readonly file: string;
  readonly sizeBytes: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Socket idle time allowed, i.e. how long the server may think after the last byte before it answers. */
  readonly timeoutMs: number;
  readonly onProgress: (sentBytes: number) => void;
}

export function upload(options: UploadOptions): Promise<Outcome> {
  const { url } = options;
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (outcome: Outcome): void => {
      if (settled) return;
      settled = true;
      file.destroy();
      // One request per attempt: close its socket. An answer that came before the whole body was sent
      // leaves the request unfinished, and its open socket would keep the CLI alive until the server's
      // keep-alive timeout (72 s) after the answer was printed.
      request.destroy();
      resolve(outcome);
    };
    const file = createReadStream(options.file, { highWaterMark: READ_CHUNK_BYTES });
    const request = client.request(url, {
      method: "POST",
      // The length up front lets the server refuse a too-large file before reading it (413).
      headers: { ...options.headers, "content-length": String(options.sizeBytes) },
    });
    request.setTimeout(options.timeoutMs, () => {
      request.destroy(new Error(`no answer within ${options.timeoutMs / 1000} s`));
    });
    let fileError: Error | undefined;
    request.on("error", (error: NodeJS.ErrnoException) => {
      if (fileError !== undefined) settle({ kind: "unreadable", reason: fileError.message });
      settle({ kind: "unreachable", reason: error.code === undefined ? error.message : `${error.code}: ${error.message}` });
    });
    request.on("response", (response) => {
      // The server may answer before it has read everything (413, 404): stop sending, read the answer.
      file.unpipe(request);
      file.destroy();
      const chunks: Buffer[] = [];
      let received = 0;
      response.on("data", (chunk: Buffer) => {
        received += chunk.length;
        if (received > ANSWER_BYTES_MAX) {
          response.destroy(new Error(`the answer is longer than ${ANSWER_BYTES_MAX} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      response.on("error", (error) => {
        settle({ kind: "unreachable", reason: `the answer was cut off: ${error.message}` });
      });
      response.on("end", () => {
        settle({ kind: "answer", status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks).toString("utf8") });
      });
    });
    let sent = 0;
    file.on("data", (chunk) => {
      sent += chunk.length;
      options.onProgress(sent);
    });
    file.on("error", (error) => {
      // The file vanished or became unreadable mid-upload: abort the request, so the server discards the partial body.
      fileError = error;
      request.destroy(error);
    });
    file.pipe(request);
  });
}
