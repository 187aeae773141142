// Generated books of one bank account for the matching bench
// (bench/match.ts): statement lines (external items) and the ledger lines of
// the bank account (internal items), with the matches they were built to
// have. Deterministic from its seed (mulberry32, never Math.random), and lean
// enough for a million counterparts: plain objects, dates and names shared
// from tables, no per-item closures, one pass per item plus one shuffle per
// side (no search, nothing quadratic).
//
// The designed matches, by count of `pairs` units (each unit is one designed
// match, or one noise pair):
//   70 % reference  1:1, the line's endToEndId (60 %) or customerReference
//                   (40 %) is the ledger line's reference; exact amount;
//                   dates 0-2 days apart.
//   20 % drift      1:1, no shared reference (the line carries NOTPROVIDED /
//                   NONREF or nothing; the ledger line its own SO- number or
//                   nothing); dates 1-3 days apart; the amount exact, or (half
//                   of those of at least 50.00) less a bank charge of at most
//                   4.50 on the bank's side; the same company named on both
//                   sides in different spellings (case, punctuation, legal
//                   suffix), on the ledger line as counterpartyName for half
//                   of them and inside its description for the rest.
//    5 % group      half 1:N (one line = 2-4 ledger lines), half N:1 (2-4
//                   lines = one ledger line); the many side dated 0-2 days
//                   from the one; same sign, same company; each part at
//                   least 20.00, four times the tolerance, so no part alone
//                   is within tolerance of the whole.
//    3 % payout     1:N, a line "STRIPE PAYOUT po_…" whose bankReference is
//                   the payout id, against 3-8 charges (+), one fee (-) and,
//                   for 30 %, one refund (-), each with the payout id as
//                   reference, dated 0-5 days before; the line is Σ charges -
//                   fee - refund exactly. Up to 10 ledger lines: more than
//                   the group rule's groupSizeMax, so only the reference
//                   finds it whole.
//    2 % noise      one line and one ledger line with no counterpart (bank
//                   fees and interest, unknown payments, open ledger items);
//                   not in `designed`.
// Amounts: 60 % money in, 40 % out (signed, as MatchInput wants them);
// log-uniform 1.00-50,000.00, or for 5 % one of a few common amounts (49.99,
// 100.00, …) so that amounts collide as they do in real books. Drift items
// with a common amount get companies of their own, never shared with another
// such item (up to COMMON_COMPANIES of them), so the name still tells them
// apart. Names: three syllables, one of 12 sector words and one of 8 legal
// forms, so that different companies often share words ("… Logistik GmbH"),
// as real ones do; the bank writes them in upper case. Dates: the ledger side
// spread over DAY_SPAN days from 2026-01-01.
//
// Ids carry no information: both sides are shuffled first, then numbered by
// position (`ext-000001`, `int-000001:0`).
import assert from "node:assert/strict";
import { matchingRulesSchema } from "@trueup/contracts";
import type { MatchingRules } from "@trueup/contracts";
import type { ExternalItem, InternalItem } from "../../command-side/src/reconciliation/matching/types.ts";
import { seededRandom } from "../../test-support/random.ts";
import { germanIban } from "./statement-generators.ts";

/** A bound on a typo (`--pairs 1e9`): twice the bench's million, about 2.6 GB of heap. */
export const GENERATED_PAIRS_MAX = 2_000_000;

export type DesignedCategory = "reference" | "drift" | "group" | "payout";

export interface DesignedMatch {
  readonly kind: "1:1" | "1:N" | "N:1";
  /** Sorted. */
  readonly externalIds: string[];
  /** Sorted. */
  readonly internalIds: string[];
  readonly category: DesignedCategory;
}

export interface Books {
  readonly external: ExternalItem[];
  readonly internal: InternalItem[];
  readonly designed: DesignedMatch[];
  readonly rules: MatchingRules;
}

