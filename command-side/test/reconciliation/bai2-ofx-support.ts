// What the BAI2 and OFX importer tests share: feeding text in chunks of a
// chosen size, collecting items, catching the located error, and mutating
// real samples for the fuzz tests.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { expect } from "vitest";
import { TrueupError } from "@trueup/contracts";
import type { SourceLocation, StatementItem } from "@trueup/contracts";
import { IMPORT_LIMITS_DEFAULT } from "../../src/reconciliation/importers/index.ts";
import type { Importer, ImportLimits } from "../../src/reconciliation/importers/index.ts";
import { lineData } from "../../src/reconciliation/import/scan.ts";

export function fixture(path: string): string {
  return readFileSync(fileURLToPath(new URL(`../../../test-support/fixtures/statements/${path}`, import.meta.url)), "utf8");
}

async function* chunked(text: string, size: number): AsyncGenerator<string, void, undefined> {
  for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
}

export interface ParseOptions {
  /** Characters per chunk; the whole text in one chunk when omitted. */
  readonly chunkSize?: number;
  readonly limits?: Partial<ImportLimits>;
}

export async function parseAll(importer: Importer, text: string, options: ParseOptions = {}): Promise<StatementItem[]> {
  const items: StatementItem[] = [];
  const limits = { ...IMPORT_LIMITS_DEFAULT, ...options.limits };
  const format = importer.formats[0];
  if (format === undefined) throw new Error("importer without a format");
  for await (const item of importer.parse(chunked(text, options.chunkSize ?? Math.max(1, text.length)), { limits, format })) items.push(item);
  return items;
}

/** The TrueupError a parse must end with; fails the test if it ends otherwise. */
export async function parseError(importer: Importer, text: string, options: ParseOptions = {}): Promise<TrueupError & { location: SourceLocation }> {
  try {
    await parseAll(importer, text, options);
  } catch (error) {
    if (!(error instanceof TrueupError)) throw error;
    const location = error.detail?.location as SourceLocation | undefined;
    if (location === undefined) throw new Error(`${error.code} without a location: ${error.message}`);
    expect(location.line, `${error.code} at line ${location.line}`).toBeGreaterThanOrEqual(1);
    return Object.assign(error, { location });
  }
  throw new Error("the parse succeeded; a located error was expected");
}

/** Either the items, or a TrueupError with a 1-based line: anything else (a TypeError, a RangeError) is a bug. */
export async function itemsOrLocatedError(importer: Importer, text: string, options: ParseOptions = {}): Promise<StatementItem[] | TrueupError> {
  try {
    return await parseAll(importer, text, options);
  } catch (error) {
    if (!(error instanceof TrueupError)) throw error;
    const location = error.detail?.location as SourceLocation | undefined;
    if (location === undefined || !Number.isInteger(location.line) || location.line < 1) throw new Error(`${error.code} without a location: ${error.message}`);
    return error;
  }
}

/**
 * The fuzz property: the text read whole and read in `chunkSize` chunks
 * gives the same items, or fails with the same code at the same place; and
 * never with anything but a located TrueupError. Every line it yields fits
 * what the stores hold (the import's own check, which would otherwise
 * refuse the line as STATEMENT_MALFORMED).
 */
export async function sameResultWhateverTheChunks(importer: Importer, text: string, chunkSize: number): Promise<void> {
  const whole = await itemsOrLocatedError(importer, text);
  const chunked = await itemsOrLocatedError(importer, text, { chunkSize });
  if (whole instanceof TrueupError || chunked instanceof TrueupError) {
    const describe = (result: StatementItem[] | TrueupError) => (result instanceof TrueupError ? [result.code, result.detail?.location] : "items");
    expect(describe(chunked)).toEqual(describe(whole));
    return;
  }
  expect(chunked).toEqual(whole);
  expect(whole[whole.length - 1]?.kind).toBe("file");
  for (const line of lines(whole)) lineData(line, "ref:x#1", 1);
}

export function lines(items: readonly StatementItem[]) {
  return items.flatMap((item) => (item.kind === "line" ? [item.line] : []));
}

export function statements(items: readonly StatementItem[]) {
  return items.flatMap((item) => (item.kind === "statement" ? [item.statement] : []));
}

/**
 * Mutations of a real sample: a character replaced by one from `alphabet`,
 * a range deleted, a range duplicated, a line dropped or repeated. Enough
 * to reach every branch of a line or tag parser from valid input.
 */
export function mutations(sample: string, alphabet: readonly string[]): fc.Arbitrary<string> {
  const position = fc.nat({ max: Math.max(0, sample.length - 1) });
  const replace = fc.tuple(position, fc.constantFrom(...alphabet)).map(([at, c]) => sample.slice(0, at) + c + sample.slice(at + 1));
  const insert = fc.tuple(position, fc.constantFrom(...alphabet)).map(([at, c]) => sample.slice(0, at) + c + sample.slice(at));
  const remove = fc.tuple(position, fc.nat({ max: 40 })).map(([at, length]) => sample.slice(0, at) + sample.slice(at + length));
  const duplicate = fc.tuple(position, fc.nat({ max: 80 })).map(([at, length]) => sample.slice(0, at + length) + sample.slice(at, at + length) + sample.slice(at + length));
  const physical = sample.split("\n");
  const lineIndex = fc.nat({ max: Math.max(0, physical.length - 1) });
  const dropLine = lineIndex.map((at) => physical.filter((_, i) => i !== at).join("\n"));
  const repeatLine = lineIndex.map((at) => physical.flatMap((line, i) => (i === at ? [line, line] : [line])).join("\n"));
  const single = fc.oneof(replace, insert, remove, duplicate, dropLine, repeatLine);
  // Up to three mutations on top of each other.
  return fc.tuple(single, fc.nat({ max: 2 })).chain(([first, more]) => (more === 0 ? fc.constant(first) : mutationsOf(first, alphabet, more)));
}

function mutationsOf(text: string, alphabet: readonly string[], times: number): fc.Arbitrary<string> {
  const position = fc.nat({ max: Math.max(0, text.length - 1) });
  const step = fc.tuple(position, fc.constantFrom(...alphabet)).map(([at, c]) => text.slice(0, at) + c + text.slice(at + 1));
  return times <= 1 ? step : step.chain((next) => mutationsOf(next, alphabet, times - 1));
}
