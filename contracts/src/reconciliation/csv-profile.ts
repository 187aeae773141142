// A saved CSV mapping profile: how to read one bank's or PSP's CSV export
// into statement lines. Saved per ledger (POST /ledgers/{id}/csv-profiles,
// event CsvProfileSaved); `stripe` is built in (command-side importers/csv).
// Validated to what the importer can act on without guessing: a profile that
// passes here reads every well-formed file of its bank, and a row that does
// not fit it is a located error, never a silent misreading.
import { z } from "zod";
import { STATEMENT_LINE_LIMITS, csvProfileIdSchema } from "./events.ts";
import { textSchema } from "../text.ts";

export const CSV_DATE_FORMATS = ["YYYY-MM-DD", "DD.MM.YYYY", "DD/MM/YYYY", "MM/DD/YYYY", "YYYYMMDD", "DD-MM-YYYY", "YYYY-MM-DD HH:mm:ss", "unix-seconds"] as const;
export type CsvDateFormat = (typeof CSV_DATE_FORMATS)[number];
export const CSV_ENCODINGS = ["utf-8", "iso-8859-1", "windows-1252"] as const;
export type CsvEncoding = (typeof CSV_ENCODINGS)[number];

/** Profile ids the server keeps for its built-in profiles (compared case-insensitively). */
export const CSV_PROFILES_BUILT_IN = ["stripe"] as const;

export const CSV_PROFILE_LIMITS = {
  /** A header name in a profile: like a name (200 characters). */
  columnNameLengthMax: 200,
  /** Alternative header names of one column (Stripe names a column differently in each report version). */
  columnAlternativesMax: 8,
  /** The highest 0-based column index a profile may name. */
  columnIndexMax: 999,
  /** Rows skipped before the header: bank exports put a few lines of account facts there, never more. */
  skipRowsMax: 100,
  /** Text and amount attributes together: a line keeps at most STATEMENT_LINE_LIMITS.attributesMax. */
  attributesMax: STATEMENT_LINE_LIMITS.attributesMax,
} as const;

const columnName = textSchema({ lengthMax: CSV_PROFILE_LIMITS.columnNameLengthMax });
const columnIndex = z.number().int().min(0).max(CSV_PROFILE_LIMITS.columnIndexMax);

/**
 * A column: its header name (matched exactly after trimming, needs a header
 * row), its 0-based index, or `{ names, optional }`: the first of several
 * header names the file has (report versions differ), and whether the file
 * may lack the column altogether (then the field is empty on every line).
 * A plain name or index must be in the file.
 */
export const csvColumnSchema = z.union([
  columnName,
  columnIndex,
  z.strictObject({
    names: z.array(columnName).min(1).max(CSV_PROFILE_LIMITS.columnAlternativesMax),
    optional: z.boolean().default(false),
  }),
]);
export type CsvColumn = z.infer<typeof csvColumnSchema>;

const attributeName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, "1-64 letters, digits or '_', starting with a letter");

export const csvColumnMapSchema = z.strictObject({
  bookingDate: csvColumnSchema,
  valueDate: csvColumnSchema.optional(),
  /** One signed amount column (see positiveMeans)… */
  amount: csvColumnSchema.optional(),
  /** …or a debit and a credit column (money out, money in), one of them filled per row. */
  debit: csvColumnSchema.optional(),
  credit: csvColumnSchema.optional(),
  /** Three letters, any case (Stripe writes `eur`); without it the profile's currency. */
  currency: csvColumnSchema.optional(),
  description: csvColumnSchema.optional(),
  remittanceInformation: csvColumnSchema.optional(),
  /** The bank's or PSP's own unique id of the line: the line's identity when present. */
  bankReference: csvColumnSchema.optional(),
  endToEndId: csvColumnSchema.optional(),
  customerReference: csvColumnSchema.optional(),
  creditorReference: csvColumnSchema.optional(),
  counterpartyName: csvColumnSchema.optional(),
  counterpartyIban: csvColumnSchema.optional(),
  counterpartyAccountNumber: csvColumnSchema.optional(),
  counterpartyBic: csvColumnSchema.optional(),
  /** The bank's own transaction code (kept as bankCodes.proprietary). */
  bankCode: csvColumnSchema.optional(),
  /** A PSP's category of the line (Stripe reporting_category: charge, refund, fee, payout…; kept as bankCodes.psp). */
  pspCategory: csvColumnSchema.optional(),
  /** Charges deducted for the line (a PSP's fee), any sign: kept unsigned as chargesMinor. */
  charges: csvColumnSchema.optional(),
  /** Further columns kept as line attributes (text as written), by attribute name. */
  attributes: z.record(attributeName, csvColumnSchema).optional(),
  /** Further amount columns kept as attributes in signed minor units ("-130" for -1.30 EUR), e.g. Stripe gross/fee/net. */
  amountAttributes: z.record(attributeName, csvColumnSchema).optional(),
});
export type CsvColumnMap = z.infer<typeof csvColumnMapSchema>;

const singleCharacter = (what: string) =>
  z
    .string()
    .length(1)
    .refine((c) => !/[\r\n\0]/.test(c), { error: `a line break or NUL cannot be the ${what}` });

