// Bytes of a statement file → text chunks for the importers, in the file's
// encoding, chosen in this order (design9.md, "The import" step 2):
//   1. `?encoding=` when the caller names one (they know better than a guess);
//   2. a byte-order mark (UTF-8, UTF-16LE/BE);
//   3. the encoding the file declares: the XML declaration (camt, OFX 2.x),
//      else the OFX 1.x header's ENCODING/CHARSET;
//   4. the CSV profile's encoding;
//   5. sniffed: UTF-8 when the first SPOOL_HEAD_BYTES bytes are valid UTF-8,
//      else windows-1252 (what "ANSI" exports of European banks are).
// UTF-8 is always decoded fatally: a replacement character written into a
// name or a reference would be a silent corruption. A later invalid byte in
// a file sniffed as UTF-8 is STATEMENT_ENCODING_INVALID at its line.
// ISO-8859-1 is decoded as windows-1252, as WHATWG (and every browser) does:
// they differ only in 0x80-0x9F, C1 controls in ISO-8859-1 that no text uses,
// printable characters (€, „, …) in windows-1252, which is what such a byte
// in a file labelled ISO-8859-1 really is.
// The decoded text must not contain NUL or C0 controls other than TAB, CR
// and LF: PostgreSQL JSONB cannot hold NUL, and the others only appear in a
// binary or mis-decoded file (UTF-16 read as UTF-8).
import { TrueupError } from "@trueup/contracts";

/** What `?encoding=` may name. */
export const REQUESTABLE_ENCODINGS = ["utf-8", "iso-8859-1", "windows-1252", "utf-16le", "utf-16be"] as const;
export type RequestableEncoding = (typeof REQUESTABLE_ENCODINGS)[number];

export type EncodingSource = "requested" | "bom" | "declared" | "profile" | "sniffed";

export interface EncodingChoice {
  /** The WHATWG name the text is decoded with (e.g. "utf-8", "windows-1252"). */
  readonly decoder: string;
  /** What is recorded on the statement: the name as chosen ("iso-8859-1" stays so). */
  readonly name: string;
  readonly source: EncodingSource;
}

/** Declared labels longer than this are not encoding names. */
const LABEL_LENGTH_MAX = 40;

function encodingInvalid(message: string, line: number): TrueupError {
  return new TrueupError("STATEMENT_ENCODING_INVALID", `line ${line}: ${message}`, { detail: { location: { line } } });
}

/** The WHATWG decoder name of a label, or undefined when Node's TextDecoder does not know it. */
function decoderOf(label: string): string | undefined {
  try {
    return new TextDecoder(label).encoding;
  } catch {
    return undefined;
  }
}

function bomOf(head: Buffer): EncodingChoice | undefined {
  if (head.length >= 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return { decoder: "utf-8", name: "utf-8", source: "bom" };
  if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) return { decoder: "utf-16le", name: "utf-16le", source: "bom" };
  if (head.length >= 2 && head[0] === 0xfe && head[1] === 0xff) return { decoder: "utf-16be", name: "utf-16be", source: "bom" };
  return undefined;
}

/**
 * The encoding label the file's start declares: `<?xml … encoding="…"?>`,
 * or an OFX 1.x header (`ENCODING:UTF-8`, or `ENCODING:USASCII` with
 * `CHARSET:1252` / `CHARSET:ISO-8859-1`). Read from the head as latin-1:
 * declarations are ASCII in every encoding these files come in.
 */
export function declaredEncoding(head: Buffer): { label: string; line: number } | undefined {
  const text = head.subarray(0, 4096).toString("latin1");
  const xml = /^\s*<\?xml[^>]*?\bencoding\s*=\s*["']([^"']{1,40})["']/.exec(text);
  if (xml?.[1] !== undefined) return { label: xml[1], line: lineAt(text, xml.index) };
  if (!/^\s*OFXHEADER\s*:/.test(text)) return undefined;
  const encoding = /^[ \t]*ENCODING[ \t]*:[ \t]*(\S{1,40})/m.exec(text);
  const charset = /^[ \t]*CHARSET[ \t]*:[ \t]*(\S{1,40})/m.exec(text);
  const encodingLabel = encoding?.[1]?.toUpperCase();
  if (encodingLabel === "UTF-8" || encodingLabel === "UTF8") return { label: "utf-8", line: lineAt(text, encoding?.index ?? 0) };
  const charsetLabel = charset?.[1]?.toUpperCase();
  if (charsetLabel === undefined || charsetLabel === "NONE") return undefined;
  // OFX 1.x writes code pages by number ("1252") and ISO sets without the prefix ("8859-1").
  const label = /^\d{3,4}$/.test(charsetLabel) ? `windows-${charsetLabel}` : /^8859-\d+$/.test(charsetLabel) ? `iso-${charsetLabel}` : charsetLabel;
  return { label, line: lineAt(text, charset?.index ?? 0) };
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < index; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/** True when `bytes` is valid UTF-8; a sequence cut off at the end is allowed unless `bytes` is the whole file. */
export function isUtf8Prefix(bytes: Uint8Array, wholeFile = false): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: !wholeFile });
    return true;
  } catch {
    return false;
  }
}

