// Streaming writers of large, realistic statement files for the ingest bench
// (and for any test that needs a big file): a camt.053.001.08, an MT940 of
// several statements and a CSV with its mapping profile. Each file is
// deterministic from its seed (the same seed gives the same bytes), every
// statement check passes on it (opening + Σ lines = closing, continuous
// balances and sequence numbers, lines inside their period, one currency,
// the account named as the returned `account`), and it is written through a
// small buffer with backpressure, never held in memory whole: 200,000 camt
// entries are about 250 MB of XML.
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import type { WriteStream } from "node:fs";
import type { CsvProfile } from "@trueup/contracts";
import { seededRandom } from "../../test-support/random.ts";

/** Characters buffered before a write to the file (the writer's memory bound, besides the stream's own highWaterMark). */
const WRITE_BUFFER_CHARS = 256 * 1024;
/** The most lines one generated file may have: a bound on a typo (`--lines 2e9`), far above the bench's 200,000. */
export const GENERATED_LINES_MAX = 5_000_000;
/** MT940 statements hold at most this many `:61:` lines by default (banks split long days into pages/statements). */
export const MT940_LINES_PER_STATEMENT_DEFAULT = 1_000;
/** The longest physical line SWIFT allows in a `:86:` field (6 × 65 chars); we wrap sub-fields well below it. */
const MT940_LINE_CHARS_MAX = 65;
/** Amounts of generated lines: 0.01 … 5,000.00 (minor units), so a 200,000-line file's sums stay well inside any bound. */
const AMOUNT_MINOR_MAX = 500_000;
const OPENING_MINOR = 1_000_000_00n;

/** The account every generated file names; register a bank account with these identifiers to import it. */
export const GENERATED_ACCOUNT = {
  iban: "DE89370400440532013000",
  accountNumber: "DE89370400440532013000",
  bankId: "COBADEFFXXX",
  currency: "EUR",
} as const;

export interface GeneratedFile {
  readonly path: string;
  readonly bytes: number;
  /** Statement lines written (camt Ntry, MT940 :61:, CSV data rows). */
  readonly lines: number;
  readonly statements: number;
  readonly currency: string;
  readonly credits: { readonly count: number; readonly amountMinor: bigint };
  readonly debits: { readonly count: number; readonly amountMinor: bigint };
  /** Signed (credit positive) opening balance of the first statement and closing balance of the last; null for CSV (no balances). */
  readonly openingMinor: bigint | null;
  readonly closingMinor: bigint | null;
  readonly periodStart: string;
  readonly periodEnd: string;
}

export interface GenerateOptions {
  readonly path: string;
  readonly lines: number;
  readonly seed: number;
}

interface Movement {
  readonly n: number;
  readonly amountMinor: bigint;
  readonly side: "credit" | "debit";
  readonly date: string;
  readonly valueDate: string;
  readonly counterpartyName: string;
  readonly counterpartyIban: string;
  readonly endToEndId: string;
  readonly bankReference: string;
  readonly remittance: string;
}

const NAMES = [
  "Acme Industrial GmbH",
  "Müller & Söhne KG",
  "Nordwind Logistik AG",
  "Café Olé SARL",
  "Blue River Trading Ltd",
  "Stadtwerke Neustadt",
  "Jansen, Peters & Co",
  "Kowalski Sp. z o.o.",
] as const;
const REMITTANCE = ["Invoice", "Rechnung", "Order", "Subscription", "Refund"] as const;

function assertLines(lines: number): void {
  if (!Number.isInteger(lines) || lines < 1 || lines > GENERATED_LINES_MAX) {
    throw new RangeError(`lines must be an integer in 1..${GENERATED_LINES_MAX}, got ${lines}`);
  }
}

/** ISO date `days` after 2026-01-01 (UTC; no clock involved). */
function dateAfter(days: number): string {
  return new Date(Date.UTC(2026, 0, 1 + days)).toISOString().slice(0, 10);
}

/** A German IBAN with correct check digits (mod 97), from a bank code and an account number. */
export function germanIban(bankCode: string, account: string): string {
  const bban = `${bankCode.padStart(8, "0")}${account.padStart(10, "0")}`;
  // D = 13, E = 14; check digits are 98 - (bban + "DE00") mod 97.
  let remainder = 0;
  for (const digit of `${bban}131400`) remainder = (remainder * 10 + Number(digit)) % 97;
  return `DE${String(98 - remainder).padStart(2, "0")}${bban}`;
}