/** Shares of `pairs` in percent; the reference share takes what rounding leaves. */
const SHARE_PERCENT = { drift: 20, group: 5, payout: 3, noise: 2 } as const;
const INFLOW_SHARE = 0.6;
const COMMON_AMOUNT_SHARE = 0.05;
const COMMON_AMOUNTS_MINOR = [999, 1_999, 2_500, 4_999, 5_000, 9_900, 10_000, 14_900, 25_000, 50_000] as const;
const AMOUNT_MIN_MINOR = 100;
const AMOUNT_MAX_MINOR = 5_000_000;
/** Parts of a group: at least four times the tolerance, so no one part is within tolerance of the group's sum. */
const GROUP_PART_MIN_MINOR = 2_000;
const GROUP_PART_MAX_MINOR = 2_000_000;
const GROUP_PARTS_MIN = 2;
const GROUP_PARTS_MAX = 4;
/** Dates of a group's many side: 0..this many days from its one side (the group rule's window is 3). */
const GROUP_DAYS_MAX = 2;
/** Bank charges deducted from a drifting line (all inside the rules' 5.00 tolerance; none at its edge). */
const BANK_CHARGES_MINOR = [35, 150, 250, 390, 450] as const;
/** A charge only on lines of at least this much (a 4.50 charge on a 3.00 payment is not a real case). */
const CHARGE_FROM_MINOR = 5_000;
const DRIFT_DAYS_MIN = 1;
const DRIFT_DAYS_MAX = 3;
const REFERENCE_DAYS_MAX = 2;
const PAYOUT_CHARGES_MIN = 3;
const PAYOUT_CHARGES_MAX = 8;
const PAYOUT_CHARGE_MIN_MINOR = 1_000;
const PAYOUT_CHARGE_MAX_MINOR = 50_000;
const PAYOUT_REFUND_SHARE = 0.3;
/** Card fees: 1.5 % + 0.25 per charge (Stripe's European card pricing). */
const PAYOUT_FEE_BASIS_POINTS = 150n;
const PAYOUT_FEE_FIXED_MINOR = 25n;
/** Charges, fee and refund are dated 0..this many days before the payout (the reference rule's window is 7). */
const PAYOUT_DAYS_MAX = 5;
const DAY_SPAN = 90;
/** Dates may fall this many days before 2026-01-01 or after the span's end (the date table's margin). */
const DATE_MARGIN_DAYS = 16;

// Companies: three syllables (50^3 names), a sector and a legal form. The
// first GENERAL_COMPANIES are drawn at random; the rest are handed out one
// by one to drift items with a common amount.
const SYLLABLES = [
  "bar", "bel", "bor", "dan", "dor", "fal", "fen", "gar", "gil", "han", "hol", "jar", "kel", "kor", "lan", "lin", "lor",
  "mar", "mel", "mor", "nal", "nor", "par", "pel", "quin", "ral", "ren", "rod", "sal", "sel", "sor", "tal", "ten", "tor",
  "val", "ven", "vor", "wal", "wen", "zan", "ber", "dal", "fir", "kan", "lum", "mak", "nev", "ost", "pim", "rus",
] as const;
const SECTORS = ["Logistik", "Trading", "Maschinenbau", "Consulting", "Software", "Handel", "Bau", "Medien", "Foods", "Textil", "Energie", "Immobilien"] as const;
const LEGAL_FORMS = [
  { canonical: "GmbH", dotted: "GmbH.", alternative: "G.m.b.H." },
  { canonical: "AG", dotted: "A.G.", alternative: "Ag" },
  { canonical: "Ltd", dotted: "Ltd.", alternative: "Limited" },
  { canonical: "KG", dotted: "K.G.", alternative: "Kg" },
  { canonical: "SARL", dotted: "S.A.R.L.", alternative: "Sarl" },
  { canonical: "BV", dotted: "B.V.", alternative: "Bv" },
  { canonical: "SE", dotted: "S.E.", alternative: "Se" },
  { canonical: "e.K.", dotted: "e. K.", alternative: "eK" },
] as const;
const COMPANIES = SYLLABLES.length ** 3;
const GENERAL_COMPANIES = 100_000;
const COMMON_COMPANIES = COMPANIES - GENERAL_COMPANIES;
/** Coprime with COMMON_COMPANIES (2^3 · 5^5): k → k · STRIDE mod COMMON_COMPANIES is a bijection, so consecutive hand-outs look unrelated. */
const COMMON_COMPANY_STRIDE = 7_919;
/** Spellings on the bank's side (upper case, as banks send names) and on the ledger's; never the same string. */
const EXTERNAL_SPELLINGS = 4;
const INTERNAL_SPELLINGS = 5;
const SPELLINGS = EXTERNAL_SPELLINGS + INTERNAL_SPELLINGS;

const CURRENCY = "EUR";
const STRIPE_NAME = "STRIPE PAYMENTS EUROPE LTD";
const STRIPE_IBAN = germanIban("10010010", "4242424242");
const CONTRA = {
  receivable: ["1400"],
  payable: ["1600"],
  revenue: ["8400"],
  expense: ["4900"],
  pspFees: ["4970"],
} as const;
const BOOKING_TEXT = { credit: "SEPA-Gutschrift", debit: "SEPA-Überweisung", directDebit: "SEPA-Lastschrift", fee: "Entgelt Kontoführung", interest: "Habenzinsen" } as const;
const DRIFT_REMITTANCE = ["Zahlung", "Rechnungsausgleich", "Payment for services", "Monatliche Rate", "Bestellung online", "Danke"] as const;
const LEDGER_TEXT = { customer: "Customer payment", supplier: "Supplier payment", open: "Open item" } as const;

