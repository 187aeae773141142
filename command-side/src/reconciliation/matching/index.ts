export { proposeMatches, proposalId } from "./engine.ts";
export { MatchInputError, ibanKey, nameKey, referenceKey } from "./prepare.ts";
export { DEFAULT_MATCH_LIMITS } from "./types.ts";
export { scoringContext, toleranceMinor } from "./score.ts";
export type * from "./types.ts";