/**
 * The movements of a file, in order: the same seed gives the same sequence,
 * so a writer can walk it twice (camt states its closing balance before its
 * entries). `day(n)` spreads them over the file's days.
 */
function* movements(options: { lines: number; seed: number; day: (n: number) => number }): Generator<Movement> {
  const random = seededRandom(options.seed);
  for (let n = 0; n < options.lines; n++) {
    const amountMinor = BigInt(1 + Math.floor(random() * AMOUNT_MINOR_MAX));
    // Slightly more money in than out, so the balance drifts up and stays a credit (as for most accounts).
    const side = random() < 0.55 ? "credit" : "debit";
    const nameIndex = Math.floor(random() * NAMES.length);
    const invoice = 100_000 + Math.floor(random() * 900_000);
    const remittance = `${REMITTANCE[invoice % REMITTANCE.length] ?? "Invoice"} ${invoice}`;
    const day = options.day(n);
    yield {
      n,
      amountMinor,
      side,
      date: dateAfter(day),
      // Value date the same day or the next, as banks set it for transfers.
      valueDate: dateAfter(day + (invoice % 5 === 0 ? 1 : 0)),
      counterpartyName: NAMES[nameIndex] ?? "Acme Industrial GmbH",
      counterpartyIban: germanIban(String(10_000_000 + nameIndex * 1_111), String(invoice)),
      endToEndId: `E2E-${options.seed}-${n + 1}`,
      bankReference: `BNK${String(options.seed % 1000).padStart(3, "0")}${String(n + 1).padStart(9, "0")}`,
      remittance,
    };
  }
}

/** Minor units of a 2-decimal currency as `1234.56` (or with `,` for MT940). */
function decimal(amountMinor: bigint, separator: "." | "," = "."): string {
  const digits = amountMinor.toString().padStart(3, "0");
  return `${digits.slice(0, -2)}${separator}${digits.slice(-2)}`;
}

function signed(m: Movement): bigint {
  return m.side === "credit" ? m.amountMinor : -m.amountMinor;
}

function abs(value: bigint): bigint {
  return value < 0n ? -value : value;
}

function xml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** Buffers small strings into large writes and waits for the stream to drain: bounded memory whatever the file size. */
class FileWriter {
  private parts: string[] = [];
  private buffered = 0;
  private readonly stream: WriteStream;
  bytes = 0;

  constructor(path: string) {
    this.stream = createWriteStream(path, { encoding: "utf8" });
  }

  async write(text: string): Promise<void> {
    this.parts.push(text);
    this.buffered += text.length;
    if (this.buffered >= WRITE_BUFFER_CHARS) await this.flush();
  }

  private async flush(): Promise<void> {
    const chunk = this.parts.join("");
    this.parts = [];
    this.buffered = 0;
    this.bytes += Buffer.byteLength(chunk, "utf8");
    if (!this.stream.write(chunk)) await once(this.stream, "drain");
  }

  async close(): Promise<void> {
    await this.flush();
    this.stream.end();
    await once(this.stream, "close");
  }

  /** On failure: close the file descriptor without waiting for anything else. */
  destroy(): void {
    this.stream.destroy();
  }
}

async function withWriter(path: string, write: (out: FileWriter) => Promise<void>): Promise<number> {
  const out = new FileWriter(path);
  try {
    await write(out);
    await out.close();
  } catch (error) {
    out.destroy();
    throw error;
  }
  return out.bytes;
}

interface Totals {
  creditCount: number;
  creditMinor: bigint;
  debitCount: number;
  debitMinor: bigint;
}

function emptyTotals(): Totals {
  return { creditCount: 0, creditMinor: 0n, debitCount: 0, debitMinor: 0n };
}

function add(totals: Totals, m: Movement): void {
  if (m.side === "credit") {
    totals.creditCount += 1;
    totals.creditMinor += m.amountMinor;
  } else {
    totals.debitCount += 1;
    totals.debitMinor += m.amountMinor;
  }
}