const RULES: MatchingRules = matchingRulesSchema.parse({
  rules: [
    { kind: "reference", id: "reference", fields: ["endToEndId", "bankReference", "customerReference", "creditorReference"], dateWindowDays: 7 },
    { kind: "amountDate", id: "amount-date", dateWindowDays: 4, nameSimilarityMin: 500, allowTolerance: true },
    { kind: "group", id: "group", shapes: ["1:N", "N:1"], dateWindowDays: 3, groupSizeMax: 5 },
  ],
  tolerance: { absoluteMinor: "500", basisPoints: 0 },
  writeOffAccount: "6800",
  autoConfirmScoreMin: 90,
});
const TOLERANCE_MINOR = BigInt(RULES.tolerance.absoluteMinor);

type Draft<T> = { -readonly [K in keyof T]: T[K] };
type ExternalDraft = Draft<ExternalItem>;
type InternalDraft = Draft<InternalItem>;

const KINDS = ["1:1", "1:N", "N:1"] as const;
const CATEGORIES = ["reference", "drift", "group", "payout"] as const;

/**
 * The designed matches while the books are written, in columns of numbers
 * (no object per match until the end): a match's items are the generation
 * indices in `external` and `internal` up to its entry in the `…End` lists.
 */
interface Pending {
  readonly kinds: number[];
  readonly categories: number[];
  readonly external: number[];
  readonly externalEnd: number[];
  readonly internal: number[];
  readonly internalEnd: number[];
}

interface Generation {
  readonly random: () => number;
  readonly external: ExternalDraft[];
  readonly internal: InternalDraft[];
  readonly pending: Pending;
  readonly names: (string | undefined)[];
  readonly ibans: (string | undefined)[];
  /** Counters of the numbered namespaces (references, bank references, sales orders, payouts, common-amount companies). */
  readonly serials: Record<SerialKind, number>;
  commonCompanies: number;
}

const DATES: readonly string[] = Array.from({ length: DAY_SPAN + 2 * DATE_MARGIN_DAYS }, (_, i) =>
  new Date(Date.UTC(2026, 0, 1 + i - DATE_MARGIN_DAYS)).toISOString().slice(0, 10),
);

function dateOf(day: number): string {
  const date = DATES[day + DATE_MARGIN_DAYS];
  // Messages built only on failure: this runs twice per item.
  if (date === undefined) assert.fail(`day ${day} is outside the date table`);
  return date;
}

function below(random: () => number, n: number): number {
  return Math.floor(random() * n);
}

function pick<T>(random: () => number, values: readonly T[]): T {
  const value = values[below(random, values.length)];
  assert(value !== undefined);
  return value;
}

/**
 * Minor units, log-uniform in [min, max]: a random draw turned into an
 * integer at once (the float never becomes money; the amount is a bigint
 * from here on).
 */
function logUniform(random: () => number, minMinor: number, maxMinor: number): number {
  return Math.round(Math.exp(Math.log(minMinor) + random() * (Math.log(maxMinor) - Math.log(minMinor))));
}

/** A magnitude: one of the common amounts (at least `minMinor`) for COMMON_AMOUNT_SHARE of draws, else log-uniform. */
function magnitude(random: () => number, range: { minMinor: number; maxMinor: number }): { minor: number; common: boolean } {
  if (random() < COMMON_AMOUNT_SHARE) {
    const minor = pick(random, COMMON_AMOUNTS_MINOR);
    if (minor >= range.minMinor) return { minor, common: true };
  }
  return { minor: logUniform(random, range.minMinor, range.maxMinor), common: false };
}

function signOf(random: () => number): 1n | -1n {
  return random() < INFLOW_SHARE ? 1n : -1n;
}

// Numbered references: each namespace has its own counter, scrambled by a
// multiplier coprime with its modulus (a bijection, so still unique), so that
// neither a number's neighbour nor another namespace's number at the same
// count hints at the item's counterpart.
const SERIALS = {
  invoice: { prefix: "INV-2026-", digits: 8, multiplier: 48_271 },
  payment: { prefix: "PAY-2026-", digits: 8, multiplier: 69_621 },
  salesOrder: { prefix: "SO-2026-", digits: 8, multiplier: 40_693 },
  bank: { prefix: "BK26", digits: 10, multiplier: 7_654_321 },
} as const;
type SerialKind = keyof typeof SERIALS | "payout";

/**
 * One flat string of the parts. A `+` or template past 12 characters makes a
 * rope (V8's ConsString: an extra object per string, and per step of a loop),
 * which a million items pay for in heap and in GC time; join writes one.
 */
function flat(parts: readonly string[]): string {
  return parts.join("");
}

function serial(g: Generation, kind: keyof typeof SERIALS): string {
  const { prefix, digits, multiplier } = SERIALS[kind];
  const modulus = 10 ** digits;
  const n = g.serials[kind];
  if (n >= modulus) assert.fail(`more than ${modulus} ${kind} numbers`);
  g.serials[kind] = n + 1;
  return flat([prefix, String((n * multiplier + 1) % modulus).padStart(digits, "0")]);
}

