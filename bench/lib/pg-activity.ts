// Samples what PostgreSQL's backends are doing (pg_stat_activity) while a
// bench phase runs: which statements are active, by application and wait
// event, counted per sample. A profile of the server's side without
// pg_stat_statements (not loaded in the embedded server).
import type pg from "pg";

export interface ActivityProfile {
  readonly samples: number;
  /** Backend-samples per (application, wait, statement prefix), most first. */
  readonly top: readonly { readonly key: string; readonly count: number }[];
}

export class PgActivitySampler {
  private readonly counts = new Map<string, number>();
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(private readonly pool: pg.Pool, private readonly everyMs = 50, private readonly prefixChars = 90) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      this.pool
        .query<{ app: string; wait: string | null; query: string }>(
          `SELECT application_name AS app, wait_event_type || ':' || wait_event AS wait, query FROM pg_stat_activity
            WHERE state = 'active' AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
        )
        .then(({ rows }) => {
          this.samples += 1;
          for (const row of rows) {
            const key = `${row.app} | ${row.wait ?? "cpu"} | ${row.query.replace(/\s+/g, " ").slice(0, this.prefixChars)}`;
            this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
          }
        })
        .catch(() => undefined)
        .finally(() => {
          this.busy = false;
        });
    }, this.everyMs);
  }

  stop(topN = 25): ActivityProfile {
    clearInterval(this.timer);
    const top = [...this.counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, topN).map(([key, count]) => ({ key, count }));
    return { samples: this.samples, top };
  }
}
