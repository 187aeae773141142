// A streaming XML reader that keeps only the subtrees its owner asks for
// (one camt Ntry, one Bal, one Acct at a time), with each element's
// physical line, its path (`/Document/BkToCstmrStmt/Stmt[1]/Ntry[3]/Amt`)
// and, for kept subtrees, their exact source text. Everything outside a kept
// subtree is seen once and forgotten: memory is bounded by the limits below,
// whatever the file's size.
//
// Its tokenizer is our own, scanning the buffered text with indexOf and
// charCodeAt. saxes, which it replaces, reads every character through a
// state machine (22.6 MB/s on a generated camt.053 in its plain mode), which
// capped the importer near 30,000 lines/s; the parse-only target is 60,000.
// It is as strict as saxes, and stricter where saxes lets a fault through:
// well-formed XML 1.0 only (matching tags, one root, attribute syntax and
// uniqueness, the five predefined entities and character references to
// legal characters, CDATA inside the root, comments without `--`,
// processing instructions, the XML declaration only at the very start, no
// `]]>` in text, no `<` in an attribute value, legal name characters, no
// lone surrogate), no DOCTYPE (DTD entities are an attack vector: XXE,
// entity expansion), and no XML 1.1 (camt is 1.0; 1.1 has other legal
// characters and line ends). A token is read only once it is complete in
// the buffer, so any chunking of the text gives the same result as the
// whole. Namespaces (camt files come with a default namespace or any
// prefix) are resolved here, from the xmlns attributes: an unbound element
// prefix is malformed. camt-xml-differential.test.ts holds the tokenizer to
// saxes' accept/reject verdicts on mutated real files.
import assert from "node:assert/strict";
import type { SourceLocation } from "@trueup/contracts";
import { statementError } from "../shared.ts";
import { XmlSyntaxError, checkChars, isSpace, nameEnd, readText } from "./xml-text.ts";

export interface XmlElement {
  /** Local name (the namespace prefix removed). */
  readonly name: string;
  /** 1-based position among same-named siblings; 0 until positionOf() counts it (kept children are counted only when a path needs it). */
  index: number;
  readonly parent: XmlElement | null;
  /** 0 for the root. */
  readonly depth: number;
  /** 1-based physical line of the element's `<`. */
  readonly line: number;
  /** Offset of the element's `<` in the whole text (UTF-16 units). */
  readonly start: number;
  /** Offset just after its end tag; set when it closes. */
  end: number;
  /** Its own text (and CDATA) before any child element, kept only inside a kept subtree. */
  text: string;
  /** Unprefixed attributes by name (xmlns declarations and prefixed attributes left out). */
  readonly attributes: ReadonlyMap<string, string>;
  /** The namespaces in scope (shared with the parent unless this element declares some). */
  readonly scope: NamespaceScope;
  /** Kept children in document order; null outside a kept subtree. */
  children: XmlElement[] | null;
  siblingCounts: Map<string, number> | null;
  /** Its path, once computed (see pathOf). */
  path: string | null;
}

export interface NamespaceScope {
  readonly defaultUri: string;
  readonly prefixes: ReadonlyMap<string, string>;
}

const ROOT_SCOPE: NamespaceScope = { defaultUri: "", prefixes: new Map([["xml", "http://www.w3.org/XML/1998/namespace"]]) };

/** What the owner wants done with an element that just opened. */
export type KeepDecision = "keep" | "drop" | "pass";

export interface XmlReaderHooks {
  /**
   * An element opened (its attributes are known, its content is not).
   * `keep`: keep its whole subtree until it closes (only outside a kept
   * subtree); `drop`: inside a kept subtree, keep this element only as an
   * empty leaf (no text, no children); `pass`: the default (kept when its
   * parent is, forgotten otherwise).
   */
  open(element: XmlElement, namespace: string): KeepDecision;
  /** An element closed; for a kept one, `children`, `text` and `sourceOf` are complete. */
  close(element: XmlElement): void;
}

export interface XmlReaderLimits {
  /** Characters of one text node, and between two tags (a comment, a tag's attributes): STATEMENT_LINE_TOO_LONG beyond. */
  readonly textLengthMax: number;
  /** Characters of one kept subtree's source: STATEMENT_LINE_TOO_LONG beyond. */
  readonly subtreeLengthMax: number;
}

