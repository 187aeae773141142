// A hand-written check that a value is a StatementLineData, accepting exactly
// what statementLineDataSchema accepts (a property test holds the two
// together: command-side/test/reconciliation/import-scan.test.ts). Lines are
// most of an import's volume, checked twice (when the import records them,
// and when the projection reads them back from the log), and the schema costs
// about 17 µs a line where this costs about 1: on a 200,000-line file, seconds
// of the only thread. The schema stays the definition, and explains a refusal.
import { isCalendarDate } from "../calendar.ts";
import { STATEMENT_LINE_LIMITS } from "./line-limits.ts";

const DIGITS = /^(0|[1-9]\d{0,29})$/;
const CURRENCY = /^[A-Z]{3}$/;
const { fieldLengthMax, textLengthMax, rawLengthMax, attributesMax, attributeKeyLengthMax, lineIdLengthMax } = STATEMENT_LINE_LIMITS;

/** The members of a StatementLineData (statementLineDataSchema's keys). */
export const STATEMENT_LINE_KEYS: ReadonlySet<string> = new Set([
  "lineId", "lineNumber", "amountMinor", "side", "currency", "bookingDate", "valueDate", "reversal", "bankReference", "endToEndId", "customerReference",
  "creditorReference", "remittanceInformation", "description", "counterparty", "bankCodes", "chargesMinor", "batch", "attributes", "raw", "location",
]);
const COUNTERPARTY_KEYS = ["name", "iban", "accountNumber", "bic"] as const;
const BANK_CODE_KEYS = ["domain", "family", "subFamily", "proprietary", "proprietaryIssuer", "swift", "bai2", "ofx", "psp"] as const;
const BATCH_KEYS = new Set(["id", "index", "size", "amountMinor", "side"]);
const LOCATION_KEYS = new Set(["line", "column", "element", "record"]);

type Fields = Record<string, unknown>;

/** A JSON object (not null, not an array). */
export const isJsonObject = (value: unknown): value is Fields => typeof value === "object" && value !== null && !Array.isArray(value);
const isString = (value: unknown, max: number): boolean => typeof value === "string" && value.length <= max;
const isNullableString = (value: unknown, max: number): boolean => value === null || isString(value, max);
const isDigits = (value: unknown): boolean => typeof value === "string" && DIGITS.test(value);
const isSide = (value: unknown): boolean => value === "credit" || value === "debit";
const isInteger = (value: unknown, min: number): boolean => typeof value === "number" && Number.isSafeInteger(value) && value >= min;
const isNullableDate = (value: unknown): boolean => value === null || (typeof value === "string" && isCalendarDate(value));
const optionalString = (value: unknown, max: number): boolean => value === undefined || isString(value, max);

/** Every own key is one of `keys`, and every required key is present (strictObject). */
function hasOnlyKeys(value: Fields, keys: ReadonlySet<string>, required: readonly string[]): boolean {
  for (const key of Object.keys(value)) if (!keys.has(key)) return false;
  return required.every((key) => key in value);
}

/** The problem of an object of exactly `keys`, each a nullable string: `<name>` for its shape, `<name>.<key>` for a value. */
function nullableStringsProblem(name: string, value: unknown, keys: readonly string[], max: number): string | undefined {
  if (!isJsonObject(value) || Object.keys(value).length !== keys.length) return name;
  for (const key of keys) if (!Object.hasOwn(value, key) || !isNullableString(value[key], max)) return `${name}.${key}`;
  return undefined;
}

function isBatch(value: unknown): boolean {
  if (value === null) return true;
  if (!isJsonObject(value) || !hasOnlyKeys(value, BATCH_KEYS, [...BATCH_KEYS])) return false;
  return isString(value.id, fieldLengthMax) && isInteger(value.index, 0) && isInteger(value.size, 1) && isDigits(value.amountMinor) && isSide(value.side);
}

function attributesProblem(value: unknown): string | undefined {
  if (!isJsonObject(value)) return "attributes";
  const entries = Object.entries(value);
  if (entries.length > attributesMax) return "attributes";
  for (const [key, text] of entries) if (key.length > attributeKeyLengthMax || !isString(text, fieldLengthMax)) return `attributes.${key}`;
  return undefined;
}

function isLocation(value: unknown): boolean {
  if (!isJsonObject(value) || !hasOnlyKeys(value, LOCATION_KEYS, ["line"])) return false;
  return isInteger(value.line, 1) && optionalString(value.column, 200) && optionalString(value.element, 1000) && optionalString(value.record, 20);
}

/** The first field of `value` that statementLineDataSchema would refuse, or undefined when it is a valid line. */
export function statementLineProblem(value: unknown): string | undefined {
  if (!isJsonObject(value)) return "line";
  for (const key of Object.keys(value)) if (!STATEMENT_LINE_KEYS.has(key)) return key;
  const d = value;
  if (typeof d.lineId !== "string" || d.lineId.length === 0 || d.lineId.length > lineIdLengthMax) return "lineId";
  if (!isInteger(d.lineNumber, 1)) return "lineNumber";
  if (!isDigits(d.amountMinor)) return "amountMinor";
  if (!isSide(d.side)) return "side";
  if (typeof d.currency !== "string" || !CURRENCY.test(d.currency)) return "currency";
  if (!isNullableDate(d.bookingDate)) return "bookingDate";
  if (!isNullableDate(d.valueDate)) return "valueDate";
  if (typeof d.reversal !== "boolean") return "reversal";
  for (const name of ["bankReference", "endToEndId", "customerReference", "creditorReference"] as const) if (!isNullableString(d[name], fieldLengthMax)) return name;
  if (!isNullableString(d.remittanceInformation, textLengthMax)) return "remittanceInformation";
  if (!isNullableString(d.description, textLengthMax)) return "description";
  const nested = nullableStringsProblem("counterparty", d.counterparty, COUNTERPARTY_KEYS, fieldLengthMax) ?? nullableStringsProblem("bankCodes", d.bankCodes, BANK_CODE_KEYS, fieldLengthMax);
  if (nested !== undefined) return nested;
  if (d.chargesMinor !== null && !isDigits(d.chargesMinor)) return "chargesMinor";
  if (!isBatch(d.batch)) return "batch";
  const attributes = attributesProblem(d.attributes);
  if (attributes !== undefined) return attributes;
  if (!isString(d.raw, rawLengthMax)) return "raw";
  if (!isLocation(d.location)) return "location";
  return undefined;
}