function capitalised(word: string): string {
  return `${word.charAt(0).toUpperCase()}${word.slice(1)}`;
}

/** Spellings 0..3 are the bank's, 4..8 the ledger's. */
function spell(company: number, spelling: number): string {
  const s1 = company % SYLLABLES.length;
  const s2 = Math.floor(company / SYLLABLES.length) % SYLLABLES.length;
  const s3 = Math.floor(company / SYLLABLES.length ** 2) % SYLLABLES.length;
  const core = capitalised(`${SYLLABLES[s1] ?? ""}${SYLLABLES[s2] ?? ""}${SYLLABLES[s3] ?? ""}`);
  const sector = SECTORS[(s1 + 3 * s2 + 7 * s3) % SECTORS.length] ?? "Handel";
  const legal = LEGAL_FORMS[(5 * s1 + s2 + 3 * s3) % LEGAL_FORMS.length] ?? LEGAL_FORMS[0];
  const name = `${core} ${sector}`;
  switch (spelling) {
    case 0: return `${name} ${legal.canonical}`.toUpperCase();
    case 1: return `${name} ${legal.dotted}`.toUpperCase();
    case 2: return name.toUpperCase();
    case 3: return `${name} ${legal.alternative}`;
    case 4: return `${name} ${legal.canonical}`;
    case 5: return `${name} ${legal.dotted}`;
    case 6: return `${name}, ${legal.canonical}`;
    case 7: return name;
    default: return `${name} ${legal.alternative}`.toLowerCase();
  }
}

function companyName(g: Generation, company: number, side: "external" | "internal"): string {
  const spelling = side === "external" ? below(g.random, EXTERNAL_SPELLINGS) : EXTERNAL_SPELLINGS + below(g.random, INTERNAL_SPELLINGS);
  const slot = company * SPELLINGS + spelling;
  const cached = g.names[slot];
  if (cached !== undefined) return cached;
  const name = spell(company, spelling);
  g.names[slot] = name;
  return name;
}

function companyIban(g: Generation, company: number): string {
  const cached = g.ibans[company];
  if (cached !== undefined) return cached;
  const iban = germanIban(String(50_010_000 + (company % 9_973)), String(7_000_000_000 + company));
  g.ibans[company] = iban;
  return iban;
}

function generalCompany(g: Generation): number {
  return below(g.random, GENERAL_COMPANIES);
}

/** A company no other common-amount drift item has (until COMMON_COMPANIES are handed out; then they repeat). */
function commonCompany(g: Generation): number {
  const k = g.commonCompanies % COMMON_COMPANIES;
  g.commonCompanies += 1;
  return GENERAL_COMPANIES + ((k * COMMON_COMPANY_STRIDE) % COMMON_COMPANIES);
}

interface ExternalFields {
  readonly amountMinor: bigint;
  readonly valueDay: number;
  /** Booking date this many days after the value date (0 or 1). */
  readonly bookingLagDays?: number;
  readonly endToEndId: string | null;
  readonly bankReference: string | null;
  readonly customerReference: string | null;
  readonly remittanceInformation: string | null;
  readonly description: string | null;
  readonly counterpartyName: string | null;
  readonly counterpartyIban: string | null;
}

/** Adds a line; returns its generation index. */
function addExternal(g: Generation, f: ExternalFields): number {
  // Every external object is built with the same keys in the same order: one hidden class.
  const item: ExternalDraft = {
    id: "",
    amountMinor: f.amountMinor,
    currency: CURRENCY,
    bookingDate: dateOf(f.valueDay + (f.bookingLagDays ?? 0)),
    valueDate: dateOf(f.valueDay),
    endToEndId: f.endToEndId,
    bankReference: f.bankReference,
    customerReference: f.customerReference,
    creditorReference: null,
    remittanceInformation: f.remittanceInformation,
    description: f.description,
    counterpartyName: f.counterpartyName,
    counterpartyIban: f.counterpartyIban,
  };
  return g.external.push(item) - 1;
}

interface InternalFields {
  readonly amountMinor: bigint;
  readonly day: number;
  readonly reference: string | null;
  readonly description: string | null;
  readonly counterpartyName: string | null;
  readonly counterpartyIban: string | null;
  readonly contraAccounts: readonly string[];
}

/** Adds a ledger line; returns its generation index. */
function addInternal(g: Generation, f: InternalFields): number {
  const item: InternalDraft = {
    id: "",
    amountMinor: f.amountMinor,
    currency: CURRENCY,
    date: dateOf(f.day),
    reference: f.reference,
    description: f.description,
    counterpartyName: f.counterpartyName,
    counterpartyIban: f.counterpartyIban,
    contraAccounts: f.contraAccounts,
  };
  return g.internal.push(item) - 1;
}

