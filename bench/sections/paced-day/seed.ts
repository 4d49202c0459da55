// The paced day's data, seeded: organizations of skewed sizes (the largest `ratio` × the smallest),
// prompts of very different lengths (log-uniform), and providers pointing at the simulator with
// no limit configured (daybreak must find them) and a timeout long enough for the heavy tail.
import { seeded } from "../../sim/draws.ts";
import type { Sql } from "../../lib/db.ts";

/** n sizes from 1 to about `ratio`, many small and few large (1 + (ratio − 1)·x^γ), summing to total. */
export function skewedSizes(n: number, total: number, ratio: number): number[] {
  if (n === 1) return [total];
  const sizesFor = (gamma: number) => Array.from({ length: n }, (_, i) => Math.round(1 + (ratio - 1) * (i / (n - 1)) ** gamma));
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  let lo = 0.05;
  let hi = 50;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (sum(sizesFor(mid)) > total) lo = mid;
    else hi = mid;
  }
  const sizes = sizesFor(hi);
  // The rounding's remainder goes to (or comes from) the middle organizations, one prompt each.
  let rest = total - sum(sizes);
  for (let i = Math.floor(n / 2), tries = 0; rest !== 0; i = (i + 1) % n, tries++) {
    if (tries > 4 * n * Math.abs(total)) throw new Error(`no ${n} sizes up to ${ratio}× sum to ${total}`);
    if (i === n - 1) continue;
    const step = Math.sign(rest);
    if (sizes[i]! + step >= 1 && sizes[i]! + step <= sizes[n - 1]!) {
      sizes[i]! += step;
      rest -= step;
    }
  }
  return sizes;
}

const FILLER = "Summarize the quarterly figures, list the risks, compare them with last year and suggest three next steps for the team. ";

/** A unique prompt of exactly `chars` characters (at least its label). */
function promptText(label: string, chars: number): string {
  const head = `${label}: `;
  const body = FILLER.repeat(Math.ceil(Math.max(0, chars - head.length) / FILLER.length) + 1).slice(0, Math.max(0, chars - head.length));
  return head + body;
}

export interface OrgGroup {
  label: string;
  organizations: number;
  prompts: number;
  ratio: number;
  providers: string[];
}

export interface SeededDay {
  /** Prompts each provider gets (one task each: one region). */
  tasksByProvider: Record<string, number>;
  /** Tokens (chars ÷ 4, rounded up) of each provider's prompts. */
  promptTokensByProvider: Record<string, number>;
  organizations: number;
}

export async function seedPacedDay(
  sql: Sql, baseUrl: string, providers: string[], groups: OrgGroup[], promptChars: [number, number], seed: number,
): Promise<SeededDay> {
  for (const name of providers) {
    await sql`insert into public.providers (name, base_url, model, timeout_ms) values (${name}, ${baseUrl}, ${name}, 60000)`;
  }
  const random = seeded(seed);
  const [lo, hi] = promptChars;
  const tasksByProvider: Record<string, number> = Object.fromEntries(providers.map((p) => [p, 0]));
  const promptTokensByProvider: Record<string, number> = Object.fromEntries(providers.map((p) => [p, 0]));
  let organizations = 0;
  for (const g of groups) {
    const sizes = skewedSizes(g.organizations, g.prompts, g.ratio);
    const names = sizes.map((_, i) => `${g.label}-${String(i + 1).padStart(4, "0")}`);
    const orgs = await sql<{ id: string; name: string }[]>`
      insert into public.organizations (name) select unnest(${names}::text[]) returning id, name`;
    const idByName = new Map(orgs.map((o) => [o.name, o.id]));
    const orgIds: string[] = [];
    const texts: string[] = [];
    sizes.forEach((size, i) => {
      for (let k = 0; k < size; k++) {
        const chars = Math.round(lo * (hi / lo) ** random());
        orgIds.push(idByName.get(names[i]!)!);
        texts.push(promptText(`prompt ${k + 1} of ${names[i]}`, chars));
      }
    });
    for (let i = 0; i < texts.length; i += 5000) {
      await sql`insert into public.prompts (org_id, text)
                select * from unnest(${orgIds.slice(i, i + 5000)}::uuid[], ${texts.slice(i, i + 5000)}::text[])`;
    }
    await sql`insert into public.organization_providers (org_id, provider, regions)
              select org_id, provider, array['global'] from unnest(${[...idByName.values()]}::uuid[]) org_id
              cross join unnest(${g.providers}::text[]) provider`;
    const tokens = texts.reduce((n, t) => n + Math.ceil(t.length / 4), 0);
    for (const p of g.providers) {
      tasksByProvider[p]! += texts.length;
      promptTokensByProvider[p]! += tokens;
    }
    organizations += sizes.length;
  }
  return { tasksByProvider, promptTokensByProvider, organizations };
}
