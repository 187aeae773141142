// Proves configuration loading: defaults, every variable validated, and one
// clear line naming the variable when a value is wrong.
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.ts";

function errorOf(env: Record<string, string>, argv: string[] = []): string {
  try {
    loadConfig(env, argv);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}

describe("loadConfig", () => {
  it("has working defaults: embedded storage, every service, port 3000", () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.eventStoreUrl).toBeUndefined();
    expect(config.services).toEqual(["command", "projections", "query"]);
    expect(config.dataDir).toMatch(/\.data$/);
    expect(config.logLevel).toBe("info");
  });

  it("reads every variable", () => {
    const config = loadConfig({
      PORT: "8080",
      HOST: "0.0.0.0",
      TRUEUP_DATA: "/var/lib/trueup",
      DATABASE_URL: "postgres://u:p@db:5432/trueup",
      EVENTSTORE_URL: "esdb://eventstore:2113?tls=false",
      MONGO_URL: "mongodb://mongo:27017/trueup",
      LOG_LEVEL: "warn",
      TRUEUP_SERVICES: "query,command",
      PG_POOL_MAX: "40",
    });
    expect(config).toMatchObject({
      port: 8080,
      host: "0.0.0.0",
      dataDir: "/var/lib/trueup",
      databaseUrl: "postgres://u:p@db:5432/trueup",
      eventStoreUrl: "esdb://eventstore:2113?tls=false",
      mongoUrl: "mongodb://mongo:27017/trueup",
      logLevel: "warn",
      services: ["query", "command"],
      pgPoolMax: 40,
    });
  });

  it("lets --service= on the command line select one service", () => {
    expect(loadConfig({ TRUEUP_SERVICES: "all" }, ["--service=projections"]).services).toEqual(["projections"]);
  });

  it("treats empty variables as unset", () => {
    expect(loadConfig({ PORT: "", DATABASE_URL: "" }).port).toBe(3000);
  });

  it.each([
    [{ PORT: "abc" }, /^invalid configuration: PORT must be a whole number from 0 to 65535 \(got "abc"\)$/],
    [{ PORT: "70000" }, /^invalid configuration: PORT /],
    [{ PORT: "80.5" }, /^invalid configuration: PORT /],
    [{ DATABASE_URL: "mysql://x" }, /^invalid configuration: DATABASE_URL must be a URL starting with postgres:\/\//],
    [{ EVENTSTORE_URL: "http://x:2113" }, /^invalid configuration: EVENTSTORE_URL /],
    [{ MONGO_URL: "not a url" }, /^invalid configuration: MONGO_URL /],
    [{ LOG_LEVEL: "loud" }, /^invalid configuration: LOG_LEVEL /],
    [{ TRUEUP_SERVICES: "command,billing" }, /^invalid configuration: TRUEUP_SERVICES unknown service billing/],
    [{ PG_POOL_MAX: "1" }, /^invalid configuration: PG_POOL_MAX /],
  ])("rejects %o with one line naming the variable", (env, expected) => {
    const message = errorOf(env);
    expect(message).toMatch(expected);
    expect(message).not.toContain("\n");
  });

  it("never echoes a password from a bad URL", () => {
    expect(errorOf({ DATABASE_URL: "mysql://admin:s3cret@db/x" })).not.toContain("s3cret");
  });
});