function bookingText(sign: bigint): string {
  return sign > 0n ? BOOKING_TEXT.credit : BOOKING_TEXT.debit;
}

/** The ledger line's name: as counterpartyName for half, else inside the description (the engine must find it there). */
function ledgerParty(g: Generation, company: number, sign: bigint): { counterpartyName: string | null; description: string } {
  const name = companyName(g, company, "internal");
  if (g.random() < 0.5) return { counterpartyName: name, description: sign > 0n ? LEDGER_TEXT.customer : LEDGER_TEXT.supplier };
  return { counterpartyName: null, description: `${sign > 0n ? "Zahlung von" : "Zahlung an"} ${name}` };
}

/** A date on the ledger side, then the bank's: `gap` days later, or earlier for a quarter (if the span allows). */
function apart(g: Generation, gap: number): { ledgerDay: number; bankDay: number } {
  const ledgerDay = below(g.random, DAY_SPAN);
  const earlier = g.random() < 0.25 && ledgerDay >= gap;
  return { ledgerDay, bankDay: earlier ? ledgerDay - gap : ledgerDay + gap };
}

/**
 * Closes the designed match whose items were pushed to the pending lists
 * since the last one, after checking that it balances: exactly, or (drift)
 * within the tolerance.
 */
function designed(g: Generation, kind: DesignedMatch["kind"], category: DesignedCategory): void {
  const p = g.pending;
  let difference = 0n;
  for (let k = p.externalEnd.at(-1) ?? 0; k < p.external.length; k++) difference += g.external[p.external[k] ?? -1]?.amountMinor ?? 0n;
  for (let k = p.internalEnd.at(-1) ?? 0; k < p.internal.length; k++) difference -= g.internal[p.internal[k] ?? -1]?.amountMinor ?? 0n;
  const allowedMinor = category === "drift" ? TOLERANCE_MINOR : 0n;
  if (difference > allowedMinor || difference < -allowedMinor) assert.fail(`a ${category} match differs by ${difference}`);
  p.kinds.push(KINDS.indexOf(kind));
  p.categories.push(CATEGORIES.indexOf(category));
  p.externalEnd.push(p.external.length);
  p.internalEnd.push(p.internal.length);
}

function addReference(g: Generation): void {
  const sign = signOf(g.random);
  const amountMinor = sign * BigInt(magnitude(g.random, { minMinor: AMOUNT_MIN_MINOR, maxMinor: AMOUNT_MAX_MINOR }).minor);
  const reference = serial(g, sign > 0n ? "invoice" : "payment");
  const company = generalCompany(g);
  const { ledgerDay, bankDay } = apart(g, below(g.random, REFERENCE_DAYS_MAX + 1));
  const inEndToEnd = g.random() < 0.6;
  // A booking date a day after the value date, only where that keeps it within REFERENCE_DAYS_MAX of the ledger's.
  const bookingLagDays = Math.abs(bankDay + 1 - ledgerDay) <= REFERENCE_DAYS_MAX && g.random() < 0.2 ? 1 : 0;
  const external = addExternal(g, {
    amountMinor,
    valueDay: bankDay,
    bookingLagDays,
    endToEndId: inEndToEnd ? reference : null,
    bankReference: serial(g, "bank"),
    customerReference: inEndToEnd ? null : reference,
    remittanceInformation: `${sign > 0n ? "Rechnung" : "Zahlung"} ${reference}`,
    description: bookingText(sign),
    counterpartyName: companyName(g, company, "external"),
    counterpartyIban: g.random() < 0.9 ? companyIban(g, company) : null,
  });
  const party = ledgerParty(g, company, sign);
  const internal = addInternal(g, {
    amountMinor,
    day: ledgerDay,
    reference,
    description: party.description,
    counterpartyName: party.counterpartyName,
    counterpartyIban: null,
    contraAccounts: sign > 0n ? CONTRA.receivable : CONTRA.payable,
  });
  g.pending.external.push(external);
  g.pending.internal.push(internal);
  designed(g, "1:1", "reference");
}

