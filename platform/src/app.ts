// The HTTP application, built from its dependencies and separate from
// listen(), so tests drive it with app.inject(). Every fastify option that
// matters is set here explicitly; every route validates with zod and is
// described in the OpenAPI document at /openapi.json (docs UI at /docs).
import Fastify, { LogController } from "fastify";
import type { FastifyInstance } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Service } from "./config.ts";
import { HEALTH_DOCS, OPENAPI_INFO, READY_DOCS } from "./http/openapi.ts";
import { installProblemHandlers } from "./http/problems.ts";

export const HTTP_LIMITS = {
  bodyLimitBytes: 1_048_576,
  requestTimeoutMs: 30_000,
  connectionTimeoutMs: 10_000,
  keepAliveTimeoutMs: 72_000,
  /**
   * A path parameter as sent (percent-encoded): the longest id a route takes
   * is an item id of 200 characters, each at worst 4 UTF-8 bytes of 3
   * characters encoded. Longer is 414 before any route runs.
   */
  paramLengthMax: 2_400,
} as const;

/** A bounded context's routes, registered as one fastify plugin. */
export type RoutesPlugin = (app: FastifyInstance) => Promise<void>;

export interface AppDeps {
  readonly services: readonly Service[];
  readonly logLevel: string;
  /** Throws when storage is not reachable. */
  readonly ping: () => Promise<void>;
  readonly plugins?: readonly RoutesPlugin[];
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: deps.logLevel },
    bodyLimit: HTTP_LIMITS.bodyLimitBytes,
    requestTimeout: HTTP_LIMITS.requestTimeoutMs,
    connectionTimeout: HTTP_LIMITS.connectionTimeoutMs,
    keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs,
    routerOptions: { maxParamLength: HTTP_LIMITS.paramLengthMax },
    return503OnClosing: true,
    // Two log lines per request would cost more than a posting; at debug and trace they are wanted.
    logController: new LogController({ disableRequestLogging: deps.logLevel !== "debug" && deps.logLevel !== "trace" }),
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installProblemHandlers(app);

  await app.register(swagger, {
    openapi: {
      info: OPENAPI_INFO,
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  const typed = app.withTypeProvider<ZodTypeProvider>();
  // Liveness: the process answers. Never touches storage.
  const { example: healthExample, ...health } = HEALTH_DOCS;
  typed.get("/health", { schema: { ...health, response: { 200: z.object({ status: z.literal("ok") }).meta({ example: healthExample }), ...health.response } } }, () => ({ status: "ok" as const }));

  // Readiness: storage reachable and migrated (migrations run before the app is built).
  typed.get(
    "/ready",
    {
      schema: {
        tags: READY_DOCS.tags,
        summary: READY_DOCS.summary,
        description: READY_DOCS.description,
        response: {
          ...READY_DOCS.response,
          200: z.object({ status: z.literal("ready"), services: z.array(z.string()) }).meta({ example: READY_DOCS.example }),
          503: z.object({ status: z.literal("unavailable"), reason: z.string() }).meta({ example: READY_DOCS.unavailableExample }),
        },
      },
    },
    async (_request, reply) => {
      try {
        await deps.ping();
        return await reply.code(200).send({ status: "ready", services: [...deps.services] });
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        return reply.code(503).send({ status: "unavailable", reason });
      }
    },
  );
  app.get("/openapi.json", { schema: { hide: true } }, () => app.swagger());

  for (const plugin of deps.plugins ?? []) await app.register(plugin);
  await app.ready();
  return app;
}
