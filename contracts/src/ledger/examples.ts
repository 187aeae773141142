// The one journal entry the API documentation shows, in requests and in
// answers alike, so the examples of one route never contradict another's.
// Documentation only: nothing validates against it.
export const EXAMPLE_ENTRY = {
  entryId: "INV-2026-0042",
  effectiveDate: "2026-03-03",
  description: "Invoice 42, Müller GmbH",
  externalReference: "INV-42",
  metadata: { customer: "mueller-gmbh" },
  lines: [
    { account: "1200", side: "debit", amount: "1190.00", currency: "EUR" },
    { account: "4000", side: "credit", amount: "1000.00", currency: "EUR" },
    { account: "2200", side: "credit", amount: "190.00", currency: "EUR" },
  ],
} as const;
