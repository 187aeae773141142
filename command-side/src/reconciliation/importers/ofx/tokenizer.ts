// One streaming tokenizer for OFX 1.x (SGML) and 2.x (XML).
//
// OFX 1.x leaves its leaf elements unclosed (`<TRNAMT>-6.60<FITID>…`);
// 2.x closes everything; banks mix the two. So the tokenizer knows which
// elements are aggregates (AGGREGATES below, from the OFX 2.1.1 spec's
// banking, credit-card and signon messages): an aggregate must be closed
// explicitly, and its close tag must match (a STMTTRN never closed is
// malformed, named at its opening line). Every other element is a leaf:
// its value is the text up to the next tag, and a matching close tag
// right after it is optional. A close tag of a leaf name anywhere else is
// ignored: it is what an unknown aggregate (a bank's extension, an
// investment statement) leaves behind once its children are read as
// leaves of the enclosing aggregate, which the statement builder does not
// read outside the aggregates it knows.
//
// Bounded: one tag, one leaf's text and the current STMTTRN's raw source
// at a time, each with its own limit; the nesting depth too.
import { STATEMENT_LINE_LIMITS } from "@trueup/contracts";
import type { SourceLocation } from "@trueup/contracts";
import { statementError } from "../shared.ts";

/** Characters in one tag (name and anything up to `>`), a comment or a processing instruction. */
export const TAG_LENGTH_MAX = 1_024;
/** Open aggregates at once: OFX nests about eight deep; a hostile file could nest forever. */
export const DEPTH_MAX = 32;

export const AGGREGATES: ReadonlySet<string> = new Set([
  "OFX",
  "SIGNONMSGSRSV1", "SONRS", "STATUS", "FI",
  "BANKMSGSRSV1", "STMTTRNRS", "STMTRS", "STMTENDTRNRS", "STMTENDRS",
  "CREDITCARDMSGSRSV1", "CCSTMTTRNRS", "CCSTMTRS", "CCSTMTENDTRNRS", "CCSTMTENDRS",
  "BANKACCTFROM", "BANKACCTTO", "CCACCTFROM", "CCACCTTO", "BANKACCTINFO", "CCACCTINFO",
  "BANKTRANLIST", "STMTTRN", "PAYEE", "CURRENCY", "ORIGCURRENCY", "IMAGEDATA",
  "LEDGERBAL", "AVAILBAL", "BALLIST", "BAL", "INTRARS", "INTRAS", "XFERINFO",
]);

/** The aggregates whose exact source text is kept (a statement line's `raw`). */
const CAPTURED = "STMTTRN";

export type OfxToken =
  | { readonly kind: "open"; readonly name: string; readonly parent: string | undefined; readonly location: SourceLocation }
  | { readonly kind: "close"; readonly name: string; readonly parent: string | undefined; readonly location: SourceLocation; readonly raw: string | undefined }
  | { readonly kind: "leaf"; readonly name: string; readonly parent: string | undefined; readonly value: string; readonly location: SourceLocation };

/** Aggregates repeated among their siblings: their element paths carry a 1-based position. */
const INDEXED: ReadonlySet<string> = new Set(["STMTTRNRS", "STMTRS", "CCSTMTTRNRS", "CCSTMTRS", "STMTTRN", "BAL"]);

interface Frame {
  readonly name: string;
  readonly path: string;
  readonly line: number;
  /** Positions of INDEXED children seen so far. */
  readonly counts: Map<string, number>;
}

