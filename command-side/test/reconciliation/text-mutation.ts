// Test helper: the character-level mutations the camt fuzz test and the XML
// reader's differential test apply to samples (a character replaced, a range
// deleted, a token inserted, the text cut short), so both draw from one
// definition. A test adds its own kinds beside these (camt-fuzz: whole
// elements duplicated or removed).
import fc from "fast-check";

export type TextMutation =
  | { kind: "replace"; at: number; with: string }
  | { kind: "delete"; at: number; length: number }
  | { kind: "insert"; at: number; token: string }
  | { kind: "truncate"; at: number };

/** The four kinds as fc.oneof entries: `deleteMax` characters deleted at most, inserts drawn `insertWeight` times as often as each other kind. */
export function textMutations(tokens: readonly string[], options: { readonly deleteMax: number; readonly insertWeight?: number }): fc.WeightedArbitrary<TextMutation>[] {
  return [
    { arbitrary: fc.record({ kind: fc.constant("replace" as const), at: fc.nat(), with: fc.oneof(fc.constantFrom(...tokens), fc.string({ minLength: 1, maxLength: 1 })) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: options.deleteMax }) }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), token: fc.constantFrom(...tokens) }), weight: options.insertWeight ?? 1 },
    { arbitrary: fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }), weight: 1 },
  ];
}

/** `text` with `m` applied; positions wrap around the text's length. */
export function mutateText(text: string, m: TextMutation): string {
  const at = m.at % (text.length + 1);
  switch (m.kind) {
    case "replace":
      return text.slice(0, at) + m.with + text.slice(at + 1);
    case "delete":
      return text.slice(0, at) + text.slice(at + m.length);
    case "insert":
      return text.slice(0, at) + m.token + text.slice(at);
    case "truncate":
      return text.slice(0, at);
  }
}
