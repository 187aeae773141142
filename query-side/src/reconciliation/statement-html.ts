// The bank reconciliation statement as a printable page: one self-contained
// HTML document a clerk can open offline, print or archive. Inline CSS only
// (with an @media print block), no script, no external resource (no src,
// href, url() or @import): what is archived is what was read.
//
// Every text from the DTO goes through escapeHtml, and nothing from the DTO
// is ever written into an attribute, a tag name or the style sheet: the
// only places data lands are element contents. Free text (names,
// descriptions, ids) is also wrapped in <bdi>, so a right-to-left override
// in a description cannot reorder the amounts printed beside it.
// Amounts are the DTO's canonical strings with thousands separators added:
// never reparsed, never through a float.
import type { ReconciliationStatementDto, ReconciliationStatementLineDto, ReconciliationStatementSectionDto } from "@trueup/contracts";

const HTML_ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/**
 * Text made safe for HTML element content and for quoted attribute values:
 * the five characters that can end a text or start markup become entities.
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** Free text: escaped, and isolated from the surrounding text's direction. */
function text(value: string): string {
  return `<bdi>${escapeHtml(value)}</bdi>`;
}

/** "-1234567.50" → "-1,234,567.50". Only digits are regrouped; anything else is shown as is (escaped). */
export function groupDigits(amount: string): string {
  const match = /^(-?)([0-9]+)(\.[0-9]+)?$/.exec(amount);
  if (match === null) return amount;
  const [, sign = "", integer = "", fraction = ""] = match;
  return `${sign}${integer.replace(/\B(?=(?:[0-9]{3})+$)/g, ",")}${fraction}`;
}

function amountCell(amount: string | null): string {
  return `<td class="amount">${amount === null ? "&mdash;" : escapeHtml(groupDigits(amount))}</td>`;
}

const STYLE = `
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;font-size:10.5pt;color:#111;margin:24px auto;max-width:1100px;padding:0 16px}
h1{font-size:16pt;margin:0 0 4px}
h2{font-size:12pt;margin:0 0 6px;border-bottom:2px solid #333;padding-bottom:2px}
h3{font-size:10.5pt;margin:10px 0 2px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:8px 0 16px}
dl.meta dt{font-weight:600}
dl.meta dd{margin:0}
.columns{display:flex;gap:24px;align-items:flex-start}
.columns>section{flex:1 1 0;min-width:0}
table{border-collapse:collapse;width:100%}
th,td{padding:2px 4px;vertical-align:top;text-align:left}
th{font-weight:600;border-bottom:1px solid #999}
td.amount,th.amount{text-align:right;font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono",monospace;white-space:nowrap;font-variant-numeric:tabular-nums}
tr.total td{border-top:1px solid #333;font-weight:600}
tr.balance td{font-weight:700;border-top:2px solid #333;border-bottom:3px double #333}
tr.line td{font-size:9.5pt;color:#333}
td.desc{overflow-wrap:anywhere}
.none{color:#666;font-style:italic}
.difference{margin:18px 0;padding:8px 12px;border:2px solid;font-size:12pt;font-weight:700;display:flex;justify-content:space-between}
.difference.zero{color:#0a5c0a;background:#e6f4e6;border-color:#0a5c0a}
.difference.nonzero{color:#a00;background:#fbe9e9;border-color:#a00}
.difference .amount{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono","Liberation Mono",monospace}
.problems{border:2px solid #a00;color:#a00;padding:6px 12px;margin:12px 0}
.problems ul{margin:4px 0;padding-left:20px}
footer{margin-top:16px;font-size:9pt;color:#555}
@media print{
  @page{size:A4 portrait;margin:12mm}
  body{margin:0;max-width:none;padding:0;font-size:9pt}
  .columns{gap:12px}
  tr{break-inside:avoid}
  thead{display:table-header-group}
  .difference,.problems,tr.total,tr.balance{break-inside:avoid}
  .difference,.problems{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
`;

function lineRow(line: ReconciliationStatementLineDto): string {
  const description = line.description === null ? `<span class="none">(no description)</span>` : text(line.description);
  const match = line.matchId === null ? "" : ` &middot; match ${text(line.matchId)}${line.counterpartDate === null ? "" : ` (other side ${escapeHtml(line.counterpartDate)})`}`;
  return `<tr class="line"><td>${escapeHtml(line.date)}</td><td class="desc">${description}<br><small>${text(line.itemId)}${match}</small></td>${amountCell(line.amount)}</tr>`;
}

/** A titled section: its lines, then its total; "None" when it has no lines. */
function sectionRows(title: string, section: ReconciliationStatementSectionDto): string {
  const heading = `<tr><th colspan="3">${escapeHtml(title)} (${section.count})</th></tr>`;
  const lines = section.lines.length === 0 ? `<tr class="line"><td></td><td class="none">None</td><td></td></tr>` : section.lines.map(lineRow).join("");
  return `${heading}${lines}<tr class="total"><td></td><td>Total ${escapeHtml(title.toLowerCase())}</td>${amountCell(section.total)}</tr>`;
}

