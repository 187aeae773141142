// The match command API: a clerk's manual match, and confirm, reject and
// unmatch of a match by its id (`<bankAccountId>:<local id>`, so the id says
// which account's recon stream decides). Like every command each needs an
// Idempotency-Key (http/command-runner.ts). The decisions are the decider's
// (decider.ts); these routes bring what they need: the bank account and its
// rules from the log, the items' amounts from the read models (items.ts).
import type { Socket } from "node:net";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { DEFAULT_MATCHING_RULES, TrueupError, bankAccountIdSchema, manualMatchBody, matchIdSchema, matchReasonBody, problemResponses, reconciliationRunBody } from "@trueup/contracts";
import type { ErrorCode, ManualMatchBody, MatchingRules } from "@trueup/contracts";
import type { EventStore } from "@trueup/event-store";
import type { IdempotencyStore } from "../../idempotency.ts";
import type { InFlight } from "../../in-flight.ts";
import type { CommandContext } from "../../command.ts";
import { EVERY_COMMAND_PROBLEMS, commandRouteSchema, commandRunner, outcomeFields } from "../../http/command-runner.ts";
import { derivedEntityId } from "../../ids.ts";
import { readBankAccount } from "../bank-accounts/index.ts";
import type { BankAccountState } from "../bank-accounts/index.ts";
import { readMatchingRules } from "../matching-rules/index.ts";
import type { ItemAmount, MatchItemReader } from "./items.ts";
import type { MatchCommandService } from "./service.ts";
import type { ManualItem } from "./decider.ts";
import { RUN_LIMITS, dayOf, runReconciliation } from "./run.ts";
import { scoringContext, toleranceMinor } from "../matching/index.ts";

export interface MatchCommandRoutesDeps {
  readonly service: MatchCommandService;
  readonly store: EventStore;
  readonly items: MatchItemReader;
  readonly idempotency: IdempotencyStore;
  readonly inFlight?: InFlight | undefined;
  /** Throws READ_MODEL_NOT_READY (503) while the read models the items come from are not there yet. */
  readonly assertReadModelsReady: () => void;
}

const accepted = z.object({
  matchId: z.string().meta({ description: "The match's id: `<bankAccountId>:<local id>`", example: "ba_main_eur:m-7f3a" }),
  ...outcomeFields,
});

const TAGS = ["reconciliation commands"];
const ANSWER = { matchId: "ba_main_eur:m-7f3a", revision: "12", position: "00000000000002f10000000000000004", replayed: false };

const MANUAL_DOCS = {
  summary: "Match chosen items by hand",
  description:
    "Matches statement lines of the bank account (`externalIds`: their line ids) with ledger lines on its ledger account (`internalIds`: `<entryId>:<0-based line index>`), " +
    "confirmed at once. The items must balance, or differ by at most the account's tolerance (its matching rules), written off to their `writeOffAccount`. " +
    "An item in a confirmed match is refused (unmatch that first); suggestions holding an item are rejected as superseded. `matchId` is optional (derived from the Idempotency-Key otherwise). " +
    "Needs an `Idempotency-Key` header; a retry with the same key and body answers the first answer again (`Idempotent-Replayed: true`).",
  body: { externalIds: ["ref:NONREF-2026-03-02#1"], internalIds: ["inv-2026-118:0", "inv-2026-121:0"], reason: "customer paid two invoices at once" },
  answer: ANSWER,
  problems: problemResponses([...EVERY_COMMAND_PROBLEMS, "BANK_ACCOUNT_NOT_FOUND", "MATCH_ITEM_NOT_FOUND", "ACCOUNT_CURRENCY_MISMATCH", "MATCH_ITEM_TAKEN", "MATCH_UNBALANCED", "MATCH_ALREADY_EXISTS", "READ_MODEL_NOT_READY"], {
    MATCH_ITEM_TAKEN: { detail: "external item ref:NONREF-2026-03-02#1 is in confirmed match ba_main_eur:m-1; unmatch it first", in: "body", path: "/externalIds/0" },
    MATCH_ITEM_NOT_FOUND: { detail: "no ledger line inv-2026-121:0 on account 1000 of ledger acme (or not projected yet)", in: "body", path: "/internalIds/1" },
  }),
} as const;

