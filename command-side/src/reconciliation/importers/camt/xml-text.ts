// The character-level rules of XML 1.0 (fifth edition) the tokenizer in
// xml-reader.ts needs: legal characters, name characters, the five
// predefined entities and character references, and end-of-line and
// attribute-value normalization. Pure functions over a range of the
// reader's buffer, so a well-formed text costs one charCodeAt loop and one
// slice; the rare text with a reference or a CR takes the slow path.

/** Thrown by the functions here; the reader turns it into a located STATEMENT_MALFORMED. */
export class XmlSyntaxError extends Error {
  /** Offset in the buffer the fault was found at (for its line). */
  readonly at: number;
  constructor(message: string, at: number) {
    super(message);
    this.at = at;
  }
}

const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const AMP = 0x26;
const LT = 0x3c;
const GT = 0x3e;
const RBRACKET = 0x5d;

/** XML's S: space, tab, CR, LF. */
export function isSpace(c: number): boolean {
  return c === SPACE || c === LF || c === TAB || c === CR;
}

/** NameStartChar of XML 1.0 fifth edition (2.3), for a code point. */
export function isNameStart(c: number): boolean {
  if (c < 0x80) return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a;
  return (
    (c >= 0xc0 && c <= 0xd6) ||
    (c >= 0xd8 && c <= 0xf6) ||
    (c >= 0xf8 && c <= 0x2ff) ||
    (c >= 0x370 && c <= 0x37d) ||
    (c >= 0x37f && c <= 0x1fff) ||
    c === 0x200c ||
    c === 0x200d ||
    (c >= 0x2070 && c <= 0x218f) ||
    (c >= 0x2c00 && c <= 0x2fef) ||
    (c >= 0x3001 && c <= 0xd7ff) ||
    (c >= 0xf900 && c <= 0xfdcf) ||
    (c >= 0xfdf0 && c <= 0xfffd) ||
    (c >= 0x10000 && c <= 0xeffff)
  );
}

/** NameChar of XML 1.0 fifth edition. */
export function isNameChar(c: number): boolean {
  if (c < 0x80) return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x3a || c === 0x2d || c === 0x2e;
  return isNameStart(c) || c === 0xb7 || (c >= 0x300 && c <= 0x36f) || c === 0x203f || c === 0x2040;
}

/** Char of XML 1.0 (2.2), for a code point (a character reference's value). */
function isChar(c: number): boolean {
  return c === TAB || c === LF || c === CR || (c >= SPACE && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

/** The code point at i (a surrogate pair read as one); -1 for a lone surrogate, which is no XML character. */
function codePointAt(text: string, i: number, to: number): number {
  const c = text.charCodeAt(i);
  if (c < 0xd800 || c > 0xdfff) return c;
  if (c > 0xdbff || i + 1 >= to) return -1;
  const low = text.charCodeAt(i + 1);
  return low >= 0xdc00 && low <= 0xdfff ? 0x10000 + (c - 0xd800) * 0x400 + (low - 0xdc00) : -1;
}

/**
 * The end of the Name starting at `from` (the first index that is not a
 * name character), or -1 when `from` does not start a name. May return
 * `to` (the name may go on in text not read yet).
 */
export function nameEnd(text: string, from: number, to: number): number {
  if (from >= to) return -1;
  const first = codePointAt(text, from, to);
  if (first < 0 || !isNameStart(first)) return -1;
  let i = from + (first > 0xffff ? 2 : 1);
  while (i < to) {
    const c = text.charCodeAt(i);
    if (c < 0x80) {
      if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x3a || c === 0x2d || c === 0x2e) {
        i++;
        continue;
      }
      return i;
    }
    const code = codePointAt(text, i, to);
    if (code < 0 || !isNameChar(code)) return i;
    i += code > 0xffff ? 2 : 1;
  }
  return i;
}

/** Fails unless every character of text[from, to) is an XML Char (comments, PIs, whitespace). */
export function checkChars(text: string, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= SPACE ? c < 0xd800 : c === LF || c === TAB || c === CR) continue;
    i = checkOther(text, i, to);
  }
}

/** A character outside the common range at i: its last index when legal (a surrogate pair), else the fault. */
function checkOther(text: string, i: number, to: number): number {
  const code = codePointAt(text, i, to);
  if (code < 0 || !isChar(code)) throw new XmlSyntaxError("disallowed character.", i);
  return code > 0xffff ? i + 1 : i;
}

