// The catalogue of stable error codes. Clients branch on `code`, never on
// message text; the HTTP status is decided here, once, for every code.
export const ERROR_CATALOGUE = {
  VALIDATION_FAILED: { status: 400, title: "The request does not match the schema" },
  AMOUNT_INVALID_FORMAT: { status: 400, title: "Amount is not a plain decimal string" },
  AMOUNT_NOT_A_STRING: { status: 400, title: "Amounts travel as decimal strings, never JSON numbers" },
  AMOUNT_TOO_MANY_DECIMALS: { status: 400, title: "Amount has more decimals than its currency allows" },
  AMOUNT_NOT_POSITIVE: { status: 400, title: "Amount must be greater than zero; the side says the direction" },
  AMOUNT_OUT_OF_RANGE: { status: 400, title: "Amount is too large" },
  CURRENCY_UNKNOWN: { status: 400, title: "Not an active ISO 4217 currency code" },
  IDEMPOTENCY_KEY_MISSING: { status: 400, title: "Commands need an Idempotency-Key header" },
  IDEMPOTENCY_KEY_INVALID: { status: 400, title: "The Idempotency-Key header is not 1-200 visible ASCII characters" },
  IDEMPOTENCY_CONFLICT: { status: 409, title: "This Idempotency-Key was used with a different request" },
  CONCURRENCY_CONFLICT: { status: 409, title: "The stream changed concurrently; retry the command" },
  LEDGER_NOT_FOUND: { status: 404, title: "No such ledger" },
  LEDGER_ALREADY_EXISTS: { status: 409, title: "A ledger with this id exists" },
  LEDGER_UNBALANCED: { status: 422, title: "Debits and credits differ for a currency" },
  ACCOUNT_NOT_FOUND: { status: 404, title: "No such account in this ledger" },
  ACCOUNT_ALREADY_EXISTS: { status: 409, title: "An account with this code exists in this ledger" },
  ACCOUNT_CLOSED: { status: 422, title: "The account is closed" },
  ACCOUNT_ALREADY_CLOSED: { status: 409, title: "The account is already closed" },
  ACCOUNT_BALANCE_NOT_ZERO: { status: 422, title: "The account still has a balance; post entries that bring it to zero before closing it" },
  ACCOUNT_CURRENCY_MISMATCH: { status: 422, title: "The account only takes another currency" },
  PERIOD_CLOSED: { status: 422, title: "The effective date falls in a closed period" },
  PERIOD_ALREADY_CLOSED: { status: 409, title: "The period is already closed" },
  PERIOD_NOT_ENDED: { status: 422, title: "The period has not ended yet; it can be closed from the first day of the next month (UTC)" },
  PERIOD_NOT_CLOSED: { status: 409, title: "The period is not closed" },
  ENTRY_NOT_FOUND: { status: 404, title: "No such journal entry" },
  ENTRY_ALREADY_EXISTS: { status: 409, title: "A journal entry with this id exists" },
  ENTRY_ALREADY_REVERSED: { status: 409, title: "The journal entry was already reversed" },
  REVERSAL_BEFORE_ENTRY: { status: 422, title: "A reversal cannot be dated before the entry it reverses" },
  ENTRY_IS_REVERSAL: { status: 422, title: "A reversal cannot itself be reversed; post a new entry" },
  BANK_ACCOUNT_NOT_FOUND: { status: 404, title: "No such bank account" },
  BANK_ACCOUNT_ALREADY_EXISTS: { status: 409, title: "A bank account with this id exists" },
  BANK_ACCOUNT_IDENTIFIER_TAKEN: { status: 409, title: "Another bank account of this ledger has this IBAN or account number" },
  BANK_ACCOUNTS_LIMIT_REACHED: { status: 422, title: "The ledger has as many bank accounts as allowed" },
  IBAN_INVALID: { status: 400, title: "Not a valid IBAN (country, length or mod-97 check digits)" },
  CSV_PROFILE_NOT_FOUND: { status: 404, title: "No such CSV profile in this ledger" },
  CSV_PROFILE_ALREADY_EXISTS: { status: 409, title: "A CSV profile with this id exists in this ledger" },
  MATCH_NOT_FOUND: { status: 404, title: "No such match in this bank account" },
  MATCH_ITEM_NOT_FOUND: { status: 404, title: "No such statement line of this bank account, or ledger line on its ledger account (or not in the read models yet: retry once the import or posting is projected)" },
  RECONCILIATION_RUN_NOT_FOUND: { status: 404, title: "No such reconciliation run (a dry run records nothing)" },
  RECONCILIATION_RUN_TOO_LARGE: { status: 422, title: "More open items than one run may take; narrow the run with from and to" },
  MATCH_ALREADY_EXISTS: { status: 409, title: "A match with this id exists" },
  MATCH_STATUS_CONFLICT: { status: 409, title: "The match is not in the state this decision needs (confirm and reject a suggestion, unmatch a confirmed match)" },
  MATCH_ITEM_TAKEN: { status: 409, title: "An item is in a confirmed match; unmatch that first" },
  RECONCILIATION_PERIOD_NOT_ENDED: { status: 422, title: "The period has not ended yet; it can be signed off from the first day of the next month (UTC)" },
  RECONCILIATION_PERIOD_NOT_RECONCILED: { status: 422, title: "Some items dated up to the period's end are not matched, written off or explained (or a write-off is not posted yet)" },
  RECONCILIATION_STATEMENT_UNBALANCED: { status: 422, title: "The bank reconciliation statement does not balance: the adjusted bank and book balances differ" },
  RECONCILIATION_PERIOD_ALREADY_CLOSED: { status: 409, title: "The bank account's reconciliation is already signed off through this period" },
  RECONCILIATION_PERIOD_CLOSED: { status: 409, title: "The match has an item in a signed-off period: it is locked" },
  RECONCILIATION_STATEMENT_TOO_LARGE: { status: 422, title: "More reconciling items than one statement may hold; match or resolve some first" },
  RECONCILIATION_STATEMENT_NOT_FOUND: { status: 404, title: "No signed-off reconciliation statement for this bank account and period" },
  EXCEPTION_NOT_FOUND: { status: 404, title: "No such exception: its item is not a statement line of this bank account or a ledger line on its ledger account (or not in the read models yet)" },
  EXCEPTION_NOT_OPEN: { status: 409, title: "The exception's item is no longer open: it is in a match, or the exception was resolved" },
  MATCH_HAS_WRITE_OFF: { status: 409, title: "The match's write-off is being posted to the ledger; unmatch it once it is posted (its reversal then goes with the unmatch)" },
  MATCH_UNBALANCED: { status: 422, title: "The matched items do not balance, and the difference is beyond the account's write-off limit" },
  MATCHING_RULES_VERSION_CONFLICT: { status: 409, title: "The bank account's matching rules are at another version than expectedVersion; read them again" },
  CSV_PROFILE_REQUIRED: { status: 400, title: "A CSV file needs a mapping profile: pass ?profile=" },
  STATEMENT_NOT_FOUND: { status: 404, title: "No such statement" },
  STATEMENT_FORMAT_UNKNOWN: { status: 415, title: "The file is not in a statement format Trueup reads (camt.052/053/054, MT940/MT942, BAI2, OFX, CSV)" },
  STATEMENT_ENCODING_INVALID: { status: 400, title: "The file's bytes are not valid in its encoding" },
  STATEMENT_MALFORMED: { status: 400, title: "The file does not follow its format; nothing was imported" },
  STATEMENT_AMOUNT_INVALID: { status: 400, title: "An amount in the file is not a valid amount of its currency" },
  STATEMENT_DATE_INVALID: { status: 400, title: "A date in the file is not a valid calendar date in the range Trueup stores" },
  STATEMENT_RECORD_COUNT_MISMATCH: { status: 422, title: "The file's record or entry counts do not match what it contains" },
  STATEMENT_EMPTY: { status: 422, title: "The file holds no statement" },
  STATEMENT_FILE_TOO_LARGE: { status: 413, title: "The statement file is larger than allowed" },
  STATEMENT_TOO_MANY_LINES: { status: 413, title: "The statement file has more lines than allowed" },
  STATEMENT_LINE_TOO_LONG: { status: 400, title: "A line of the statement file is longer than allowed" },
  STATEMENT_ACCOUNT_UNKNOWN: { status: 422, title: "The file names an account that is not a registered bank account of this ledger" },
  STATEMENT_ACCOUNT_MISMATCH: { status: 422, title: "The file's account is not this bank account" },
  STATEMENT_CURRENCY_MISMATCH: { status: 422, title: "The statement's currency is not the bank account's" },
  STATEMENT_UNBALANCED: { status: 422, title: "Opening balance plus the lines does not equal the closing balance" },
  STATEMENT_DISCONTINUOUS: { status: 422, title: "The opening balance is not the previous statement's closing balance" },
  STATEMENT_SEQUENCE_GAP: { status: 422, title: "Statement sequence numbers skip one or more statements" },
  STATEMENT_LINE_OUTSIDE_PERIOD: { status: 422, title: "A line is dated outside the statement's period" },
  STATEMENT_CONTROL_TOTAL_MISMATCH: { status: 422, title: "A control total stated in the file does not add up" },
  READ_MODEL_BEHIND: { status: 503, title: "The read model has not reached the requested position yet" },
  READ_MODEL_NOT_READY: { status: 503, title: "The read model is not yet at this build's version (being created or rebuilt by the projections service)" },
  NOT_FOUND: { status: 404, title: "No such route" },
  PROJECTION_NOT_FOUND: { status: 404, title: "No such projection" },
  PAYLOAD_TOO_LARGE: { status: 413, title: "The request body is larger than allowed" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: "Send application/json" },
  OVERLOADED: { status: 503, title: "A limit of work in flight is reached; nothing was written, retry" },
  STORE_UNAVAILABLE: { status: 503, title: "Storage is unavailable; nothing was written, retry with the same Idempotency-Key" },
  INTERNAL: { status: 500, title: "Internal error" },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** Where in a request an offending value is (problem details' `in`). */
export type RequestPart = "body" | "querystring" | "params" | "headers";

/** A rejection the caller can act on: a typed result in the domain, rendered as problem+json at the edge. */
export class TrueupError extends Error {
  override readonly name = "TrueupError";
  readonly code: ErrorCode;
  readonly path: readonly (string | number)[] | undefined;
  /** Which part of the request `path` is in; the body unless said otherwise. */
  readonly in: RequestPart;
  readonly detail: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: { path?: readonly (string | number)[]; in?: RequestPart; detail?: Record<string, unknown> } = {}) {
    super(message);
    this.code = code;
    this.path = options.path;
    this.in = options.in ?? "body";
    this.detail = options.detail;
  }

  get status(): number {
    return ERROR_CATALOGUE[this.code].status;
  }
}
