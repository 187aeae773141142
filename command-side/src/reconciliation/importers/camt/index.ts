// The ISO 20022 camt importer: camt.053 (BkToCstmrStmt/Stmt, statements),
// camt.052 (BkToCstmrAcctRpt/Rpt, intraday reports) and camt.054
// (BkToCstmrDbtCdtNtfctn/Ntfctn, notifications), versions 001.02 to 001.08,
// with the namespace as a default or under any prefix.
//
// Streaming: the text is read through XmlReader in slices, and only one
// section child (an Ntry, a Bal, the Acct) is kept as a tree at a time.
// Each section's lines are yielded as their Ntry closes, its header when it
// closes, then one `file` item (camt states no file-level totals: the
// group header has none Trueup checks).
import assert from "node:assert/strict";
import type { StatementFormat, StatementItem } from "@trueup/contracts";
import type { Importer, ImportLimits, ImportOptions } from "../types.ts";
import { statementError, tooManyLines } from "../shared.ts";
import { XmlReader } from "./xml-reader.ts";
import type { KeepDecision, XmlElement, XmlReaderHooks } from "./xml-reader.ts";
import { REPEATED_ELEMENTS, where } from "./fields.ts";
import { CamtSection, SECTION_CHILDREN } from "./section.ts";
import { readEntry } from "./entry.ts";

/** The namespaces read: camt.052/053/054, versions 001.02 to 001.08. */
const CAMT_NAMESPACE = /^urn:iso:std:iso:20022:tech:xsd:camt\.(05[234])\.001\.(0[2-8])$/;
const CAMT_NAMESPACE_IN_TEXT = /urn:iso:std:iso:20022:tech:xsd:camt\.(05[234])\.001\.0[2-8](?![0-9])/;
const NAMESPACES_READ = "urn:iso:std:iso:20022:tech:xsd:camt.052, camt.053 or camt.054, versions .001.02 to .001.08";

const MESSAGES = {
  "camt.053": { message: "BkToCstmrStmt", section: "Stmt" },
  "camt.052": { message: "BkToCstmrAcctRpt", section: "Rpt" },
  "camt.054": { message: "BkToCstmrDbtCdtNtfctn", section: "Ntfctn" },
} as const;
type CamtFormat = keyof typeof MESSAGES;

/**
 * One kept subtree (an Ntry with all its TxDtls) may be this many times
 * limits.lineLengthMax long: 4 MiB at the default, a batch of a few
 * thousand transactions. A single-transaction Ntry is bounded much lower,
 * by the stored raw text (STATEMENT_LINE_LIMITS.rawLengthMax).
 */
export const CAMT_SUBTREE_LENGTH_FACTOR = 256;
/**
 * Characters handed to the XML parser at once, whatever the caller's chunk
 * size: the items one slice produces are all that is queued between two
 * yields, so a caller passing the whole file as one chunk does not make the
 * importer hold all its lines.
 */
export const CAMT_SLICE_CHARS = 65_536;

export const camtImporter: Importer = {
  name: "camt",
  formats: ["camt.053", "camt.052", "camt.054"],
  detect(head: string): StatementFormat | undefined {
    if (!head.trimStart().startsWith("<")) return undefined;
    const match = CAMT_NAMESPACE_IN_TEXT.exec(head);
    return match === null ? undefined : (`camt.${match[1] ?? ""}` as CamtFormat);
  },
  parse: parseCamt,
};

async function* parseCamt(text: AsyncIterable<string>, options: ImportOptions): AsyncGenerator<StatementItem, void, undefined> {
  const document = new CamtDocument(options);
  for await (const chunk of text) {
    for (let offset = 0; offset < chunk.length; offset += CAMT_SLICE_CHARS) {
      document.write(chunk.slice(offset, offset + CAMT_SLICE_CHARS));
      yield* document.drain();
    }
  }
  document.endOfText();
  yield* document.drain();
  yield document.end();
}

/** The camt meaning of the XML events: which elements to keep, sections, entries, limits. */
class CamtDocument implements XmlReaderHooks {
  readonly #reader: XmlReader;
  readonly #limits: ImportLimits;
  readonly #expected: StatementFormat;
  #format: CamtFormat | null = null;
  #namespace: string | null = null;
  #message: XmlElement | null = null;
  /** Inside SplmtryData/Envlp anything goes (any namespace, any content): nothing there is read. */
  #supplementary: XmlElement | null = null;
  #section: CamtSection | null = null;
  #sections = 0;
  #lines = 0;
  #items: StatementItem[] = [];