/** The fields of a profile, before the rules that tie them together (see csvProfileRules). */
export const csvProfileFields = {
  name: textSchema({ lengthMax: 200 }),
  delimiter: singleCharacter("delimiter").default(","),
  quote: singleCharacter("quote").default('"'),
  decimalSeparator: z.enum([".", ","]).default("."),
  thousandsSeparator: z.enum(["", ",", ".", " ", "'"]).default(""),
  dateFormat: z.enum(CSV_DATE_FORMATS).default("YYYY-MM-DD"),
  encoding: z.enum(CSV_ENCODINGS).default("utf-8"),
  /** The first row (after skipRows) names the columns. Without it, columns are mapped by index only. */
  headerRow: z.boolean().default(true),
  /** Physical lines to skip before the header (or the first data row): an export's preamble. */
  skipRows: z.number().int().min(0).max(CSV_PROFILE_LIMITS.skipRowsMax).default(0),
  /** With a signed amount column: does a positive amount mean money in (credit) or out (debit)? */
  positiveMeans: z.enum(["credit", "debit"]).default("credit"),
  /** The currency when the file has no currency column. */
  currency: z.string().regex(/^[A-Z]{3}$/, "three upper-case letters (ISO 4217)").optional(),
  columns: csvColumnMapSchema,
};

interface ProfileShape {
  readonly delimiter: string;
  readonly quote: string;
  readonly decimalSeparator: string;
  readonly thousandsSeparator: string;
  readonly headerRow: boolean;
  readonly currency?: string | undefined;
  readonly columns: CsvColumnMap;
}

/** The rules between a profile's fields, each reported at the path to fix. */
export function csvProfileRules(profile: ProfileShape, ctx: z.RefinementCtx): void {
  const { columns } = profile;
  const issue = (path: (string | number)[], message: string): void => {
    ctx.addIssue({ code: "custom", path, message });
  };
  const hasAmount = columns.amount !== undefined;
  const hasDebitCredit = columns.debit !== undefined || columns.credit !== undefined;
  if (hasAmount === hasDebitCredit) issue(["columns"], "map either an amount column or both debit and credit columns, not both");
  else if (!hasAmount && (columns.debit === undefined || columns.credit === undefined)) issue(["columns", columns.debit === undefined ? "debit" : "credit"], "a debit column needs a credit column and the other way round");
  if (columns.currency === undefined && profile.currency === undefined) issue(["currency"], "give the currency, or map a currency column");
  if (profile.delimiter === profile.quote) issue(["quote"], "the quote must differ from the delimiter");
  if (profile.decimalSeparator === profile.thousandsSeparator) issue(["thousandsSeparator"], "the thousands separator must differ from the decimal separator");
  const attributes = Object.keys(columns.attributes ?? {});
  const amountAttributes = Object.keys(columns.amountAttributes ?? {});
  if (attributes.length + amountAttributes.length > CSV_PROFILE_LIMITS.attributesMax) {
    issue(["columns", "attributes"], `at most ${CSV_PROFILE_LIMITS.attributesMax} attributes and amount attributes together`);
  }
  for (const name of amountAttributes) if (attributes.includes(name)) issue(["columns", "amountAttributes", name], `${name} is also a text attribute`);
  for (const [field, column] of mappedColumns(columns)) {
    const path = ["columns", ...field.split(".")];
    const named = typeof column === "string" || typeof column === "object";
    if (named && !profile.headerRow) issue(path, "a column named by its header needs headerRow: true; map it by its 0-based index");
    if (field === "bookingDate" && typeof column === "object" && column.optional) issue(path, "the booking date column cannot be optional");
  }
  for (const required of ["amount", "debit", "credit"] as const) {
    const column = columns[required];
    if (typeof column === "object" && column.optional) issue(["columns", required], `the ${required} column cannot be optional`);
  }
}

/** Every mapped column of a profile with its field name (`attributes.<name>` for attributes). */
export function mappedColumns(columns: CsvColumnMap): [string, CsvColumn][] {
  const mapped: [string, CsvColumn][] = [];
  for (const [field, column] of Object.entries(columns)) {
    if (field === "attributes" || field === "amountAttributes") continue;
    if (column !== undefined) mapped.push([field, column as CsvColumn]);
  }
  for (const [name, column] of Object.entries(columns.attributes ?? {})) mapped.push([`attributes.${name}`, column]);
  for (const [name, column] of Object.entries(columns.amountAttributes ?? {})) mapped.push([`amountAttributes.${name}`, column]);
  return mapped;
}

export const csvProfileSchema = z.strictObject(csvProfileFields).superRefine(csvProfileRules);
export type CsvProfile = z.infer<typeof csvProfileSchema>;

/**
 * The body of POST /ledgers/{ledgerId}/csv-profiles: a profile and, optionally,
 * its id (derived from the Idempotency-Key otherwise). `stripe` is built in.
 */
export const saveCsvProfileBody = z
  .strictObject({
    profileId: csvProfileIdSchema
      .refine((id) => !(CSV_PROFILES_BUILT_IN as readonly string[]).includes(id.toLowerCase()), { error: "is a built-in profile's id (usable as ?profile= without saving it)" })
      .optional(),
    ...csvProfileFields,
  })
  .superRefine(csvProfileRules);
export type SaveCsvProfileBody = z.infer<typeof saveCsvProfileBody>;