function addDrift(g: Generation): void {
  const sign = signOf(g.random);
  const drawn = magnitude(g.random, { minMinor: AMOUNT_MIN_MINOR, maxMinor: AMOUNT_MAX_MINOR });
  const company = drawn.common ? commonCompany(g) : generalCompany(g);
  const internalMinor = sign * BigInt(drawn.minor);
  // The bank deducts its charge from what arrives, and adds it to what leaves: the line is the ledger's amount less the charge either way.
  const chargeMinor = drawn.minor >= CHARGE_FROM_MINOR && g.random() < 0.5 ? BigInt(pick(g.random, BANK_CHARGES_MINOR)) : 0n;
  const { ledgerDay, bankDay } = apart(g, DRIFT_DAYS_MIN + below(g.random, DRIFT_DAYS_MAX - DRIFT_DAYS_MIN + 1));
  const external = addExternal(g, {
    amountMinor: internalMinor - chargeMinor,
    valueDay: bankDay,
    endToEndId: g.random() < 0.5 ? "NOTPROVIDED" : null,
    bankReference: serial(g, "bank"),
    customerReference: g.random() < 0.3 ? "NONREF" : null,
    remittanceInformation: pick(g.random, DRIFT_REMITTANCE),
    description: sign > 0n ? BOOKING_TEXT.credit : g.random() < 0.5 ? BOOKING_TEXT.debit : BOOKING_TEXT.directDebit,
    counterpartyName: companyName(g, company, "external"),
    counterpartyIban: g.random() < 0.9 ? companyIban(g, company) : null,
  });
  const party = ledgerParty(g, company, sign);
  const internal = addInternal(g, {
    amountMinor: internalMinor,
    day: ledgerDay,
    reference: g.random() < 0.5 ? serial(g, "salesOrder") : null,
    description: party.description,
    counterpartyName: party.counterpartyName,
    counterpartyIban: g.random() < 0.25 ? companyIban(g, company) : null,
    contraAccounts: sign > 0n ? CONTRA.receivable : CONTRA.payable,
  });
  g.pending.external.push(external);
  g.pending.internal.push(internal);
  designed(g, "1:1", "drift");
}

interface GroupParty {
  readonly sign: bigint;
  readonly company: number;
  readonly iban: string | null;
}

function groupBankLine(g: Generation, party: GroupParty, line: { amountMinor: bigint; valueDay: number; remittance: string }): void {
  g.pending.external.push(addExternal(g, {
    amountMinor: line.amountMinor,
    valueDay: line.valueDay,
    endToEndId: g.random() < 0.5 ? "NOTPROVIDED" : null,
    bankReference: serial(g, "bank"),
    customerReference: null,
    remittanceInformation: line.remittance,
    description: bookingText(party.sign),
    counterpartyName: companyName(g, party.company, "external"),
    counterpartyIban: party.iban,
  }));
}

function groupLedgerLine(g: Generation, party: GroupParty, line: { amountMinor: bigint; day: number }): void {
  const named = ledgerParty(g, party.company, party.sign);
  g.pending.internal.push(addInternal(g, {
    amountMinor: line.amountMinor,
    day: line.day,
    reference: g.random() < 0.5 ? serial(g, "salesOrder") : null,
    description: named.description,
    counterpartyName: named.counterpartyName,
    counterpartyIban: null,
    contraAccounts: party.sign > 0n ? CONTRA.receivable : CONTRA.payable,
  }));
}

