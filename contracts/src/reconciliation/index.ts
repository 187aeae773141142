export * from "./statement.ts";
export * from "./events.ts";
export * from "./csv-profile.ts";
export * from "./iban.ts";
export * from "./commands.ts";
export * from "./line-check.ts";
export * from "./stored-line.ts";
export * from "./matching-rules.ts";
