// Proves the printable reconciliation statement is safe and complete:
// - escapeHtml leaves none of & < > " ' raw and is undone exactly by an
//   unescape (property), so no text can open a tag or end an attribute;
// - the page shows every total of the worked example (grouped digits, in
//   right-aligned monospace cells), the difference in green when zero and in
//   red otherwise or without a bank balance, the explained items with their
//   status, and the problems;
// - hostile text in every field (names, ids, descriptions, the balance's
//   source, problems) comes out escaped: the page's tags and attributes are
//   only the renderer's own (an allowlist), one <style>, no <script>, and no
//   resource (no src, href, url(), @import, http URL);
// - the same DTO gives the same bytes.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { buildReconciliationStatement } from "../../contracts/src/reconciliation/reconciliation-statement.ts";
import type { ReconciliationItem, ReconciliationStatementDto, ReconciliationStatementInput } from "../../contracts/src/reconciliation/reconciliation-statement.ts";
import { escapeHtml, groupDigits, renderStatementHtml } from "../src/reconciliation/statement-html.ts";

const PERIOD_END = "2026-01-31";

function item(overrides: Partial<ReconciliationItem> & Pick<ReconciliationItem, "itemId" | "amountMinor">): ReconciliationItem {
  return { side: "internal", date: "2026-01-15", description: null, status: "open", counterpartDate: null, matchId: null, ...overrides };
}

function statement(overrides: Partial<ReconciliationStatementInput> = {}): ReconciliationStatementDto {
  return buildReconciliationStatement({
    bankAccountId: "acme-eur-main",
    bankAccountName: "Acme main EUR",
    currency: "EUR",
    ledgerId: "acme",
    ledgerAccount: "1020",
    period: "2026-01",
    periodEnd: PERIOD_END,
    bankBalance: { amountMinor: 1_000_000n, date: PERIOD_END, source: "stmt-2026-01" },
    // 10,000.00 − 1,200.00 + 500.00 = 9,300.00 = 9,311.80 − 15.00 + 3.20 (see the contracts test).
    bookBalanceMinor: 931_180n,
    items: [
      item({ itemId: "e-1001:0", amountMinor: -120_000n, date: "2026-01-20", description: "Cheque 1001" }),
      item({ itemId: "e-1002:0", amountMinor: 50_000n, date: "2026-01-30", description: "Receipt INV-7", status: "matched", matchId: "m-2", counterpartDate: "2026-02-02" }),
      item({ itemId: "s-31-1", side: "external", amountMinor: -1_500n, date: "2026-01-31", description: "Account fee" }),
      item({ itemId: "s-31-2", side: "external", amountMinor: 320n, date: "2026-01-31", description: "Interest" }),
      item({ itemId: "s-05-1", side: "external", amountMinor: -4_200n, date: "2026-01-05", description: "Duplicate notice", status: "ignored" }),
    ],
    ...overrides,
  });
}

