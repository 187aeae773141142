// Versioned migrations for the PostgreSQL event store. Applied in order under
// an advisory lock, so several processes starting at once do not race.
import type pg from "pg";

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/**
 * Global order without gaps: `seq` comes from a sequence, so a transaction
 * that took seq 10 may commit after one that took seq 11. The position is
 * therefore (tx_id, seq), and readers only look below the oldest transaction
 * still running (`pg_snapshot_xmin`): everything there is final, and anything
 * that commits later has a larger tx_id, hence a larger position.
 */
const V1 = `
CREATE TABLE es_streams (
  stream_name text PRIMARY KEY,
  revision    bigint NOT NULL CHECK (revision >= 0)
);

CREATE SEQUENCE es_events_seq AS bigint CACHE 1;

CREATE TABLE es_events (
  tx_id          xid8        NOT NULL DEFAULT pg_current_xact_id(),
  seq            bigint      NOT NULL DEFAULT nextval('es_events_seq'),
  stream_name    text        NOT NULL,
  category       text        NOT NULL,
  revision       bigint      NOT NULL,
  event_id       uuid        NOT NULL,
  type           text        NOT NULL,
  schema_version integer     NOT NULL,
  data           jsonb       NOT NULL,
  metadata       jsonb       NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tx_id, seq)
);
CREATE UNIQUE INDEX es_events_stream_revision ON es_events (stream_name, revision);
CREATE UNIQUE INDEX es_events_event_id ON es_events (event_id);
CREATE INDEX es_events_category_position ON es_events (category, tx_id, seq);

-- The log is append-only: history is never edited, only added to.
CREATE FUNCTION es_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'es_events is append-only (% refused)', TG_OP USING ERRCODE = 'TU001';
END $$;
CREATE TRIGGER es_events_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON es_events
  FOR EACH STATEMENT EXECUTE FUNCTION es_forbid_change();

-- One round trip per append. p_expected: 'no-stream' | 'exists' | 'any' | '<revision>'.
-- Returns outcome 'ok' with the last revision and position, or 'conflict'
-- with the actual revision (-1 when the stream does not exist).
CREATE FUNCTION es_append(p_stream text, p_category text, p_expected text, p_events jsonb)
RETURNS TABLE (outcome text, actual bigint, tx_id text, seq bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_current bigint;
  v_count   bigint := jsonb_array_length(p_events);
  v_last    bigint;
BEGIN
  SELECT s.revision INTO v_current FROM es_streams s WHERE s.stream_name = p_stream FOR UPDATE;
  IF NOT FOUND THEN
    IF p_expected NOT IN ('no-stream', 'any') THEN
      RETURN QUERY SELECT 'conflict'::text, -1::bigint, NULL::text, NULL::bigint;
      RETURN;
    END IF;
    INSERT INTO es_streams (stream_name, revision) VALUES (p_stream, v_count - 1)
      ON CONFLICT (stream_name) DO NOTHING;
    IF FOUND THEN
      v_current := -1;
    ELSE
      -- Another transaction created the stream meanwhile; it has committed now.
      SELECT s.revision INTO v_current FROM es_streams s WHERE s.stream_name = p_stream FOR UPDATE;
      IF p_expected = 'no-stream' THEN
        RETURN QUERY SELECT 'conflict'::text, v_current, NULL::text, NULL::bigint;
        RETURN;
      END IF;
      UPDATE es_streams s SET revision = v_current + v_count WHERE s.stream_name = p_stream;
    END IF;
  ELSE
    IF (CASE WHEN p_expected = 'no-stream' THEN true
             WHEN p_expected IN ('exists', 'any') THEN false
             ELSE p_expected::bigint <> v_current END) THEN
      RETURN QUERY SELECT 'conflict'::text, v_current, NULL::text, NULL::bigint;
      RETURN;
    END IF;
    UPDATE es_streams s SET revision = v_current + v_count WHERE s.stream_name = p_stream;
  END IF;

  WITH inserted AS (
    INSERT INTO es_events (stream_name, category, revision, event_id, type, schema_version, data, metadata)
    SELECT p_stream, p_category, v_current + e.ord, (e.value->>'id')::uuid, e.value->>'type',
           (e.value->>'v')::integer, e.value->'data', e.value->'metadata'
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, ord)
     ORDER BY e.ord
    RETURNING es_events.seq
  )
  SELECT max(inserted.seq) INTO v_last FROM inserted;

  RETURN QUERY SELECT 'ok'::text, v_current + v_count, pg_current_xact_id()::text, v_last;
END $$;
`;

/**
 * Guarded appends, for a decision that read another stream: the append fails
 * (SQLSTATE TU002) if that stream got an event of a given type, with a data
 * field among given values, after the revision the decision saw. The
 * guarded stream's row stays locked FOR SHARE until commit, and es_append
 * locks a stream's row FOR UPDATE: an append to the guarded stream waits for
 * this transaction and so lands after it (a later transaction id, a later
 * position), or it came first and the check, a new statement with a new
 * snapshot, sees it.
 */
