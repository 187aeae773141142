// POST /bank-accounts/{id}/periods/{YYYY-MM}/close: sign a bank account's
// month off (periods/decider.ts decides). What it reads besides the recon
// stream comes from the read models, so it first waits (a bounded time)
// until they have applied the whole log as it stood when the request came:
// an item imported or posted before the close is then in the set it checks.
// One imported after it, dated in the period, shows up as an open item of a
// signed-off period (in the exceptions queue), never silently.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { TrueupError, bankAccountIdSchema, emptyBody, periodSchema, problemResponses } from "@trueup/contracts";
import type { EventStore } from "@trueup/event-store";
import type { CommandContext } from "../../command.ts";
import type { IdempotencyStore } from "../../idempotency.ts";
import type { InFlight } from "../../in-flight.ts";
import { EVERY_COMMAND_PROBLEMS, commandRouteSchema, commandRunner, outcomeFields } from "../../http/command-runner.ts";
import { readBankAccount } from "../bank-accounts/index.ts";
import type { MatchItemReader, PeriodBalanceReader } from "../matches/items.ts";
import { dayOf } from "../matches/run.ts";
import type { MatchCommandService } from "../matches/service.ts";
import type { PeriodItem } from "./decider.ts";

export const PERIOD_CLOSE_LIMITS = {
  /** Items per side a close reads; a larger account is beyond one statement's reach. */
  itemsPerSideMax: 200_000,
  /** How long a close waits for the read models to reach the log's head before a 503 READ_MODEL_BEHIND. */
  readModelWaitMs: 10_000,
  readModelPollMs: 50,
} as const;

export interface PeriodRoutesDeps {
  readonly service: MatchCommandService;
  readonly store: EventStore;
  readonly items: MatchItemReader & PeriodBalanceReader;
  readonly idempotency: IdempotencyStore;
  readonly inFlight?: InFlight | undefined;
  readonly assertReadModelsReady: () => void;
}

const answer = z.object({ bankAccountId: z.string(), period: z.string(), ...outcomeFields }).meta({ description: "Signed off" });

const DOCS = {
  summary: "Sign off a bank account's month",
  description:
    "Closes the bank account's reconciliation for the month once it has ended: every statement line and ledger line dated up to its last day must be matched (confirmed), written off (its entry posted) or ignored, and the bank reconciliation statement must balance. The statement is kept (GET /bank-accounts/{id}/reconciliation-statement?period=) and the period's matches are locked: an unmatch of one is refused. Needs an `Idempotency-Key` header.",
  body: {},
  answer: { bankAccountId: "ba_main", period: "2026-03", revision: "120", position: "00000000000002f10000000000000004", replayed: false },
  problems: problemResponses([
    ...EVERY_COMMAND_PROBLEMS, "BANK_ACCOUNT_NOT_FOUND", "RECONCILIATION_PERIOD_NOT_ENDED", "RECONCILIATION_PERIOD_NOT_RECONCILED", "RECONCILIATION_STATEMENT_UNBALANCED",
    "RECONCILIATION_PERIOD_ALREADY_CLOSED", "RECONCILIATION_STATEMENT_TOO_LARGE", "RECONCILIATION_RUN_TOO_LARGE", "READ_MODEL_NOT_READY", "READ_MODEL_BEHIND",
  ], {
    RECONCILIATION_PERIOD_NOT_RECONCILED: { detail: "3 items dated up to 2026-03-31 are not settled (2 open, 1 suggested)" },
  }),
} as const;

/** The last day of a YYYY-MM month. */
export function lastDayOf(period: string): string {
  const [year, month] = period.split("-").map(Number);
  return new Date(Date.UTC(year ?? 0, month ?? 1, 0)).toISOString().slice(0, 10);
}

async function readModelsAtHead(deps: PeriodRoutesDeps): Promise<void> {
  const head = await deps.store.headPosition();
  if (head === undefined) return;
  const deadlineMs = Date.now() + PERIOD_CLOSE_LIMITS.readModelWaitMs;
  for (;;) {
    const applied = await deps.items.appliedThrough();
    if (applied !== undefined && applied >= head) return;
    if (Date.now() > deadlineMs) throw new TrueupError("READ_MODEL_BEHIND", `the read models have not applied the log up to ${head} within ${PERIOD_CLOSE_LIMITS.readModelWaitMs} ms; retry`);
    await new Promise((resolve) => setTimeout(resolve, PERIOD_CLOSE_LIMITS.readModelPollMs));
  }
}

async function close(deps: PeriodRoutesDeps, ctx: CommandContext, bankAccountId: string, period: string) {
  const account = await readBankAccount(deps.store, bankAccountId);
  if (account === undefined) throw new TrueupError("BANK_ACCOUNT_NOT_FOUND", `no bank account ${bankAccountId}`);
  deps.assertReadModelsReady();
  await readModelsAtHead(deps);
  const periodEnd = lastDayOf(period);
  const window = { from: null, to: null, itemsMax: PERIOD_CLOSE_LIMITS.itemsPerSideMax };
  const [external, internal, bankBalance, bookBalanceMinor] = await Promise.all([
    deps.items.runExternal(bankAccountId, window),
    deps.items.runInternal(account.ledgerId, account.ledgerAccount, window),
    deps.items.bankBalance(bankAccountId, periodEnd),
    deps.items.bookBalance(account.ledgerId, account.ledgerAccount, account.currency, periodEnd),
  ]);
  if (external.length > window.itemsMax || internal.length > window.itemsMax) throw new TrueupError("RECONCILIATION_RUN_TOO_LARGE", `more than ${window.itemsMax} items on a side`);
  const items: PeriodItem[] = [
    ...external.flatMap((i) => {
      const date = i.bookingDate ?? i.valueDate;
      return date === null || i.currency !== account.currency ? [] : [{ side: "external" as const, id: i.id, date, amountMinor: i.amountMinor, description: i.remittanceInformation ?? i.description }];
    }),
    ...internal.filter((i) => i.currency === account.currency).map((i) => ({ side: "internal" as const, id: i.id, date: i.date, amountMinor: i.amountMinor, description: i.description })),
  ];
  const outcome = await deps.service.closePeriod(ctx, {
    type: "ClosePeriod",
    data: {
      bankAccountId, bankAccountName: account.name, currency: account.currency, account: { ledgerId: account.ledgerId, ledgerAccount: account.ledgerAccount },
      period, periodEnd, today: dayOf(ctx), bankBalance, bookBalanceMinor, items,
    },
  });
  return { bankAccountId, period, ...outcome };
}

export function periodCommandRoutes(deps: PeriodRoutesDeps) {
  return async (root: FastifyInstance): Promise<void> => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const run = commandRunner(app, deps);
    const params = z.object({ bankAccountId: bankAccountIdSchema, period: periodSchema });
    const schema = commandRouteSchema({ tags: ["reconciliation commands"], params, body: emptyBody, status: 200, answer, done: "Signed off", docs: DOCS });
    app.post("/bank-accounts/:bankAccountId/periods/:period/close", { schema }, (request, reply) => {
      const { bankAccountId, period } = request.params;
      return run(request, reply, { scope: bankAccountId, status: 200, execute: (ctx) => close(deps, ctx, bankAccountId, period) });
    });
    await Promise.resolve();
  };
}
