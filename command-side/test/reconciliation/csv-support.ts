// Test support for the CSV importer: feed a text in chunks of a chosen size
// and collect what comes out, or the located error it fails with.
import { TrueupError, csvProfileSchema } from "@trueup/contracts";
import type { CsvProfile, ParsedLine, ParsedStatement, SourceLocation, StatementItem } from "@trueup/contracts";
import { IMPORT_LIMITS_DEFAULT } from "../../src/reconciliation/importers/index.ts";
import type { ImportLimits } from "../../src/reconciliation/importers/index.ts";
import { csvImporter } from "../../src/reconciliation/importers/csv/index.ts";

export function profileOf(input: Record<string, unknown>): CsvProfile {
  return csvProfileSchema.parse({ name: "test", ...input });
}

export async function* chunked(text: string, size: number): AsyncGenerator<string, void, undefined> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

export interface Parsed {
  readonly items: StatementItem[];
  readonly lines: ParsedLine[];
  readonly statement: ParsedStatement;
}

export async function parseCsv(text: string, profile: CsvProfile | undefined, options: { chunkSize?: number; limits?: Partial<ImportLimits> } = {}): Promise<Parsed> {
  const items: StatementItem[] = [];
  const limits = { ...IMPORT_LIMITS_DEFAULT, ...options.limits };
  for await (const item of csvImporter.parse(chunked(text, options.chunkSize ?? 64 * 1024), { limits, csvProfile: profile, format: "csv" })) items.push(item);
  const lines = items.flatMap((item) => (item.kind === "line" ? [item.line] : []));
  const statements = items.flatMap((item) => (item.kind === "statement" ? [item.statement] : []));
  const [statement] = statements;
  if (statement === undefined || statements.length !== 1) throw new Error(`expected one statement, got ${statements.length}`);
  return { items, lines, statement };
}

export interface Failure {
  readonly code: string;
  readonly message: string;
  readonly location: SourceLocation | undefined;
}

/** The error a parse fails with; fails the test when it succeeds or throws anything but a TrueupError. */
export async function failure(text: string, profile: CsvProfile | undefined, options: { chunkSize?: number; limits?: Partial<ImportLimits> } = {}): Promise<Failure> {
  try {
    await parseCsv(text, profile, options);
  } catch (error) {
    if (!(error instanceof TrueupError)) throw error;
    const detail = error.detail as { location?: SourceLocation } | undefined;
    return { code: error.code, message: error.message, location: detail?.location };
  }
  throw new Error("expected the parse to fail");
}
