// Registering a bank account: decided from the log (the ledger's stream for
// its ledger account, the ledger's listing for its identifiers), written to
// two streams. Why this order is correct, under concurrency and crashes:
//
// 1. Decide from `bankaccounts-<ledgerId>` (the listing): an identifier or
//    the id already listed is refused before anything is written.
// 2. Append BankAccountRegistered to `bankaccount-<id>` expecting no stream:
//    the id's claim across every ledger (ids are global: imports address
//    `/bank-accounts/{id}`). Two registrations of one id: one lands, the
//    other is refused BANK_ACCOUNT_ALREADY_EXISTS.
// 3. Append BankAccountListed to the listing at the revision step 1 read; if
//    the listing moved, the stream writer reads it again and decides again,
//    so two accounts with one IBAN cannot both be listed: the identifier's
//    uniqueness rests on this one stream's expected revision.
//
// If step 3 is refused (an identifier taken meanwhile) or never happens (a
// crash, an outage), the account stays registered but unlisted. Such an
// account is not active: every reader requires the listing (index.ts), so
// nothing can be imported to it, and it holds no identifier. It does hold its
// id; a retry with the same Idempotency-Key replays step 2 (the writer knows
// the command in the stream) and completes step 3 if it can.
//
// The other order (list first, then claim the id) would be worse: a listing
// whose registration then fails (the id is another ledger's) would keep
// identifiers for an account that does not exist, blocking them for good.
import { bankAccountIdentifiers, bankAccountStream, ledgerBankAccountsStream, ledgerStream, parseLedgerEvent, reconciliationSchemaVersion } from "@trueup/contracts";
import type { LedgerEvent, RegisterBankAccountBody, StreamName } from "@trueup/contracts";
import type { AppendGuard, EventStore } from "@trueup/event-store";
import { StreamWriter } from "../../stream-writer.ts";
import type { AtomicAppender, StreamModel, WriterLimits } from "../../stream-writer.ts";
import { StaleDecisionError, envelopeOf, outcomeOf } from "../../command.ts";
import type { CommandContext, CommandOutcome } from "../../command.ts";
import type { Decision } from "../../decision.ts";
import { derivedEntityId } from "../../ids.ts";
import * as ledgerDecider from "../../ledger/decider.ts";
import * as decider from "./decider.ts";

/** Times a registration reads the ledger again because its ledger account was closed between the read and the listing. */
export const STALE_LEDGER_RETRIES_MAX = 3;

export class BankAccountCommandService {
  private readonly accounts: StreamWriter<decider.BankAccountStreamState, decider.BankAccountEvent>;
  private readonly listings: StreamWriter<decider.LedgerListingState, decider.BankAccountEvent>;
  private readonly ledgers: StreamWriter<ledgerDecider.LedgerState, LedgerEvent>;

  constructor(options: {
    readonly store: EventStore;
    /** With one (PostgreSQL), the listing also checks that the ledger account was not closed since it was read. */
    readonly atomic?: AtomicAppender | undefined;
    readonly writerLimits?: Partial<WriterLimits> | undefined;
  }) {
    const { store, atomic, writerLimits: limits } = options;
    this.accounts = new StreamWriter({ store, limits, model: reconciliationModel(decider.initialBankAccountState, decider.evolveBankAccount) });
    this.listings = new StreamWriter({ store, limits, atomic, model: reconciliationModel(decider.initialListingState, decider.evolveListing) });
    this.ledgers = new StreamWriter({ store, limits, model: { initial: ledgerDecider.initialLedgerState, evolve: ledgerDecider.evolveLedger, parse: parseLedgerEvent } });
    this.guarded = atomic !== undefined;
  }

  private readonly guarded: boolean;

  async register(ctx: CommandContext, ledgerId: string, body: RegisterBankAccountBody): Promise<CommandOutcome & { bankAccountId: string }> {
    // From the command id, so a retry with the same key names the same account.
    const bankAccountId = body.bankAccountId ?? derivedEntityId("ba", ctx.commandId);
    const registered = {
      bankAccountId,
      ledgerId,
      kind: body.kind,
      name: body.name,
      iban: body.iban ?? null,
      accountNumber: body.accountNumber ?? null,
      bankId: body.bankId ?? null,
      currency: body.currency,
      ledgerAccount: body.ledgerAccount,
    };
    const identifiers = bankAccountIdentifiers(registered);
    const ibanIdentifier = registered.iban;
    const list: decider.ListBankAccount = {
      type: "ListBankAccount",
      data: { ledgerId, bankAccountId, identifiers },
      fieldOf: (identifier) => (identifier === ibanIdentifier ? "iban" : "accountNumber"),
    };
    const listingStream = ledgerBankAccountsStream(ledgerId);

    for (let attempt = 0; ; attempt++) {
      const ledger = await this.ledgers.load(ledgerStream(ledgerId));
      // Step 1: refused here, nothing is written. A command whose listing is in the log already succeeded (its answer
      // was lost): it is not decided again, so a ledger account closed since cannot refuse its own success; both
      // writes below replay it.
      const listing = await this.listings.load(listingStream);
      if (!listing.commands.has(ctx.commandId)) {
        const ledgerProblem = decider.ledgerAccountProblem(ledger.state, { ledgerId, ledgerAccount: body.ledgerAccount, currency: body.currency });
        if (ledgerProblem !== undefined) throw ledgerProblem;
        const dryRun = decider.decideListing(list, listing.state);
        if ("rejected" in dryRun) throw dryRun.rejected;
      }

      // Step 2: the id's claim.
      const accountStream = bankAccountStream(bankAccountId);
      const claim = await this.write(this.accounts, {
        stream: accountStream,
        ctx,
        decide: (s) => decider.decideRegistration({ type: "RegisterBankAccount", data: registered }, s),
      });

      // Step 3: the listing, re-decided by the writer if the listing moved.
      const guards: AppendGuard[] | undefined = this.guarded
        ? [{ stream: ledgerStream(ledgerId), afterRevision: ledger.revision ?? -1n, eventType: "AccountClosed", field: "code", values: [body.ledgerAccount] }]
        : undefined;
      try {
        const listed = await this.write(this.listings, { stream: listingStream, ctx, decide: (s) => decider.decideListing(list, s), guards });
        return {
          bankAccountId,
          revision: claim.revision,
          // The later of the two writes: a query at this position sees both.
          position: listed.position ?? claim.position,
          replayed: claim.replayed && listed.replayed,
          recorded: false,
        };
      } catch (error) {
        if (!(error instanceof StaleDecisionError) || attempt >= STALE_LEDGER_RETRIES_MAX) throw error;
      }
    }
  }

  private async write<S>(writer: StreamWriter<S, decider.BankAccountEvent>, command: { stream: StreamName; ctx: CommandContext; decide: (state: S) => Decision<decider.BankAccountEvent>; guards?: readonly AppendGuard[] | undefined }): Promise<CommandOutcome> {
    const { stream, ctx, decide, guards } = command;
    return outcomeOf(await writer.submit(stream, { commandId: ctx.commandId, decide, envelope: envelopeOf({ ctx, stream, schemaVersionOf: reconciliationSchemaVersion }), guards }));
  }
}

function reconciliationModel<S>(initial: () => S, evolve: (state: S, event: decider.BankAccountEvent) => S): StreamModel<S, decider.BankAccountEvent> {
  return { initial, evolve, parse: decider.parseBankAccountEvent };
}
