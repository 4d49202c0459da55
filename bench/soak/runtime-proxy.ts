// Two local edge runtimes behind one URL, as Supabase spreads invocations over many isolates: the
// soak's stand-in for the gateway. Requests alternate between the runtimes that are up; killing
// one of them (kill -9) kills the invocations it serves while the other carries on, which is the
// nearest the local runtime (one Deno process serves every invocation it gets) comes to killing a
// single invocation.
import http from "node:http";
import type { AddressInfo } from "node:net";

export class RuntimeProxy {
  private next = 0;
  private constructor(private readonly server: http.Server, readonly port: number, private readonly upstreams: () => (number | null)[]) {}

  /** upstreams: the ports of the runtimes, null for one that is down. */
  static async start(upstreams: () => (number | null)[]): Promise<RuntimeProxy> {
    let proxy: RuntimeProxy | null = null;
    const server = http.createServer((req, res) => proxy!.forward(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    proxy = new RuntimeProxy(server, (server.address() as AddressInfo).port, upstreams);
    return proxy;
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => this.send(req, Buffer.concat(chunks), res, 0));
  }

  /** Sends to the next runtime that is up; a refused connection (a runtime just killed) tries the other. */
  private send(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse, tried: number): void {
    const ports = this.upstreams();
    const up = ports.filter((p): p is number => p !== null);
    if (up.length === 0 || tried >= ports.length) {
      res.writeHead(502, { "content-type": "application/json" }).end(JSON.stringify({ error: "no_runtime" }));
      return;
    }
    const port = up[this.next++ % up.length]!;
    const upstream = http.request({ host: "127.0.0.1", port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ECONNREFUSED" && !res.headersSent) return this.send(req, body, res, tried + 1);
      res.destroy(); // the runtime died mid-answer: so does the caller's connection, as on Supabase
    });
    upstream.end(body);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