interface PendingLeaf {
  readonly name: string;
  readonly line: number;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;

const ENTITIES: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

/**
 * Decodes character references. A numeric one that names a control
 * character (or nothing) stays as written: decoded, a `&#0;` would put a NUL
 * where no store can hold it. An unknown `&name;` (or a bare `&`, common in
 * OFX 1.x: `AT&T`) stays too.
 */
function decodeEntities(text: string): string {
  if (!text.includes("&")) return text;
  return text.replace(/&(#x[0-9A-Fa-f]{1,6}|#\d{1,7}|[A-Za-z]{2,6});/g, (whole, body: string) => {
    if (!body.startsWith("#")) return ENTITIES[body.toLowerCase()] ?? whole;
    const point = body.startsWith("#x") ? Number.parseInt(body.slice(2), 16) : Number.parseInt(body.slice(1), 10);
    if (point < 0x20 || point > 0x10ffff || (point >= 0x7f && point < 0xa0) || (point >= 0xd800 && point <= 0xdfff)) return whole;
    return String.fromCodePoint(point);
  });
}

export class OfxTokenizer {
  private line = 1;
  private previousCr = false;
  /** Inside `<…>`: the characters after `<` so far; undefined between tags. */
  private tag: string | undefined;
  private tagLine = 1;
  private text = "";
  private readonly stack: Frame[] = [];
  private pending: PendingLeaf | undefined;
  private seenRoot = false;
  private closedRoot = false;
  /** The open STMTTRN's source so far (its `<STMTTRN>` included), or undefined. */
  private capture: string | undefined;
  private readonly tokens: OfxToken[] = [];

  constructor(private readonly lengthMax: number) {}

  /** The current 1-based line. */
  get lineNumber(): number {
    return this.line;
  }

  /**
   * Reads a chunk, yielding each token as soon as its tag is read, so a
   * consumer's error about an earlier token comes before the tokenizer's
   * about a later one whatever the chunk size.
   */
  *feed(chunk: string): Generator<OfxToken, void, undefined> {
    let i = 0;
    while (i < chunk.length) {
      if (this.tag === undefined) {
        const lt = chunk.indexOf("<", i);
        const end = lt < 0 ? chunk.length : lt;
        this.addText(chunk.slice(i, end));
        if (lt < 0) break;
        this.count("<");
        this.tag = "";
        this.tagLine = this.line;
        i = lt + 1;
      } else {
        const gt = chunk.indexOf(">", i);
        const end = gt < 0 ? chunk.length : gt;
        const piece = chunk.slice(i, end);
        for (const c of piece) this.count(c);
        this.tag += piece;
        if (this.tag.length > TAG_LENGTH_MAX) throw statementError("STATEMENT_LINE_TOO_LONG", `a tag longer than ${TAG_LENGTH_MAX} characters`, { line: this.tagLine }, { limit: TAG_LENGTH_MAX });
        if (gt < 0) break;
        this.count(">");
        i = gt + 1;
        const body = this.tag;
        if (!this.tagComplete(body)) {
          this.tag += ">";
          continue;
        }
        this.tag = undefined;
        this.onTag(body);
        yield* this.tokens;
        this.tokens.length = 0;
      }
    }
  }

  /** The end of the text: anything still open means the file was cut short. */
  finish(): OfxToken[] {
    this.tokens.length = 0;
    if (this.tag !== undefined) throw statementError("STATEMENT_MALFORMED", "the file ends inside a tag: it is truncated", { line: this.tagLine });
    if (!this.seenRoot) throw statementError("STATEMENT_MALFORMED", "no <OFX> element: this is not an OFX file", { line: this.line });
    this.flushLeaf();
    const open = this.stack[this.stack.length - 1];
    if (open !== undefined) throw statementError("STATEMENT_MALFORMED", `the file ends before <${open.name}> (line ${open.line}) is closed: it is truncated`, { line: this.line, element: open.path });
    return [...this.tokens];
  }

  /** Counts lines as readLines does: LF, CRLF and a lone CR each end one. */
  private count(c: string): void {
    if (c === "\n") {
      if (!this.previousCr) this.line++;
      this.previousCr = false;
    } else if (c === "\r") {
      this.line++;
      this.previousCr = true;
    } else {
      this.previousCr = false;
    }
    if (this.capture !== undefined) {
      this.capture += c;
      if (this.capture.length > STATEMENT_LINE_LIMITS.rawLengthMax) throw this.captureTooLong();
    }
  }