function bankSide(dto: ReconciliationStatementDto): string {
  const balance = dto.bankBalance;
  const stated = balance === null ? `<span class="none">no bank balance known</span>` : `as at ${escapeHtml(balance.date)}, ${text(balance.source)}`;
  return [
    `<section class="bank"><h2>Bank side</h2><p><small>Book entries not yet through the bank.</small></p><table>`,
    `<tr class="balance"><td></td><td>Balance per bank statement<br><small>${stated}</small></td>${amountCell(balance?.amount ?? null)}</tr>`,
    sectionRows("Outstanding payments", dto.outstandingPayments),
    sectionRows("Deposits in transit", dto.depositsInTransit),
    `<tr class="balance"><td></td><td>Adjusted bank balance</td>${amountCell(dto.adjustedBank)}</tr>`,
    `</table></section>`,
  ].join("");
}

function bookSide(dto: ReconciliationStatementDto): string {
  const account = `${text(dto.bankAccount.ledgerId)} / ${text(dto.bankAccount.ledgerAccount)}`;
  return [
    `<section class="book"><h2>Book side</h2><p><small>Statement lines not yet in the books.</small></p><table>`,
    `<tr class="balance"><td></td><td>Balance per books<br><small>ledger account ${account}</small></td>${amountCell(dto.bookBalance)}</tr>`,
    sectionRows("Fees and charges", dto.feesAndCharges),
    sectionRows("Interest and receipts", dto.interestAndReceipts),
    `<tr class="balance"><td></td><td>Adjusted book balance</td>${amountCell(dto.adjustedBook)}</tr>`,
    `</table></section>`,
  ].join("");
}

function differenceBlock(dto: ReconciliationStatementDto): string {
  // Green only for a zero difference; no bank balance is red, like any other unreconciled state.
  const kind = dto.balanced ? "zero" : "nonzero";
  const verdict = dto.balanced ? "Reconciled" : dto.difference === null ? "Not reconciled: no bank balance" : "Not reconciled";
  const value = dto.difference === null ? "&mdash;" : escapeHtml(groupDigits(dto.difference));
  return `<section class="difference ${kind}"><span>Difference (adjusted bank &minus; adjusted book): ${verdict}</span><span class="amount">${value}</span></section>`;
}

function explainedBlock(dto: ReconciliationStatementDto): string {
  const head = `<h2>Explained items (${dto.explained.count})</h2><p><small>Ignored and written-off items: not reconciling items, in no total.</small></p>`;
  if (dto.explained.lines.length === 0) return `<section class="explained">${head}<p class="none">None</p></section>`;
  const rows = dto.explained.lines.map(
    (line) => `<tr><td>${escapeHtml(line.date)}</td><td>${escapeHtml(line.side)}</td><td>${escapeHtml(line.status)}</td><td class="desc">${line.description === null ? "" : text(line.description)}<br><small>${text(line.itemId)}</small></td>${amountCell(line.amount)}</tr>`,
  );
  return `<section class="explained">${head}<table><thead><tr><th>Date</th><th>Side</th><th>Status</th><th>Item</th><th class="amount">Amount</th></tr></thead><tbody>${rows.join("")}</tbody></table></section>`;
}

function problemsBlock(dto: ReconciliationStatementDto): string {
  if (dto.problems.length === 0) return "";
  return `<section class="problems"><strong>Problems</strong><ul>${dto.problems.map((p) => `<li>${text(p)}</li>`).join("")}</ul></section>`;
}

/**
 * The statement as one self-contained, printable HTML page (UTF-8). Pure:
 * the same DTO always gives the same bytes (no clock, no locale).
 */
export function renderStatementHtml(dto: ReconciliationStatementDto): string {
  const account = dto.bankAccount;
  const title = `Bank reconciliation statement \u2014 ${account.name} \u2014 ${dto.period}`;
  return [
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>`,
    `<header><h1>Bank reconciliation statement</h1><dl class="meta">`,
    `<dt>Account</dt><dd>${text(account.name)} (${text(account.bankAccountId)})</dd>`,
    `<dt>Currency</dt><dd>${text(account.currency)}</dd>`,
    `<dt>Ledger account</dt><dd>${text(account.ledgerId)} / ${text(account.ledgerAccount)}</dd>`,
    `<dt>Period</dt><dd>${escapeHtml(dto.period)}, ending ${escapeHtml(dto.periodEnd)}</dd>`,
    `</dl></header>`,
    problemsBlock(dto),
    `<div class="columns">${bankSide(dto)}${bookSide(dto)}</div>`,
    differenceBlock(dto),
    explainedBlock(dto),
    `<footer>${dto.counts.items} items considered: ${dto.counts.cleared} cleared by the period end, ${dto.counts.zeroAmount} pending with a zero amount (in no section). Amounts in ${text(account.currency)}, signed: positive is money into the bank account, and each adjusted balance is the sum of its column.</footer>`,
    `</body></html>\n`,
  ].join("\n");
}
