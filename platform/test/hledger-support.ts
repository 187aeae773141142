// hledger, an independent implementation of double-entry accounting, for the
// tests that check our export against it. .ci/run installs it; where it is
// missing the check says loudly that it is skipped.
import { execFileSync } from "node:child_process";

/** "hledger" when it runs here, else undefined (and a line on stderr naming the test whose check is skipped). */
export function findHledger(test: string): string | undefined {
  try {
    execFileSync("hledger", ["--version"], { stdio: "ignore" });
    return "hledger";
  } catch {
    process.stderr.write(`[${test}] hledger not installed: the hledger cross-check is SKIPPED (apt-get install hledger; .ci/run installs it)\n`);
    return undefined;
  }
}
