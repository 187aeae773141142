export * from "./ids.ts";
export * from "./envelope.ts";
export * from "./upcasting.ts";
export * from "./errors.ts";
export * from "./money/index.ts";
export * from "./ledger/index.ts";
export * from "./problem.ts";
