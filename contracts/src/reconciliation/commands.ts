// Request bodies of the reconciliation commands, as zod schemas for the HTTP
// edge. Identifiers leave here normalised (IBAN without spaces, upper case),
// so every later comparison (uniqueness per ledger, routing a file's account,
// the statement's account check) compares like with like.
import { z } from "zod";
import { currencyOf, unknownCurrencyMessage } from "../money/index.ts";
import type { ErrorCode } from "../errors.ts";
import { TEXT_LIMITS, textSchema } from "../text.ts";
import { accountCodeSchema } from "../ledger/events.ts";
import { BANK_ACCOUNT_KINDS, bankAccountIdSchema } from "./events.ts";
import { ACCOUNT_NUMBER_LENGTH_MAX, ibanProblem, normaliseAccountNumber, normaliseIban } from "./iban.ts";

/** BIC (8 or 11), bank code, routing number, OFX BANKID: short codes. */
export const BANK_ID_LENGTH_MAX = 64;

function issue(ctx: z.RefinementCtx, code: ErrorCode, message: string, path: (string | number)[] = []): void {
  ctx.addIssue({ code: "custom", message, params: { code }, path });
}

/** An active ISO 4217 code: a bank account keeps its money in a currency a ledger can post (never a withdrawn one such as DEM). */
const activeCurrency = z.string().transform((code, ctx) => {
  const found = currencyOf(code);
  if (found === undefined) {
    issue(ctx, "CURRENCY_UNKNOWN", unknownCurrencyMessage(code));
    return z.NEVER;
  }
  return found.code;
});

/** Validated in its electronic form: an IBAN written on paper ("DE89 3704 …") is accepted and stored without spaces. */
export const ibanSchema = z
  .string()
  .max(100, "an IBAN has at most 34 characters (plus spaces)")
  .transform((raw, ctx) => {
    const iban = normaliseIban(raw);
    const problem = ibanProblem(iban);
    if (problem !== undefined) {
      issue(ctx, "IBAN_INVALID", problem);
      return z.NEVER;
    }
    return iban;
  })
  .meta({ type: "string", description: "IBAN, spaces allowed; checked (country, length, mod-97) and stored without spaces in upper case", example: "DE89 3704 0044 0532 0130 00" });

/** Visible ASCII and spaces, as statement files write account numbers ("10020030/1234567", "0123-456789"). */
export const accountNumberSchema = z
  .string()
  .max(ACCOUNT_NUMBER_LENGTH_MAX, `an account number has at most ${ACCOUNT_NUMBER_LENGTH_MAX} characters`)
  .regex(/^[\x20-\x7e]*$/, "an account number holds visible ASCII characters and spaces only")
  .transform((raw, ctx) => {
    const trimmed = raw.trim();
    if (normaliseAccountNumber(trimmed).length === 0) {
      issue(ctx, "VALIDATION_FAILED", "must not be empty or only spaces");
      return z.NEVER;
    }
    return trimmed;
  });

export const registerBankAccountBody = z
  .strictObject({
    /** Optional: chosen by the client; otherwise derived from the Idempotency-Key, so a retry gets the same id. */
    bankAccountId: bankAccountIdSchema.optional(),
    kind: z.enum(BANK_ACCOUNT_KINDS),
    name: textSchema({ lengthMax: TEXT_LIMITS.nameLengthMax }),
    iban: ibanSchema.optional(),
    accountNumber: accountNumberSchema.optional(),
    bankId: textSchema({ lengthMax: BANK_ID_LENGTH_MAX }).optional(),
    currency: activeCurrency.meta({ type: "string", description: "Active ISO 4217 code of the account's money", example: "EUR" }),
    /** The ledger account (cash at bank, PSP clearing) this bank account's lines are matched against. */
    ledgerAccount: accountCodeSchema,
  })
  .superRefine((body, ctx) => {
    if (body.iban === undefined && body.accountNumber === undefined) {
      issue(ctx, "VALIDATION_FAILED", "a bank account needs an iban, an accountNumber, or both: statement files name it by one of them", ["iban"]);
    }
  });
export type RegisterBankAccountBody = z.infer<typeof registerBankAccountBody>;

/**
 * The identifiers a bank account holds in its ledger, normalised: what a
 * statement file's account is looked up by. One namespace for IBANs and
 * account numbers, since files write an IBAN where an account number goes
 * (MT940 :25:, OFX ACCTID) and the other way round.
 */
export function bankAccountIdentifiers(account: { readonly iban: string | null; readonly accountNumber: string | null }): string[] {
  const identifiers = new Set<string>();
  if (account.iban !== null) identifiers.add(normaliseIban(account.iban));
  if (account.accountNumber !== null) identifiers.add(normaliseAccountNumber(account.accountNumber));
  return [...identifiers].filter((identifier) => identifier.length > 0);
}