function result(options: GenerateOptions, bytes: number, statements: number, totals: Totals, balances: { opening: bigint | null; closing: bigint | null }, period: { start: string; end: string }): GeneratedFile {
  return {
    path: options.path,
    bytes,
    lines: options.lines,
    statements,
    currency: GENERATED_ACCOUNT.currency,
    credits: { count: totals.creditCount, amountMinor: totals.creditMinor },
    debits: { count: totals.debitCount, amountMinor: totals.debitMinor },
    openingMinor: balances.opening,
    closingMinor: balances.closing,
    periodStart: period.start,
    periodEnd: period.end,
  };
}

// ---------------------------------------------------------------- camt.053

/** Days a camt file's entries spread over (one statement covering a month). */
const CAMT_DAYS = 28;

function camtBalance(code: "OPBD" | "CLBD", signedMinor: bigint, date: string): string {
  return (
    `      <Bal><Tp><CdOrPrtry><Cd>${code}</Cd></CdOrPrtry></Tp>` +
    `<Amt Ccy="${GENERATED_ACCOUNT.currency}">${decimal(abs(signedMinor))}</Amt>` +
    `<CdtDbtInd>${signedMinor < 0n ? "DBIT" : "CRDT"}</CdtDbtInd><Dt><Dt>${date}</Dt></Dt></Bal>\n`
  );
}

function camtEntry(m: Movement): string {
  const ccy = GENERATED_ACCOUNT.currency;
  const indicator = m.side === "credit" ? "CRDT" : "DBIT";
  // The other party is the debtor of money coming in and the creditor of money going out.
  const party = m.side === "credit" ? "Dbtr" : "Cdtr";
  return (
    "      <Ntry>\n" +
    `        <Amt Ccy="${ccy}">${decimal(m.amountMinor)}</Amt>\n` +
    `        <CdtDbtInd>${indicator}</CdtDbtInd>\n` +
    "        <Sts><Cd>BOOK</Cd></Sts>\n" +
    `        <BookgDt><Dt>${m.date}</Dt></BookgDt>\n` +
    `        <ValDt><Dt>${m.valueDate}</Dt></ValDt>\n` +
    `        <AcctSvcrRef>${m.bankReference}</AcctSvcrRef>\n` +
    `        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>${m.side === "credit" ? "RCDT" : "ICDT"}</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>\n` +
    "        <NtryDtls><TxDtls>\n" +
    `          <Refs><EndToEndId>${m.endToEndId}</EndToEndId></Refs>\n` +
    `          <Amt Ccy="${ccy}">${decimal(m.amountMinor)}</Amt><CdtDbtInd>${indicator}</CdtDbtInd>\n` +
    `          <RltdPties><${party}><Pty><Nm>${xml(m.counterpartyName)}</Nm></Pty></${party}><${party}Acct><Id><IBAN>${m.counterpartyIban}</IBAN></Id></${party}Acct></RltdPties>\n` +
    `          <RmtInf><Ustrd>${xml(m.remittance)}</Ustrd></RmtInf>\n` +
    "        </TxDtls></NtryDtls>\n" +
    "      </Ntry>\n"
  );
}

/**
 * A camt.053.001.08 with one statement of `lines` entries over 28 days, each
 * with one TxDtls (end-to-end id, counterparty name and IBAN, unstructured
 * remittance), its AcctSvcrRef as the bank reference, a transaction code,
 * TxsSummry totals, and OPBD/CLBD balances that add up.
 */