  private addText(piece: string): void {
    if (piece === "") return;
    for (const c of piece) this.count(c);
    this.text += piece;
    if (this.text.length > this.lengthMax) {
      const where = this.pending === undefined ? "text between tags" : `<${this.pending.name}>'s value`;
      throw statementError("STATEMENT_LINE_TOO_LONG", `${where} is longer than the limit of ${this.lengthMax} characters`, { line: this.pending?.line ?? this.line, element: this.path(this.pending?.name) }, { limit: this.lengthMax });
    }
  }

  private captureTooLong() {
    const open = this.stack.find((frame) => frame.name === CAPTURED);
    return statementError("STATEMENT_LINE_TOO_LONG", `the transaction's source is longer than the limit of ${STATEMENT_LINE_LIMITS.rawLengthMax} characters`, { line: open?.line ?? this.line, element: open?.path }, { limit: STATEMENT_LINE_LIMITS.rawLengthMax });
  }

  /** Comments, CDATA and processing instructions run to their own terminator, not to the first `>`. */
  private tagComplete(body: string): boolean {
    if (body.startsWith("!--")) return body.length >= 5 && body.endsWith("--");
    if (body.startsWith("![CDATA[")) return body.endsWith("]]");
    if (body.startsWith("?")) return body.endsWith("?");
    return true;
  }

  private onTag(body: string): void {
    if (body.startsWith("?") || body.startsWith("!--") || (body.startsWith("!") && !body.startsWith("![CDATA["))) {
      if (body.startsWith("?") && this.seenRoot) return; // a processing instruction inside the document: nothing for us
      if (!this.seenRoot) this.header();
      return;
    }
    if (body.startsWith("![CDATA[")) {
      this.addCdata(body.slice(8, -2));
      return;
    }
    const closing = body.startsWith("/");
    const selfClosing = !closing && body.endsWith("/");
    const inner = body.slice(closing ? 1 : 0, selfClosing ? -1 : undefined).trim();
    const name = (inner.split(/\s/, 1)[0] ?? "").toUpperCase();
    if (!NAME.test(name)) throw statementError("STATEMENT_MALFORMED", `<${body.slice(0, 40)}> is not a tag`, { line: this.tagLine, element: this.path(undefined) });
    if (!this.seenRoot) {
      this.header();
      if (closing || name !== "OFX") throw statementError("STATEMENT_MALFORMED", `the first element is <${closing ? "/" : ""}${name}>, not <OFX>: this is not an OFX file`, { line: this.tagLine });
    } else if (this.closedRoot) {
      throw statementError("STATEMENT_MALFORMED", `<${closing ? "/" : ""}${name}> after </OFX>`, { line: this.tagLine });
    }
    if (closing) this.onClose(name);
    else this.onOpen(name, selfClosing, body);
  }

  /** Text before <OFX>: the 1.x `KEY:VALUE` header or whitespace, bounded like any text; ignored (the decode layer read its CHARSET). */
  private header(): void {
    this.text = "";
  }

  private addCdata(value: string): void {
    if (this.pending === undefined) {
      if (value.trim() !== "") throw statementError("STATEMENT_MALFORMED", "character data outside an element's value", { line: this.tagLine, element: this.path(undefined) });
      return;
    }
    this.text += value;
    if (this.text.length > this.lengthMax) throw statementError("STATEMENT_LINE_TOO_LONG", `<${this.pending.name}>'s value is longer than the limit of ${this.lengthMax} characters`, { line: this.pending.line }, { limit: this.lengthMax });
  }

