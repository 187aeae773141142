// A line's `:86:` information to the account owner, in the three shapes
// banks write it:
// - German (DK) style `166?00GUTSCHRIFT?10…?20…?32…`: a 3-digit business
//   transaction code (GVC) then `?NN` sub-fields; the purpose ?20–?29 and
//   ?60–?63 may carry SEPA keys (EREF+ KREF+ MREF+ CRED+ SVWZ+ ABWA+ …).
// - Slash style `/EREF/…/REMI/USTD//…/BENM//NAME/…/` (ING, ABN, Rabobank).
// - Anything else: free text, the whole of it is the description.
// Banks cut the :86: into 65-character lines anywhere, even inside a `?NN`
// code or a word, so structured text is joined WITHOUT a separator (the
// raw keeps the lines exactly); free text is joined with a space.
// Descriptions and remittance texts longer than their stored bound are
// truncated (they describe, they do not identify); references are refused.
import { STATEMENT_LINE_LIMITS } from "@trueup/contracts";
import type { ParsedCounterparty, SourceLocation } from "@trueup/contracts";
import { cleanText } from "../shared.ts";
import { ibanOf, isBic, referenceOf } from "./tags.ts";

export interface MtDetails {
  readonly description: string | null;
  readonly remittanceInformation: string | null;
  readonly endToEndId: string | null;
  readonly creditorReference: string | null;
  readonly counterparty: ParsedCounterparty;
  /** The GVC of German style, the /TRCD/ of slash style. */
  readonly proprietaryCode: string | null;
  readonly attributes: Readonly<Record<string, string>>;
}

const NO_DETAILS: MtDetails = {
  description: null,
  remittanceInformation: null,
  endToEndId: null,
  creditorReference: null,
  counterparty: { name: null, iban: null, accountNumber: null, bic: null },
  proprietaryCode: null,
  attributes: {},
};

/** Parses the lines of a `:86:` (its first line's text after the tag, then its continuation lines). */
export function parseDetails(lines: readonly string[], location: SourceLocation): MtDetails {
  const first = (lines[0] ?? "").trimStart();
  if (/^\d{3}\?\d{2}/.test(first)) return germanStyle([first, ...lines.slice(1)].join(""), location);
  if (SLASH_KEY_START.test(first)) return slashStyle(lines.join(""), location);
  const description = longText(lines.join(" "));
  return description === null ? NO_DETAILS : { ...NO_DETAILS, description };
}

function longText(value: string | null | undefined): string | null {
  return cleanText(value)?.slice(0, STATEMENT_LINE_LIMITS.textLengthMax) ?? null;
}

function shortText(value: string | null | undefined): string | null {
  return cleanText(value)?.slice(0, STATEMENT_LINE_LIMITS.fieldLengthMax) ?? null;
}

/** A counterparty account: an IBAN when it is one, else the account number as written. */
function accountOf(value: string | undefined, location: SourceLocation): { iban: string | null; accountNumber: string | null } {
  const reference = value === undefined ? null : referenceOf(value, location, "counterparty account");
  if (reference === null) return { iban: null, accountNumber: null };
  const iban = ibanOf(reference);
  return iban === null ? { iban: null, accountNumber: reference } : { iban, accountNumber: null };
}

// SEPA keys inside the German purpose text (DK "Verwendungszweck" keys).
const SEPA_KEYS = /(EREF|KREF|MREF|CRED|DEBT|COAM|OAMT|SVWZ|ABWA|ABWE|IBAN|BIC)\+/g;
const SEPA_ATTRIBUTES: Readonly<Record<string, string>> = {
  KREF: "customerReference",
  MREF: "mandateReference",
  CRED: "creditorId",
  DEBT: "debtorId",
  COAM: "compensationAmount",
  OAMT: "originalAmount",
  ABWA: "ultimateDebtor",
  ABWE: "ultimateCreditor",
};

/** The SEPA keys the attributes keep, in SEPA_ATTRIBUTES' order (an array: no Object.entries per line). */
const SEPA_ATTRIBUTE_LIST = Object.entries(SEPA_ATTRIBUTES);

function isDigitAt(text: string, at: number): boolean {
  const c = text.charCodeAt(at);
  return c >= 48 && c <= 57;
}

/** Where the next `?NN` sub-field code starts at or after `from`, or -1: the boundaries `split(/\?(\d{2})/)` finds, without the regex's arrays. */
function nextSubfield(text: string, from: number): number {
  for (let at = text.indexOf("?", from); at >= 0; at = text.indexOf("?", at + 1)) {
    if (isDigitAt(text, at + 1) && isDigitAt(text, at + 2)) return at;
  }
  return -1;
}

function isKnownSubfield(code: string): boolean {
  return code === "00" || code === "10" || (code >= "20" && code <= "34") || code === "38" || (code >= "60" && code <= "63");
}

/** A short attribute, when its cleaned value is not empty. */
function putShort(attributes: Record<string, string>, key: string, value: string | undefined): void {
  const kept = shortText(value);
  if (kept !== null) attributes[key] = kept;
}

