export * from "./ids.ts";
export * from "./envelope.ts";
export * from "./upcasting.ts";
export * from "./money/index.ts";
