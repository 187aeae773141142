// Configuration from the environment, validated once at start-up. A bad value
// stops the process with one line naming the variable; nothing starts half-configured.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { IMPORT_ROUTE_LIMITS } from "@trueup/command-side";

export const SERVICES = ["command", "projections", "query"] as const;
export type Service = (typeof SERVICES)[number];

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function urlWithScheme(schemes: readonly string[]) {
  return z
    .string()
    .trim()
    .min(1)
    .refine((value) => {
      try {
        return schemes.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    }, `must be a URL starting with ${schemes.map((s) => `${s}//`).join(" or ")}`);
}

const servicesSchema = z
  .string()
  .trim()
  .transform((value, ctx): Service[] => {
    if (value === "" || value === "all") return [...SERVICES];
    const names = value.split(",").map((s) => s.trim());
    const unknown = names.filter((n) => !(SERVICES as readonly string[]).includes(n));
    if (unknown.length > 0) {
      ctx.addIssue({ code: "custom", message: `unknown service ${unknown.join(", ")}; use all or a comma list of ${SERVICES.join(", ")}` });
      return z.NEVER;
    }
    return [...new Set(names)] as Service[];
  });

const intInRange = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be a whole number from ${min} to ${max}`);

export const configSchema = z.object({
  PORT: intInRange(0, 65_535).default(3000),
  HOST: z.string().trim().min(1).default("127.0.0.1"),
  TRUEUP_DATA: z.string().trim().min(1).default(path.join(projectRoot, ".data")),
  DATABASE_URL: urlWithScheme(["postgres:", "postgresql:"]).optional(),
  EVENTSTORE_URL: urlWithScheme(["esdb:", "esdb+discover:", "kurrentdb:", "kurrentdb+discover:"]).optional(),
  MONGO_URL: urlWithScheme(["mongodb:", "mongodb+srv:"]).optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  TRUEUP_SERVICES: servicesSchema.default([...SERVICES]),
  PG_POOL_MAX: intInRange(2, 500).default(20),
  // Statement imports (README "Statement import limits"); defaults: IMPORT_ROUTE_LIMITS in command-side.
  TRUEUP_IMPORT_FILE_BYTES_MAX: intInRange(1, 4_294_967_296).default(IMPORT_ROUTE_LIMITS.fileBytesMax),
  TRUEUP_IMPORT_LINES_MAX: intInRange(1, 100_000_000).default(IMPORT_ROUTE_LIMITS.linesMax),
  TRUEUP_IMPORT_LINE_LENGTH_MAX: intInRange(80, 1_048_576).default(IMPORT_ROUTE_LIMITS.lineLengthMax),
  TRUEUP_IMPORT_CONCURRENCY: intInRange(1, 64).default(IMPORT_ROUTE_LIMITS.concurrentImportsMax),
});

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly eventStoreUrl: string | undefined;
  readonly mongoUrl: string | undefined;
  readonly logLevel: z.infer<typeof configSchema>["LOG_LEVEL"];
  readonly services: readonly Service[];
  readonly pgPoolMax: number;
  /** Bounds of the statement import routes. */
  readonly imports: { readonly fileBytesMax: number; readonly linesMax: number; readonly lineLengthMax: number; readonly concurrentImportsMax: number };
}

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Environment variables win over nothing; `--service=x` on the command line wins over TRUEUP_SERVICES. */
export function loadConfig(env: NodeJS.ProcessEnv, argv: readonly string[] = []): Config {
  const flag = argv.find((a) => a.startsWith("--service="));
  const input = { ...env, ...(flag === undefined ? {} : { TRUEUP_SERVICES: flag.slice("--service=".length) }) };
  // Empty variables count as unset, as in most shells' `VAR= npm start`.
  const present = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== ""));
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const name = String(issue?.path[0] ?? "environment");
    const shown = name in present ? ` (got ${JSON.stringify(redact(name, present[name]))})` : "";
    throw new ConfigError(`invalid configuration: ${name} ${issue?.message ?? "is invalid"}${shown}`);
  }
  const c = parsed.data;
  return {
    port: c.PORT,
    host: c.HOST,
    dataDir: path.resolve(c.TRUEUP_DATA),
    databaseUrl: c.DATABASE_URL,
    eventStoreUrl: c.EVENTSTORE_URL,
    mongoUrl: c.MONGO_URL,
    logLevel: c.LOG_LEVEL,
    services: c.TRUEUP_SERVICES,
    pgPoolMax: c.PG_POOL_MAX,
    imports: {
      fileBytesMax: c.TRUEUP_IMPORT_FILE_BYTES_MAX,
      linesMax: c.TRUEUP_IMPORT_LINES_MAX,
      lineLengthMax: c.TRUEUP_IMPORT_LINE_LENGTH_MAX,
      concurrentImportsMax: c.TRUEUP_IMPORT_CONCURRENCY,
    },
  };
}

/** Never echo a password from a connection URL into logs. */
function redact(name: string, value: string | undefined): string | undefined {
  if (value === undefined || !name.endsWith("_URL")) return value;
  return value.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@");
}
