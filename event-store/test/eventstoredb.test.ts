// Proves the EventStoreDB adapter against the shared conformance suite: the
// same behaviour as the PostgreSQL adapter, on a real server. It needs one
// (EVENTSTORE_URL); without it this file says so on stderr and registers a
// skipped test whose name gives the reason, so the summary shows the gap.
// The server-free parts (mappings, errors) are in eventstoredb-mapping.test.ts.
import { describe, it } from "vitest";
import { EventStoreDbEventStore } from "../src/index.ts";
import { describeEventStoreConformance } from "./conformance.ts";

const url = process.env.EVENTSTORE_URL;

if (url === undefined || url === "") {
  process.stderr.write(
    "[eventstoredb] SKIPPED: EVENTSTORE_URL is not set; start one with docker compose up eventstore and set EVENTSTORE_URL=esdb://localhost:2113?tls=false\n",
  );
  describe.skip("event store conformance: eventstoredb", () => {
    it("SKIPPED: EVENTSTORE_URL is not set (docker compose up eventstore; EVENTSTORE_URL=esdb://localhost:2113?tls=false)", () => undefined);
  });
} else {
  describeEventStoreConformance("eventstoredb", () => {
    const store = EventStoreDbEventStore.connect(url);
    return Promise.resolve({ store, close: () => store.close() });
  });
}