/** Nesting deeper than camt's deepest element (about 15) by a wide margin: STATEMENT_MALFORMED beyond, so paths stay short. */
export const XML_DEPTH_MAX = 64;
/** SourceLocation.element is stored with at most this many characters; longer paths keep their tail. */
const ELEMENT_PATH_LENGTH_MAX = 1000;

/** Asked for more text: the token at the scan position is not complete in the buffer yet. */
const NEED_MORE = -1;
const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const BANG = 0x21;
const QUESTION = 0x3f;
const EQUALS = 0x3d;
const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;
const LF = 0x0a;
const CR = 0x0d;
const BOM = 0xfeff;

/** The XML declaration as XML 1.0 writes it (2.8), version 1.0 only. */
const XML_DECLARATION =
  /^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:"1\.0"|'1\.0')(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:"[A-Za-z][A-Za-z0-9._-]*"|'[A-Za-z][A-Za-z0-9._-]*'))?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:"(?:yes|no)"|'(?:yes|no)'))?[ \t\r\n]*\?>$/;
const XML_VERSION = /^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)')/;

export class XmlReader {
  readonly #hooks: XmlReaderHooks;
  readonly #limits: XmlReaderLimits;
  /** Names whose path segment always carries its position (`Stmt[1]`); others only from the second one on. */
  readonly #indexed: ReadonlySet<string>;
  readonly #stack: XmlElement[] = [];
  /** The qualified (prefixed) names of the open elements, for matching end tags. */
  readonly #names: string[] = [];
  /** Source text from offset #bufferStart on: from the kept subtree's start, else from the first token not read yet. */
  #buffer = "";
  #bufferStart = 0;
  /** Offset (in the whole text) of the first character not read yet. */
  #position = 0;
  /** Where to look again for the end of the incomplete token at #position: nothing before it can end it. */
  #resumeAt = 0;
  #kept: XmlElement | null = null;
  #lastTagEnd = 0;
  /** Characters written so far. */
  #written = 0;
  /** Line counting: the line of offset #lineOffset (a token boundary, never between a CR and its LF). */
  #lineOffset = 0;
  #line = 1;
  /** Once a CR is seen, lines are counted the slow way (CR LF, lone CR and LF each end a line). */
  #sawCr = false;
  /** The first LF at or after #lineOffset, or the end of the buffer when it has none: lines of minified XML cost no rescans. */
  #nextLf = 0;
  /** The offset #advanceLine is moving the count to (its scan's #nextLf is then the next LF from there). */
  #countingTo = -1;
  #started = false;
  /** Offset of the document's first token: 0, or 1 after a byte order mark (the XML declaration may only be there). */
  #firstToken = 0;
  #sawRoot = false;
  #closedRoot = false;

  constructor(options: { hooks: XmlReaderHooks; limits: XmlReaderLimits; indexed: ReadonlySet<string> }) {
    this.#hooks = options.hooks;
    this.#limits = options.limits;
    this.#indexed = options.indexed;
  }

