// Local stand-in for pg_net's background worker (sql/local/10_pg_net.sql holds the SQL side).
// Like pg_net it takes committed rows from net.http_request_queue, sends each request once (no
// retry), honours timeout_milliseconds, and records the outcome in net._http_response: status,
// content and headers, or timed_out / error_msg. It wakes on NOTIFY (sent at commit) and polls
// as a fallback. Run: `tsx scripts/lib/net-dispatcher.ts` with DATABASE_URL set.
import postgres from "postgres";

const PG_NET_USER_AGENT = "pg_net/0.19.5";
const BATCH_SIZE = 200;
const POLL_MS = 1000;

interface QueuedRequest {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: Buffer | null;
  timeout_milliseconds: number;
}

interface NetResponse {
  status_code: number | null;
  content_type: string | null;
  headers: Record<string, string> | null;
  content: string | null;
  timed_out: boolean;
  error_msg: string | null;
}

async function sendRequest(req: QueuedRequest): Promise<NetResponse> {
  const started = Date.now();
  const headers: Record<string, string> = { "User-Agent": PG_NET_USER_AGENT, ...req.headers };
  try {
    const res = await fetch(req.url, {
      method: req.method,
      headers,
      body: req.method === "GET" || req.body === null ? undefined : new Uint8Array(req.body),
      signal: AbortSignal.timeout(req.timeout_milliseconds),
    });
    const content = await res.text();
    return {
      status_code: res.status,
      content_type: res.headers.get("content-type"),
      headers: Object.fromEntries(res.headers.entries()),
      content,
      timed_out: false,
      error_msg: null,
    };
  } catch (error) {
    const name = (error as Error).name;
    const timedOut = name === "TimeoutError" || name === "AbortError";
    return {
      status_code: null,
      content_type: null,
      headers: null,
      content: null,
      timed_out: timedOut,
      error_msg: timedOut
        ? `Timeout of ${req.timeout_milliseconds} ms reached. Total time: ${Date.now() - started} ms`
        : describeFetchError(error),
    };
  }
}

function describeFetchError(error: unknown): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  return e.cause?.message ? `${e.message}: ${e.cause.message}` : e.message;
}

async function runDispatcher(databaseUrl: string, signal: AbortSignal): Promise<void> {
  const sql = postgres(databaseUrl, { max: 4, onnotice: () => {}, connection: { application_name: "daybreak-net-dispatcher" } });
  const inFlight = new Set<Promise<void>>();
  let wake: (() => void) | undefined;
  const nudge = () => wake?.();

  await sql.listen("daybreak_net_queue", nudge);
  signal.addEventListener("abort", nudge);

  const record = async (req: QueuedRequest) => {
    const r = await sendRequest(req);
    await sql`
      insert into net._http_response (id, status_code, content_type, headers, content, timed_out, error_msg)
      values (${req.id}, ${r.status_code}, ${r.content_type}, ${r.headers === null ? null : sql.json(r.headers)},
              ${r.content}, ${r.timed_out}, ${r.error_msg})`;
  };

  while (!signal.aborted) {
    // Taking a request off the queue is the commit point, as in pg_net: it is sent at most once.
    const batch = await sql<QueuedRequest[]>`
      delete from net.http_request_queue
       where id in (select id from net.http_request_queue order by id limit ${BATCH_SIZE} for update skip locked)
      returning id::text, method, url, headers, body, timeout_milliseconds`;
    for (const req of batch) {
      const p = record(req)
        .catch((error) => console.error(`[net-dispatcher] request ${req.id}: ${(error as Error).message}`))
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    if (batch.length === BATCH_SIZE) continue;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, POLL_MS);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    wake = undefined;
  }
  await Promise.allSettled([...inFlight]);
  await sql.end({ timeout: 5 });
}

{
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error("[net-dispatcher] DATABASE_URL is required");
    process.exit(2);
  }
  const controller = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => controller.abort());
  console.error("[net-dispatcher] sending net.http_request_queue");
  runDispatcher(url, controller.signal).then(
    () => process.exit(0),
    (error) => {
      console.error(`[net-dispatcher] fatal: ${(error as Error).message}`);
      process.exit(1);
    },
  );
}