const V2 = `
CREATE FUNCTION es_append_guarded(p_stream text, p_category text, p_expected text, p_events jsonb, p_guards jsonb)
RETURNS TABLE (outcome text, actual bigint, tx_id text, seq bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_guarded text;
  v_after   bigint;
  v_type    text;
  v_field   text;
  v_values  text[];
  v_current bigint;
BEGIN
  -- In stream order, so two guarded appends never wait on each other in a cycle.
  -- Plain typed variables, so the cached plan is an index scan on (stream_name, revision).
  FOR v_guarded, v_after, v_type, v_field, v_values IN
    SELECT g->>'stream', (g->>'after')::bigint, g->>'type', g->>'field', ARRAY(SELECT jsonb_array_elements_text(g->'values'))
      FROM jsonb_array_elements(p_guards) AS g ORDER BY 1
  LOOP
    SELECT s.revision INTO v_current FROM es_streams s WHERE s.stream_name = v_guarded FOR SHARE;
    -- Nothing appended there since the decision (the usual case): nothing to look for.
    IF v_current > v_after AND EXISTS (SELECT 1 FROM es_events e
                WHERE e.stream_name = v_guarded AND e.revision > v_after AND e.type = v_type AND e.data->>v_field = ANY(v_values)) THEN
      RAISE EXCEPTION 'guard failed: % has % after revision %', v_guarded, v_type, v_after USING ERRCODE = 'TU002';
    END IF;
  END LOOP;
  RETURN QUERY SELECT * FROM es_append(p_stream, p_category, p_expected, p_events);
END $$;
`;

/**
 * Event data as `json` (the text as written, checked to be JSON) instead of
 * `jsonb`. The log is written once and read whole: nothing queries inside
 * data on a hot path, and jsonb's binary form cost more than any other part of
 * a large append. For 276 MB of statement lines (400 events of 500 camt
 * lines, bench/json-storage.ts), PostgreSQL spent 5.1–5.4 s of CPU appending
 * them as jsonb (one jsonb parameter split by jsonb_array_elements) and
 * 2.5–2.8 s as json values, one parameter each; reading them back, 1.5–1.9 s
 * against 0.4–0.5 s.
 * So each event's data is its own parameter (p_data, in the order of
 * p_events, which keeps the envelopes as before without data) and is stored
 * as it arrives. What jsonb refused and json takes (a NUL escape, an unpaired
 * surrogate escape) the adapter refuses before it sends anything.
 * p_data may be longer than p_events (padded with nulls, so the statement's
 * text depends on a few array lengths only): the extra elements are ignored.
 */
const V3 = `
ALTER TABLE es_events ALTER COLUMN data TYPE json USING data::json;
DROP FUNCTION es_append_guarded(text, text, text, jsonb, jsonb);
DROP FUNCTION es_append(text, text, text, jsonb);
${replaced(V1.slice(V1.indexOf("CREATE FUNCTION es_append(")), [
  ["p_events jsonb)", "p_events jsonb, p_data json[])"],
  [
    `(e.value->>'v')::integer, e.value->'data', e.value->'metadata'
      FROM jsonb_array_elements(p_events) WITH ORDINALITY AS e(value, ord)`,
    `(e.value->>'v')::integer, e.data, e.value->'metadata'
      FROM ROWS FROM (jsonb_array_elements(p_events), unnest(p_data)) WITH ORDINALITY AS e(value, data, ord)
     WHERE e.value IS NOT NULL`,
  ],
])}
${replaced(V2, [
  ["p_guards jsonb)", "p_guards jsonb, p_data json[])"],
  ["es_append(p_stream, p_category, p_expected, p_events);", "es_append(p_stream, p_category, p_expected, p_events, p_data);"],
])}
`;

/** `text` with each pair's first part replaced by its second; throws unless each occurs exactly once (a migration built from an earlier one must not drift silently). */
function replaced(text: string, pairs: readonly (readonly [string, string])[]): string {
  let result = text;
  for (const [from, to] of pairs) {
    const at = result.indexOf(from);
    if (at === -1 || result.includes(from, at + 1)) throw new Error(`migration text: expected exactly one ${JSON.stringify(from.slice(0, 40))}`);
    result = result.slice(0, at) + to + result.slice(at + from.length);
  }
  return result;
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "event log", sql: V1 },
  { version: 2, name: "guarded appends", sql: V2 },
  { version: 3, name: "event data as json, one parameter per event", sql: V3 },
];

const MIGRATION_LOCK_KEY = 0x7472756575700001n; // "trueup" + 1: arbitrary but fixed

export async function migrate(pool: pg.Pool, migrations: readonly Migration[], table: string): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY.toString()]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${table} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = await client.query<{ version: number }>(`SELECT version FROM ${table}`);
    const applied = new Set(done.rows.map((r) => r.version));
    const ran: number[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.version)) continue;
      await client.query("BEGIN");
      try {
        await client.query(migration.sql);
        await client.query(`INSERT INTO ${table} (version, name) VALUES ($1, $2)`, [migration.version, migration.name]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw error;
      }
      ran.push(migration.version);
    }
    return ran;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY.toString()]).catch(() => undefined);
    client.release();
  }
}
