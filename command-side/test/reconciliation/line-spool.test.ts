// The line spool hands pass 2 its rows as bytes: every row exactly as
// written, wherever the file's read chunks happen to cut it.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LINE_SPOOL_READ_BYTES, LineSpoolWriter } from "../../src/reconciliation/import/line-spool.ts";

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), "trueup-spool-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

async function readBack(rows: readonly string[], name: string): Promise<string[]> {
  const writer = await LineSpoolWriter.create(path.join(folder, name));
  for (const row of rows) await writer.write(row);
  const spool = await writer.finish();
  const read: string[] = [];
  for await (const row of spool.rowsInOrder()) read.push(row.toString("utf8"));
  await spool.remove();
  return read;
}

describe("line spool", () => {
  it("gives back every row in order: rows cut by a chunk's end, a row longer than two chunks, multi-byte characters at the cut", async () => {
    const rows: string[] = [];
    // Lengths that drift across the 1 MiB chunk boundaries at every offset, with a 3-byte character now and then.
    for (let i = 0, bytes = 0; bytes < 3 * LINE_SPOOL_READ_BYTES; i++) {
      const row = JSON.stringify({ i, text: "x".repeat((i * 7919) % 5000) + (i % 3 === 0 ? "€" : "") });
      rows.push(row);
      bytes += Buffer.byteLength(row) + 1;
    }
    rows.splice(40, 0, JSON.stringify({ long: "é".repeat(LINE_SPOOL_READ_BYTES + 12345) }));
    rows.push(JSON.stringify({ last: true }));
    expect(await readBack(rows, "many")).toEqual(rows);
  });

  it("gives back nothing for an empty spool, and a single row", async () => {
    expect(await readBack([], "empty")).toEqual([]);
    expect(await readBack(['{"a":1}'], "one")).toEqual(['{"a":1}']);
  });

  it("refuses a spool that ends inside a row (cut short on disk)", async () => {
    const file = path.join(folder, "cut");
    const writer = await LineSpoolWriter.create(file);
    await writer.write('{"a":1}');
    const spool = await writer.finish();
    await writeFile(file, '{"a":1}\n{"b":', { flag: "w" });
    const read = async (): Promise<number> => {
      let rows = 0;
      for await (const row of spool.rowsInOrder()) rows += row.length > 0 ? 1 : 0;
      return rows;
    };
    await expect(read()).rejects.toThrow(/ends inside a row/);
  });
});
