// SWIFT MT940/MT942 text as a stream of tagged fields and message
// boundaries. A field is a `:tag:` line plus every following line that is
// not a tag, a boundary or blank (SWIFT lets :86: and :61: run over several
// lines). Messages end at a `-` line, at the `-}` that closes an envelope's
// text block `{4:`, or at the next `:20:`; the optional envelope
// `{1:…}{2:…}{3:…}{4:` … `-}{5:…}` only tells the message type.
//
// Bounded memory: one field at a time, and a field is bounded by
// STATEMENT_LINE_LIMITS.rawLengthMax characters (a :61: plus its :86: is a
// statement line's raw text, which must fit that bound anyway).
import { STATEMENT_LINE_LIMITS } from "@trueup/contracts";
import type { ImportLimits } from "../types.ts";
import { readLines, statementError } from "../shared.ts";

/** `:20:`, `:28C:`, `:60F:`, `:NS:` (non-SWIFT, ignored). */
const TAG_PATTERN = /^:([0-9]{2}[A-Z]?|NS):/;

/** A line of a bank's own message header (`ABNANL2A`, `940`): a BIC or the message type. */
export const BANK_HEADER_LINE = /^([A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?|94[02]|950)$/;

/** Characters of one field's text, all its lines together (a :61: + :86: pair must fit a line's raw). */
export const FIELD_LENGTH_MAX = STATEMENT_LINE_LIMITS.rawLengthMax;

export interface MtField {
  /** Without colons: `61`, `60F`. */
  readonly tag: string;
  /** 1-based physical line of the tag. */
  readonly line: number;
  /** The text after `:tag:` on its line, then each continuation line, exactly as written. */
  readonly lines: readonly string[];
}

export type MtToken =
  | { readonly kind: "field"; readonly field: MtField }
  /** An envelope's `{2:}` block named the message type of the next message (`940`, `942`, …), or null when it has no {2:}. */
  | { readonly kind: "envelope"; readonly messageType: string | null; readonly line: number }
  /** The current message ended at `line` (its `-`, `-}`, the next :20: or the end of the file). */
  | { readonly kind: "end"; readonly line: number };

/** The field's exact source text (`:tag:` and its lines joined by LF; the import decoded CRLF and LF alike). */
export function fieldText(field: MtField): string {
  return `:${field.tag}:${field.lines.join("\n")}`;
}

interface ReaderState {
  field: OpenField | null;
  messageOpen: boolean;
  inTextBlock: boolean;
}

interface OpenField {
  tag: string;
  line: number;
  lines: string[];
  length: number;
}

export async function* readFields(chunks: AsyncIterable<string>, limits: Pick<ImportLimits, "lineLengthMax">): AsyncGenerator<MtToken, void, undefined> {
  // One object, not loose `let`s: the nested generators below change it, and
  // TypeScript would narrow locals as if they could not.
  const state: ReaderState = { field: null, messageOpen: false, inTextBlock: false };
  let lastLine = 0;
  const close = function* (line: number): Generator<MtToken> {
    if (state.field !== null) yield { kind: "field", field: { tag: state.field.tag, line: state.field.line, lines: state.field.lines } };
    state.field = null;
    if (state.messageOpen) yield { kind: "end", line };
    state.messageOpen = false;
  };
  for await (const { text, number } of readLines(chunks, limits)) {
    lastLine = number;
    const trimmed = text.trim();
    if (trimmed === "") continue;
    if (trimmed === "-" || trimmed.startsWith("-}")) {
      yield* close(number);
      if (trimmed.startsWith("-}")) {
        if (!state.inTextBlock) throw statementError("STATEMENT_MALFORMED", "a `-}` closes no envelope text block `{4:`", { line: number });
        state.inTextBlock = false;
        const after = trimmed.slice(2);
        if (after !== "") {
          const envelope = parseEnvelope(after, number);
          if (envelope.textBlock !== null) throw statementError("STATEMENT_MALFORMED", "a text block `{4:` starts on the line that closes one", { line: number });
        }
      }
      continue;
    }
    if (text.startsWith("{1:") || (!state.messageOpen && text.startsWith("{"))) {
      yield* close(number);
      if (state.inTextBlock) throw statementError("STATEMENT_MALFORMED", "a new envelope starts before the text block `{4:` was closed by `-}`", { line: number });
      const envelope = parseEnvelope(text, number);
      yield { kind: "envelope", messageType: envelope.messageType, line: number };
      if (envelope.textBlock === null) continue;
      state.inTextBlock = true;
      if (envelope.textBlock.trim() === "") continue;
      yield* startOrContinue(envelope.textBlock, number);
      continue;
    }
    // ABN AMRO heads each message with its BIC, the type and the BIC again, outside any tag.
    if (!state.messageOpen && !state.inTextBlock && BANK_HEADER_LINE.test(trimmed)) continue;
    yield* startOrContinue(text, number);
  }
  yield* close(Math.max(lastLine, 1));
  if (state.inTextBlock) throw statementError("STATEMENT_MALFORMED", "the file ends inside an envelope's text block `{4:` (no closing `-}`): truncated?", { line: Math.max(lastLine, 1) });

  function* startOrContinue(text: string, number: number): Generator<MtToken> {
    const tag = TAG_PATTERN.exec(text)?.[1];
    if (tag === undefined) {
      if (state.field === null) {
        throw statementError("STATEMENT_MALFORMED", state.messageOpen || state.inTextBlock ? "expected a `:tag:` line" : "text outside any message", { line: number });
      }
      state.field.length += text.length + 1;
      if (state.field.length > FIELD_LENGTH_MAX) {
        throw statementError("STATEMENT_LINE_TOO_LONG", `the field :${state.field.tag}: is longer than the limit of ${FIELD_LENGTH_MAX} characters`, { line: state.field.line, record: `:${state.field.tag}:` }, { limit: FIELD_LENGTH_MAX });
      }
      state.field.lines.push(text);
      return;
    }
    // A :20: opens the next message even without a `-` between them.
    if (tag === "20" && state.messageOpen) yield* close(number);
    else if (state.field !== null) yield { kind: "field", field: { tag: state.field.tag, line: state.field.line, lines: state.field.lines } };
    state.messageOpen = true;
    const value = text.slice(tag.length + 2);
    state.field = { tag, line: number, lines: [value], length: value.length };
  }
}

/**
 * The blocks `{1:…}{2:…}{3:{108:…}}` of one envelope line (nested braces
 * allowed), up to an open `{4:` whose rest of line is returned as the first
 * text line. The message type is the three digits after `I`/`O` in {2:}.
 */
function parseEnvelope(text: string, line: number): { messageType: string | null; textBlock: string | null } {
  let messageType: string | null = null;
  let i = 0;
  while (i < text.length) {
    if (text[i] === " " || text[i] === "\t") {
      i++;
      continue;
    }
    const head = /^\{([0-9A-Z]{1,3}):/.exec(text.slice(i, i + 6));
    if (head?.[1] === undefined) throw statementError("STATEMENT_MALFORMED", "expected an envelope block `{n:…}`", { line, record: "{" });
    if (head[1] === "4") return { messageType, textBlock: text.slice(i + head[0].length) };
    const end = matchingBrace(text, i);
    if (end < 0) throw statementError("STATEMENT_MALFORMED", `the envelope block {${head[1]}: is not closed on its line`, { line, record: `{${head[1]}:` });
    if (head[1] === "2") messageType = /^[IO](\d{3})/.exec(text.slice(i + head[0].length, end))?.[1] ?? null;
    i = end + 1;
  }
  return { messageType, textBlock: null };
}

function matchingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return i;
  }
  return -1;
}
