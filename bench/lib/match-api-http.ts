// JSON over HTTP for the end-to-end matching bench (bench/match-api.ts):
// node:http with every limit explicit (fetch's undici would bring its own
// 300 s header timeout and unbounded answers), keep-alive sockets bounded by
// the bench's concurrency, an overall deadline per request, and an answer
// read up to a bound. A 4xx/5xx is an answer, not an exception: the caller
// decides which statuses it retries (503 READ_MODEL_BEHIND while a read model
// catches up) and which fail the bench.
import http from "node:http";
import { randomUUID } from "node:crypto";

/** The most answer bytes read: a page of 500 matches is about 0.6 MB, an import's answer a few kB. */
export const ANSWER_BYTES_MAX = 16 * 1024 * 1024;

export interface JsonAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** The parsed body; undefined when it was empty or not JSON. */
  readonly body: unknown;
  readonly text: string;
}

export interface RequestOptions {
  readonly body?: unknown;
  /** A command: sends this Idempotency-Key ("fresh" for a new random one). */
  readonly idempotencyKey?: string;
  /** From the request's start until its whole answer is read; the request is destroyed at the deadline. */
  readonly timeoutMs: number;
  /** A request of its own on a new connection (the long run request: no keep-alive socket the server may have closed meanwhile). */
  readonly ownConnection?: boolean;
}

export class ApiClient {
  private readonly agent: http.Agent;

  constructor(
    readonly baseUrl: string,
    options: { readonly socketsMax: number },
  ) {
    if (!Number.isInteger(options.socketsMax) || options.socketsMax < 1 || options.socketsMax > 256) throw new RangeError(`socketsMax must be 1..256, got ${options.socketsMax}`);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: options.socketsMax, maxFreeSockets: options.socketsMax, timeout: 60_000 });
  }

  get(path: string, timeoutMs: number): Promise<JsonAnswer> {
    return this.request("GET", path, { timeoutMs });
  }

  post(path: string, body: unknown, timeoutMs: number): Promise<JsonAnswer> {
    return this.request("POST", path, { body, idempotencyKey: "fresh", timeoutMs });
  }

  request(method: "GET" | "POST" | "PUT", path: string, options: RequestOptions): Promise<JsonAnswer> {
    const url = new URL(path, this.baseUrl);
    const payload = options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body), "utf8");
    const headers: Record<string, string> = { accept: "application/json" };
    if (payload !== undefined) {
      headers["content-type"] = "application/json";
      headers["content-length"] = String(payload.length);
    }
    if (options.idempotencyKey !== undefined) headers["idempotency-key"] = options.idempotencyKey === "fresh" ? randomUUID() : options.idempotencyKey;
    return new Promise((resolve, reject) => {
      const request = http.request(url, { method, headers, agent: options.ownConnection === true ? false : this.agent });
      const timer = setTimeout(() => {
        request.destroy(new Error(`${method} ${path}: no whole answer within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
      const fail = (error: NodeJS.ErrnoException): void => {
        clearTimeout(timer);
        // Which request failed, and its code kept (isConnectionCut reads it).
        reject(Object.assign(new Error(`${method} ${path}: ${error.message}`, { cause: error }), { code: error.code }));
      };
      // `on`, not `once`: a destroyed request may emit a second error, which must not go unhandled.
      request.on("error", fail);
      request.once("response", (response) => {
        const chunks: Buffer[] = [];
        let bytes = 0;
        response.on("data", (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > ANSWER_BYTES_MAX) {
            request.destroy(new Error(`${method} ${path}: answer larger than ${ANSWER_BYTES_MAX} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on("error", fail);
        response.once("end", () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString("utf8");
          let body: unknown;
          try {
            body = text === "" ? undefined : (JSON.parse(text) as unknown);
          } catch {
            body = undefined;
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body, text });
        });
      });
      request.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The answer's status must be `status`; else the bench fails with what the server said. */
export function expectStatus(answer: JsonAnswer, status: number, what: string): unknown {
  if (answer.status !== status) throw new Error(`${what}: ${answer.status} ${answer.text.slice(0, 2_000)}`);
  return answer.body;
}

/** The answer must be a 2xx; else the bench fails with what the server said. */
export function expectSuccess(answer: JsonAnswer, what: string): unknown {
  if (answer.status < 200 || answer.status > 299) throw new Error(`${what}: ${answer.status} ${answer.text.slice(0, 2_000)}`);
  return answer.body;
}

/** The server closed the connection without an answer (its idle timeout, a restart): the same Idempotency-Key may be sent again. */
export function isConnectionCut(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  return code === "ECONNRESET" || code === "EPIPE";
}

/** Log positions are 32 lowercase hex digits: their string order is their order in the log. */
export function laterPosition(a: string | undefined, b: string | null | undefined): string | undefined {
  if (b === null || b === undefined) return a;
  return a === undefined || b > a ? b : a;
}