/** Chooses the encoding of a file from its head: see the top of this file for the order. */
export function chooseEncoding(head: Buffer, options: { requested?: RequestableEncoding | undefined; profile?: string | undefined; wholeFile?: boolean | undefined }): EncodingChoice {
  if (options.requested !== undefined) return { decoder: decoderOrFail(options.requested, 1), name: options.requested, source: "requested" };
  const bom = bomOf(head);
  if (bom !== undefined) return bom;
  const declared = declaredEncoding(head);
  if (declared !== undefined) {
    const name = declared.label.toLowerCase();
    // ASCII declared: the file is in an ASCII superset; which one, the bytes tell (below).
    if (!/^(us-?)?ascii$/.test(name)) return { decoder: decoderOrFail(name, declared.line), name, source: "declared" };
  }
  if (options.profile !== undefined) return { decoder: decoderOrFail(options.profile, 1), name: options.profile, source: "profile" };
  return isUtf8Prefix(head, options.wholeFile) ? { decoder: "utf-8", name: "utf-8", source: "sniffed" } : { decoder: "windows-1252", name: "windows-1252", source: "sniffed" };
}

function decoderOrFail(label: string, line: number): string {
  if (label.length > LABEL_LENGTH_MAX) throw encodingInvalid("the declared encoding is not an encoding name", line);
  const decoder = decoderOf(label);
  // "replacement" is WHATWG's decoder for labels that must never be decoded (ISO-2022-KR…): refuse them too.
  if (decoder === undefined || decoder === "replacement") throw encodingInvalid(`the encoding ${JSON.stringify(label)} is not one Trueup can decode; pass ?encoding=`, line);
  return decoder;
}

/** Line breaks as readLines counts them: LF, CRLF and a lone CR each end a line. */
class LineCounter {
  /** 1-based line of the next character. */
  line = 1;
  private pendingCr = false;

  /** Advances over `text`, the next text of the file. */
  advance(text: string): void {
    if (text.length === 0) return;
    if (this.pendingCr && text.charCodeAt(0) !== 10) this.line++;
    this.pendingCr = false;
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) this.line++;
    if (text.includes("\r")) {
      for (let i = text.indexOf("\r"); i !== -1; i = text.indexOf("\r", i + 1)) {
        if (i === text.length - 1) this.pendingCr = true;
        else if (text.charCodeAt(i + 1) !== 10) this.line++;
      }
    }
  }

  /** The line `text[index]` is on, `text` being the next text to come. */
  lineOf(text: string, index: number): number {
    const probe = new LineCounter();
    probe.line = this.line;
    probe.pendingCr = this.pendingCr;
    probe.advance(text.slice(0, index));
    // A CR right before index ends the line only once we know what follows: it does (index is not an LF).
    return probe.pendingCr ? probe.line + 1 : probe.line;
  }
}

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const FORBIDDEN_CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;

/** Offset of the first byte that cannot start or continue a UTF-8 sequence in `bytes`, skipping up to 3 leading continuation bytes (a sequence begun in the previous chunk). */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < 3 && i < bytes.length && ((bytes[i] ?? 0) & 0xc0) === 0x80) i++;
  // Binary search on the longest prefix that decodes: cheap, and exact to the byte.
  let good = i;
  let bad = bytes.length;
  while (bad - good > 1) {
    const mid = (good + bad) >>> 1;
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(i, mid), { stream: true });
      good = mid;
    } catch {
      bad = mid;
    }
  }
  return good;
}

function countLf(bytes: Uint8Array, end: number): number {
  let n = 0;
  for (let i = bytes.indexOf(10); i !== -1 && i < end; i = bytes.indexOf(10, i + 1)) n++;
  return n;
}

/**
 * Decodes `chunks` (a file's bytes, in order) as `choice` says, yielding text
 * chunks; a byte-order mark of the chosen encoding is dropped. Fails with
 * STATEMENT_ENCODING_INVALID at the line of an invalid byte sequence or of a
 * forbidden control character.
 */
export async function* decodeChunks(chunks: AsyncIterable<Uint8Array>, choice: EncodingChoice): AsyncGenerator<string, void, undefined> {
  const decoder = new TextDecoder(choice.decoder, { fatal: true });
  const lines = new LineCounter();
  for await (const chunk of chunks) {
    let text: string;
    try {
      text = decoder.decode(chunk, { stream: true });
    } catch {
      // UTF-8 lines are counted in bytes exactly (LF is one byte); UTF-16 is located to its chunk's start.
      const line = choice.decoder === "utf-8" ? lines.line + countLf(chunk, firstInvalidUtf8(chunk)) : lines.line;
      throw encodingInvalid(`the bytes are not valid ${choice.name}`, line);
    }
    yield checked(text, lines, choice);
  }
  let rest: string;
  try {
    rest = decoder.decode();
  } catch {
    throw encodingInvalid(`the file ends inside a ${choice.name} character`, lines.line);
  }
  if (rest !== "") yield checked(rest, lines, choice);
}

function checked(text: string, lines: LineCounter, choice: EncodingChoice): string {
  const bad = FORBIDDEN_CONTROL.exec(text);
  if (bad !== null) {
    const code = text.charCodeAt(bad.index);
    const what = code === 0 ? "a NUL character" : `the control character U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
    throw encodingInvalid(`${what} (is the file binary, or not ${choice.name}?)`, lines.lineOf(text, bad.index));
  }
  lines.advance(text);
  return text;
}
