// Proves that the camt XML reader's own tokenizer is as strict as saxes, the
// strict parser it replaced: on thousands of mutated real and generated camt
// files (bytes replaced, ranges deleted, XML tokens inserted, truncations)
// both accept or both reject, read whole or in 1 to 64-character chunks.
// The reader is stricter than saxes only where saxes lets a fault through,
// each case named in STRICTER below (and tested on its own); it never
// accepts what saxes rejects. And that it reads what saxes reads: the same
// elements, lines and texts on the unmutated samples.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { SaxesParser } from "saxes";
import { TrueupError } from "@trueup/contracts";
import { XML_DEPTH_MAX, XmlReader } from "../../src/reconciliation/importers/camt/xml-reader.ts";
import type { XmlElement } from "../../src/reconciliation/importers/camt/xml-reader.ts";
import { writeCamt053 } from "../../../bench/lib/statement-generators.ts";
import { fixture } from "./camt-samples.ts";
import { mutateText, textMutations } from "./text-mutation.ts";

const TOKENS = [
  "<", ">", "/", "&", ";", "=", '"', "'", "?", "!", "-", "--", "]", "]]>", "[", ":", " ", "\t", "\r", "\r\n", "\n", "\u0000", "\u0001", "é", "\u00B7", "\uFEFF", "\uFFFE",
  "\uD83D\uDE00", "&amp;", "&lt;", "&apos;", "&bogus;", "&#0;", "&#9;", "&#x20AC;", "&#X41;", "&#xD800;", "&#x110000;", "&#65", "&;", "<![CDATA[1.00]]>", "<![CDATA[",
  "<!---->", "<!-- a -- b -->", "<!--", "-->", "<?pi x?>", "<?pi?>", "<??>", "<?xml version=\"1.0\"?>", "<?XML x?>", "<!DOCTYPE d>", "<!ELEMENT", "<a/>", "<a b='1'/>",
  "</a>", "<a>", " a=\"1\"", " a=\"1\" a=\"2\"", " a='<'", " a=b", " xmlns=\"urn:x\"", " xmlns:p=\"urn:p\"", "p:", "1", "</", "/>",
] as const;

const mutation = fc.oneof(...textMutations(TOKENS, { deleteMax: 40, insertWeight: 2 }));

type Verdict = "accept" | "reject";

/** What the reader saw: each element's local name, line and own text, in document order. */
type Seen = string[];

/** Seen without lines: saxes names a start tag's line at its `>`, the reader at its `<` (they differ when a tag spans lines). */
function unlined(seen: Seen): Seen {
  return seen.map((entry) => entry.replace(/@\d+:/, ":"));
}

function readerRun(text: string, chunkSize: number): { verdict: Verdict; seen: Seen; message?: string } {
  const seen: Seen = [];
  const reader: XmlReader = new XmlReader({
    hooks: {
      open: (element: XmlElement) => (element.depth === 0 ? "keep" : "pass"),
      close: (element: XmlElement) => {
        seen.push(`${element.name}@${element.line}:${JSON.stringify(element.text)}`);
      },
    },
    limits: { textLengthMax: 1_000_000, subtreeLengthMax: 10_000_000 },
    indexed: new Set(),
  });
  try {
    for (let offset = 0; offset < text.length; offset += chunkSize) reader.write(text.slice(offset, offset + chunkSize));
    reader.close();
    return { verdict: "accept", seen };
  } catch (error) {
    if (error instanceof TrueupError && error.code === "STATEMENT_MALFORMED") return { verdict: "reject", seen, message: error.message };
    throw error;
  }
}

/**
 * saxes in the mode the reader used it (plain, positions on), with the
 * rules the reader added on top of it: no DOCTYPE, element prefixes bound
 * by an xmlns attribute in scope, nesting at most XML_DEPTH_MAX.
 */