export async function writeCamt053(options: GenerateOptions): Promise<GeneratedFile> {
  assertLines(options.lines);
  const day = (n: number): number => Math.floor((n * CAMT_DAYS) / options.lines);
  // First walk: the totals, which camt states before its entries.
  const totals = emptyTotals();
  for (const m of movements({ ...options, day })) add(totals, m);
  const closing = OPENING_MINOR + totals.creditMinor - totals.debitMinor;
  const start = dateAfter(0);
  const end = dateAfter(CAMT_DAYS);
  const net = totals.creditMinor - totals.debitMinor;
  const bytes = await withWriter(options.path, async (out) => {
    await out.write(
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n' +
        "  <BkToCstmrStmt>\n" +
        `    <GrpHdr><MsgId>BENCH-${options.seed}</MsgId><CreDtTm>${end}T23:00:00+00:00</CreDtTm></GrpHdr>\n` +
        "    <Stmt>\n" +
        `      <Id>STMT-${options.seed}-1</Id>\n` +
        "      <ElctrncSeqNb>1</ElctrncSeqNb>\n" +
        `      <CreDtTm>${end}T23:00:00+00:00</CreDtTm>\n` +
        `      <FrToDt><FrDtTm>${start}T00:00:00+00:00</FrDtTm><ToDtTm>${end}T23:59:59+00:00</ToDtTm></FrToDt>\n` +
        `      <Acct><Id><IBAN>${GENERATED_ACCOUNT.iban}</IBAN></Id><Ccy>${GENERATED_ACCOUNT.currency}</Ccy>` +
        `<Svcr><FinInstnId><BICFI>${GENERATED_ACCOUNT.bankId}</BICFI></FinInstnId></Svcr></Acct>\n`,
    );
    await out.write(camtBalance("OPBD", OPENING_MINOR, start));
    await out.write(camtBalance("CLBD", closing, end));
    await out.write(
      "      <TxsSummry>" +
        `<TtlNtries><NbOfNtries>${options.lines}</NbOfNtries><Sum>${decimal(totals.creditMinor + totals.debitMinor)}</Sum>` +
        `<TtlNetNtry><Amt>${decimal(abs(net))}</Amt><CdtDbtInd>${net < 0n ? "DBIT" : "CRDT"}</CdtDbtInd></TtlNetNtry></TtlNtries>` +
        `<TtlCdtNtries><NbOfNtries>${totals.creditCount}</NbOfNtries><Sum>${decimal(totals.creditMinor)}</Sum></TtlCdtNtries>` +
        `<TtlDbtNtries><NbOfNtries>${totals.debitCount}</NbOfNtries><Sum>${decimal(totals.debitMinor)}</Sum></TtlDbtNtries>` +
        "</TxsSummry>\n",
    );
    // Second walk: the same movements (same seed), written.
    for (const m of movements({ ...options, day })) await out.write(camtEntry(m));
    await out.write("    </Stmt>\n  </BkToCstmrStmt>\n</Document>\n");
  });
  return result(options, bytes, 1, totals, { opening: OPENING_MINOR, closing }, { start, end });
}

// ---------------------------------------------------------------- MT940

/** `:60F:`/`:62F:` balance: C/D mark, YYMMDD, currency, comma decimal. */
function mt940Balance(tag: "60F" | "62F", signedMinor: bigint, date: string): string {
  return `:${tag}:${signedMinor < 0n ? "D" : "C"}${date.slice(2).replaceAll("-", "")}${GENERATED_ACCOUNT.currency}${decimal(abs(signedMinor), ",")}\n`;
}

/** German-style `:86:` sub-fields, one per physical line (a line never exceeds 65 characters). */
function mt940Details(m: Movement): string {
  const fields = [
    `${m.side === "credit" ? "166" : "177"}?00${m.side === "credit" ? "SEPA-GUTSCHRIFT" : "SEPA-UEBERWEISUNG"}`,
    `?20EREF+${m.endToEndId}`,
    `?21SVWZ+${m.remittance}`,
    `?30COBADEFFXXX`,
    `?31${m.counterpartyIban}`,
    `?32${m.counterpartyName.slice(0, 27)}`,
  ];
  for (const field of fields) if (field.length + 4 > MT940_LINE_CHARS_MAX) throw new RangeError(`MT940 :86: sub-field too long: ${field}`);
  return `:86:${fields.join("\n")}\n`;
}

function mt940Line(m: Movement): string {
  // :61: value date YYMMDD, entry date MMDD, C/D, amount, NTRF + customer reference // bank reference.
  const value = m.valueDate.slice(2).replaceAll("-", "");
  const entry = m.date.slice(5).replaceAll("-", "");
  return `:61:${value}${entry}${m.side === "credit" ? "C" : "D"}${decimal(m.amountMinor, ",")}NTRFINV${m.n + 1}//${m.bankReference}\n${mt940Details(m)}`;
}

/**
 * An MT940 file of `lines` `:61:`/`:86:` pairs split into statements of at
 * most `linesPerStatement` (default 1,000), one day each: `:20:`, `:25:`
 * (the IBAN), `:28C:` numbered 1, 2, … (no gaps), `:60F:` equal to the
 * previous statement's `:62F:`, and a `-` trailer.
 */
