// The OpenAPI description of the platform's own routes (/health, /ready,
// /projections, /metrics) and of the document itself: summaries, what each
// answers when, and real examples. Kept beside the routes' code rather than in
// it, so the routes stay short; the bounded contexts describe their routes
// where they declare them (command-side, query-side), with the same
// contracts helpers (problemResponses, documented amounts and positions).
import { problemResponses } from "@trueup/contracts";

export const OPENAPI_INFO = {
  title: "Trueup API",
  version: "0.1.0",
  description: [
    "Event-sourced double-entry ledger.",
    "",
    "- **Amounts** are decimal strings with exactly the currency's decimals (`\"1250.00\"` EUR, `\"1250\"` JPY, `\"1.250\"` KWD), never JSON numbers; direction is `side` (debit/credit), never a sign.",
    "- **Commands** (POST) need an `Idempotency-Key` header: a retry with the same key and body answers the first answer again (`Idempotent-Replayed: true`); the same key with another body is a 409 `IDEMPOTENCY_CONFLICT`. A 503 or a 409 `CONCURRENCY_CONFLICT` is never stored: retry with the same key.",
    "- **Reads** lag the log a little: pass a command's `position` as `minPosition` to read your own write.",
    "- **Failures** are `application/problem+json` with a stable `code` (each route lists its codes per status) and, for bad input, `in` and `path` naming the offending value.",
  ].join("\n"),
} as const;

export const HEALTH_DOCS = {
  tags: ["operations"],
  summary: "Liveness: the process answers",
  description: "Always 200 while the process serves HTTP; never touches storage, so it stays up during a database outage. Use /ready to decide whether to send traffic.",
  response: problemResponses([]),
  example: { status: "ok" },
} as const;

export const READY_DOCS = {
  tags: ["operations"],
  summary: "Readiness: storage reachable and read models usable",
  description: "200 when this process can do its work: storage answers and the read models it serves exist at their version. 503 with the reason otherwise (for load balancers and orchestrators; not a problem+json body).",
  example: { status: "ready", services: ["command", "projections", "query"] },
  unavailableExample: { status: "unavailable", reason: "connect ECONNREFUSED 127.0.0.1:5432" },
  response: problemResponses([]),
} as const;

export const PROJECTIONS_DOCS = {
  tags: ["operations"],
  summary: "Projection lag, worker state and dead letters",
  description: "For each registered projection: its checkpoint, the log's head, how many events it is behind the newest committed event (counted up to a cap; eventsHeldBack of them are hidden from every reader by a transaction still running on the PostgreSQL server), the age of the oldest event it has not applied, the state of this process's worker (null when it runs elsewhere) and its unresolved dead letters (events it could not apply: `parked` ones it moved past, a `blocking` one it is held on until a retry; up to 100 listed). eventStore: newest committed and newest visible positions, and the backend holding the visibility horizon (pid, application_name, state, how long).",
  response: problemResponses(["STORE_UNAVAILABLE"]),
  example: {
    items: [{
      name: "ledger", eventsBehind: 3, eventsBehindCapped: false, eventsHeldBack: 0, secondsBehind: 0.042, checkpoint: "00000000000002f10000000000000001", head: "00000000000002f10000000000000004",
      worker: { state: "running", consecutiveFailures: 0, lastError: null, haltedAt: null, since: "2026-01-05T09:00:00.000Z" },
      deadLetters: { parked: 0, blocking: 0, items: [] },
    }],
    eventStore: { newestCommitted: "00000000000002f10000000000000004", newestVisible: "00000000000002f10000000000000004", heldBackEvents: 0, horizonHeldBy: null },
  },
} as const;

export const METRICS_DOCS = {
  tags: ["operations"],
  summary: "Prometheus metrics",
  description: "Per projection, in the Prometheus text format 0.0.4: lag (events and seconds behind), unresolved dead letters by status, whether the read model could be read for this scrape, and for the workers of this process whether they are up, their state and their consecutive failures (these are served even when the database is away).",
  response: problemResponses(["STORE_UNAVAILABLE"]),
  example: [
    "# HELP trueup_projection_lag_events Events after the projection's checkpoint (capped at 1000).",
    "# TYPE trueup_projection_lag_events gauge",
    'trueup_projection_lag_events{projection="ledger"} 3',
    "# HELP trueup_projection_lag_seconds Age of the oldest event the projection has not applied.",
    "# TYPE trueup_projection_lag_seconds gauge",
    'trueup_projection_lag_seconds{projection="ledger"} 0.042',
    "# HELP trueup_event_store_held_back_events Committed events a running transaction hides from every reader (PostgreSQL visibility horizon).",
    "# TYPE trueup_event_store_held_back_events gauge",
    "trueup_event_store_held_back_events 0",
    "# HELP trueup_event_store_horizon_held_seconds How long the transaction holding events back has been open; 0 when nothing is held.",
    "# TYPE trueup_event_store_horizon_held_seconds gauge",
    "trueup_event_store_horizon_held_seconds 0",
    "",
  ].join("\n"),
} as const;

export const RETRY_DOCS = {
  tags: ["operations"],
  summary: "Retry a projection's dead letters after a fix",
  description: "The operator's command once the cause of a dead letter is fixed (an upcaster, a corrected projection): each parked event is read from the log and applied again now; a worker held on a blocking one tries it again (at once in this process, within its re-check interval elsewhere). An event that still fails stays a dead letter with its attempts counted.",
  response: problemResponses(["PROJECTION_NOT_FOUND", "STORE_UNAVAILABLE"]),
  example: { name: "ledger", retryRequested: 1, resolved: 0, stillFailing: 0 },
} as const;
