// What a decider answers: the events a command adds to its stream, or why it
// is refused. A refusal is a typed result, not an exception: the stream
// writer settles it with the command's neighbours in a batch untouched.
import type { TrueupError } from "@trueup/contracts";

export type Decision<E> = { readonly events: E[] } | { readonly rejected: TrueupError };
