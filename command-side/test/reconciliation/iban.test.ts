// IBANs as Trueup checks and compares them (contracts/src/reconciliation/iban.ts).
// Proves: the SWIFT registry's own examples of 36 countries pass, however they
// are spaced or cased; each way an IBAN can be wrong is told apart (characters,
// country, length, check digits); and, as properties over those examples, every
// single mistyped character and every swap of two adjacent different digits is
// caught by mod-97, never by luck.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { IBAN_LENGTHS, ibanProblem, isValidIban, normaliseAccountNumber, normaliseIban } from "@trueup/contracts";

const REGISTRY_EXAMPLES = [
  "AD1200012030200359100100", "AT611904300234573201", "BE68539007547034", "CH9300762011623852957", "CY17002001280000001200527600",
  "CZ6508000000192000145399", "DE89370400440532013000", "DK5000400440116243", "EE382200221020145685", "ES9121000418450200051332",
  "FI2112345600000785", "FR1420041010050500013M02606", "GB29NWBK60161331926819", "GR1601101250000000012300695", "HR1210010051863000160",
  "HU42117730161111101800000000", "IE29AIBK93115212345678", "IT60X0542811101000000123456", "LT121000011101001000", "LU280019400644750000",
  "LV80BANK0000435195001", "MT84MALT011000012345MTLCAST001S", "NL91ABNA0417164300", "NO9386011117947", "PL61109010140000071219812874",
  "PT50000201231234567890154", "RO49AAAA1B31007593840000", "SE4550000000058398257466", "SI56263300012039086", "SK3112000000198742637541",
  "SA0380000000608010167519", "BR1800360305000010009795493C1", "LC55HEMM000100010012001200023015", "RU0204452560040702810412345678901",
  "MU17BOMM0101101030300200000MUR", "GB82WEST12345698765432",
];

const DIGITS = "0123456789";
const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

describe("IBAN", () => {
  it("accepts the registry's examples, in paper form too (groups of four, lower case), and normalises them", () => {
    for (const iban of REGISTRY_EXAMPLES) {
      expect(ibanProblem(iban), iban).toBeUndefined();
      expect(IBAN_LENGTHS[iban.slice(0, 2)], iban).toBe(iban.length);
      const paper = iban.toLowerCase().replace(/(.{4})/g, "$1 ").trim();
      expect(isValidIban(paper), paper).toBe(true);
      expect(normaliseIban(paper)).toBe(iban);
    }
    expect(normaliseIban(" de89\t3704 0044\u00a00532 0130 00 ")).toBe("DE89370400440532013000");
  });

  it("says which part is wrong", () => {
    const cases: [string, RegExp][] = [
      ["", /empty/],
      ["DE89-3704-0044-0532-0130-00", /only letters and digits/],
      ["DE8937040044053201300€", /only letters and digits/],
      ["1E89370400440532013000", /two-letter country code/],
      ["XX89370400440532013000", /XX is not in the SWIFT IBAN registry/],
      ["DE8937040044053201300", /an IBAN of DE has 22 characters, this one has 21/],
      ["DE893704004405320130000", /this one has 23/],
      ["DEAB370400440532013000", /check digits \(characters 3-4\) must be digits/],
      ["DE88370400440532013000", /mod-97 check failed/],
      ["A".repeat(35), /at most 34 characters/],
    ];
    for (const [iban, reason] of cases) {
      expect(ibanProblem(normaliseIban(iban)), iban).toMatch(reason);
      expect(isValidIban(iban), iban).toBe(false);
    }
  });

  it("property: any single character mistyped (digit for digit, letter for letter) after the country code fails", () => {
    fc.assert(
      fc.property(fc.constantFrom(...REGISTRY_EXAMPLES), fc.nat(), fc.integer({ min: 1, max: 25 }), (iban, at, shift) => {
        const i = 2 + (at % (iban.length - 2));
        const char = iban.charAt(i);
        const alphabet = DIGITS.includes(char) ? DIGITS : LETTERS;
        const replaced = alphabet.charAt((alphabet.indexOf(char) + 1 + (shift % (alphabet.length - 1))) % alphabet.length);
        fc.pre(replaced !== char);
        const typo = iban.slice(0, i) + replaced + iban.slice(i + 1);
        expect(isValidIban(typo)).toBe(false);
      }),
      { numRuns: 3000 },
    );
  });

  it("property: swapping two adjacent different digits fails", () => {
    fc.assert(
      fc.property(fc.constantFrom(...REGISTRY_EXAMPLES), fc.nat(), (iban, at) => {
        const i = 2 + (at % (iban.length - 3));
        const [a, b] = [iban.charAt(i), iban.charAt(i + 1)];
        fc.pre(a !== b && DIGITS.includes(a) && DIGITS.includes(b));
        expect(isValidIban(iban.slice(0, i) + b + a + iban.slice(i + 2))).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it("property: never throws, whatever the input", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        expect(typeof isValidIban(text)).toBe("boolean");
      }),
      { numRuns: 2000 },
    );
  });

  it("account numbers are compared without white space, in upper case", () => {
    expect(normaliseAccountNumber(" 0123 4567-ab ")).toBe("01234567-AB");
    expect(normaliseAccountNumber("acct_1Nv0FGQ9RKHgCVdK")).toBe("ACCT_1NV0FGQ9RKHGCVDK");
  });
});