  /** Reads the next piece of the text (any size; the caller bounds it so events stay few per call). */
  write(text: string): void {
    if (text.length === 0) return;
    if (!this.#sawCr && text.includes("\r")) this.#sawCr = true;
    this.#buffer += text;
    this.#written += text.length;
    this.#scan(false);
    this.#checkBounds();
    this.#trim();
  }

  /** The end of the text: fails if the document is not complete. */
  close(): void {
    this.#scan(true);
    if (!this.#sawRoot) throw this.#malformed("document must contain a root element.", this.#written);
    const top = this.#names.at(-1);
    if (top !== undefined) throw this.#malformed(`unclosed tag: ${top}`, this.#written);
  }

  /** The exact source text of a kept element, valid during its close hook. */
  sourceOf(element: XmlElement): string {
    assert.ok(element.start >= this.#bufferStart && element.end <= this.#bufferStart + this.#buffer.length, "the element's source is in the buffer");
    return this.#buffer.slice(element.start - this.#bufferStart, element.end - this.#bufferStart);
  }

  // ------------------------------------------------------------ tokenizer
  // Offsets below are indexes into #buffer unless named otherwise.

  #scan(final: boolean): void {
    const buffer = this.#buffer;
    const base = this.#bufferStart;
    let at = this.#position - base;
    if (!this.#started) {
      this.#started = true;
      if (buffer.charCodeAt(0) === BOM) at = 1;
      this.#firstToken = at;
    }
    try {
      while (at < buffer.length) {
        const next = buffer.charCodeAt(at) === LT ? this.#markup(buffer, at) : this.#characters(buffer, at, final);
        if (next === NEED_MORE) break;
        at = next;
        this.#position = base + at;
      }
      this.#position = base + at;
      if (final && at < buffer.length) throw new XmlSyntaxError("the text ends inside markup.", buffer.length);
    } catch (error) {
      if (error instanceof XmlSyntaxError) throw this.#malformed(error.message, base + error.at);
      throw error;
    }
  }

  #resume(from: number): number {
    return Math.max(from, this.#resumeAt - this.#bufferStart);
  }

  #needMore(bufferIndex: number): number {
    this.#resumeAt = this.#bufferStart + Math.max(bufferIndex, 0);
    return NEED_MORE;
  }

  /** Character data up to the next `<` (or the end of the text). */
  #characters(buffer: string, at: number, final: boolean): number {
    let lt = buffer.indexOf("<", this.#resume(at));
    if (lt < 0) {
      if (!final) return this.#needMore(buffer.length);
      lt = buffer.length;
    }
    const stack = this.#stack;
    const top = stack.length === 0 ? undefined : stack[stack.length - 1];
    if (top === undefined) {
      for (let i = at; i < lt; i++) if (!isSpace(buffer.charCodeAt(i))) throw new XmlSyntaxError("text data outside of root node.", i);
      if (lt - at > this.#limits.textLengthMax) this.#text(readText(buffer, at, lt, "text", true), this.#bufferStart + lt);
      return lt;
    }
    // camt has no mixed content: text after an element's first child is indentation, not kept.
    const wanted = top.children?.length === 0 || lt - at > this.#limits.textLengthMax;
    const text = readText(buffer, at, lt, "text", wanted);
    if (wanted) this.#text(text, this.#bufferStart + lt);
    return lt;
  }

  #markup(buffer: string, at: number): number {
    if (at + 1 >= buffer.length) return NEED_MORE;
    switch (buffer.charCodeAt(at + 1)) {
      case SLASH:
        return this.#endTag(buffer, at);
      case BANG:
        return this.#bang(buffer, at);
      case QUESTION:
        return this.#processingInstruction(buffer, at);
      default:
        return this.#startTag(buffer, at);
    }
  }

  #startTag(buffer: string, at: number): number {
    // A tag ends at a `>` (one in an attribute value is passed over below): none yet, more text is needed.
    if (!buffer.includes(">", this.#resume(at))) return this.#needMore(buffer.length);
    const length = buffer.length;
    const nameStart = at + 1;
    const end = nameEnd(buffer, nameStart, length);
    if (end < 0) throw new XmlSyntaxError("disallowed character in tag name.", nameStart);
    if (end >= length) return this.#needMore(length);
    if (this.#closedRoot) throw new XmlSyntaxError("documents may contain only one root.", at);
    const name = buffer.slice(nameStart, end);
    let attributes: string[] | null = null;
    let i = end;
    for (;;) {
      if (i >= length) return this.#needMore(length);
      let c = buffer.charCodeAt(i);
      if (c === GT) return this.#openTag({ name, attributes, start: at, end: i + 1, empty: false });
      if (c === SLASH) {
        if (i + 1 >= length) return this.#needMore(length);
        if (buffer.charCodeAt(i + 1) !== GT) throw new XmlSyntaxError("forward-slash in opening tag not followed by >.", i + 1);
        return this.#openTag({ name, attributes, start: at, end: i + 2, empty: true });
      }
      if (!isSpace(c)) throw new XmlSyntaxError(i === end ? "disallowed character in tag name." : "no whitespace between attributes.", i);
      while (i < length && isSpace(buffer.charCodeAt(i))) i++;
      if (i >= length) return this.#needMore(length);
      c = buffer.charCodeAt(i);
      if (c === GT || c === SLASH) continue;
      const attributeEnd = nameEnd(buffer, i, length);
      if (attributeEnd < 0) throw new XmlSyntaxError("disallowed character in attribute name.", i);
      const attribute = buffer.slice(i, attributeEnd);
      i = attributeEnd;
      while (i < length && isSpace(buffer.charCodeAt(i))) i++;
      if (i >= length) return this.#needMore(length);
      if (buffer.charCodeAt(i) !== EQUALS) throw new XmlSyntaxError("attribute without value.", i);
      i++;
      while (i < length && isSpace(buffer.charCodeAt(i))) i++;
      if (i >= length) return this.#needMore(length);
      const quote = buffer.charCodeAt(i);
      if (quote !== DOUBLE_QUOTE && quote !== SINGLE_QUOTE) throw new XmlSyntaxError("unquoted attribute value.", i);
      const close = buffer.indexOf(quote === DOUBLE_QUOTE ? '"' : "'", i + 1);
      if (close < 0) return this.#needMore(length);
      const value = readText(buffer, i + 1, close, "attribute", true);
      attributes ??= [];
      for (let k = 0; k < attributes.length; k += 2) if (attributes[k] === attribute) throw new XmlSyntaxError(`duplicate attribute: ${attribute}.`, i);
      attributes.push(attribute, value);
      i = close + 1;
    }
  }

  #openTag(tag: { name: string; attributes: string[] | null; start: number; end: number; empty: boolean }): number {
    const base = this.#bufferStart;
    this.#sawRoot = true;
    this.#open(tag.name, tag.attributes, base + tag.start, base + tag.end);
    if (tag.empty) this.#close(base + tag.end);
    return tag.end;
  }

  #endTag(buffer: string, at: number): number {
    // The common case first: the end tag of the open element, complete in the buffer.
    const names = this.#names;
    const expected = names.length === 0 ? undefined : names[names.length - 1];
    if (expected !== undefined && buffer.charCodeAt(at + 2 + expected.length) === GT && buffer.startsWith(expected, at + 2)) {
      const end = at + 3 + expected.length;
      this.#close(this.#bufferStart + end);
      return end;
    }
    const gt = buffer.indexOf(">", this.#resume(at + 2));
    if (gt < 0) return this.#needMore(buffer.length);
    const end = nameEnd(buffer, at + 2, gt);
    if (end < 0) throw new XmlSyntaxError(buffer.charCodeAt(at + 2) === GT ? "weird empty close tag." : "disallowed character in closing tag.", at + 2);
    for (let i = end; i < gt; i++) if (!isSpace(buffer.charCodeAt(i))) throw new XmlSyntaxError("disallowed character in closing tag.", i);
    const open = this.#names.at(-1);
    if (open?.length !== end - (at + 2) || !buffer.startsWith(open, at + 2)) {
      throw new XmlSyntaxError(`unmatched closing tag: ${buffer.slice(at + 2, end)}${open === undefined ? "" : ` (${open} is open)`}.`, at);
    }
    this.#close(this.#bufferStart + gt + 1);
    return gt + 1;
  }

  /** `<!--`, `<![CDATA[` or `<!DOCTYPE`. */
  #bang(buffer: string, at: number): number {
    if (buffer.startsWith("<!--", at)) return this.#comment(buffer, at);
    if (buffer.startsWith("<![CDATA[", at)) return this.#cdata(buffer, at);
    if (buffer.startsWith("<!DOCTYPE", at)) {
      throw statementError("STATEMENT_MALFORMED", "a DOCTYPE is refused: camt files have none, and DTD entities are an attack vector (XXE, entity expansion)", this.#here(this.#bufferStart + at));
    }
    const seen = buffer.slice(at, at + 9);
    if (seen.length < 9 && ["<!--", "<![CDATA[", "<!DOCTYPE"].some((opening) => opening.startsWith(seen))) return NEED_MORE;
    throw new XmlSyntaxError("incorrect syntax.", at);
  }

  #comment(buffer: string, at: number): number {
    // The first `--` after `<!--` must end the comment (XML 2.5).
    const dashes = buffer.indexOf("--", this.#resume(at + 4));
    if (dashes < 0) return this.#needMore(Math.max(at + 4, buffer.length - 1));
    if (dashes + 2 >= buffer.length) return this.#needMore(dashes);
    if (buffer.charCodeAt(dashes + 2) !== GT) throw new XmlSyntaxError("malformed comment.", dashes);
    checkChars(buffer, at + 4, dashes);
    return dashes + 3;
  }

  #cdata(buffer: string, at: number): number {
    if (this.#stack.length === 0) throw new XmlSyntaxError("text data outside of root node.", at);
    const end = buffer.indexOf("]]>", this.#resume(at + 9));
    if (end < 0) return this.#needMore(Math.max(at + 9, buffer.length - 2));
    const top = this.#stack.at(-1);
    const wanted = top?.children?.length === 0 || end - (at + 9) > this.#limits.textLengthMax;
    const text = readText(buffer, at + 9, end, "cdata", wanted);
    if (wanted) this.#text(text, this.#bufferStart + end + 3);
    return end + 3;
  }

  #processingInstruction(buffer: string, at: number): number {
    const close = buffer.indexOf("?>", this.#resume(at + 2));
    if (close < 0) return this.#needMore(Math.max(at + 2, buffer.length - 1));
    const targetEnd = nameEnd(buffer, at + 2, close);
    if (targetEnd < 0) throw new XmlSyntaxError(at + 2 === close || isSpace(buffer.charCodeAt(at + 2)) ? "processing instruction without a target." : "disallowed character in processing instruction name.", at + 2);
    const target = buffer.slice(at + 2, targetEnd);
    if (target.toLowerCase() === "xml") {
      if (target !== "xml" || this.#bufferStart + at !== this.#firstToken) throw new XmlSyntaxError("the XML declaration must appear at the start of the document.", at);
      this.#declaration(buffer.slice(at, close + 2), at);
      return close + 2;
    }
    if (targetEnd < close && !isSpace(buffer.charCodeAt(targetEnd))) throw new XmlSyntaxError("disallowed character in processing instruction name.", targetEnd);
    checkChars(buffer, targetEnd, close);
    return close + 2;
  }

  #declaration(text: string, at: number): void {
    if (XML_DECLARATION.test(text)) return;
    const version = XML_VERSION.exec(text);
    const value = version?.[1] ?? version?.[2];
    if (value !== undefined && value !== "1.0" && /^1\.[0-9]+$/.test(value)) {
      throw new XmlSyntaxError(`XML version ${value}: Trueup reads XML 1.0 (camt is written in it; 1.1 has other characters and line ends).`, at);
    }
    throw new XmlSyntaxError("malformed XML declaration (version 1.0, then optionally encoding and standalone).", at);
  }

  // ------------------------------------------------------------ elements

  /** Where the reader is: the innermost open element, at the line of `offset` (in the whole text). */
  #here(offset: number): SourceLocation {
    const top = this.#stack.at(-1);
    const line = this.#lineOf(offset);
    return top === undefined ? { line } : { line, element: pathOf(top, this.#indexed) };
  }

  #malformed(message: string, offset: number) {
    return statementError("STATEMENT_MALFORMED", `not well-formed XML: ${message}`, this.#here(offset));
  }

  #open(qualifiedName: string, rawAttributes: string[] | null, start: number, end: number): void {
    const stack = this.#stack;
    const parent = stack.length === 0 ? null : (stack[stack.length - 1] ?? null);
    if (stack.length >= XML_DEPTH_MAX) {
      throw statementError("STATEMENT_MALFORMED", `elements nest deeper than ${XML_DEPTH_MAX} levels`, this.#here(end), { limit: XML_DEPTH_MAX });
    }
    const inherited = parent === null ? ROOT_SCOPE : parent.scope;
    // Most camt elements have no attributes: no allocation for them.
    const read = rawAttributes === null ? null : readAttributes(rawAttributes, inherited);
    const attributes = read === null ? NO_ATTRIBUTES : read.attributes;
    const scope = read === null ? inherited : read.scope;
    const colon = qualifiedName.indexOf(":");
    const name = colon < 0 ? qualifiedName : qualifiedName.slice(colon + 1);
    // Inside a kept subtree an element joins its parent's children (a dropped one too, as an empty
    // leaf, so its siblings' positions stay right); its position is counted there when needed.
    const siblings = parent?.children ?? null;
    const attached = siblings !== null;
    const element: XmlElement = {
      name,
      index: attached ? 0 : nextIndex(parent, name),
      parent,
      depth: stack.length,
      line: this.#advanceLine(start),
      start,
      end: -1,
      text: "",
      attributes,
      scope,
      children: null,
      siblingCounts: null,
      path: null,
    };
    siblings?.push(element);
    const prefix = colon < 0 ? null : qualifiedName.slice(0, colon);
    const uri = prefix === null ? scope.defaultUri : scope.prefixes.get(prefix);
    stack.push(element);
    this.#names.push(qualifiedName);
    this.#lastTagEnd = end;
    if (uri === undefined) throw statementError("STATEMENT_MALFORMED", `the namespace prefix ${JSON.stringify(prefix)} of ${qualifiedName} is not declared`, this.#here(end));
    const decision = this.#hooks.open(element, uri);
    if (this.#kept === null) {
      if (decision === "keep") {
        element.children = [];
        this.#kept = element;
      }
    } else if (attached && decision !== "drop") {
      element.children = [];
    }
  }

  #close(end: number): void {
    const element = this.#stack.pop();
    this.#names.pop();
    assert.ok(element !== undefined, "only open elements are closed");
    element.end = end;
    this.#lastTagEnd = end;
    if (this.#stack.length === 0) this.#closedRoot = true;
    // Checked after every write too, so a subtree never grows far beyond it; here exactly.
    if (element === this.#kept && element.end - element.start > this.#limits.subtreeLengthMax) throw this.#subtreeTooLong(element);
    this.#hooks.close(element);
    if (element === this.#kept) this.#kept = null;
  }

  /** A text node (or CDATA section) that ended at `end`, when its element keeps it or it may be too long. */
  #text(text: string, end: number): void {
    if (text.length > this.#limits.textLengthMax) throw this.#tooLong(`a text of ${text.length} characters is longer than the limit of ${this.#limits.textLengthMax}`, this.#limits.textLengthMax, end);
    const stack = this.#stack;
    const top = stack.length === 0 ? undefined : stack[stack.length - 1];
    if (top?.children?.length === 0) top.text += text;
  }

  #checkBounds(): void {
    const position = this.#written;
    if (position - this.#lastTagEnd > this.#limits.textLengthMax) {
      throw this.#tooLong(`more than ${this.#limits.textLengthMax} characters without a complete tag`, this.#limits.textLengthMax, position);
    }
    const kept = this.#kept;
    if (kept !== null && position - kept.start > this.#limits.subtreeLengthMax) throw this.#subtreeTooLong(kept);
  }

  #subtreeTooLong(kept: XmlElement) {
    return statementError(
      "STATEMENT_LINE_TOO_LONG",
      `the ${kept.name} element is longer than the limit of ${this.#limits.subtreeLengthMax} characters`,
      { line: kept.line, element: pathOf(kept, this.#indexed) },
      { limit: this.#limits.subtreeLengthMax },
    );
  }

  #tooLong(message: string, limit: number, offset: number) {
    return statementError("STATEMENT_LINE_TOO_LONG", message, this.#here(offset), { limit });
  }

  /** Drops what no token, kept subtree or line count needs any more (memory stays bounded by the limits). */
  #trim(): void {
    const keepFrom = this.#kept === null ? this.#position : this.#kept.start;
    if (keepFrom <= this.#bufferStart) return;
    if (this.#lineOffset < keepFrom) this.#advanceLine(keepFrom);
    this.#buffer = this.#buffer.slice(keepFrom - this.#bufferStart);
    this.#bufferStart = keepFrom;
  }

  // ------------------------------------------------------------ lines

  /** The line of `offset` (a token boundary at or after the last one counted), remembered as the new start of counting. */
  #advanceLine(offset: number): number {
    this.#countingTo = offset;
    this.#line += this.#breaks(this.#lineOffset, offset);
    this.#lineOffset = offset;
    return this.#line;
  }

  /** The line of any offset from the last counted one on (an error's), without moving the count. */
  #lineOf(offset: number): number {
    return offset <= this.#lineOffset ? this.#line : this.#line + this.#breaks(this.#lineOffset, Math.min(offset, this.#bufferStart + this.#buffer.length));
  }

  /** Line ends in [from, to) (offsets in the whole text, both in the buffer): CR LF, lone CR and LF each one. */
  #breaks(from: number, to: number): number {
    const buffer = this.#buffer;
    const base = this.#bufferStart;
    let count = 0;
    if (!this.#sawCr) {
      const cached = from === this.#lineOffset;
      if (cached && this.#nextLf >= to) return 0;
      let i = buffer.indexOf("\n", from - base);
      for (; i >= 0 && i < to - base; i = buffer.indexOf("\n", i + 1)) count++;
      if (cached && (count === 0 || to === this.#countingTo)) this.#nextLf = i < 0 ? base + buffer.length : base + i;
      return count;
    }
    for (let i = from - base; i < to - base; i++) {
      const c = buffer.charCodeAt(i);
      if (c === LF) count++;
      else if (c === CR) {
        count++;
        if (i + 1 < to - base && buffer.charCodeAt(i + 1) === LF) i++;
      }
    }
    return count;
  }
}

export function locationOf(element: XmlElement, indexed: ReadonlySet<string>): SourceLocation {
  return { line: element.line, element: pathOf(element, indexed) };
}

export function pathOf(element: XmlElement, indexed: ReadonlySet<string>): string {
  const path = fullPath(element, indexed);
  return path.length <= ELEMENT_PATH_LENGTH_MAX ? path : `…${path.slice(path.length - ELEMENT_PATH_LENGTH_MAX + 1)}`;
}

function fullPath(element: XmlElement, indexed: ReadonlySet<string>): string {
  if (element.path !== null) return element.path;
  const index = positionOf(element);
  const segment = indexed.has(element.name) || index > 1 ? `${element.name}[${index}]` : element.name;
  element.path = `${element.parent === null ? "" : fullPath(element.parent, indexed)}/${segment}`;
  return element.path;
}

/** The element's 1-based position among its same-named siblings. */
export function positionOf(element: XmlElement): number {
  if (element.index > 0) return element.index;
  const siblings = element.parent?.children;
  assert.ok(siblings != null, "an element without a counted position is a kept child");
  let index = 0;
  for (const sibling of siblings) {
    if (sibling.name === element.name) index++;
    if (sibling === element) break;
  }
  element.index = index;
  return index;
}

function nextIndex(parent: XmlElement | null, name: string): number {
  if (parent === null) return 1;
  parent.siblingCounts ??= new Map();
  const index = (parent.siblingCounts.get(name) ?? 0) + 1;
  parent.siblingCounts.set(name, index);
  return index;
}

const NO_ATTRIBUTES: ReadonlyMap<string, string> = new Map();

/** The element's plain attributes (name, value, name, value…), and its namespace scope: the parent's, or a new one when it declares namespaces. */
function readAttributes(raw: readonly string[], inherited: NamespaceScope): { attributes: ReadonlyMap<string, string>; scope: NamespaceScope } {
  let attributes: Map<string, string> | undefined;
  let defaultUri = inherited.defaultUri;
  let prefixes: Map<string, string> | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] ?? "";
    const value = raw[i + 1] ?? "";
    if (name === "xmlns") defaultUri = value;
    else if (name.startsWith("xmlns:")) {
      prefixes ??= new Map(inherited.prefixes);
      prefixes.set(name.slice(6), value);
    } else if (!name.includes(":")) {
      attributes ??= new Map();
      attributes.set(name, value);
    }
  }
  const scope = prefixes === undefined && defaultUri === inherited.defaultUri ? inherited : { defaultUri, prefixes: prefixes ?? inherited.prefixes };
  return { attributes: attributes ?? NO_ATTRIBUTES, scope };
}
