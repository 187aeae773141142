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
import { statementError } from "../shared.ts";

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

interface OpenField {
  tag: string;
  line: number;
  lines: string[];
  length: number;
}

/**
 * The tokens of the text's lines, fed one by one (`line`) and then `end`:
 * a plain class, not an async generator, so that a chunk's lines are read
 * in one synchronous loop (a generator per line and a promise per token
 * were half of MT940's parse time). Tokens go to `emit` in file order; a
 * fault throws after the tokens before it.
 */
export class FieldReader {
  private field: OpenField | null = null;
  private messageOpen = false;
  private inTextBlock = false;
  private lastLine = 0;

  constructor(private readonly emit: (token: MtToken) => void) {}

  line(text: string, number: number): void {
    this.lastLine = number;
    const trimmed = text.trim();
    if (trimmed === "") return;
    if (trimmed === "-" || trimmed.startsWith("-}")) {
      this.close(number);
      if (trimmed.startsWith("-}")) {
        if (!this.inTextBlock) throw statementError("STATEMENT_MALFORMED", "a `-}` closes no envelope text block `{4:`", { line: number });
        this.inTextBlock = false;
        const after = trimmed.slice(2);
        if (after !== "") {
          const envelope = parseEnvelope(after, number);
          if (envelope.textBlock !== null) throw statementError("STATEMENT_MALFORMED", "a text block `{4:` starts on the line that closes one", { line: number });
        }
      }
      return;
    }
    if (text.startsWith("{1:") || (!this.messageOpen && text.startsWith("{"))) {
      this.close(number);
      if (this.inTextBlock) throw statementError("STATEMENT_MALFORMED", "a new envelope starts before the text block `{4:` was closed by `-}`", { line: number });
      const envelope = parseEnvelope(text, number);
      this.emit({ kind: "envelope", messageType: envelope.messageType, line: number });
      if (envelope.textBlock === null) return;
      this.inTextBlock = true;
      if (envelope.textBlock.trim() === "") return;
      this.startOrContinue(envelope.textBlock, number);
      return;
    }
    // ABN AMRO heads each message with its BIC, the type and the BIC again, outside any tag.
    if (!this.messageOpen && !this.inTextBlock && BANK_HEADER_LINE.test(trimmed)) return;
    this.startOrContinue(text, number);
  }

  /** After the last line: closes the open field and message. */
  end(): void {
    const line = Math.max(this.lastLine, 1);
    this.close(line);
    if (this.inTextBlock) throw statementError("STATEMENT_MALFORMED", "the file ends inside an envelope's text block `{4:` (no closing `-}`): truncated?", { line });
  }

  private close(line: number): void {
    const field = this.field;
    this.field = null;
    if (field !== null) this.emit({ kind: "field", field: { tag: field.tag, line: field.line, lines: field.lines } });
    if (this.messageOpen) {
      this.messageOpen = false;
      this.emit({ kind: "end", line });
    }
  }

  private startOrContinue(text: string, number: number): void {
    // Most lines of a :86: are continuations: no regex match for a line that cannot be a tag.
    const tag = text.charCodeAt(0) === COLON ? TAG_PATTERN.exec(text)?.[1] : undefined;
    const field = this.field;
    if (tag === undefined) {
      if (field === null) {
        throw statementError("STATEMENT_MALFORMED", this.messageOpen || this.inTextBlock ? "expected a `:tag:` line" : "text outside any message", { line: number });
      }
      field.length += text.length + 1;
      if (field.length > FIELD_LENGTH_MAX) {
        throw statementError("STATEMENT_LINE_TOO_LONG", `the field :${field.tag}: is longer than the limit of ${FIELD_LENGTH_MAX} characters`, { line: field.line, record: `:${field.tag}:` }, { limit: FIELD_LENGTH_MAX });
      }
      field.lines.push(text);
      return;
    }
    // A :20: opens the next message even without a `-` between them.
    if (tag === "20" && this.messageOpen) this.close(number);
    else if (field !== null) {
      this.field = null;
      this.emit({ kind: "field", field: { tag: field.tag, line: field.line, lines: field.lines } });
    }
    this.messageOpen = true;
    const value = text.slice(tag.length + 2);
    this.field = { tag, line: number, lines: [value], length: value.length };
  }
}

const COLON = 58;

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
