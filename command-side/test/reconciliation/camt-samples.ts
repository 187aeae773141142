// Helpers of the camt importer tests: run the importer over a text cut in
// chunks of a chosen size, read the repository's fixtures, and build small
// camt documents for the cases the fixtures do not have.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { StatementFormat, StatementItem } from "@trueup/contracts";
import { TrueupError } from "@trueup/contracts";
import { camtImporter } from "../../src/reconciliation/importers/camt/index.ts";
import { IMPORT_LIMITS_DEFAULT } from "../../src/reconciliation/importers/index.ts";
import type { ImportLimits } from "../../src/reconciliation/importers/index.ts";

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../../test-support/fixtures/statements/camt");

export function fixture(name: string): string {
  return readFileSync(path.join(FIXTURES, name), "utf8");
}

export function expectedOf(name: string): unknown {
  return JSON.parse(fixture(name)) as unknown;
}

async function* chunked(text: string, chunkSize: number): AsyncGenerator<string> {
  for (let offset = 0; offset < text.length; offset += chunkSize) yield text.slice(offset, offset + chunkSize);
}

/** Every item of `text` read in `chunkSize` pieces (the whole text as one chunk by default). */
export async function importCamt(text: string, options: { chunkSize?: number; format?: StatementFormat; limits?: Partial<ImportLimits> } = {}): Promise<StatementItem[]> {
  const format = options.format ?? camtImporter.detect(text.slice(0, 4096)) ?? "camt.053";
  const items: StatementItem[] = [];
  const limits = { ...IMPORT_LIMITS_DEFAULT, ...options.limits };
  for await (const item of camtImporter.parse(chunked(text, options.chunkSize ?? Math.max(text.length, 1)), { format, limits })) items.push(item);
  return items;
}

/** The TrueupError the import fails with (fails the test if it succeeds or throws anything else). */
export async function importError(text: string, options: Parameters<typeof importCamt>[1] = {}): Promise<TrueupError> {
  try {
    await importCamt(text, options);
  } catch (error) {
    if (error instanceof TrueupError) return error;
    throw error;
  }
  throw new Error("the import succeeded; a TrueupError was expected");
}

export function linesOf(items: readonly StatementItem[]) {
  return items.flatMap((item) => (item.kind === "line" ? [item.line] : []));
}

export function statementsOf(items: readonly StatementItem[]) {
  return items.flatMap((item) => (item.kind === "statement" ? [item.statement] : []));
}

export function locationOf(error: TrueupError): { line: number; element?: string } {
  return (error.detail as { location: { line: number; element?: string } }).location;
}

// ---- building documents ----

export interface DocumentSpec {
  readonly message?: "053" | "052" | "054";
  readonly version?: string;
  /** Namespace prefix (`ns2`), or none for a default namespace. */
  readonly prefix?: string;
  readonly sections: readonly string[];
}

const ROOTS = { "053": ["BkToCstmrStmt", "Stmt"], "052": ["BkToCstmrAcctRpt", "Rpt"], "054": ["BkToCstmrDbtCdtNtfctn", "Ntfctn"] } as const;