const count = z.number().int().min(0);
const runAnswer = z.object({
  runId: z.string(),
  dryRun: z.boolean(),
  items: z.object({ external: count, internal: count }).meta({ description: "The open items the engine was given (statement lines and ledger lines in the window, less those in live matches)" }),
  proposals: z.object({ "1:1": count, "1:N": count, "N:1": count, "N:M": count }).meta({ description: "What the engine proposed, by kind" }),
  autoConfirmed: count.meta({ description: "Recorded confirmed (at the rules' threshold, not ambiguous, not partial)" }),
  suggested: count.meta({ description: "Recorded as suggestions for a clerk" }),
  ambiguous: count,
  conflicts: count.meta({ description: "Proposals not recorded: an item was taken meanwhile, or the same match was rejected before" }),
  bounds: z.array(z.object({ bound: z.string(), times: count, detail: z.string() })).meta({ description: "Every search bound that cut the run short, and why" }),
  // 0 in an answer stored before runs recorded them (an idempotent replay answers what was stored).
  nearMisses: count.default(0).meta({ description: "Open items whose near misses the run recorded: their case files (GET /bank-accounts/{id}/items/{side}/{itemId}/case) show the closest candidates and why each failed. 0 for a dry run" }),
  ...outcomeFields,
});

const RUN_DOCS = {
  summary: "Run the matching engine over a bank account's open items",
  description:
    "Matches the account's open statement lines against the open ledger lines on its ledger account (dated in [from, to] when given) by the account's matching rules. " +
    "Proposals at or above the rules' auto-confirm score (and not ambiguous or partial) are recorded confirmed, the rest as suggestions; with `dryRun` nothing is recorded. " +
    "A match that was rejected is not proposed again. At most 200,000 items per side per run (`RECONCILIATION_RUN_TOO_LARGE`: narrow the window). " +
    "Needs an `Idempotency-Key` header; a retry with the same key and body answers the first answer again (`Idempotent-Replayed: true`).",
  body: { dryRun: false, from: "2026-03-01", to: "2026-03-31" },
  answer: { runId: "run3f9c0a", dryRun: false, items: { external: 1204, internal: 1251 }, proposals: { "1:1": 1130, "1:N": 31, "N:1": 9, "N:M": 0 }, autoConfirmed: 987, suggested: 183, ambiguous: 4, conflicts: 0, bounds: [], nearMisses: 86, revision: "2340", position: "00000000000002f10000000000000004", replayed: false },
  problems: problemResponses([...EVERY_COMMAND_PROBLEMS, "BANK_ACCOUNT_NOT_FOUND", "RECONCILIATION_RUN_TOO_LARGE", "READ_MODEL_NOT_READY"], {
    VALIDATION_FAILED: { detail: "body/to: from is after to", in: "body", path: "/to" },
  }),
} as const;

const decisionDocs = (summary: string, description: string, body: unknown, extra: readonly ErrorCode[] = []) =>
  ({
    summary,
    description: `${description} Needs an \`Idempotency-Key\` header; a retry with the same key and body answers the first answer again (\`Idempotent-Replayed: true\`).`,
    body,
    answer: ANSWER,
    problems: problemResponses([...EVERY_COMMAND_PROBLEMS, "MATCH_NOT_FOUND", "MATCH_STATUS_CONFLICT", ...extra], {
      MATCH_STATUS_CONFLICT: { detail: "match ba_main_eur:m-7f3a is confirmed, not suggested" },
    }),
  }) as const;