  private onOpen(name: string, selfClosing: boolean, body: string): void {
    this.flushLeaf();
    const parent = this.stack[this.stack.length - 1];
    const location = { line: this.tagLine, element: this.childPath(name, parent) };
    if (!AGGREGATES.has(name)) {
      if (selfClosing) this.emitLeaf(name, "", location);
      else {
        this.pending = { name, line: this.tagLine };
        this.text = "";
      }
      return;
    }
    if (selfClosing) {
      this.tokens.push({ kind: "open", name, parent: parent?.name, location });
      this.tokens.push({ kind: "close", name, parent: parent?.name, location, raw: undefined });
      return;
    }
    if (this.stack.length >= DEPTH_MAX) throw statementError("STATEMENT_MALFORMED", `elements nested deeper than ${DEPTH_MAX}`, location, { limit: DEPTH_MAX });
    if (name === "OFX") this.seenRoot = true;
    this.stack.push({ name, path: location.element, line: this.tagLine, counts: new Map() });
    if (name === CAPTURED && this.capture === undefined) this.capture = `<${body}>`;
    this.tokens.push({ kind: "open", name, parent: parent?.name, location });
  }

  private onClose(name: string): void {
    if (this.pending?.name === name) {
      this.flushLeaf();
      return;
    }
    this.flushLeaf();
    if (!AGGREGATES.has(name)) return; // an unknown aggregate's close, or a leaf's late one: see the file comment
    const top = this.stack[this.stack.length - 1];
    if (top?.name !== name) {
      const open = this.stack.some((frame) => frame.name === name);
      const message = open && top !== undefined ? `</${name}> while <${top.name}> (line ${top.line}) is not closed` : `</${name}> without its <${name}>`;
      throw statementError("STATEMENT_MALFORMED", message, { line: this.tagLine, element: top?.path });
    }
    this.stack.pop();
    const parent = this.stack[this.stack.length - 1];
    let raw: string | undefined;
    if (name === CAPTURED && this.capture !== undefined && !this.stack.some((frame) => frame.name === CAPTURED)) {
      raw = this.capture;
      this.capture = undefined;
      if (raw.length > STATEMENT_LINE_LIMITS.rawLengthMax) throw statementError("STATEMENT_LINE_TOO_LONG", `the transaction's source is longer than the limit of ${STATEMENT_LINE_LIMITS.rawLengthMax} characters`, { line: top.line, element: top.path }, { limit: STATEMENT_LINE_LIMITS.rawLengthMax });
    }
    if (name === "OFX") this.closedRoot = true;
    this.tokens.push({ kind: "close", name, parent: parent?.name, location: { line: this.tagLine, element: top.path }, raw });
  }

  /** Ends the open leaf (at its own close tag or implicitly at the next tag), or checks that text between tags is blank. */
  private flushLeaf(): void {
    const pending = this.pending;
    const text = this.text;
    this.text = "";
    if (pending === undefined) {
      if (text.trim() !== "" && this.seenRoot) {
        throw statementError("STATEMENT_MALFORMED", `text ${JSON.stringify(text.trim().slice(0, 40))} outside an element's value`, { line: this.line, element: this.path(undefined) });
      }
      return;
    }
    this.pending = undefined;
    const parent = this.stack[this.stack.length - 1];
    // The leaf's position was taken when it opened; its path is the parent's plus its name.
    this.emitLeaf(pending.name, decodeEntities(text.trim()), { line: pending.line, element: `${parent?.path ?? ""}/${pending.name}` });
  }

  private emitLeaf(name: string, value: string, location: SourceLocation): void {
    const parent = this.stack[this.stack.length - 1];
    this.tokens.push({ kind: "leaf", name, parent: parent?.name, value, location });
  }

  private childPath(name: string, parent: Frame | undefined): string {
    const base = parent?.path ?? "";
    if (!INDEXED.has(name) || parent === undefined) return `${base}/${name}`;
    const position = (parent.counts.get(name) ?? 0) + 1;
    parent.counts.set(name, position);
    return `${base}/${name}[${position}]`;
  }

  private path(leaf: string | undefined): string {
    const base = this.stack[this.stack.length - 1]?.path ?? "";
    return leaf === undefined ? base || "/" : `${base}/${leaf}`;
  }
}