/** A whole document; every element of the section bodies gets the prefix. */
export function camtDocument(spec: DocumentSpec): string {
  const message = spec.message ?? "053";
  const version = spec.version ?? "08";
  const [root, section] = ROOTS[message];
  const ns = `urn:iso:std:iso:20022:tech:xsd:camt.${message}.001.${version}`;
  const body = [
    `<${root}>`,
    `<GrpHdr><MsgId>MSG-1</MsgId><CreDtTm>2026-03-31T18:00:00+02:00</CreDtTm></GrpHdr>`,
    ...spec.sections.map((content) => `<${section}>\n${content}\n</${section}>`),
    `</${root}>`,
  ].join("\n");
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns${spec.prefix === undefined ? "" : `:${spec.prefix}`}="${ns}">\n${body}\n</Document>\n`;
  return spec.prefix === undefined ? xml : withPrefix(xml, spec.prefix);
}

function withPrefix(xml: string, prefix: string): string {
  return xml.replace(/<(\/?)([A-Za-z][A-Za-z0-9]*)(?=[\s>/])/g, (_match, slash: string, name: string) => `<${slash}${prefix}:${name}`);
}

export interface SectionSpec {
  readonly id?: string;
  readonly sequence?: string;
  readonly iban?: string;
  readonly currency?: string;
  readonly period?: readonly [string, string];
  readonly balances?: readonly string[];
  readonly summary?: string;
  readonly entries: readonly string[];
}

export function section(spec: SectionSpec): string {
  return [
    `<Id>${spec.id ?? "STMT-1"}</Id>`,
    spec.sequence === undefined ? "" : `<ElctrncSeqNb>${spec.sequence}</ElctrncSeqNb>`,
    `<CreDtTm>2026-03-31T18:00:00+02:00</CreDtTm>`,
    spec.period === undefined ? "" : `<FrToDt><FrDtTm>${spec.period[0]}T00:00:00+02:00</FrDtTm><ToDtTm>${spec.period[1]}T23:59:59+02:00</ToDtTm></FrToDt>`,
    `<Acct><Id><IBAN>${spec.iban ?? "DE89370400440532013000"}</IBAN></Id>${spec.currency === undefined ? "<Ccy>EUR</Ccy>" : spec.currency === "" ? "" : `<Ccy>${spec.currency}</Ccy>`}<Svcr><FinInstnId><BICFI>COBADEFFXXX</BICFI></FinInstnId></Svcr></Acct>`,
    ...(spec.balances ?? []),
    spec.summary ?? "",
    ...spec.entries,
  ]
    .filter((part) => part !== "")
    .join("\n");
}

export function balance(code: string, amount: string, side: "CRDT" | "DBIT", date: string, currency = "EUR"): string {
  return `<Bal><Tp><CdOrPrtry><Cd>${code}</Cd></CdOrPrtry></Tp><Amt Ccy="${currency}">${amount}</Amt><CdtDbtInd>${side}</CdtDbtInd><Dt><Dt>${date}</Dt></Dt></Bal>`;
}

export interface EntrySpec {
  readonly amount: string;
  readonly currency?: string;
  readonly side: "CRDT" | "DBIT";
  readonly reversal?: boolean;
  readonly booking?: string;
  readonly value?: string;
  readonly reference?: string;
  readonly codes?: string;
  readonly charges?: string;
  readonly info?: string;
  readonly transactions?: readonly string[];
}

export function entry(spec: EntrySpec): string {
  const date = (name: string, value: string | undefined) => (value === undefined ? "" : `<${name}>${value.includes("T") ? `<DtTm>${value}</DtTm>` : `<Dt>${value}</Dt>`}</${name}>`);
  return [
    "<Ntry>",
    `<Amt Ccy="${spec.currency ?? "EUR"}">${spec.amount}</Amt>`,
    `<CdtDbtInd>${spec.side}</CdtDbtInd>`,
    spec.reversal === undefined ? "" : `<RvslInd>${spec.reversal}</RvslInd>`,
    "<Sts><Cd>BOOK</Cd></Sts>",
    date("BookgDt", spec.booking ?? "2026-03-31"),
    date("ValDt", spec.value),
    spec.reference === undefined ? "" : `<AcctSvcrRef>${spec.reference}</AcctSvcrRef>`,
    spec.codes ?? "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>",
    spec.charges ?? "",
    spec.transactions === undefined ? "" : `<NtryDtls>\n${spec.transactions.join("\n")}\n</NtryDtls>`,
    spec.info === undefined ? "" : `<AddtlNtryInf>${spec.info}</AddtlNtryInf>`,
    "</Ntry>",
  ]
    .filter((part) => part !== "")
    .join("\n");
}

export interface TransactionSpec {
  readonly amount?: string;
  readonly currency?: string;
  readonly side?: "CRDT" | "DBIT";
  readonly reference?: string;
  readonly endToEnd?: string;
  readonly instruction?: string;
  readonly debtor?: readonly [string, string];
  readonly creditor?: readonly [string, string];
  readonly remittance?: readonly string[];
  readonly creditorReference?: string;
  readonly extra?: string;
}

/** A v8-style TxDtls (Dbtr/Pty/Nm). */
export function transaction(spec: TransactionSpec): string {
  const refs = [
    spec.reference === undefined ? "" : `<AcctSvcrRef>${spec.reference}</AcctSvcrRef>`,
    spec.instruction === undefined ? "" : `<InstrId>${spec.instruction}</InstrId>`,
    `<EndToEndId>${spec.endToEnd ?? "NOTPROVIDED"}</EndToEndId>`,
  ].join("");
  const party = (role: string, value: readonly [string, string] | undefined) =>
    value === undefined ? "" : `<${role}><Pty><Nm>${value[0]}</Nm></Pty></${role}><${role}Acct><Id><IBAN>${value[1]}</IBAN></Id></${role}Acct>`;
  const remittance = [
    ...(spec.remittance ?? []).map((text) => `<Ustrd>${text}</Ustrd>`),
    spec.creditorReference === undefined ? "" : `<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>${spec.creditorReference}</Ref></CdtrRefInf></Strd>`,
  ].join("");
  return [
    "<TxDtls>",
    `<Refs>${refs}</Refs>`,
    spec.amount === undefined ? "" : `<Amt Ccy="${spec.currency ?? "EUR"}">${spec.amount}</Amt>`,
    spec.side === undefined ? "" : `<CdtDbtInd>${spec.side}</CdtDbtInd>`,
    spec.debtor === undefined && spec.creditor === undefined ? "" : `<RltdPties>${party("Dbtr", spec.debtor)}${party("Cdtr", spec.creditor)}</RltdPties>`,
    remittance === "" ? "" : `<RmtInf>${remittance}</RmtInf>`,
    spec.extra ?? "",
    "</TxDtls>",
  ]
    .filter((part) => part !== "")
    .join("\n");
}
