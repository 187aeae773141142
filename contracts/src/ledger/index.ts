export * from "./events.ts";
export * from "./commands.ts";