function addGroup(g: Generation, shape: "1:N" | "N:1"): void {
  const sign = signOf(g.random);
  const company = generalCompany(g);
  const party: GroupParty = { sign, company, iban: g.random() < 0.9 ? companyIban(g, company) : null };
  const parts = GROUP_PARTS_MIN + below(g.random, GROUP_PARTS_MAX - GROUP_PARTS_MIN + 1);
  const amounts: bigint[] = [];
  let totalMinor = 0n;
  for (let p = 0; p < parts; p++) {
    const part = sign * BigInt(magnitude(g.random, { minMinor: GROUP_PART_MIN_MINOR, maxMinor: GROUP_PART_MAX_MINOR }).minor);
    amounts.push(part);
    totalMinor += part;
  }
  const oneDay = GROUP_DAYS_MAX + below(g.random, DAY_SPAN - GROUP_DAYS_MAX);
  if (shape === "1:N") {
    // One transfer settling several invoices, each booked on or up to GROUP_DAYS_MAX days before it arrived.
    groupBankLine(g, party, { amountMinor: totalMinor, valueDay: oneDay, remittance: "Sammelzahlung" });
    for (const amountMinor of amounts) groupLedgerLine(g, party, { amountMinor, day: oneDay - below(g.random, GROUP_DAYS_MAX + 1) });
    designed(g, "1:N", "group");
  } else {
    // One invoice paid in instalments, arriving on or up to GROUP_DAYS_MAX days after it was booked.
    const bookedDay = oneDay - GROUP_DAYS_MAX;
    groupLedgerLine(g, party, { amountMinor: totalMinor, day: bookedDay });
    for (const amountMinor of amounts) groupBankLine(g, party, { amountMinor, valueDay: bookedDay + below(g.random, GROUP_DAYS_MAX + 1), remittance: "Teilzahlung" });
    designed(g, "N:1", "group");
  }
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `po_1` and 20 base-62 characters, as Stripe writes them; the last 6 are a serial number, so ids never collide. */
function payoutId(g: Generation): string {
  const chars = ["po_1"];
  for (let i = 0; i < 14; i++) chars.push(BASE62.charAt(below(g.random, BASE62.length)));
  const n = g.serials.payout;
  g.serials.payout = n + 1;
  for (let i = 5; i >= 0; i--) chars.push(BASE62.charAt(Math.floor(n / 62 ** i) % 62));
  return flat(chars);
}

function addPayout(g: Generation): void {
  const id = payoutId(g);
  const payoutDay = PAYOUT_DAYS_MAX + below(g.random, DAY_SPAN - PAYOUT_DAYS_MAX);
  const charges = PAYOUT_CHARGES_MIN + below(g.random, PAYOUT_CHARGES_MAX - PAYOUT_CHARGES_MIN + 1);
  const internal = g.pending.internal;
  let chargesMinor = 0n;
  let feeMinor = 0n;
  // The smallest charge as drawn (an integer of minor units from the draw), never read back from a bigint.
  let smallestDrawn = PAYOUT_CHARGE_MAX_MINOR;
  for (let c = 0; c < charges; c++) {
    const drawn = magnitude(g.random, { minMinor: PAYOUT_CHARGE_MIN_MINOR, maxMinor: PAYOUT_CHARGE_MAX_MINOR }).minor;
    const charge = BigInt(drawn);
    chargesMinor += charge;
    feeMinor += (charge * PAYOUT_FEE_BASIS_POINTS + 5_000n) / 10_000n + PAYOUT_FEE_FIXED_MINOR;
    smallestDrawn = Math.min(smallestDrawn, drawn);
    internal.push(addInternal(g, { amountMinor: charge, day: payoutDay - below(g.random, PAYOUT_DAYS_MAX + 1), reference: id, description: "Stripe charge", counterpartyName: null, counterpartyIban: null, contraAccounts: CONTRA.receivable }));
  }
  internal.push(addInternal(g, { amountMinor: -feeMinor, day: payoutDay - below(g.random, 2), reference: id, description: "Stripe fees", counterpartyName: "Stripe", counterpartyIban: null, contraAccounts: CONTRA.pspFees }));
  let refundMinor = 0n;
  if (g.random() < PAYOUT_REFUND_SHARE) {
    // A refund of at most the smallest charge, so the payout stays positive.
    refundMinor = BigInt(logUniform(g.random, 500, smallestDrawn));
    internal.push(addInternal(g, { amountMinor: -refundMinor, day: payoutDay - below(g.random, 2), reference: id, description: "Stripe refund", counterpartyName: null, counterpartyIban: null, contraAccounts: CONTRA.revenue }));
  }
  const payoutMinor = chargesMinor - feeMinor - refundMinor;
  assert(payoutMinor > 0n, `payout ${id} is not positive`);
  g.pending.external.push(addExternal(g, {
    amountMinor: payoutMinor,
    valueDay: payoutDay,
    endToEndId: null,
    bankReference: id,
    customerReference: null,
    remittanceInformation: `STRIPE ${id}`,
    description: `STRIPE PAYOUT ${id}`,
    counterpartyName: STRIPE_NAME,
    counterpartyIban: STRIPE_IBAN,
  }));
  designed(g, "1:N", "payout");
}

/** A line the ledger does not know (a bank fee, interest, an unknown payment) and a ledger line the bank has not seen. */
function addNoise(g: Generation): void {
  const kind = g.random();
  const sign = signOf(g.random);
  const day = below(g.random, DAY_SPAN);
  if (kind < 0.3) {
    addExternal(g, { amountMinor: -BigInt(logUniform(g.random, 200, 3_000)), valueDay: day, endToEndId: null, bankReference: serial(g, "bank"), customerReference: null, remittanceInformation: null, description: BOOKING_TEXT.fee, counterpartyName: null, counterpartyIban: null });
  } else if (kind < 0.45) {
    addExternal(g, { amountMinor: BigInt(logUniform(g.random, 100, 20_000)), valueDay: day, endToEndId: null, bankReference: serial(g, "bank"), customerReference: null, remittanceInformation: null, description: BOOKING_TEXT.interest, counterpartyName: null, counterpartyIban: null });
  } else {
    const company = generalCompany(g);
    addExternal(g, { amountMinor: sign * BigInt(magnitude(g.random, { minMinor: AMOUNT_MIN_MINOR, maxMinor: AMOUNT_MAX_MINOR }).minor), valueDay: day, endToEndId: g.random() < 0.5 ? "NOTPROVIDED" : null, bankReference: serial(g, "bank"), customerReference: null, remittanceInformation: pick(g.random, DRIFT_REMITTANCE), description: bookingText(sign), counterpartyName: companyName(g, company, "external"), counterpartyIban: companyIban(g, company) });
  }
  const ledgerSign = signOf(g.random);
  const party = ledgerParty(g, generalCompany(g), ledgerSign);
  addInternal(g, {
    amountMinor: ledgerSign * BigInt(magnitude(g.random, { minMinor: AMOUNT_MIN_MINOR, maxMinor: AMOUNT_MAX_MINOR }).minor),
    day: below(g.random, DAY_SPAN),
    reference: g.random() < 0.5 ? serial(g, "salesOrder") : null,
    description: g.random() < 0.5 ? LEDGER_TEXT.open : party.description,
    counterpartyName: party.counterpartyName,
    counterpartyIban: null,
    contraAccounts: ledgerSign > 0n ? CONTRA.revenue : CONTRA.expense,
  });
}

function shuffle(random: () => number, items: unknown[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = below(random, i + 1);
    const held = items[i];
    items[i] = items[j];
    items[j] = held;
  }
}

/** How many units of each category `pairs` holds; the reference category takes the rest. */
export function categoryCounts(pairs: number): { reference: number; drift: number; groupOneToMany: number; groupManyToOne: number; payout: number; noise: number } {
  const drift = Math.floor((pairs * SHARE_PERCENT.drift) / 100);
  const group = Math.floor((pairs * SHARE_PERCENT.group) / 100);
  const payout = Math.floor((pairs * SHARE_PERCENT.payout) / 100);
  const noise = Math.floor((pairs * SHARE_PERCENT.noise) / 100);
  const groupOneToMany = Math.ceil(group / 2);
  return { reference: pairs - drift - group - payout - noise, drift, groupOneToMany, groupManyToOne: group - groupOneToMany, payout, noise };
}

/** Numbers the items of a shuffled copy of `drafts` by their new position (`drafts` keeps generation order, for the pending indices). */
function placed<T extends { id: string }>(random: () => number, drafts: readonly T[], id: (position: string) => string): T[] {
  const items = drafts.slice();
  shuffle(random, items);
  // Fixed-width numbers: the default (code unit) sort of ids is their numeric order.
  const width = Math.max(6, String(items.length).length);
  const offset = 10 ** width;
  for (const [p, item] of items.entries()) item.id = id(String(offset + p + 1).slice(1));
  return items;
}

function designedMatches(g: Generation): DesignedMatch[] {
  const p = g.pending;
  const matches: DesignedMatch[] = new Array<DesignedMatch>(p.kinds.length);
  let e = 0;
  let i = 0;
  for (let m = 0; m < p.kinds.length; m++) {
    const externalIds: string[] = [];
    for (const end = p.externalEnd[m] ?? 0; e < end; e++) externalIds.push(g.external[p.external[e] ?? -1]?.id ?? "");
    const internalIds: string[] = [];
    for (const end = p.internalEnd[m] ?? 0; i < end; i++) internalIds.push(g.internal[p.internal[i] ?? -1]?.id ?? "");
    if (externalIds.length > 1) externalIds.sort();
    if (internalIds.length > 1) internalIds.sort();
    matches[m] = { kind: KINDS[p.kinds[m] ?? 0] ?? "1:1", externalIds, internalIds, category: CATEGORIES[p.categories[m] ?? 0] ?? "reference" };
  }
  return matches;
}

export function generateBooks(options: { pairs: number; seed: number }): Books {
  const { pairs, seed } = options;
  if (!Number.isInteger(pairs) || pairs < 1 || pairs > GENERATED_PAIRS_MAX) throw new RangeError(`pairs must be an integer in 1..${GENERATED_PAIRS_MAX}, got ${pairs}`);
  if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  const g: Generation = {
    random: seededRandom(seed),
    external: [],
    internal: [],
    pending: { kinds: [], categories: [], external: [], externalEnd: [], internal: [], internalEnd: [] },
    names: new Array<string | undefined>(COMPANIES * SPELLINGS),
    ibans: new Array<string | undefined>(COMPANIES),
    serials: { invoice: 0, payment: 0, salesOrder: 0, bank: 0, payout: 0 },
    commonCompanies: 0,
  };
  const counts = categoryCounts(pairs);
  for (let i = 0; i < counts.reference; i++) addReference(g);
  for (let i = 0; i < counts.drift; i++) addDrift(g);
  for (let i = 0; i < counts.groupOneToMany; i++) addGroup(g, "1:N");
  for (let i = 0; i < counts.groupManyToOne; i++) addGroup(g, "N:1");
  for (let i = 0; i < counts.payout; i++) addPayout(g);
  for (let i = 0; i < counts.noise; i++) addNoise(g);
  // Shuffled, then numbered by position: neither order nor id says which items belong together.
  const external = placed(g.random, g.external, (n) => flat(["ext-", n]));
  const internal = placed(g.random, g.internal, (n) => flat(["int-", n, ":0"]));
  return { external, internal, designed: designedMatches(g), rules: RULES };
}