const CONFIRM_DOCS = decisionDocs("Confirm a suggested match", "Confirms a match a run suggested; its items stay matched until an unmatch.", {});
const REJECT_DOCS = decisionDocs("Reject a suggested match", "Turns down a match a run suggested, with the reason; its items are open again.", { reason: "the payment was for another invoice" });
const UNMATCH_DOCS = decisionDocs(
  "Undo a confirmed match",
  "Undoes a confirmed match, with the reason; its items are open again. A posted write-off goes with it: the write-off process manager reverses its entry through the ledger, dated as it was (the match's write-off shows `reversing`, then `reversed`, or `reversal-refused` with the ledger's code). A match whose write-off is still being posted is refused (`MATCH_HAS_WRITE_OFF`): retry once it is posted.",
  { reason: "booked to the wrong customer" },
  ["MATCH_HAS_WRITE_OFF"],
);

const matchParams = z.object({ matchId: matchIdSchema.refine((id) => bankAccountOf(id) !== undefined, "a match id is <bankAccountId>:<local id>") });

/** The bank account a match id names, or undefined. */
export function bankAccountOf(matchId: string): string | undefined {
  const at = matchId.indexOf(":");
  if (at <= 0) return undefined;
  const bankAccountId = matchId.slice(0, at);
  return bankAccountIdSchema.safeParse(bankAccountId).success && at < matchId.length - 1 ? bankAccountId : undefined;
}

/** The most a manual match may differ by: the tolerance the engine applies (toleranceMinor) to its external total. */
function writeOffLimit(rules: MatchingRules, externalMinor: bigint): { ledgerAccount: string; limitMinor: bigint } | null {
  if (rules.writeOffAccount === null) return null;
  return { ledgerAccount: rules.writeOffAccount, limitMinor: toleranceMinor(scoringContext(rules, []), externalMinor) };
}

function itemsOrRefuse(side: "externalIds" | "internalIds", ids: readonly string[], found: ReadonlyMap<string, ItemAmount>, account: BankAccountState): ManualItem[] {
  return ids.map((id, index) => {
    const item = found.get(id);
    const what = side === "externalIds" ? `statement line ${id} of bank account ${account.bankAccountId}` : `ledger line ${id} on account ${account.ledgerAccount} of ledger ${account.ledgerId}`;
    if (item === undefined) throw new TrueupError("MATCH_ITEM_NOT_FOUND", `no ${what} (or not projected yet)`, { path: [side, index] });
    if (item.currency !== account.currency) throw new TrueupError("ACCOUNT_CURRENCY_MISMATCH", `${what} is in ${item.currency}; the bank account is in ${account.currency}`, { path: [side, index] });
    return { id, amountMinor: item.amountMinor, date: item.date, counterpartyName: item.counterpartyName, counterpartyIban: item.counterpartyIban, contraAccounts: item.contraAccounts };
  });
}

async function manualMatch(deps: MatchCommandRoutesDeps, ctx: CommandContext, bankAccountId: string, body: ManualMatchBody) {
  deps.assertReadModelsReady();
  const account = await readBankAccount(deps.store, bankAccountId);
  if (account === undefined) throw new TrueupError("BANK_ACCOUNT_NOT_FOUND", `no bank account ${bankAccountId}`);
  const rules = (await readMatchingRules(deps.store, bankAccountId))?.rules ?? DEFAULT_MATCHING_RULES;
  const externals = itemsOrRefuse("externalIds", body.externalIds, await deps.items.externalItems(bankAccountId, body.externalIds), account);
  const internals = itemsOrRefuse("internalIds", body.internalIds, await deps.items.internalItems(account.ledgerId, account.ledgerAccount, body.internalIds), account);
  const externalMinor = externals.reduce((sum, item) => sum + item.amountMinor, 0n);
  // From the command id, so a retry with the same key names the same match.
  const matchId = `${bankAccountId}:${body.matchId ?? derivedEntityId("m", ctx.commandId)}`;
  const outcome = await deps.service.manualMatch(ctx, {
    type: "ManualMatch",
    data: {
      bankAccountId, matchId, externals, internals, currency: account.currency, writeOff: writeOffLimit(rules, externalMinor), reason: body.reason ?? null,
      account: { ledgerId: account.ledgerId, ledgerAccount: account.ledgerAccount }, today: dayOf(ctx),
    },
  });
  return { matchId, ...outcome };
}

