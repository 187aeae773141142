// Every importer, in detection order (the most specific first: a CSV
// profile matches almost any text, so CSV is chosen only by ?format=csv or
// ?profile=). Adding a format is adding its importer here.
import type { StatementFormat } from "@trueup/contracts";
import type { Importer } from "./types.ts";
import { DETECT_HEAD_CHARS } from "./types.ts";
import { camtImporter } from "./camt/index.ts";
import { ofxImporter } from "./ofx/index.ts";
import { mt940Importer } from "./mt940/index.ts";
import { bai2Importer } from "./bai2/index.ts";
import { csvImporter } from "./csv/index.ts";

export const IMPORTERS: readonly Importer[] = [
  camtImporter,
  ofxImporter,
  mt940Importer,
  bai2Importer,
  csvImporter,
];

/** The importer that reads `format`. */
export function importerFor(format: StatementFormat): Importer | undefined {
  return IMPORTERS.find((importer) => importer.formats.includes(format));
}

/** The format of a file from the start of its decoded text (a BOM already removed), or undefined. */
export function detectFormat(head: string): StatementFormat | undefined {
  const start = head.slice(0, DETECT_HEAD_CHARS);
  for (const importer of IMPORTERS) {
    const format = importer.detect(start);
    if (format !== undefined) return format;
  }
  return undefined;
}

export type { Importer, ImportLimits, ImportOptions } from "./types.ts";
export { IMPORT_LIMITS_DEFAULT, DETECT_HEAD_CHARS } from "./types.ts";