const PREDEFINED: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/** How a range is read: character data (text), CDATA content, or an attribute value. */
export type TextMode = "text" | "cdata" | "attribute";

/**
 * Checks text[from, to) as character data of `mode` and returns its value:
 * references replaced (not in CDATA), line ends normalized to LF (XML 2.11;
 * in an attribute value each of CR LF, CR, LF and tab becomes a space,
 * 3.3.3), `]]>` refused in text and `<` in an attribute value. Returns ""
 * without building it when `wanted` is false (the checks still run).
 */
export function readText(text: string, from: number, to: number, mode: TextMode, wanted: boolean): string {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= SPACE && c < 0xd800) {
      if (c === AMP || c === LT || c === RBRACKET) {
        if (c === RBRACKET && (mode !== "text" || text.charCodeAt(i + 1) !== RBRACKET || text.charCodeAt(i + 2) !== GT || i + 2 >= to)) continue;
        return slowText(text, from, to, mode, wanted);
      }
      continue;
    }
    if (c === LF || c === TAB) {
      if (mode === "attribute") return slowText(text, from, to, mode, wanted);
      continue;
    }
    if (c === CR) return slowText(text, from, to, mode, wanted);
    i = checkOther(text, i, to);
  }
  return wanted ? text.slice(from, to) : "";
}

function slowText(text: string, from: number, to: number, mode: TextMode, wanted: boolean): string {
  let out = "";
  let start = from;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= SPACE && c < 0xd800 && c !== AMP && c !== LT && c !== RBRACKET) continue;
    let replacement: string;
    let next = i + 1;
    if (c === AMP && mode !== "cdata") {
      const semicolon = text.indexOf(";", i + 1);
      if (semicolon < 0 || semicolon >= to) throw new XmlSyntaxError("an entity or character reference without its ';'.", i);
      replacement = reference(text.slice(i + 1, semicolon), i);
      next = semicolon + 1;
    } else if (c === LT && mode === "attribute") {
      throw new XmlSyntaxError("disallowed character '<' in an attribute value.", i);
    } else if (c === RBRACKET) {
      if (mode === "text" && i + 2 < to && text.charCodeAt(i + 1) === RBRACKET && text.charCodeAt(i + 2) === GT) throw new XmlSyntaxError('the string "]]>" is disallowed in char data.', i);
      continue;
    } else if (c === CR) {
      replacement = mode === "attribute" ? " " : "\n";
      if (text.charCodeAt(i + 1) === LF && i + 1 < to) next = i + 2;
    } else if ((c === LF || c === TAB) && mode === "attribute") {
      replacement = " ";
    } else if (c === LF || c === TAB || c === AMP || c === LT) {
      continue;
    } else {
      i = checkOther(text, i, to);
      continue;
    }
    if (wanted) out += text.slice(start, i) + replacement;
    start = next;
    i = next - 1;
  }
  return wanted ? out + text.slice(start, to) : "";
}

/** The value of the reference `&name;` (name without & and ;): a predefined entity or a character reference to a Char. */
function reference(name: string, at: number): string {
  const predefined = PREDEFINED[name];
  if (predefined !== undefined && Object.hasOwn(PREDEFINED, name)) return predefined;
  if (name === "") throw new XmlSyntaxError("empty entity name.", at);
  if (name.charCodeAt(0) !== 0x23) {
    const end = nameEnd(name, 0, name.length);
    throw new XmlSyntaxError(end === name.length ? `undefined entity ${JSON.stringify(name)} (only amp, lt, gt, quot and apos are known).` : "disallowed character in entity name.", at);
  }
  let code = Number.NaN;
  // Digits are bounded so the number stays exact: any reference above 0x10FFFF is refused anyway.
  if (/^#x0*[0-9a-fA-F]{1,8}$/.test(name)) code = Number.parseInt(name.slice(2), 16);
  else if (/^#0*[0-9]{1,9}$/.test(name)) code = Number.parseInt(name.slice(1), 10);
  else if (/^#x?[0-9a-fA-F]+$/.test(name)) code = Number.POSITIVE_INFINITY;
  if (!isChar(code)) throw new XmlSyntaxError("malformed character entity.", at);
  return String.fromCodePoint(code);
}
