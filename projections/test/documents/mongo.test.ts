// Proves the MongoDB document sink against the shared conformance suite: the
// same behaviour as the PostgreSQL JSONB sink, on a real server. It needs one
// (MONGO_URL); without it this file says so on stderr and registers a skipped
// test whose name gives the reason, so the summary shows the gap. Each run
// uses a fresh database and drops it afterwards.
import { randomBytes } from "node:crypto";
import { MongoClient } from "mongodb";
import { describe, it } from "vitest";
import { MongoDocumentSink } from "../../src/documents/index.ts";
import { describeDocumentSinkConformance } from "./conformance.ts";

const url = process.env.MONGO_URL;

if (url === undefined || url === "") {
  process.stderr.write(
    "[mongodb] SKIPPED: MONGO_URL is not set; the MongoDB document sink is only typechecked. Start one with docker compose up mongo and set MONGO_URL=mongodb://localhost:27017/?directConnection=true\n",
  );
  describe.skip("document sink conformance: mongodb", () => {
    it("SKIPPED: MONGO_URL is not set (docker compose up mongo; MONGO_URL=mongodb://localhost:27017/?directConnection=true)", () => undefined);
  });
} else {
  describeDocumentSinkConformance("mongodb", async () => {
    const databaseName = `trueup_test_${randomBytes(6).toString("hex")}`;
    const connect = (): Promise<MongoDocumentSink> => MongoDocumentSink.connect({ url, databaseName, serverSelectionTimeoutMs: 5_000 });
    const sink = await connect();
    return {
      sink,
      another: connect,
      close: async () => {
        await sink.close();
        const admin = new MongoClient(url, { serverSelectionTimeoutMS: 5_000 });
        try {
          await admin.db(databaseName).dropDatabase();
        } finally {
          await admin.close();
        }
      },
    };
  });
}
