// A streaming XML reader over saxes that keeps only the subtrees its owner
// asks for (one camt Ntry, one Bal, one Acct at a time), with each element's
// physical line, its path (`/Document/BkToCstmrStmt/Stmt[1]/Ntry[3]/Amt`)
// and, for kept subtrees, their exact source text. Everything outside a kept
// subtree is seen once and forgotten: memory is bounded by the limits below,
// whatever the file's size.
//
// Why saxes: strict (well-formedness errors, not guesses), namespace-aware
// (camt files come with a default namespace or any prefix), refuses
// undeclared entities and never fetches DTDs, typed, pure JS (no native
// build), push-based over string chunks, and it reports the exact string
// offset of what it reads, so the source text of an element can be cut out
// of our own buffer.
import assert from "node:assert/strict";
import { SaxesParser } from "saxes";
import type { SaxesTagNS } from "saxes";
import type { SourceLocation } from "@trueup/contracts";
import { statementError } from "../shared.ts";

export interface XmlElement {
  /** Local name (the namespace prefix removed). */
  readonly name: string;
  /** 1-based position among same-named siblings. */
  readonly index: number;
  readonly parent: XmlElement | null;
  /** 0 for the root. */
  readonly depth: number;
  /** 1-based physical line of the element's `<`. */
  readonly line: number;
  /** Offset of the element's `<` in the whole text (UTF-16 units). */
  readonly start: number;
  /** Offset just after its end tag; set when it closes. */
  end: number;
  /** Its own text (and CDATA), kept only inside a kept subtree. */
  text: string;
  /** Attributes by local name (xmlns declarations left out). */
  readonly attributes: ReadonlyMap<string, string>;
  /** Kept children in document order; null outside a kept subtree. */
  children: XmlElement[] | null;
  siblingCounts: Map<string, number> | null;
}

/** What the owner wants done with an element that just opened. */
export type KeepDecision = "keep" | "drop" | "pass";

export interface XmlReaderHooks {
  /**
   * An element opened (its attributes are known, its content is not).
   * `keep`: keep its whole subtree until it closes (only outside a kept
   * subtree); `drop`: inside a kept subtree, leave this element out of it;
   * `pass`: the default (kept when its parent is, forgotten otherwise).
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

export class XmlReader {
  readonly #parser = new SaxesParser({ xmlns: true, position: true });
  readonly #hooks: XmlReaderHooks;
  readonly #limits: XmlReaderLimits;
  /** Names whose path segment always carries its position (`Stmt[1]`); others only from the second one on. */
  readonly #indexed: ReadonlySet<string>;
  readonly #stack: XmlElement[] = [];
  /** Source text from offset #bufferStart on: from the kept subtree's start, else from the last `<` (a tag may span chunks). */
  #buffer = "";
  #bufferStart = 0;
  #kept: XmlElement | null = null;
  /** Elements open inside a dropped element of the kept subtree. */
  #droppedDepth = 0;
  #lastTagEnd = 0;