function germanStyle(text: string, location: SourceLocation): MtDetails {
  const gvc = text.slice(0, 3);
  const fields = new Map<string, string>();
  let others = "";
  let at = nextSubfield(text, 3);
  const head = text.slice(3, at < 0 ? text.length : at);
  if (head.trim() !== "") others = head;
  while (at >= 0) {
    const code = text.slice(at + 1, at + 3);
    const next = nextSubfield(text, at + 3);
    const value = text.slice(at + 3, next < 0 ? text.length : next);
    if (isKnownSubfield(code)) fields.set(code, (fields.get(code) ?? "") + value);
    else others += `?${code}${value}`;
    at = next;
  }
  // The purpose sub-fields in the order they first appear.
  let purpose = "";
  for (const [code, value] of fields) if ((code >= "20" && code <= "29") || code >= "60") purpose += value;
  const sepa = sepaKeysOf(purpose);
  const attributes: Record<string, string> = {};
  putShort(attributes, "bookingText", fields.get("00"));
  putShort(attributes, "primaNota", fields.get("10"));
  putShort(attributes, "textKeyAddition", fields.get("34"));
  for (const [key, name] of SEPA_ATTRIBUTE_LIST) putShort(attributes, name, sepa.get(key));
  putShort(attributes, "otherSubfields", others);
  const bankCode = cleanText(fields.get("30"));
  if (bankCode !== null && !isBic(bankCode)) putShort(attributes, "counterpartyBankCode", bankCode);
  const account = accountOf(fields.get("31"), location);
  const iban = ibanOf(fields.get("38") ?? "") ?? ibanOf(sepa.get("IBAN") ?? "") ?? account.iban;
  const bic = bankCode !== null && isBic(bankCode) ? bankCode : shortText(sepa.get("BIC"));
  return {
    description: longText(fields.get("00")),
    remittanceInformation: longText(sepa.size === 0 ? purpose : (sepa.get("SVWZ") ?? sepa.get("") ?? null)),
    endToEndId: referenceOf(sepa.get("EREF") ?? "", location, "end-to-end id"),
    creditorReference: null,
    counterparty: {
      name: shortText((fields.get("32") ?? "") + (fields.get("33") ?? "")),
      iban,
      accountNumber: account.accountNumber,
      bic: bic !== null && isBic(bic) ? bic : null,
    },
    proprietaryCode: gvc,
    attributes,
  };
}

/** The purpose split at its SEPA keys; the text before the first key under "". Empty when it has none. */
function sepaKeysOf(purpose: string): Map<string, string> {
  const keys = new Map<string, string>();
  SEPA_KEYS.lastIndex = 0;
  let match = SEPA_KEYS.exec(purpose);
  if (match === null) return keys;
  const head = purpose.slice(0, match.index);
  if (head.trim() !== "") keys.set("", head);
  while (match !== null) {
    const key = match[1] ?? "";
    const start = match.index + match[0].length;
    const next = SEPA_KEYS.exec(purpose);
    if (!keys.has(key)) keys.set(key, purpose.slice(start, next === null ? purpose.length : next.index));
    match = next;
  }
  return keys;
}

// Slash-style keys (ING/ABN/Rabobank MT940 structured :86:). Only these split
// the text, so a `/` inside a value stays in it.
const SLASH_KEYS = ["EREF", "REMI", "BENM", "ORDP", "NAME", "IBAN", "BIC", "ADDR", "CNTP", "TRCD", "CSID", "MARF", "PREF", "RTRN", "ULTB", "ULTD", "PURP", "ACCW", "ISDT", "SVCL"] as const;
const SLASH_KEY_START = new RegExp(`^/(${SLASH_KEYS.join("|")})/`);
const SLASH_KEY = new RegExp(`/(${SLASH_KEYS.join("|")})/`, "g");
const SLASH_ATTRIBUTES: Readonly<Record<string, string>> = {
  CSID: "creditorId",
  MARF: "mandateReference",
  PREF: "paymentReference",
  RTRN: "returnReason",
  ULTB: "ultimateCreditor",
  ULTD: "ultimateDebtor",
  PURP: "purposeCode",
  ADDR: "counterpartyAddress",
  ISDT: "instructionDate",
  SVCL: "serviceLevel",
};

function slashStyle(text: string, location: SourceLocation): MtDetails {
  const values = new Map<string, string>();
  const matches = [...text.matchAll(SLASH_KEY)];
  matches.forEach((match, i) => {
    const key = match[1] ?? "";
    const end = matches[i + 1]?.index ?? text.length;
    const value = text.slice(match.index + match[0].length, end).replace(/\/+$/, "");
    if (!values.has(key)) values.set(key, value);
  });
  const attributes: Record<string, string> = {};
  for (const [key, name] of Object.entries(SLASH_ATTRIBUTES)) {
    const kept = shortText(values.get(key));
    if (kept !== null) attributes[name] = kept;
  }
  // /CNTP/iban-or-account/bic/name/city
  const cntp = (values.get("CNTP") ?? "").split("/");
  const account = accountOf(values.get("IBAN") ?? values.get("ACCW") ?? cntp[0], location);
  const bic = cleanText(values.get("BIC") ?? cntp[1]);
  const remi = values.get("REMI") ?? "";
  const structured = /^STRD\/(?:CUR|ISO|SCOR)\/(.*)$/.exec(remi);
  return {
    description: null,
    remittanceInformation: structured === null ? longText(remi.replace(/^USTD\/\//, "")) : null,
    endToEndId: referenceOf(values.get("EREF") ?? "", location, "end-to-end id"),
    creditorReference: structured === null ? null : referenceOf(structured[1] ?? "", location, "creditor reference"),
    counterparty: { name: shortText(values.get("NAME") ?? cntp[2]), ...account, bic: bic !== null && isBic(bic) ? bic : null },
    proprietaryCode: shortText(values.get("TRCD")),
    attributes,
  };
}
