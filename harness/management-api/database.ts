// `POST /v1/projects/{ref}/database/query` {query, read_only?}: what `supabase db query --remote`
// sends. Runs the text as one simple-protocol query (several statements allowed, one implicit
// transaction) against a real Postgres, and answers 201 with the last statement's rows.
import postgres from "postgres";
import { z } from "zod";
import { HttpError } from "./http.ts";

const queryBody = z.object({ query: z.string().min(1), read_only: z.boolean().optional() }).strict();

type Row = Record<string, unknown>;

export class QueryRunner {
  private readonly sql: postgres.Sql;

  constructor(databaseUrl: string) {
    this.sql = postgres(databaseUrl, { max: 1, onnotice: () => {}, connection: { application_name: "management-api-stand-in" } });
  }

  async run(body: unknown): Promise<Row[]> {
    const parsed = queryBody.safeParse(body);
    if (!parsed.success) throw new HttpError(400, "expected {query: string, read_only?: boolean}");
    const { query, read_only: readOnly } = parsed.data;
    try {
      const result = readOnly
        ? await this.sql.begin("read only", (tx) => tx.unsafe(query))
        : await this.sql.unsafe(query);
      // Several statements give one result per statement; the API answers with the last.
      const results = result as unknown as unknown[];
      const last = results.length > 0 && Array.isArray(results.at(-1)) ? (results.at(-1) as Row[]) : (results as Row[]);
      return last.map((row) => ({ ...row }));
    } catch (error) {
      const e = error as { code?: string; message: string };
      throw new HttpError(400, `Failed to run sql query: ERROR: ${e.code ?? ""}: ${e.message}`);
    }
  }

  close(): Promise<void> {
    return this.sql.end();
  }
}