function saxesRun(text: string): { verdict: Verdict; seen: Seen } {
  const seen: Seen = [];
  const parser = new SaxesParser({ xmlns: false, position: true });
  const scopes: Set<string>[] = [new Set(["xml"])];
  const texts: string[] = [];
  const lines: number[] = [];
  // An element's own text is what comes before its first child, as the reader keeps it.
  const hasChild: boolean[] = [];
  // Set by the handlers that throw, so a verdict is never taken from another exception.
  const state = { failed: false };
  parser.on("error", () => {
    state.failed = true;
    throw new Error("saxes: not well-formed");
  });
  parser.on("doctype", () => {
    state.failed = true;
    throw new Error("saxes: doctype");
  });
  parser.on("opentag", (tag) => {
    const scope = new Set(scopes.at(-1));
    for (const name of Object.keys(tag.attributes)) if (name.startsWith("xmlns:")) scope.add(name.slice(6));
    const colon = tag.name.indexOf(":");
    if ((colon >= 0 && !scope.has(tag.name.slice(0, colon))) || scopes.length > XML_DEPTH_MAX) {
      state.failed = true;
      throw new Error("saxes harness: unbound prefix or too deep");
    }
    scopes.push(scope);
    if (hasChild.length > 0) hasChild[hasChild.length - 1] = true;
    hasChild.push(false);
    texts.push("");
    lines.push(parser.line);
  });
  const addText = (value: string) => {
    const last = texts.length - 1;
    if (last >= 0 && hasChild[last] === false) texts[last] = (texts[last] ?? "") + value;
  };
  parser.on("text", addText);
  parser.on("cdata", addText);
  parser.on("closetag", (tag) => {
    scopes.pop();
    hasChild.pop();
    const colon = tag.name.indexOf(":");
    seen.push(`${colon < 0 ? tag.name : tag.name.slice(colon + 1)}@${lines.pop() ?? 0}:${JSON.stringify(texts.pop() ?? "")}`);
  });
  try {
    parser.write(text);
    parser.close();
  } catch (error) {
    if (!state.failed) throw error;
    return { verdict: "reject", seen };
  }
  return { verdict: "accept", seen };
}

/**
 * Where saxes accepts a fault the reader refuses (each is tested below):
 * a lone surrogate (saxes pairs it with whatever follows and swallows that
 * character, even a `<`), XML 1.1 (another character set and other line
 * ends, none of it camt's), a PI whose target is followed by `?` and more
 * than `>` (XML 2.6 requires a space there).
 */
