// The query parameters every paged read shares, built from each context's
// own limits: page size, the opaque cursor, and read-your-writes.
import { z } from "zod";
import { positionDto } from "@trueup/contracts";

export interface PagingLimits {
  readonly pageSizeDefault: number;
  readonly pageSizeMax: number;
  readonly cursorLengthMax: number;
  readonly minPositionWaitMs: number;
}

export function pagingSchemas(limits: PagingLimits, options: { cursorExample: string }) {
  const pageSizeMessage = `a page holds 1 to ${limits.pageSizeMax} rows`;
  const limitSchema = z.coerce
    .number({ message: pageSizeMessage })
    .int(pageSizeMessage)
    .min(1, pageSizeMessage)
    .max(limits.pageSizeMax, pageSizeMessage)
    .default(limits.pageSizeDefault)
    .meta({ description: `Rows per page, 1 to ${limits.pageSizeMax} (default ${limits.pageSizeDefault})`, example: 100 });
  const cursorSchema = z
    .string()
    .max(limits.cursorLengthMax)
    .optional()
    .meta({ description: "`nextCursor` of the previous page of the same query; omit for the first page", example: options.cursorExample });
  const consistency = {
    minPosition: positionDto.optional().meta({
      description: `Read your writes: wait (up to ${limits.minPositionWaitMs} ms) until the read model has applied the log up to this position, as returned by a command; else 503 READ_MODEL_BEHIND`,
      example: "00000000000002f10000000000000004",
    }),
  };
  return { limitSchema, cursorSchema, consistency };
}
