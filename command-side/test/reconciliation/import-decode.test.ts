// Decoding a statement file's bytes (import/decode.ts). Proves: the encoding
// is chosen in the documented order (requested, BOM, declaration, OFX header,
// CSV profile, sniffed); ISO-8859-1 and windows-1252 bytes come out as the
// characters they are (ä, €); invalid UTF-8 — also far into a file sniffed as
// UTF-8 from its head — NUL and other C0 controls fail with
// STATEMENT_ENCODING_INVALID at their 1-based line (LF, CRLF and lone CR each
// ending a line, as the importers count them); the text is the same whatever
// the chunking of the bytes, down to one byte per chunk.
import { describe, expect, it } from "vitest";
import { TrueupError } from "@trueup/contracts";
import { chooseEncoding, decodeChunks, declaredEncoding } from "../../src/reconciliation/import/decode.ts";
import type { EncodingChoice } from "../../src/reconciliation/import/decode.ts";

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
  await Promise.resolve();
}

async function decodeAll(bytes: Uint8Array, choice: EncodingChoice, size = 65_536): Promise<string> {
  let text = "";
  for await (const chunk of decodeChunks(chunked(bytes, size), choice)) text += chunk;
  return text;
}

async function failure(bytes: Uint8Array, choice: EncodingChoice, size = 65_536): Promise<TrueupError> {
  try {
    await decodeAll(bytes, choice, size);
  } catch (error) {
    if (error instanceof TrueupError) return error;
    throw error;
  }
  throw new Error("decoding succeeded");
}

const utf8 = (_label: string): EncodingChoice => ({ decoder: "utf-8", name: "utf-8", source: "sniffed" });
const cp1252: EncodingChoice = { decoder: "windows-1252", name: "windows-1252", source: "sniffed" };

describe("choosing the encoding", () => {
  it("a UTF-8 BOM wins over a declaration; a requested encoding wins over everything", () => {
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?><Document/>')]);
    expect(chooseEncoding(bom, {})).toMatchObject({ decoder: "utf-8", source: "bom" });
    expect(chooseEncoding(bom, { requested: "windows-1252" })).toMatchObject({ decoder: "windows-1252", source: "requested" });
  });

  it("an XML declaration is followed, ISO-8859-1 decoded as windows-1252 but recorded as declared", () => {
    const xml = Buffer.from('<?xml version="1.0" encoding="ISO-8859-1"?>\n<Document/>');
    expect(chooseEncoding(xml, {})).toEqual({ decoder: "windows-1252", name: "iso-8859-1", source: "declared" });
  });

  it("an OFX 1.x header's CHARSET:1252 means windows-1252; ENCODING:UTF-8 means UTF-8; USASCII with CHARSET:NONE is sniffed", () => {
    expect(chooseEncoding(Buffer.from("OFXHEADER:100\r\nDATA:OFXSGML\r\nENCODING:USASCII\r\nCHARSET:1252\r\n\r\n<OFX>"), {})).toMatchObject({ decoder: "windows-1252", source: "declared" });
    expect(chooseEncoding(Buffer.from("OFXHEADER:100\r\nENCODING:UTF-8\r\nCHARSET:NONE\r\n<OFX>"), {})).toMatchObject({ decoder: "utf-8", source: "declared" });
    expect(chooseEncoding(Buffer.from("OFXHEADER:100\r\nENCODING:USASCII\r\nCHARSET:NONE\r\n<OFX>\xe4x", "latin1"), {})).toMatchObject({ decoder: "windows-1252", source: "sniffed" });
    expect(declaredEncoding(Buffer.from("OFXHEADER:100\r\nCHARSET:8859-1\r\n"))).toEqual({ label: "iso-8859-1", line: 2 });
  });

  it("a CSV profile's encoding applies when the file declares none; else valid UTF-8 is UTF-8 and anything else windows-1252", () => {
    expect(chooseEncoding(Buffer.from("date;amount\n"), { profile: "iso-8859-1" })).toMatchObject({ decoder: "windows-1252", source: "profile" });
    expect(chooseEncoding(Buffer.from("Müller;1,00\n", "utf8"), {})).toMatchObject({ decoder: "utf-8", source: "sniffed" });
    expect(chooseEncoding(Buffer.from("Müller;1,00\n", "latin1"), {})).toMatchObject({ decoder: "windows-1252", source: "sniffed" });
    // A head that ends inside a character is still valid UTF-8 (the rest of it is beyond the head), unless it is the whole file.
    expect(chooseEncoding(Buffer.from("Mü", "utf8").subarray(0, 2), {})).toMatchObject({ decoder: "utf-8" });
    expect(chooseEncoding(Buffer.from("Mü", "utf8").subarray(0, 2), { wholeFile: true })).toMatchObject({ decoder: "windows-1252" });
  });

  it("an encoding the file declares but Trueup cannot decode is refused at the declaration's line", () => {
    let caught: unknown;
    try {
      chooseEncoding(Buffer.from('\n<?xml version="1.0" encoding="x-no-such"?><a/>'), {});
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TrueupError);
    expect(caught).toMatchObject({ code: "STATEMENT_ENCODING_INVALID", detail: { location: { line: 1 } } });
  });
});