  constructor(options: { hooks: XmlReaderHooks; limits: XmlReaderLimits; indexed: ReadonlySet<string> }) {
    this.#hooks = options.hooks;
    this.#limits = options.limits;
    this.#indexed = options.indexed;
    const parser = this.#parser;
    parser.on("opentag", (tag) => {
      this.#open(tag);
    });
    parser.on("closetag", () => {
      this.#close();
    });
    parser.on("text", (text) => {
      this.#text(text);
    });
    parser.on("cdata", (text) => {
      this.#text(text);
    });
    parser.on("doctype", () => {
      throw statementError("STATEMENT_MALFORMED", "a DOCTYPE is refused: camt files have none, and DTD entities are an attack vector (XXE, entity expansion)", this.#here());
    });
    parser.on("error", (error) => {
      // saxes prefixes "line:column: "; the location says it already.
      const message = error.message.replace(/^\d+:\d+: /, "");
      throw statementError("STATEMENT_MALFORMED", `not well-formed XML: ${message}`, this.#here());
    });
  }

  /** Reads the next piece of the text (any size; the caller bounds it so events stay few per call). */
  write(text: string): void {
    this.#buffer += text;
    this.#parser.write(text);
    this.#checkBounds();
    this.#trim();
  }

  /** The end of the text: fails if the document is not complete. */
  close(): void {
    this.#parser.close();
  }

  /** The exact source text of a kept element, valid during its close hook. */
  sourceOf(element: XmlElement): string {
    assert.ok(element.start >= this.#bufferStart && element.end <= this.#bufferStart + this.#buffer.length, "the element's source is in the buffer");
    return this.#buffer.slice(element.start - this.#bufferStart, element.end - this.#bufferStart);
  }

  /** Where the reader is: the innermost open element, at the current line. */
  #here(): SourceLocation {
    const top = this.#stack.at(-1);
    return top === undefined ? { line: this.#parser.line } : { line: this.#parser.line, element: pathOf(top, this.#indexed) };
  }

  #open(tag: SaxesTagNS): void {
    const position = this.#parser.position;
    const lt = this.#buffer.lastIndexOf("<", position - this.#bufferStart - 1);
    assert.ok(lt >= 0, "the buffer holds the start of the tag being opened");
    const parent = this.#stack.at(-1) ?? null;
    if (this.#stack.length >= XML_DEPTH_MAX) {
      throw statementError("STATEMENT_MALFORMED", `elements nest deeper than ${XML_DEPTH_MAX} levels`, this.#here(), { limit: XML_DEPTH_MAX });
    }
    const element: XmlElement = {
      name: tag.local,
      index: nextIndex(parent, tag.local),
      parent,
      depth: this.#stack.length,
      line: this.#parser.line - lineBreaks(this.#buffer.slice(lt, position - this.#bufferStart)),
      start: this.#bufferStart + lt,
      end: -1,
      text: "",
      attributes: attributesOf(tag),
      children: null,
      siblingCounts: null,
    };
    this.#stack.push(element);
    this.#lastTagEnd = position;
    const decision = this.#hooks.open(element, tag.uri);
    if (this.#kept === null) {
      if (decision === "keep") {
        element.children = [];
        this.#kept = element;
      }
      return;
    }
    if (this.#droppedDepth > 0 || decision === "drop") {
      this.#droppedDepth++;
      return;
    }
    element.children = [];
    parent?.children?.push(element);
  }

  #close(): void {
    const element = this.#stack.pop();
    assert.ok(element !== undefined, "saxes closes only open elements");
    element.end = this.#parser.position;
    this.#lastTagEnd = element.end;
    if (this.#droppedDepth > 0) this.#droppedDepth--;
    this.#hooks.close(element);
    if (element === this.#kept) this.#kept = null;
  }

  #text(text: string): void {
    if (text.length > this.#limits.textLengthMax) throw this.#tooLong(`a text of ${text.length} characters is longer than the limit of ${this.#limits.textLengthMax}`, this.#limits.textLengthMax);
    const top = this.#stack.at(-1);
    if (top?.children != null && this.#droppedDepth === 0) top.text += text;
  }

  #checkBounds(): void {
    const position = this.#parser.position;
    if (position - this.#lastTagEnd > this.#limits.textLengthMax) {
      throw this.#tooLong(`more than ${this.#limits.textLengthMax} characters without a complete tag`, this.#limits.textLengthMax);
    }
    const kept = this.#kept;
    if (kept !== null && position - kept.start > this.#limits.subtreeLengthMax) {
      throw statementError(
        "STATEMENT_LINE_TOO_LONG",
        `the ${kept.name} element is longer than the limit of ${this.#limits.subtreeLengthMax} characters`,
        { line: kept.line, element: pathOf(kept, this.#indexed) },
        { limit: this.#limits.subtreeLengthMax },
      );
    }
  }

  #tooLong(message: string, limit: number) {
    return statementError("STATEMENT_LINE_TOO_LONG", message, this.#here(), { limit });
  }

  #trim(): void {
    let keepFrom: number;
    if (this.#kept !== null) keepFrom = this.#kept.start - this.#bufferStart;
    else {
      const lt = this.#buffer.lastIndexOf("<");
      keepFrom = lt < 0 ? this.#buffer.length : lt;
    }
    if (keepFrom > 0) {
      this.#bufferStart += keepFrom;
      this.#buffer = this.#buffer.slice(keepFrom);
    }
  }
}

export function locationOf(element: XmlElement, indexed: ReadonlySet<string>): SourceLocation {
  return { line: element.line, element: pathOf(element, indexed) };
}

export function pathOf(element: XmlElement, indexed: ReadonlySet<string>): string {
  const segments: string[] = [];
  for (let at: XmlElement | null = element; at !== null; at = at.parent) {
    segments.push(indexed.has(at.name) || at.index > 1 ? `${at.name}[${at.index}]` : at.name);
  }
  const path = `/${segments.reverse().join("/")}`;
  return path.length <= ELEMENT_PATH_LENGTH_MAX ? path : `…${path.slice(path.length - ELEMENT_PATH_LENGTH_MAX + 1)}`;
}

function nextIndex(parent: XmlElement | null, name: string): number {
  if (parent === null) return 1;
  parent.siblingCounts ??= new Map();
  const index = (parent.siblingCounts.get(name) ?? 0) + 1;
  parent.siblingCounts.set(name, index);
  return index;
}

const NO_ATTRIBUTES: ReadonlyMap<string, string> = new Map();

function attributesOf(tag: SaxesTagNS): ReadonlyMap<string, string> {
  let attributes: Map<string, string> | undefined;
  for (const attribute of Object.values(tag.attributes)) {
    if (attribute.prefix === "xmlns" || attribute.name === "xmlns") continue;
    attributes ??= new Map();
    attributes.set(attribute.local, attribute.value);
  }
  return attributes ?? NO_ATTRIBUTES;
}

/** Line breaks as saxes counts them: CRLF, lone CR and LF each one. */
function lineBreaks(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) count++;
    else if (c === 13) {
      count++;
      if (text.charCodeAt(i + 1) === 10) i++;
    }
  }
  return count;
}
