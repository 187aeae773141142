// The request body of an import, streamed to a temporary file while it
// arrives: its bytes counted (the size limit is enforced while streaming, so
// an oversized upload is refused at the first byte beyond the limit, not
// after it has been written out), hashed (SHA-256: the file's identity for
// idempotency and re-import detection) and its first bytes kept for sniffing
// the encoding and the format. The file exists only for the request: the
// caller removes it in a finally, and a failed or aborted upload (the client
// vanished mid-body) removes it here.
import { createHash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { unlink } from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import type { Readable } from "node:stream";
import type { TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { TrueupError } from "@trueup/contracts";

/** Bytes of the file's start kept in memory for encoding and format sniffing. */
export const SPOOL_HEAD_BYTES = 65_536;

export interface SpooledFile {
  readonly path: string;
  readonly bytes: number;
  /** Hex SHA-256 of the bytes as received. */
  readonly sha256: string;
  /** The first SPOOL_HEAD_BYTES bytes (fewer for a shorter file). */
  readonly head: Buffer;
  /** Removes the file; harmless when it is gone already. */
  remove(): Promise<void>;
}

/** Deletes a temporary file; harmless when it is gone already. */
export async function removeIfPresent(file: string): Promise<void> {
  await unlink(file).catch((error: unknown) => {
    if (!(error instanceof Error && "code" in error && error.code === "ENOENT")) throw error;
  });
}

export function fileTooLarge(limitBytes: number): TrueupError {
  return new TrueupError("STATEMENT_FILE_TOO_LARGE", `the statement file is larger than the limit of ${limitBytes} bytes`, { detail: { limit: limitBytes } });
}

/** Counts, hashes and keeps the head of what passes through; fails at the first byte beyond `limitBytes`. */
class Meter extends Transform {
  bytes = 0;
  private readonly hash = createHash("sha256");
  private readonly headChunks: Buffer[] = [];
  private headBytes = 0;

  constructor(private readonly limitBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limitBytes) {
      callback(fileTooLarge(this.limitBytes));
      return;
    }
    this.hash.update(chunk);
    if (this.headBytes < SPOOL_HEAD_BYTES) {
      const part = chunk.subarray(0, SPOOL_HEAD_BYTES - this.headBytes);
      this.headChunks.push(part);
      this.headBytes += part.length;
    }
    callback(null, chunk);
  }

  digest(): string {
    return this.hash.digest("hex");
  }

  head(): Buffer {
    return Buffer.concat(this.headChunks);
  }
}

/**
 * Streams `body` into a new file in `directory`. Rejects with
 * STATEMENT_FILE_TOO_LARGE at the limit, or with the stream's own error when
 * the upload breaks off; either way the partial file is gone.
 */
export async function spool(body: Readable, options: { directory: string; limitBytes: number }): Promise<SpooledFile> {
  const file = path.join(options.directory, `trueup-import-${randomUUID()}`);
  const remove = (): Promise<void> => removeIfPresent(file);
  const meter = new Meter(options.limitBytes);
  // The body is piped, not put in the pipeline: a refusal (too large) must not destroy the request,
  // or the client would see a reset connection instead of the 413. A broken upload (the client gone)
  // fails the meter, and with it the pipeline.
  const broken = (error: unknown): void => {
    meter.destroy(error instanceof Error ? error : new Error("the upload broke off"));
  };
  const closed = (): void => {
    if (!body.readableEnded) broken(new Error("the client closed the connection before the end of the file"));
  };
  body.once("error", broken);
  body.once("close", closed);
  body.pipe(meter);
  try {
    // `wx`: never write into a file someone else put there; 0o600: statements are confidential.
    await pipeline(meter, createWriteStream(file, { flags: "wx", mode: 0o600 }));
  } catch (error) {
    body.unpipe(meter);
    await remove();
    throw error;
  } finally {
    body.removeListener("error", broken);
    body.removeListener("close", closed);
  }
  return { path: file, bytes: meter.bytes, sha256: meter.digest(), head: meter.head(), remove };
}
