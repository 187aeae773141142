// IBANs (ISO 13616) and account numbers as Trueup compares them. A bank
// account is found by the identifier a statement file names, so both sides
// are normalised the same way (no white space, upper case), and an IBAN is
// checked when it is registered: the country must be in the SWIFT IBAN
// registry, the length must be that country's, and the check digits must
// give mod-97 = 1. Which part failed is said, so a clerk who mistyped one
// digit is told "check digits", not "invalid".

/**
 * IBAN length per country code, from the SWIFT IBAN registry (release 99,
 * 2025). A country missing here is refused: an IBAN of a new registry
 * member needs one line added, never a looser check.
 */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28,
  CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18,
  FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28,
  IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20,
  LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28,
  NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24,
  SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26,
  UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
};

/** The longest IBAN of the registry (LC): a longer input is refused before any arithmetic. */
export const IBAN_LENGTH_MAX = 34;

/** Account numbers (BBAN, US/CA account numbers, PSP account ids) as registered and as files write them. */
export const ACCOUNT_NUMBER_LENGTH_MAX = 64;

const WHITE_SPACE = /\s+/g;

/** The IBAN without white space, in upper case (the electronic format). */
export function normaliseIban(iban: string): string {
  return iban.replace(WHITE_SPACE, "").toUpperCase();
}

/** An account number compared as Trueup compares identifiers: no white space, upper case. */
export function normaliseAccountNumber(accountNumber: string): string {
  return accountNumber.replace(WHITE_SPACE, "").toUpperCase();
}

/**
 * Why a (normalised) IBAN is not valid, or undefined when it is. Checks, in
 * order: characters, country code, the country's length, check digits.
 */
export function ibanProblem(normalised: string): string | undefined {
  if (normalised.length === 0) return "the IBAN is empty";
  if (normalised.length > IBAN_LENGTH_MAX) return `an IBAN has at most ${IBAN_LENGTH_MAX} characters, this one has ${normalised.length}`;
  if (!/^[A-Z0-9]+$/.test(normalised)) return "an IBAN holds only letters and digits (spaces are ignored)";
  const country = normalised.slice(0, 2);
  if (!/^[A-Z]{2}$/.test(country)) return `an IBAN starts with a two-letter country code, this one with ${JSON.stringify(country)}`;
  const length = IBAN_LENGTHS[country];
  if (length === undefined) return `country code ${country} is not in the SWIFT IBAN registry`;
  if (normalised.length !== length) return `an IBAN of ${country} has ${length} characters, this one has ${normalised.length}`;
  if (!/^[0-9]{2}$/.test(normalised.slice(2, 4))) return `the check digits (characters 3-4) must be digits, got ${JSON.stringify(normalised.slice(2, 4))}`;
  if (mod97(normalised.slice(4) + normalised.slice(0, 4)) !== 1) return "the check digits do not match the rest of the IBAN (mod-97 check failed): a character is mistyped";
  return undefined;
}

/** True when the IBAN, normalised, passes every check of ibanProblem. */
export function isValidIban(iban: string): boolean {
  return ibanProblem(normaliseIban(iban)) === undefined;
}

/** The rearranged IBAN's letters as numbers (A = 10 … Z = 35), mod 97, digit by digit: no number ever exceeds 9,699. */
function mod97(rearranged: string): number {
  let remainder = 0;
  for (const char of rearranged) {
    const code = char.charCodeAt(0);
    const value = code >= 65 ? code - 55 : code - 48;
    remainder = value >= 10 ? (remainder * 100 + value) % 97 : (remainder * 10 + value) % 97;
  }
  return remainder;
}
