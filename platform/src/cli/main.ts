// `npm run trueup -- <command>`: the operator's command line against a
// running Trueup server (see USAGE in args.ts). Exit codes: 0 done,
// 1 rejected by the server, 2 usage error, 3 server unavailable.
import { USAGE, UsageError, parseCommandLine } from "./args.ts";
import type { ParsedCommandLine } from "./args.ts";
import { EXIT, runImport } from "./import-command.ts";

async function main(): Promise<number> {
  let parsed: ParsedCommandLine;
  try {
    parsed = parseCommandLine(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`trueup: ${error.message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (parsed.command === "help") {
    process.stdout.write(USAGE);
    return EXIT.imported;
  }
  return runImport(parsed, { stdout: process.stdout, stderr: process.stderr });
}

// exitCode, not exit(): stdout (the summary table) is flushed before the process ends, even into a pipe.
process.exitCode = await main();
