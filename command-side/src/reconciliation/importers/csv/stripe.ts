// The built-in `stripe` profile (usable as ?profile=stripe without saving
// it): Stripe's itemized balance-change and payout-reconciliation reports
// (report types balance_change_from_activity.itemized.*,
// payout_reconciliation.itemized.*, ending_balance_reconciliation.itemized.*)
// and the dashboard's balance-transactions export. Column names differ
// between those (created_utc / created / "Created (UTC)"), so each column
// lists the variants; the first one the header has is used.
//
// One line per balance transaction: its gross amount, signed as Stripe
// writes it (charges positive: money into the Stripe balance; refunds,
// fees, payouts negative), so a payout is matched later as charges − fees −
// refunds. gross/fee/net are kept in minor units as attributes; the payout
// id as attributes.payoutId (a line's batch needs the payout's size, known
// only at the end of the file: the matcher groups by payoutId instead).
import { csvProfileSchema } from "@trueup/contracts";
import type { CsvProfile } from "@trueup/contracts";

const names = (...alternatives: string[]) => ({ names: alternatives, optional: false });
const optional = (...alternatives: string[]) => ({ names: alternatives, optional: true });

export const STRIPE_PROFILE: CsvProfile = csvProfileSchema.parse({
  name: "Stripe balance transactions (itemized balance change / payout reconciliation report)",
  delimiter: ",",
  quote: '"',
  decimalSeparator: ".",
  thousandsSeparator: "",
  dateFormat: "YYYY-MM-DD HH:mm:ss",
  encoding: "utf-8",
  headerRow: true,
  skipRows: 0,
  positiveMeans: "credit",
  columns: {
    bankReference: names("balance_transaction_id", "id"),
    bookingDate: names("created_utc", "created", "Created (UTC)"),
    valueDate: optional("available_on_utc", "available_on", "Available On (UTC)"),
    currency: names("currency", "Currency"),
    amount: names("gross", "Amount"),
    charges: optional("fee", "Fee"),
    pspCategory: optional("reporting_category", "Reporting Category", "Type", "type"),
    customerReference: optional("source_id", "source", "Source"),
    description: optional("description", "Description"),
    attributes: {
      payoutId: optional("automatic_payout_id", "payout_id", "Transfer"),
      source: optional("source_id", "source", "Source"),
    },
    amountAttributes: {
      grossMinor: names("gross", "Amount"),
      feeMinor: optional("fee", "Fee"),
      netMinor: optional("net", "Net"),
    },
  },
});

/** Profiles every ledger has without saving them, by id. */
export const BUILT_IN_CSV_PROFILES: Readonly<Record<string, CsvProfile>> = { stripe: STRIPE_PROFILE };
