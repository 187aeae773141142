// Bench figures: what was measured, against which limit, and whether it met
// it. Written as a JSON list (the machine-readable record of one run) and
// printed as a table (what a person reads).
import { mkdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** e.g. ">= 0.5"; null for a figure that only informs (a limit, a raw rate). */
  readonly target: string | null;
  readonly pass: boolean | null;
}

export function atLeast(name: string, value: number, unit: string, minimum: number): Figure {
  return { name, value, unit, target: `>= ${minimum}`, pass: value >= minimum };
}

export function below(name: string, value: number, unit: string, maximum: number): Figure {
  return { name, value, unit, target: `< ${maximum}`, pass: value < maximum };
}

export function info(name: string, value: number, unit: string): Figure {
  return { name, value, unit, target: null, pass: null };
}

/**
 * Rates and sizes to whole numbers, smaller values (ratios) to two decimals,
 * three below 10, and three significant digits below 0.1 (0.0497 stays
 * 0.0497), so a ratio just under its target never prints as the target.
 */
export function roundValue(value: number): number {
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return Math.round(value);
  if (magnitude > 0 && magnitude < 0.1) return Number(value.toPrecision(3));
  const scale = magnitude >= 10 ? 100 : 1000;
  return Math.round(value * scale) / scale;
}

export function formatTable(figures: readonly Figure[]): string {
  const header = ["figure", "value", "unit", "target", "result"];
  const rows = figures.map((f) => [
    f.name,
    roundValue(f.value).toLocaleString("en-US"),
    f.unit,
    f.target ?? "",
    f.pass === null ? "" : f.pass ? "pass" : "FAIL",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (i === 1 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 1 ? `${"-".repeat(w + 1)}:` : "-".repeat(w + 2))).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** Writes through a temporary file, so a crashed run never leaves half a JSON file. */
export async function writeResults(file: string, figures: readonly Figure[]): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const rounded = figures.map((f) => ({ ...f, value: roundValue(f.value) }));
  const temporary = `${file}.tmp`;
  await writeFile(temporary, `${JSON.stringify(rounded, null, 2)}\n`, "utf8");
  await rename(temporary, file);
}
