// A saved CSV mapping profile: how to read one bank's or PSP's CSV export
// into statement lines. Saved per ledger (POST /ledgers/{id}/csv-profiles,
// event CsvProfileSaved); `stripe` is built in (command-side importers/csv).
import { z } from "zod";

export const CSV_DATE_FORMATS = ["YYYY-MM-DD", "DD.MM.YYYY", "DD/MM/YYYY", "MM/DD/YYYY", "YYYYMMDD", "DD-MM-YYYY", "YYYY-MM-DD HH:mm:ss", "unix-seconds"] as const;
export const CSV_ENCODINGS = ["utf-8", "iso-8859-1", "windows-1252"] as const;
export type CsvEncoding = (typeof CSV_ENCODINGS)[number];

/** A column by its header name (when the file has a header row) or its 0-based index. */
const column = z.union([z.string().min(1).max(200), z.number().int().min(0).max(999)]);

export const csvColumnMapSchema = z.strictObject({
  bookingDate: column,
  valueDate: column.optional(),
  /** One signed amount column… */
  amount: column.optional(),
  /** …or a debit and a credit column (each unsigned; one of them filled per row). */
  debit: column.optional(),
  credit: column.optional(),
  currency: column.optional(),
  description: column.optional(),
  bankReference: column.optional(),
  endToEndId: column.optional(),
  customerReference: column.optional(),
  counterpartyName: column.optional(),
  counterpartyIban: column.optional(),
  bankCode: column.optional(),
  /** Further columns kept as line attributes, by attribute name. */
  attributes: z.record(z.string().min(1).max(64), column).optional(),
});

export const csvProfileSchema = z
  .strictObject({
    name: z.string().min(1).max(200),
    delimiter: z.string().length(1).default(","),
    quote: z.string().length(1).default('"'),
    decimalSeparator: z.enum([".", ","]).default("."),
    thousandsSeparator: z.enum(["", ",", ".", " ", "'"]).default(""),
    dateFormat: z.enum(CSV_DATE_FORMATS).default("YYYY-MM-DD"),
    encoding: z.enum(CSV_ENCODINGS).default("utf-8"),
    headerRow: z.boolean().default(true),
    /** Rows to skip before the header (or the first data row). */
    skipRows: z.number().int().min(0).max(100).default(0),
    /** With a signed amount column: does a positive amount mean money in (credit) or out (debit)? */
    positiveMeans: z.enum(["credit", "debit"]).default("credit"),
    /** The currency when the file has no currency column. */
    currency: z.string().regex(/^[A-Z]{3}$/).optional(),
    columns: csvColumnMapSchema,
  })
  .refine((p) => p.columns.amount !== undefined || (p.columns.debit !== undefined && p.columns.credit !== undefined), {
    error: "map either an amount column or both debit and credit columns",
    path: ["columns"],
  })
  .refine((p) => p.delimiter !== p.quote && p.decimalSeparator !== p.thousandsSeparator, {
    error: "delimiter and quote, decimal and thousands separators must differ",
  });
export type CsvProfile = z.infer<typeof csvProfileSchema>;
