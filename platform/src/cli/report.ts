// What the CLI prints: the import's answer as a summary table (stdout, one
// row per statement and a total), a problem as its code, detail and where
// in the file (stderr). The answer is read through a schema that accepts
// fields it does not know, so a newer server's additions never break the
// table; a body that does not fit at all is shown raw, never guessed at.
import { z } from "zod";

const count = z.union([z.number(), z.string()]).transform(String);
const side = z.looseObject({ count, amount: z.string() });
const totalsSchema = z.array(z.looseObject({ currency: z.string(), credits: side, debits: side })).catch([]);
const locationSchema = z.looseObject({
  line: z.number().optional(),
  element: z.string().optional(),
  record: z.string().optional(),
  column: z.string().optional(),
});
const checkSchema = z.looseObject({
  check: z.string(),
  status: z.string(),
  code: z.string().nullable().optional(),
  message: z.string().optional(),
  expected: z.string().nullable().optional(),
  actual: z.string().nullable().optional(),
  location: locationSchema.nullable().optional(),
});
const statementSchema = z.looseObject({
  statementId: z.string(),
  bankAccountId: z.string(),
  lineCount: count,
  newLines: count,
  knownLines: count,
  totals: totalsSchema.optional(),
  checks: z.array(checkSchema).catch([]).optional(),
  reimport: z.boolean().optional(),
});
export const importAnswerSchema = z.looseObject({
  statementIds: z.array(z.string()),
  format: z.string(),
  lineCount: count,
  newLines: count,
  knownLines: count,
  totals: totalsSchema.optional(),
  statements: z.array(statementSchema),
  position: z.string().nullable().optional(),
  replayed: z.boolean().optional(),
});
export type ImportAnswer = z.infer<typeof importAnswerSchema>;

export const problemSchema = z.looseObject({
  status: z.number(),
  code: z.string(),
  title: z.string().optional(),
  detail: z.string().optional(),
  in: z.string().optional(),
  path: z.string().optional(),
  location: locationSchema.optional(),
  expected: z.string().nullable().optional(),
  actual: z.string().nullable().optional(),
  check: z.string().optional(),
  checks: z.array(checkSchema).catch([]).optional(),
});
export type ProblemBody = z.infer<typeof problemSchema>;

type Totals = z.infer<typeof totalsSchema>;

function money(totals: Totals | undefined, which: "credits" | "debits"): string {
  if (totals === undefined || totals.length === 0) return "-";
  // e.g. "12345.67 EUR (41)": the sum, then how many lines make it.
  return totals.map((t) => `${t[which].amount} ${t.currency} (${t[which].count})`).join(", ");
}

export function formatLocation(location: z.infer<typeof locationSchema> | null | undefined): string | undefined {
  if (location === undefined || location === null) return undefined;
  const parts = [
    location.line === undefined ? undefined : `line ${location.line}`,
    location.record === undefined ? undefined : `record ${location.record}`,
    location.element === undefined ? undefined : `element ${location.element}`,
    location.column === undefined ? undefined : `column ${location.column}`,
  ].filter((p): p is string => p !== undefined);
  return parts.length === 0 ? undefined : parts.join(", ");
}

function failed(checks: readonly z.infer<typeof checkSchema>[] | undefined): string {
  const names = (checks ?? []).filter((c) => c.status === "failed").map((c) => c.check);
  return names.length === 0 ? "none" : names.join(", ");
}

export function table(header: readonly string[], rows: readonly (readonly string[])[], numeric: ReadonlySet<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** The summary printed on stdout after an accepted import. */
export function formatSummary(answer: ImportAnswer, replayed: boolean): string {
  const header = ["statement", "bank account", "lines", "new", "known", "credits", "debits", "failed checks"];
  const rows = answer.statements.map((s) => [s.statementId, s.bankAccountId, s.lineCount, s.newLines, s.knownLines, money(s.totals, "credits"), money(s.totals, "debits"), failed(s.checks)]);
  if (answer.statements.length > 1) rows.push(["total", "", answer.lineCount, answer.newLines, answer.knownLines, money(answer.totals, "credits"), money(answer.totals, "debits"), ""]);
  const notes = [
    `${answer.format}: ${answer.statements.length} statement${answer.statements.length === 1 ? "" : "s"}, ${answer.lineCount} lines, ${answer.newLines} new, ${answer.knownLines} already known`,
  ];
  if (replayed) notes.push("replayed: the server had answered this import before (same Idempotency-Key); nothing new was written");
  const accepted = answer.statements.filter((s) => (s.checks ?? []).some((c) => c.status === "failed"));
  if (accepted.length > 0) notes.push(`accepted with failed checks (--accept-failed-checks): ${accepted.map((s) => s.statementId).join(", ")}`);
  return `${table(header, rows, new Set([2, 3, 4]))}\n\n${notes.join("\n")}\n`;
}

/** A problem answer, as lines for stderr: code and detail, then where, then the figures. */
export function formatProblem(problem: ProblemBody): string {
  const lines = [`rejected (${problem.status}) ${problem.code}: ${problem.detail ?? problem.title ?? ""}`.trimEnd()];
  const where = formatLocation(problem.location);
  if (where !== undefined) lines.push(`  at ${where}`);
  if (problem.in !== undefined && problem.path !== undefined) lines.push(`  in ${problem.in} ${problem.path}`);
  if (problem.expected !== undefined && problem.expected !== null) lines.push(`  expected ${problem.expected}, actual ${problem.actual ?? "?"}`);
  const checks = problem.checks ?? [];
  if (checks.length > 0) {
    lines.push("  checks:");
    for (const c of checks) {
      const at = formatLocation(c.location);
      lines.push(`    ${c.check}: ${c.status}${c.code === undefined || c.code === null ? "" : ` (${c.code})`}${at === undefined ? "" : ` at ${at}`}${c.status === "failed" && c.message !== undefined ? ` - ${c.message}` : ""}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