  constructor(options: ImportOptions) {
    this.#limits = options.limits;
    this.#expected = options.format;
    this.#reader = new XmlReader({
      hooks: this,
      limits: { textLengthMax: options.limits.lineLengthMax, subtreeLengthMax: options.limits.lineLengthMax * CAMT_SUBTREE_LENGTH_FACTOR },
      indexed: REPEATED_ELEMENTS,
    });
  }

  write(text: string): void {
    this.#reader.write(text);
  }

  /** The text ended: the reader fails here on a truncated document. */
  endOfText(): void {
    this.#reader.close();
  }

  drain(): StatementItem[] {
    const items = this.#items;
    this.#items = [];
    return items;
  }

  end(): StatementItem {
    if (this.#sections === 0) {
      const location = this.#message === null ? { line: 1 } : where(this.#message);
      const section = this.#format === null ? "section" : MESSAGES[this.#format].section;
      throw statementError("STATEMENT_EMPTY", `the message has no ${section}`, location);
    }
    return { kind: "file", controlTotals: [] };
  }

  open(element: XmlElement, namespace: string): KeepDecision {
    if (element.depth === 0) {
      this.#openRoot(element, namespace);
      return "pass";
    }
    if (this.#supplementary !== null) return "drop";
    if (namespace !== this.#namespace) {
      throw statementError("STATEMENT_MALFORMED", `${element.name} is in namespace ${JSON.stringify(namespace)}, not the document's ${JSON.stringify(this.#namespace)}`, where(element));
    }
    if (element.name === "SplmtryData") {
      this.#supplementary = element;
      return "drop";
    }
    if (element.depth > 3) return "pass";
    const names = MESSAGES[this.#requireFormat()];
    if (element.depth === 1) {
      if (element.name !== names.message) throw statementError("STATEMENT_MALFORMED", `a ${this.#format ?? ""} Document holds ${names.message}, not ${element.name}`, where(element));
      this.#message = element;
      return "pass";
    }
    if (element.depth === 2 && element.name === names.section) {
      this.#section = new CamtSection({ element, format: this.#requireFormat(), section: this.#sections });
      this.#sections++;
      return "pass";
    }
    if (element.depth === 3 && this.#section !== null && SECTION_CHILDREN.has(element.name)) return "keep";
    return "pass";
  }

  close(element: XmlElement): void {
    if (element === this.#supplementary) {
      this.#supplementary = null;
      return;
    }
    const section = this.#section;
    if (section === null) return;
    if (element.depth === 3 && element.children !== null) {
      if (element.name === "Ntry") this.#entry(section, element);
      else section.take(element);
      return;
    }
    if (element.depth === 2) {
      this.#items.push({ kind: "statement", statement: section.finish() });
      this.#section = null;
    }
  }

  #entry(section: CamtSection, ntry: XmlElement): void {
    const result = readEntry(ntry, { source: this.#reader, scope: section.scope });
    for (const line of result.lines) {
      this.#lines++;
      if (this.#lines > this.#limits.linesMax) throw tooManyLines(line.location, this.#limits.linesMax);
      this.#items.push({ kind: "line", section: this.#sections - 1, line });
    }
    section.addEntry(result);
  }

  #openRoot(element: XmlElement, namespace: string): void {
    const match = CAMT_NAMESPACE.exec(namespace);
    if (element.name !== "Document" || match === null) {
      throw statementError("STATEMENT_MALFORMED", `the root element is ${element.name} in namespace ${JSON.stringify(namespace)}; Trueup reads Document in ${NAMESPACES_READ}`, where(element));
    }
    const format = `camt.${match[1] ?? ""}` as CamtFormat;
    if (format !== this.#expected) {
      throw statementError("STATEMENT_MALFORMED", `the file is ${format} (namespace ${namespace}), not the ${this.#expected} it was to be read as`, where(element));
    }
    this.#format = format;
    this.#namespace = namespace;
  }

  #requireFormat(): CamtFormat {
    assert.ok(this.#format !== null, "the root sets the format before any child opens");
    return this.#format;
  }
}