export async function writeMt940(options: GenerateOptions & { readonly linesPerStatement?: number }): Promise<GeneratedFile> {
  assertLines(options.lines);
  const perStatement = options.linesPerStatement ?? MT940_LINES_PER_STATEMENT_DEFAULT;
  if (!Number.isInteger(perStatement) || perStatement < 1) throw new RangeError(`linesPerStatement must be a positive integer, got ${perStatement}`);
  const statements = Math.ceil(options.lines / perStatement);
  const totals = emptyTotals();
  let balance = OPENING_MINOR;
  const bytes = await withWriter(options.path, async (out) => {
    let statement = -1;
    let date = "";
    // The value date may be the next day; the booking (entry) date is the statement's day, so lines stay in its period.
    for (const m of movements({ ...options, day: (n) => Math.floor(n / perStatement) })) {
      if (Math.floor(m.n / perStatement) !== statement) {
        if (statement >= 0) await out.write(`${mt940Balance("62F", balance, date)}-\n`);
        statement += 1;
        date = m.date;
        await out.write(
          `:20:BENCH${options.seed}S${statement + 1}\n:25:${GENERATED_ACCOUNT.iban}\n:28C:${String(statement + 1).padStart(5, "0")}/1\n${mt940Balance("60F", balance, date)}`,
        );
      }
      add(totals, m);
      balance += signed(m);
      await out.write(mt940Line(m));
    }
    await out.write(`${mt940Balance("62F", balance, date)}-\n`);
  });
  return result(options, bytes, statements, totals, { opening: OPENING_MINOR, closing: balance }, { start: dateAfter(0), end: dateAfter(statements - 1) });
}

// ---------------------------------------------------------------- CSV

/** How the benches write CSV: plain RFC 4180, ISO dates, a point for decimals, a header row, positive amounts in. */
export const BENCH_CSV_FORMAT = {
  delimiter: ",",
  quote: '"',
  decimalSeparator: ".",
  thousandsSeparator: "",
  dateFormat: "YYYY-MM-DD",
  encoding: "utf-8",
  headerRow: true,
  skipRows: 0,
  positiveMeans: "credit",
} as const satisfies Omit<CsvProfile, "name" | "columns">;

/** The mapping of the generated CSV: save it as a profile (POST /ledgers/{id}/csv-profiles) to import the file. */
export const GENERATED_CSV_PROFILE = {
  name: "Generated bench CSV",
  ...BENCH_CSV_FORMAT,
  columns: {
    bookingDate: "booking_date",
    valueDate: "value_date",
    amount: "amount",
    currency: "currency",
    description: "description",
    bankReference: "transaction_id",
    endToEndId: "end_to_end_id",
    counterpartyName: "counterparty",
    counterpartyIban: "counterparty_iban",
  },
} as const satisfies CsvProfile;

const CSV_HEADER = "transaction_id,booking_date,value_date,amount,currency,counterparty,counterparty_iban,end_to_end_id,description";
/** Days a CSV export spans. */
const CSV_DAYS = 28;

/** RFC 4180 quoting: only where needed, doubling inner quotes. */
function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function csvRow(m: Movement): string {
  const amount = `${m.side === "debit" ? "-" : ""}${decimal(m.amountMinor)}`;
  // Every seventh description carries quotes and a comma, as exports of free text do.
  const description = m.n % 7 === 0 ? `"${m.remittance}", paid by ${m.counterpartyName}` : m.remittance;
  return `${[m.bankReference, m.date, m.valueDate, amount, GENERATED_ACCOUNT.currency, m.counterpartyName, m.counterpartyIban, m.endToEndId, description].map(csvField).join(",")}\r\n`;
}

/** A CSV export (CRLF rows, a header row, signed amounts) of `lines` rows; read it with GENERATED_CSV_PROFILE. */
export async function writeCsv(options: GenerateOptions): Promise<GeneratedFile> {
  assertLines(options.lines);
  const totals = emptyTotals();
  const day = (n: number): number => Math.floor((n * CSV_DAYS) / options.lines);
  const bytes = await withWriter(options.path, async (out) => {
    await out.write(`${CSV_HEADER}\r\n`);
    for (const m of movements({ ...options, day })) {
      add(totals, m);
      await out.write(csvRow(m));
    }
  });
  return result(options, bytes, 1, totals, { opening: null, closing: null }, { start: dateAfter(0), end: dateAfter(day(options.lines - 1)) });
}

export const GENERATORS = { camt: writeCamt053, mt940: writeMt940, csv: writeCsv } as const;
export type GeneratedFormat = keyof typeof GENERATORS;
