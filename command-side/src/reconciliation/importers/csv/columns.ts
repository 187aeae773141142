// A profile's column map resolved against one file: each mapped field to the
// index of its column in every row, and the label a located error names it
// by (the header name as the file writes it, or the index).
import { mappedColumns } from "@trueup/contracts";
import type { CsvColumn, CsvColumnMap, SourceLocation } from "@trueup/contracts";
import { statementError } from "../shared.ts";

export interface ResolvedColumn {
  readonly index: number;
  /** The header name, or the index as a string: `SourceLocation.column`. */
  readonly label: string;
}

/** Mapped field (`amount`, `attributes.payoutId`…) → its column; an optional column the file lacks is absent. */
export type ResolvedColumns = ReadonlyMap<string, ResolvedColumn>;

/**
 * Resolves every mapped column. `header` is the trimmed header row, or
 * undefined without one (then every column is an index, see csvProfileRules).
 * A required column the header lacks, a name the header holds twice, or an
 * index beyond the row is STATEMENT_MALFORMED at the header (or first) row.
 */
export function resolveColumns(columns: CsvColumnMap, options: { header: readonly string[] | undefined; fieldCount: number; location: SourceLocation }): ResolvedColumns {
  const { header, fieldCount, location } = options;
  const resolved = new Map<string, ResolvedColumn>();
  for (const [field, column] of mappedColumns(columns)) {
    const found = resolveOne(column, header, field, location);
    if (found === undefined) continue;
    if (found.index >= fieldCount) {
      throw statementError("STATEMENT_MALFORMED", `the profile maps ${field} to column ${found.label}, but the rows have ${fieldCount} fields`, { ...location, column: found.label });
    }
    resolved.set(field, found);
  }
  return resolved;
}

function resolveOne(column: CsvColumn, header: readonly string[] | undefined, field: string, location: SourceLocation): ResolvedColumn | undefined {
  if (typeof column === "number") return { index: column, label: String(column) };
  const names = typeof column === "string" ? [column] : column.names;
  const optional = typeof column === "object" && column.optional;
  if (header === undefined) {
    // csvProfileRules refuses named columns without a header row; a profile built in code must follow it too.
    throw statementError("STATEMENT_MALFORMED", `the profile names ${field}'s column ${JSON.stringify(names[0])} but the file has no header row`, location);
  }
  for (const name of names) {
    const index = header.indexOf(name);
    if (index < 0) continue;
    if (header.includes(name, index + 1)) throw statementError("STATEMENT_MALFORMED", `the header names column ${JSON.stringify(name)} twice`, { ...location, column: name });
    return { index, label: name };
  }
  if (optional) return undefined;
  const wanted = names.map((name) => JSON.stringify(name)).join(" or ");
  throw statementError("STATEMENT_MALFORMED", `the header has no column ${wanted} (mapped to ${field})`, { ...location, column: names[0] });
}
