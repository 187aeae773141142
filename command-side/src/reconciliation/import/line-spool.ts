// Pass 1's lines as they will be recorded, kept on disk for pass 2: one JSON
// document per row, in file order. Pass 1 has already parsed and checked
// every line; writing them out once costs a fraction of parsing the file a
// second time, and keeps the import's memory flat however long the file is
// (only one write buffer and, in pass 2, one read chunk at a time). The file
// sits beside the spooled upload and lives exactly as long as the import.
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { removeIfPresent } from "./spool.ts";

/** Characters collected before one write: large enough that writes are few, small enough to be nothing next to the import's other memory. */
export const LINE_SPOOL_WRITE_CHARS = 1_048_576;
/** Bytes read at a time in pass 2. */
export const LINE_SPOOL_READ_BYTES = 1_048_576;

export interface LineSpool {
  /** The rows in order, each one line's JSON as UTF-8 bytes (pass 2 sends them on as they are). */
  rowsInOrder(): AsyncIterable<Buffer>;
  /** Removes the file; harmless when it is gone already. */
  remove(): Promise<void>;
}

export class LineSpoolWriter {
  private pending: string[] = [];
  private pendingChars = 0;

  private constructor(
    private readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  /** A new, empty spool at `path` (`wx`: never one someone else put there; 0o600: statement lines are confidential). */
  static async create(path: string): Promise<LineSpoolWriter> {
    return new LineSpoolWriter(path, await open(path, "wx", 0o600));
  }

  /** Adds one row: `json` is JSON.stringify output, so it holds no raw newline. */
  async write(json: string): Promise<void> {
    this.pending.push(json, "\n");
    this.pendingChars += json.length + 1;
    if (this.pendingChars >= LINE_SPOOL_WRITE_CHARS) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const text = this.pending.join("");
    this.pending = [];
    this.pendingChars = 0;
    await this.handle.write(text, null, "utf8");
  }

  /** Writes what is pending and closes the file; the spool is then read-only. */
  async finish(): Promise<LineSpool> {
    try {
      await this.flush();
    } finally {
      await this.handle.close();
    }
    const path = this.path;
    return { rowsInOrder: () => readRows(path), remove: () => removeIfPresent(path) };
  }

  /** Closes and removes the file: pass 1 failed. */
  async discard(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await removeIfPresent(this.path);
  }
}

const NEWLINE = 0x0a;

/** The rows as slices of the chunks read (a row cut by a chunk's end is the one copy made). */
async function* readRows(path: string): AsyncGenerator<Buffer> {
  const stream = createReadStream(path, { highWaterMark: LINE_SPOOL_READ_BYTES });
  let carry: Buffer | undefined;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    let end = chunk.indexOf(NEWLINE);
    if (carry !== undefined) {
      if (end === -1) {
        carry = Buffer.concat([carry, chunk]);
        continue;
      }
      yield Buffer.concat([carry, chunk.subarray(0, end)]);
      carry = undefined;
      start = end + 1;
      end = chunk.indexOf(NEWLINE, start);
    }
    for (; end !== -1; end = chunk.indexOf(NEWLINE, start)) {
      yield chunk.subarray(start, end);
      start = end + 1;
    }
    if (start < chunk.length) carry = chunk.subarray(start);
  }
  if (carry !== undefined) throw new Error(`line spool ${path} ends inside a row`);
}
