// Resolving an exception: POST /exceptions/{exceptionId}/resolve. The id
// names the item (contracts' exception-id.ts), whose amount and date come
// from the read models (facts that never change, as for a manual match);
// whether it is still open is decided from the recon stream
// (decideResolveException), so a resolution racing a run or a manual match
// of the same item lands only if the item is still free.
// - write-off: a journal entry for the item through the write-off process
//   manager (a bank line the books lack is booked as it is; a ledger line
//   the bank never shows is taken back out), against `ledgerAccount`, which
//   must be an open account of the ledger in the account's currency;
// - ignore: a clerk's explanation, no entry;
// - reassign: the exception is handed to `assignee`; the item stays open.
// An aged exception must really be past the account's ageing limit.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { DEFAULT_MATCHING_RULES, TrueupError, daysBetween, exceptionIdSchema, parseExceptionId, problemResponses, resolveExceptionBody } from "@trueup/contracts";
import type { ResolveExceptionBody } from "@trueup/contracts";
import type { EventStore } from "@trueup/event-store";
import type { CommandContext } from "../../command.ts";
import type { IdempotencyStore } from "../../idempotency.ts";
import type { InFlight } from "../../in-flight.ts";
import { EVERY_COMMAND_PROBLEMS, commandRouteSchema, commandRunner, outcomeFields } from "../../http/command-runner.ts";
import { readBankAccount } from "../bank-accounts/index.ts";
import { MatchingRulesCommandService, readMatchingRules } from "../matching-rules/index.ts";
import { writeOffAccountProblem } from "../matching-rules/decider.ts";
import type { ResolveException } from "../matches/decider.ts";
import type { MatchItemReader } from "../matches/items.ts";
import { dayOf } from "../matches/run.ts";
import type { MatchCommandService } from "../matches/service.ts";

export interface ExceptionRoutesDeps {
  readonly service: MatchCommandService;
  readonly store: EventStore;
  readonly items: MatchItemReader;
  readonly idempotency: IdempotencyStore;
  readonly inFlight?: InFlight | undefined;
  readonly assertReadModelsReady: () => void;
}

const answer = z.object({ exceptionId: z.string(), ...outcomeFields }).meta({ description: "Recorded" });
const EXAMPLE_ID = "ba_main~aged~external~cmVmOklOVi05IzE";

const DOCS = {
  summary: "Resolve an exception",
  description:
    "Settles an exception's item without a match: `write-off` posts a journal entry for its amount against `ledgerAccount` (through the write-off process manager: the item's match shows `requested`, then `posted` or `refused`), `ignore` records why it needs nothing (a reason is required), `reassign` hands it to `assignee` (the item stays open). Refused with `EXCEPTION_NOT_OPEN` when the item is in a match or resolved already. Needs an `Idempotency-Key` header; a retry with the same key and body answers the first answer again.",
  body: { resolution: "write-off", ledgerAccount: "6800", reason: "bank charge, not invoiced" },
  answer: { exceptionId: EXAMPLE_ID, revision: "42", position: "00000000000002f10000000000000004", replayed: false },
  problems: problemResponses([...EVERY_COMMAND_PROBLEMS, "EXCEPTION_NOT_FOUND", "EXCEPTION_NOT_OPEN", "ACCOUNT_NOT_FOUND", "ACCOUNT_CLOSED", "ACCOUNT_CURRENCY_MISMATCH", "READ_MODEL_NOT_READY"], {
    EXCEPTION_NOT_OPEN: { detail: "external item ref:INV-9#1 is in match ba_main:m-7f3a" },
  }),
} as const;

function resolutionOf(body: ResolveExceptionBody): ResolveException["data"]["resolution"] {
  switch (body.resolution) {
    case "write-off":
      return { type: "write-off", ledgerAccount: body.ledgerAccount, reason: body.reason ?? null };
    case "ignore":
      return { type: "ignore", reason: body.reason };
    case "reassign":
      return { type: "reassign", assignee: body.assignee, reason: body.reason ?? null };
  }
}

async function resolve(deps: ExceptionRoutesDeps, rules: MatchingRulesCommandService, ctx: CommandContext, exceptionId: string, body: ResolveExceptionBody) {
  const subject = parseExceptionId(exceptionId);
  const account = subject === undefined ? undefined : await readBankAccount(deps.store, subject.bankAccountId);
  if (subject === undefined || account === undefined) throw new TrueupError("EXCEPTION_NOT_FOUND", `no exception ${exceptionId}`);
  deps.assertReadModelsReady();
  const found = subject.side === "external"
    ? await deps.items.externalItems(account.bankAccountId, [subject.itemId])
    : await deps.items.internalItems(account.ledgerId, account.ledgerAccount, [subject.itemId]);
  const item = found.get(subject.itemId);
  if (item?.currency !== account.currency) throw new TrueupError("EXCEPTION_NOT_FOUND", `no ${subject.side} item ${subject.itemId} of bank account ${account.bankAccountId} in ${account.currency} (or not projected yet)`);
  if (subject.kind === "aged") {
    const ageingDays = ((await readMatchingRules(deps.store, account.bankAccountId))?.rules ?? DEFAULT_MATCHING_RULES).exceptionAgeingDays;
    const ageDays = item.date === null ? 0 : daysBetween(item.date, dayOf(ctx));
    if (ageDays <= ageingDays) throw new TrueupError("EXCEPTION_NOT_FOUND", `item ${subject.itemId} is ${ageDays} days old, not past the account's ageing limit of ${ageingDays} days`);
  }
  if (body.resolution === "write-off") {
    const problem = writeOffAccountProblem(await rules.ledger(account.ledgerId), account, body.ledgerAccount, ["ledgerAccount"]);
    if (problem !== undefined) throw problem;
  }
  const outcome = await deps.service.resolveException(ctx, {
    type: "ResolveException",
    data: {
      bankAccountId: account.bankAccountId, exceptionId, kind: subject.kind, side: subject.side, item: { id: subject.itemId, amountMinor: item.amountMinor, date: item.date },
      currency: account.currency, resolution: resolutionOf(body), account: { ledgerId: account.ledgerId, ledgerAccount: account.ledgerAccount }, today: dayOf(ctx),
    },
  });
  return { exceptionId, ...outcome };
}

export function exceptionCommandRoutes(deps: ExceptionRoutesDeps) {
  const rules = new MatchingRulesCommandService({ store: deps.store });
  return async (root: FastifyInstance): Promise<void> => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const run = commandRunner(app, deps);
    const schema = commandRouteSchema({ tags: ["reconciliation commands"], params: z.object({ exceptionId: exceptionIdSchema }), body: resolveExceptionBody, status: 200, answer, done: "Resolved", docs: DOCS });
    app.post("/exceptions/:exceptionId/resolve", { schema }, (request, reply) => {
      const { exceptionId } = request.params;
      const scope = parseExceptionId(exceptionId)?.bankAccountId ?? "";
      return run(request, reply, { scope, status: 200, execute: (ctx) => resolve(deps, rules, ctx, exceptionId, request.body) });
    });
    await Promise.resolve();
  };
}
