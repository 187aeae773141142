export { proposeMatches, proposalId } from "./engine.ts";
export { MatchInputError, nameKey, referenceKey } from "./prepare.ts";
export { DEFAULT_MATCH_LIMITS } from "./types.ts";
export type * from "./types.ts";
