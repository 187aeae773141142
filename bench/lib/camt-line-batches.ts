// Line batches as the import stores them, for the storage comparisons
// (json-storage.ts, projection-paths.ts): a generated camt.053 run through
// pass 1, its spooled rows (each line's stored JSON) grouped 500 to a
// StatementLinesRecorded's data.
import path from "node:path";
import { STATEMENT_LINES_PER_EVENT_MAX } from "@trueup/contracts";
import { importerFor } from "../../command-side/src/reconciliation/importers/index.ts";
import { fileText, scanFile } from "../../command-side/src/reconciliation/import/scan.ts";
import { chooseEncoding } from "../../command-side/src/reconciliation/import/decode.ts";
import { writeCamt053 } from "./statement-generators.ts";

/** `lines` generated camt entries as StatementLinesRecorded data (JSON text), STATEMENT_LINES_PER_EVENT_MAX lines each; files go to `folder`. */
export async function camtLineBatches(folder: string, options: { lines: number; statementId: string; bankAccountId: string }): Promise<string[]> {
  const file = await writeCamt053({ path: path.join(folder, "camt.xml"), lines: options.lines, seed: 9 });
  const importer = importerFor("camt.053");
  if (importer === undefined) throw new Error("no camt.053 importer");
  const encoding = chooseEncoding(Buffer.from("<?xml"), { requested: undefined, profile: undefined, wholeFile: false });
  const scan = await scanFile(importer, fileText(file.path, encoding), { limits: { linesMax: 1_000_000, lineLengthMax: 16_384 }, csvProfile: undefined, format: "camt.053", spoolPath: path.join(folder, "camt.lines") });
  const rows: string[] = [];
  for await (const row of scan.lines.rowsInOrder()) rows.push(row.toString("utf8"));
  await scan.lines.remove();
  const batches: string[] = [];
  for (let b = 0; b * STATEMENT_LINES_PER_EVENT_MAX < rows.length; b++) {
    const lines = rows.slice(b * STATEMENT_LINES_PER_EVENT_MAX, (b + 1) * STATEMENT_LINES_PER_EVENT_MAX).join(",");
    batches.push(`{"statementId":${JSON.stringify(options.statementId)},"bankAccountId":${JSON.stringify(options.bankAccountId)},"batchIndex":${b},"lines":[${lines}]}`);
  }
  return batches;
}