function unescapeHtml(html: string): string {
  return html.replace(/&(amp|lt|gt|quot|#39);/g, (_, name: string) => ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'" })[name] ?? "");
}

/** The page's <style> contents and its markup apart, so CSS (which has `>` selectors) is not read as text. */
function split(html: string): { css: string; markup: string } {
  const match = /<style>([\s\S]*?)<\/style>/.exec(html);
  return { css: match?.[1] ?? "", markup: html.replace(/<style>[\s\S]*?<\/style>/, "<style></style>") };
}

/** The section of the page holding the difference. */
function differenceBlock(html: string): string {
  return /<section class="difference[^"]*">.*?<\/section>/.exec(html)?.[0] ?? "";
}

describe("escapeHtml", () => {
  it("replaces the five characters that can end a text or start markup", () => {
    expect(escapeHtml(`<script>alert("x" & 'y')</script>`)).toBe("&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;");
    expect(escapeHtml("&amp;")).toBe("&amp;amp;");
    expect(escapeHtml("plain text, é, \u202e")).toBe("plain text, é, \u202e");
    expect(escapeHtml("")).toBe("");
  });

  it("leaves none of them raw, and is undone exactly (property)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (s) => {
        const escaped = escapeHtml(s);
        expect(escaped).not.toMatch(/[<>"']/);
        expect(escaped).not.toMatch(/&(?!(amp|lt|gt|quot|#39);)/);
        expect(unescapeHtml(escaped)).toBe(s);
      }),
      { numRuns: 500 },
    );
  });
});

describe("groupDigits", () => {
  it("groups the integer digits in threes and keeps sign and decimals", () => {
    const cases: [string, string][] = [["0.00", "0.00"], ["100", "100"], ["1000", "1,000"], ["-1200.00", "-1,200.00"], ["1234567.891", "1,234,567.891"], ["-0.005", "-0.005"], ["123456789012345678901", "123,456,789,012,345,678,901"]];
    for (const [amount, grouped] of cases) expect(groupDigits(amount), amount).toBe(grouped);
  });
});

describe("the page", () => {
  const html = renderStatementHtml(statement());

  it("is a complete document with a title, the account and the period", () => {
    expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    expect(html).toContain("<h1>Bank reconciliation statement</h1>");
    expect(html).toContain("<title>Bank reconciliation statement \u2014 Acme main EUR \u2014 2026-01</title>");
    for (const fact of ["acme-eur-main", "Acme main EUR", "1020", "2026-01, ending 2026-01-31", "stmt-2026-01"]) expect(html).toContain(fact);
    expect(html).toContain("Bank side");
    expect(html).toContain("Book side");
  });

  it("shows every total in a right-aligned monospace cell", () => {
    for (const amount of ["10,000.00", "-1,200.00", "500.00", "9,300.00", "9,311.80", "-15.00", "3.20"]) {
      expect(html, amount).toContain(`<td class="amount">${amount}</td>`);
    }
    const { css } = split(html);
    expect(css).toMatch(/td\.amount,th\.amount\{text-align:right;font-family:ui-monospace[^}]*monospace/);
    expect(css).toContain("@media print");
    expect(html).toContain("Adjusted bank balance");
    expect(html).toContain("Adjusted book balance");
  });

  it("shows a zero difference in green", () => {
    const block = differenceBlock(html);
    expect(block).toContain('class="difference zero"');
    expect(block).toContain("Reconciled");
    expect(block).toContain('<span class="amount">0.00</span>');
    expect(split(html).css).toMatch(/\.difference\.zero\{color:#0a5c0a/);
  });

  it("shows a non-zero difference in red, exactly", () => {
    const block = differenceBlock(renderStatementHtml(statement({ bookBalanceMinor: 931_179n })));
    expect(block).toContain('class="difference nonzero"');
    expect(block).toContain('<span class="amount">0.01</span>');
    expect(block).toContain("Not reconciled");
    expect(split(html).css).toMatch(/\.difference\.nonzero\{color:#a00/);
  });

  it("says there is no bank balance, in red, with the problem", () => {
    const page = renderStatementHtml(statement({ bankBalance: null }));
    expect(differenceBlock(page)).toContain('class="difference nonzero"');
    expect(differenceBlock(page)).toContain("no bank balance");
    expect(page).toContain('<section class="problems">');
    expect(page).toContain("no bank balance is known at the period end 2026-01-31");
    expect(page).toContain('<td class="amount">&mdash;</td>');
  });

  it("lists the explained items with their status, apart from the sections", () => {
    const explained = /<section class="explained">.*?<\/section>/.exec(html)?.[0] ?? "";
    expect(explained).toContain("Explained items (1)");
    expect(explained).toContain("<td>ignored</td>");
    expect(explained).toContain("Duplicate notice");
    expect(explained).toContain("-42.00");
    expect(html.split("Duplicate notice")).toHaveLength(2);
  });

  it("loads nothing and runs nothing", () => {
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/https?:/i);
    expect(html).not.toMatch(/\b(src|href|srcset|action|formaction)\s*=/i);
    expect(html).not.toMatch(/url\(|@import/i);
  });

  it("is the same bytes for the same statement", () => {
    expect(renderStatementHtml(statement())).toBe(html);
  });
});

describe("hostile text", () => {
  const EVIL = `<script>alert("x")</script> & 'q' </style><img src=x onerror=alert(1)> https://evil.example/p.png \u202eTXE`;
  const dto = statement({
    bankAccountId: `id${EVIL}`,
    bankAccountName: `name${EVIL}`,
    ledgerId: `ledger${EVIL}`,
    ledgerAccount: `acct${EVIL}`,
    bankBalance: { amountMinor: 1_000_000n, date: PERIOD_END, source: `src${EVIL}` },
    items: [
      item({ itemId: `e${EVIL}`, amountMinor: -120_000n, description: `desc${EVIL}`, status: "matched", matchId: `m${EVIL}`, counterpartDate: "2026-02-03" }),
      item({ itemId: `x${EVIL}`, side: "external", amountMinor: -100n, description: `fee${EVIL}`, status: "written-off", matchId: "m-w", counterpartDate: null }),
    ],
  });
  const page = renderStatementHtml({ ...dto, problems: [`problem${EVIL}`] });
  const { css, markup } = split(page);

  it("comes out escaped, in every field", () => {
    for (const prefix of ["id", "name", "ledger", "acct", "src", "e", "m", "desc", "x", "fee", "problem"]) {
      expect(page, prefix).toContain(escapeHtml(`${prefix}${EVIL}`));
    }
    expect(page).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;");
  });

  it("adds no tag, attribute, script or resource of its own", () => {
    expect(page).not.toMatch(/<script/i);
    expect(page).not.toMatch(/<img/i);
    expect(page.match(/<\/style>/g)).toHaveLength(1);
    expect(css).not.toMatch(/evil|url\(|@import/i);
    // Every tag is one the renderer writes, with only its own attributes.
    const TAGS = new Set(["html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "dl", "dt", "dd", "section", "div", "table", "thead", "tbody", "tr", "th", "td", "p", "small", "br", "span", "bdi", "ul", "li", "strong", "footer"]);
    const ATTRIBUTES = new Set(["lang", "charset", "name", "content", "class", "colspan"]);
    for (const [, tag = "", attributes = ""] of markup.replace("<!DOCTYPE html>", "").matchAll(/<\/?([a-zA-Z0-9]+)([^>]*)>/g)) {
      expect(TAGS.has(tag), tag).toBe(true);
      for (const [, attribute = ""] of attributes.matchAll(/([a-zA-Z-]+)(?:="[^"]*")?/g)) expect(ATTRIBUTES.has(attribute), `${tag} ${attribute}`).toBe(true);
      expect(attributes).not.toMatch(/evil|alert|onerror/);
    }
  });

  it("isolates free text so a right-to-left override stays inside it", () => {
    expect(page).toContain(`<bdi>${escapeHtml(`desc${EVIL}`)}</bdi>`);
    expect(page).toContain(`<bdi>${escapeHtml(`name${EVIL}`)}</bdi>`);
  });
});
