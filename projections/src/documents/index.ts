// Document projections: the sink port, its PostgreSQL JSONB and MongoDB adapters, and the worker.
export {
  COLLECTION_NAME_PATTERN,
  DOCUMENT_LIMITS,
  DROPPED_SUFFIX,
  DocumentBatchTooLargeError,
  DocumentTooLargeError,
  FIELD_NAME_PATTERN,
  InvalidDocumentInputError,
  TransientDocumentError,
} from "./port.ts";
export type {
  AppliedMark,
  DocumentBody,
  DocumentChange,
  DocumentOrder,
  DocumentPage,
  DocumentSink,
  DocumentSinkCapabilities,
  DocumentWhere,
  ListOptions,
  PushChange,
  StoredDocument,
} from "./port.ts";
export { APPLY_CHUNK_BYTES_MAX, APPLY_CHUNK_CHANGES_MAX, DOCUMENT_SCHEMA_NAME_PATTERN, PostgresDocumentSink } from "./postgres.ts";
export type { PostgresDocumentSinkOptions } from "./postgres.ts";
export { MONGO_CHECKPOINTS_COLLECTION, MONGO_DATABASE_NAME_PATTERN, MONGO_SINK_DEFAULTS, MongoDocumentSink } from "./mongo.ts";
export type { MongoDocumentSinkOptions } from "./mongo.ts";
export { DOCUMENT_WORKER_LIMITS, DocumentProjectionWorker, checkDocumentProjection } from "./worker.ts";
export type { DocumentProjection, DocumentProjectionWorkerOptions, DocumentWorkerState, DocumentWorkerStatus } from "./worker.ts";