const STRICTER: readonly RegExp[] = [/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/, /^\uFEFF?<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(["'])1\.(?!0\1)/, /<\?[^\s?>]+\?[^>]/];

let generated = "";
let directory = "";

beforeAll(async () => {
  directory = mkdtempSync(path.join(tmpdir(), "camt-differential-"));
  const file = path.join(directory, "generated.xml");
  await writeCamt053({ path: file, lines: 12, seed: 53 });
  generated = readFileSync(file, "utf8");
});

afterAll(() => {
  rmSync(directory, { recursive: true, force: true });
});

function samples(): string[] {
  return [fixture("camt053.v2.minimal.xml"), fixture("camt053.v8.xml"), fixture("camt054.v8.xml"), generated];
}

describe("the XML reader against saxes", () => {
  it("reads the unmutated samples as saxes does: same elements, lines and texts", () => {
    for (const text of samples()) {
      const saxes = saxesRun(text);
      expect(saxes.verdict).toBe("accept");
      expect(readerRun(text, text.length)).toEqual({ verdict: "accept", seen: saxes.seen });
      expect(readerRun(text, 7)).toEqual({ verdict: "accept", seen: saxes.seen });
      const crlf = text.replaceAll("\n", "\r\n");
      expect(readerRun(crlf, 5).seen).toEqual(saxesRun(crlf).seen);
    }
  });

  it("mutated samples: the same verdict as saxes (stricter only in the named cases), whole and in 1 to 64-character chunks", { timeout: 240_000 }, () => {
    const all = samples();
    fc.assert(
      fc.property(fc.nat(all.length - 1), fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.integer({ min: 1, max: 64 }), (sample, mutations, chunkSize) => {
        const text = mutations.reduce(mutateText, all[sample] ?? "");
        const saxes = saxesRun(text);
        const whole = readerRun(text, Math.max(text.length, 1));
        expect(readerRun(text, chunkSize).verdict).toBe(whole.verdict);
        if (whole.verdict === saxes.verdict) {
          if (saxes.verdict === "accept") expect(unlined(whole.seen)).toEqual(unlined(saxes.seen));
          return;
        }
        expect(whole.verdict, `accepted what saxes refuses: ${JSON.stringify(text)}`).toBe("reject");
        expect(
          STRICTER.some((pattern) => pattern.test(text)),
          `refused what saxes accepts (${whole.message ?? ""}): ${JSON.stringify(text)}`,
        ).toBe(true);
      }),
      { numRuns: 4000, seed: Number(process.env.CAMT_XML_SEED ?? 20022) },
    );
  });
});

describe("where the reader is stricter than saxes", () => {
  const doc = (body: string) => `<?xml version="1.0"?>\n<Document>${body}</Document>`;

  it("a lone surrogate is no XML character, wherever it is", () => {
    for (const text of [doc("a\uD800b"), doc("\uD800<x/>"), doc("\uDC00"), `<Document a="\uD800"/>`, doc("<!-- \uD800 -->"), doc("\uD800")]) {
      expect(readerRun(text, text.length).verdict, JSON.stringify(text)).toBe("reject");
      expect(readerRun(text, 1).verdict, JSON.stringify(text)).toBe("reject");
    }
    expect(readerRun(doc("\uD83D\uDE00"), 1)).toMatchObject({ verdict: "accept", seen: ['Document@2:"😀"'] });
  });

  it("XML 1.1 (and any version but 1.0) is refused, saying why", () => {
    const run = readerRun(`<?xml version="1.1"?><Document/>`, 3);
    expect(run.verdict).toBe("reject");
    expect(run.message).toContain("XML 1.0");
    expect(readerRun(`<?xml version="1.0" encoding="UTF-8" standalone="yes" ?><Document/>`, 3).verdict).toBe("accept");
  });

  it("a processing instruction needs a space between its target and its content", () => {
    expect(readerRun(doc("<?pi?x?>"), 2).verdict).toBe("reject");
    expect(readerRun(doc("<?pi x?><?pi?>"), 2).verdict).toBe("accept");
  });
});

describe("hostile markup (each refused, whole and in 1-character chunks)", () => {
  const bad = {
    "mismatched tags": "<a><b></a></b>",
    "two roots": "<a/><b/>",
    "text before the root": "x<a/>",
    "text after the root": "<a/>x",
    "CDATA outside the root": "<![CDATA[x]]><a/>",
    "a duplicate attribute": '<a x="1" x="2"/>',
    "an unquoted attribute": "<a x=1/>",
    "no space between attributes": '<a x="1"y="2"/>',
    "< in an attribute value": '<a x="<"/>',
    "an undeclared entity": "<a>&nbsp;</a>",
    "a reference to a non-character": "<a>&#0;</a>",
    "a reference beyond Unicode": "<a>&#x110000;</a>",
    "a reference to a surrogate": "<a>&#xD800;</a>",
    "an uppercase X reference": "<a>&#X41;</a>",
    "an unterminated reference": "<a>&amp</a>",
    "]]> in text": "<a>x]]>y</a>",
    "-- in a comment": "<a><!-- a -- b --></a>",
    "a comment ending in --->": "<a><!-- a ---></a>",
    "a DOCTYPE": "<!DOCTYPE a><a/>",
    "an XML declaration not at the start": ' <?xml version="1.0"?><a/>',
    "a second XML declaration": '<?xml version="1.0"?><?xml version="1.0"?><a/>',
    "a PI named xml in other case": "<a><?XmL x?></a>",
    "a control character": "<a>\u0001</a>",
    "U+FFFE": "<a>\uFFFE</a>",
    "a name starting with a digit": "<1a/>",
    "an empty end tag": "<a></>",
    "an unclosed root": "<a><b></b>",
    "an unterminated comment": "<a/><!-- x",
    "an unterminated tag": '<a x="1"',
    "nothing": "",
    "a slash not before >": "<a / >",
    "<! of nothing known": "<a><!x></a>",
  } as const;

  it.each(Object.entries(bad))("%s", (_name, text) => {
    expect(readerRun(text, Math.max(text.length, 1)).verdict).toBe("reject");
    expect(readerRun(text, 1).verdict).toBe("reject");
    expect(saxesRun(text).verdict).toBe("reject");
  });

  it("what is well-formed is read, references and line ends normalized as XML says", () => {
    const text = '\uFEFF<?xml version="1.0"?>\r\n<!-- c --><?pi x?>\r\n<a x="1\r\n2&#9;" y=\'"\'>M&amp;M &#x20AC;&#65;<![CDATA[<&]]>\r\n<b/></a>\n<!-- after -->\n';
    for (const chunkSize of [1, 2, 3, 64, text.length]) expect(readerRun(text, chunkSize)).toEqual({ verdict: "accept", seen: ['b@5:""', 'a@3:"M&M €A<&\\n"'] });
    expect(unlined(saxesRun(text).seen)).toEqual(['b:""', 'a:"M&M €A<&\\n"']);
  });
});