describe("decoding", () => {
  it("latin-1 ä and windows-1252 € come out as themselves; a UTF-8 BOM is dropped", async () => {
    expect(await decodeAll(Buffer.from([0x4d, 0xe4, 0x80]), cp1252)).toBe("Mä€");
    expect(await decodeAll(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("€ 1,00", "utf8")]), { decoder: "utf-8", name: "utf-8", source: "bom" })).toBe("€ 1,00");
  });

  it("the same text whatever the chunking, one byte per chunk included", async () => {
    const bytes = Buffer.from("Zeile 1 äöü €\r\nZeile 2 𝄞\rZeile 3\n", "utf8");
    const whole = await decodeAll(bytes, utf8(""));
    expect(whole).toBe("Zeile 1 äöü €\r\nZeile 2 𝄞\rZeile 3\n");
    for (const size of [1, 2, 3, 7]) expect(await decodeAll(bytes, utf8(""), size)).toBe(whole);
  });

  it("an invalid UTF-8 byte far beyond the sniffed head fails at its line, whatever the chunking", async () => {
    const head = "ok line\n".repeat(10_000);
    const bytes = Buffer.concat([Buffer.from(head), Buffer.from("bad "), Buffer.from([0xe4]), Buffer.from(" here\nlast\n")]);
    for (const size of [65_536, 1000, 1]) {
      const error = await failure(bytes, utf8(""), size);
      expect(error.code).toBe("STATEMENT_ENCODING_INVALID");
      expect(error.detail).toMatchObject({ location: { line: 10_001 } });
    }
  });

  it("a file ending inside a UTF-8 character fails at its last line", async () => {
    const error = await failure(Buffer.concat([Buffer.from("a\nb"), Buffer.from([0xe2, 0x82])]), utf8(""));
    expect(error).toMatchObject({ code: "STATEMENT_ENCODING_INVALID", detail: { location: { line: 2 } } });
  });

  it("NUL and other C0 controls fail at their line (LF, CRLF and lone CR each end one); TAB, CR and LF pass", async () => {
    expect(await decodeAll(Buffer.from("a\tb\r\nc\rd\n"), utf8(""))).toBe("a\tb\r\nc\rd\n");
    const cases: [string, number][] = [
      ["\u0000", 1],
      ["a\nb\u0000", 2],
      ["a\r\nb\r\n\u0001c", 3],
      ["a\rb\rc\u001f", 3],
      ["a\r\u000b", 2],
    ];
    for (const [text, line] of cases) {
      for (const size of [65_536, 1]) {
        const error = await failure(Buffer.from(text, "utf8"), utf8(""), size);
        expect(error.code, JSON.stringify(text)).toBe("STATEMENT_ENCODING_INVALID");
        expect(error.detail, `${JSON.stringify(text)} in chunks of ${size}`).toMatchObject({ location: { line } });
      }
    }
  });

  it("UTF-16 read as UTF-8 is refused (its NULs), not imported as garbage", async () => {
    const error = await failure(Buffer.from(":20:STMT\r\n", "utf16le"), utf8(""));
    expect(error.code).toBe("STATEMENT_ENCODING_INVALID");
  });
});