/** The dates of a match's items (facts from the read models): an unmatch is checked against signed-off periods with them. */
async function matchItemDates(deps: MatchCommandRoutesDeps, account: BankAccountState, matchId: string): Promise<(string | null)[]> {
  const match = (await deps.service.state(account.bankAccountId)).matches.get(matchId);
  if (match === undefined) return [];
  deps.assertReadModelsReady();
  const [external, internal] = await Promise.all([
    deps.items.externalItems(account.bankAccountId, match.externalIds),
    deps.items.internalItems(account.ledgerId, account.ledgerAccount, match.internalIds),
  ]);
  return [...external.values(), ...internal.values()].map((item) => item.date);
}

export function matchCommandRoutes(deps: MatchCommandRoutesDeps) {
  return async (root: FastifyInstance): Promise<void> => {
    const app = root.withTypeProvider<ZodTypeProvider>();
    const run = commandRunner(app, deps);
    const manual = commandRouteSchema({ tags: TAGS, params: z.object({ bankAccountId: bankAccountIdSchema }), body: manualMatchBody, status: 201, answer: accepted, done: "Matched and confirmed", docs: MANUAL_DOCS });
    app.post("/bank-accounts/:bankAccountId/matches", { schema: manual }, (request, reply) => {
      const { bankAccountId } = request.params;
      return run(request, reply, { scope: bankAccountId, status: 201, execute: (ctx) => manualMatch(deps, ctx, bankAccountId, request.body) });
    });
    const run_ = commandRouteSchema({ tags: TAGS, params: z.object({ bankAccountId: bankAccountIdSchema }), body: reconciliationRunBody, status: 201, answer: runAnswer, done: "Run", docs: RUN_DOCS });
    app.post("/bank-accounts/:bankAccountId/reconciliation-runs", { schema: run_ }, (request, reply) => {
      const { bankAccountId } = request.params;
      const body = request.body;
      // A large account's run takes longer than the server's idle timeout; a real connection's socket may stay
      // silent while it works (app.inject()'s stand-in has no timeout to lift).
      const socket: Partial<Pick<Socket, "setTimeout">> = request.raw.socket;
      socket.setTimeout?.(RUN_LIMITS.silenceMsMax);
      return run(request, reply, {
        scope: bankAccountId,
        status: 201,
        execute: async (ctx) => {
          deps.assertReadModelsReady();
          return { ...(await runReconciliation(deps, ctx, bankAccountId, { dryRun: body.dryRun, from: body.from ?? null, to: body.to ?? null })) };
        },
      });
    });
    const decisions = [
      ["confirm", "ConfirmMatch", z.strictObject({}), CONFIRM_DOCS, "Confirmed"],
      ["reject", "RejectMatch", matchReasonBody, REJECT_DOCS, "Rejected"],
      ["unmatch", "UnmatchMatch", matchReasonBody, UNMATCH_DOCS, "Unmatched"],
    ] as const;
    for (const [path, type, body, docs, done] of decisions) {
      const schema = commandRouteSchema({ tags: TAGS, params: matchParams, body, status: 200, answer: accepted, done, docs });
      app.post(`/matches/:matchId/${path}`, { schema }, (request, reply) => {
        const { matchId } = request.params;
        const bankAccountId = bankAccountOf(matchId) ?? "";
        const reason = "reason" in request.body ? request.body.reason : null;
        return run(request, reply, {
          scope: bankAccountId,
          status: 200,
          execute: async (ctx) => {
            // Where a confirmed write-off posts: the account's ledger, from its own stream. No account, no match.
            const account = await readBankAccount(deps.store, bankAccountId);
            if (account === undefined) throw new TrueupError("MATCH_NOT_FOUND", `no match ${matchId}`);
            const itemDates = type === "UnmatchMatch" ? await matchItemDates(deps, account, matchId) : [];
            const data = { bankAccountId, matchId, reason, account: { ledgerId: account.ledgerId, ledgerAccount: account.ledgerAccount }, today: dayOf(ctx), itemDates };
            return { matchId, ...(await deps.service.decide(ctx, { type, data })) };
          },
        });
      });
    }
  };
}
