// What the end-to-end matching bench (bench/match-api.ts) checks once a
// run's matches are queryable, untimed: every match of the account read back
// through GET /bank-accounts/{id}/matches (cursor pages of 500), counted by
// status and kind, its items summed against the summary's counts (the same
// read model seen two ways must agree), and the designed matches looked for
// among them: recall (a designed match proposed with exactly its items, as
// suggestion or confirmed) and false confirmations (a confirmed match that
// is not a designed one).
import { z } from "zod";
import type { DesignedCategory, DesignedMatch } from "./match-books.ts";
import type { ApiClient } from "./match-api-http.ts";
import { matchKey } from "./match-api-books.ts";
import type { Summary } from "./match-api-setup.ts";

/** The query side's page bound (README "Matching": every list is cursor-paged, at most 500 a page). */
const PAGE_SIZE = 500;
/** A bound on the pages read (200,000 items a side make at most 200,000 matches: 400 pages). */
const PAGES_MAX = 1_000;
const PAGE_WAIT_MS = 60_000;

export const CATEGORIES: readonly DesignedCategory[] = ["reference", "drift", "group", "payout"];

const matchRow = z.looseObject({
  matchId: z.string(),
  runId: z.string().nullable(),
  kind: z.string(),
  status: z.string(),
  automatic: z.boolean(),
  externalIds: z.array(z.string()),
  internalIds: z.array(z.string()),
});
type MatchRow = z.infer<typeof matchRow>;
const matchesPage = z.looseObject({ items: z.array(matchRow), nextCursor: z.string().nullable() });

export interface ReadBack {
  readonly matches: readonly MatchRow[];
  readonly pages: number;
  readonly elapsedMs: number;
}

/** Every match of the account, all statuses, page after page. */
export async function readAllMatches(client: ApiClient, bankAccountId: string): Promise<ReadBack> {
  const started = performance.now();
  const matches: MatchRow[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    if (pages >= PAGES_MAX) throw new Error(`more than ${PAGES_MAX} pages of matches`);
    const query = `limit=${PAGE_SIZE}${cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`}`;
    const answer = await client.get(`/bank-accounts/${encodeURIComponent(bankAccountId)}/matches?${query}`, PAGE_WAIT_MS);
    if (answer.status !== 200) throw new Error(`GET matches (page ${pages + 1}): ${answer.status} ${answer.text.slice(0, 2_000)}`);
    const page = matchesPage.parse(answer.body);
    matches.push(...page.items);
    cursor = page.nextCursor;
    pages += 1;
  } while (cursor !== null);
  return { matches, pages, elapsedMs: performance.now() - started };
}

export interface Quality {
  /** Matches by `status kind` (e.g. `confirmed 1:1`). */
  readonly byStatusKind: ReadonlyMap<string, number>;
  readonly found: Readonly<Record<DesignedCategory, number>>;
  readonly designed: Readonly<Record<DesignedCategory, number>>;
  readonly recallPercent: number;
  readonly falseConfirmations: number;
  /** Live matches (suggested or confirmed) that are not designed ones. */
  readonly undesigned: number;
  /** Disagreements between the matches listed and the summary: items per side and status, an item in two live matches. */
  readonly inconsistencies: readonly string[];
}

const perCategory = (): Record<DesignedCategory, number> => ({ reference: 0, drift: 0, group: 0, payout: 0 });

export function quality(options: { matches: readonly MatchRow[]; runId: string; designed: ReadonlyMap<string, DesignedMatch>; summary: Summary | undefined }): Quality {
  const byStatusKind = new Map<string, number>();
  const found = perCategory();
  const designed = perCategory();
  for (const d of options.designed.values()) designed[d.category] += 1;
  let falseConfirmations = 0;
  let undesigned = 0;
  const inconsistencies: string[] = [];
  const itemsOf = { external: { confirmed: 0, suggested: 0 }, internal: { confirmed: 0, suggested: 0 } };
  const live = new Set<string>();
  for (const m of options.matches) {
    byStatusKind.set(`${m.status} ${m.kind}`, (byStatusKind.get(`${m.status} ${m.kind}`) ?? 0) + 1);
    if (m.status !== "confirmed" && m.status !== "suggested") continue;
    if (m.runId !== options.runId) inconsistencies.push(`match ${m.matchId} is live but not of the run`);
    itemsOf.external[m.status] += m.externalIds.length;
    itemsOf.internal[m.status] += m.internalIds.length;
    for (const id of [...m.externalIds.map((i) => `e ${i}`), ...m.internalIds.map((i) => `i ${i}`)]) {
      if (live.has(id) && inconsistencies.length < 20) inconsistencies.push(`item ${id} is in two live matches`);
      live.add(id);
    }
    const d = options.designed.get(matchKey(m.externalIds, m.internalIds));
    if (d !== undefined) found[d.category] += 1;
    else {
      undesigned += 1;
      if (m.status === "confirmed") falseConfirmations += 1;
    }
  }
  const { summary } = options;
  if (summary === undefined) inconsistencies.push("the summary did not answer: its counts could not be compared");
  else for (const side of ["external", "internal"] as const) {
    if (summary[side].matched !== itemsOf[side].confirmed) inconsistencies.push(`${side}: the summary counts ${summary[side].matched} matched items, the confirmed matches hold ${itemsOf[side].confirmed}`);
    if (summary[side].suggested !== itemsOf[side].suggested) inconsistencies.push(`${side}: the summary counts ${summary[side].suggested} suggested items, the suggested matches hold ${itemsOf[side].suggested}`);
  }
  const foundAll = CATEGORIES.reduce((n, c) => n + found[c], 0);
  return {
    byStatusKind,
    found,
    designed,
    recallPercent: (100 * foundAll) / Math.max(1, options.designed.size),
    falseConfirmations,
    undesigned,
    inconsistencies,
  };
}
