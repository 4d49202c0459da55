// weekly-suggestions' work: one task per organization asks one of its providers for five new
// prompts in the spirit of its active ones. The task goes through the same pacer, attempt tokens
// and one-result rule as every prompt task (the lane claims and records it like any other); what
// differs is only what is asked and what is kept: the five prompts, as a JSON array, which the
// database turns into five inactive rows of public.prompt_suggestions in the transaction that
// records the result (scheduler.store_prompt_suggestions).
import type { Sql } from "./db.ts";

export const SUGGESTION_COUNT = 5;
/** The first line of every suggestions request (the local mock provider answers it in kind). */
export const SUGGESTION_MARKER = "Suggest five new prompts";
const MAX_PROMPT_CHARS = 2000;

export interface SuggestionRequest {
  org_id: string;
  prompts: string[];
}

/** What a suggestions task asks for, or null when the task is not one (its prompt was deleted). */
export async function loadSuggestionRequest(sql: Sql, taskId: string): Promise<SuggestionRequest | null> {
  const [row] = await sql<{ request: SuggestionRequest | null }[]>`
    select scheduler.suggestion_request(${taskId}::bigint) as request`;
  return row?.request ?? null;
}

export function suggestionInstruction(prompts: string[]): string {
  const examples = prompts.map((p, i) => `${i + 1}. ${p.replace(/\s+/g, " ").slice(0, MAX_PROMPT_CHARS)}`);
  return [
    `${SUGGESTION_MARKER} for this organization, in the spirit of its active prompts below.`,
    "Answer with a JSON array of exactly five strings and nothing else; each is one complete prompt,",
    "new (not a copy of one below), and on its own.",
    "",
    "Active prompts:",
    ...(examples.length > 0 ? examples : ["(none yet)"]),
  ].join("\n");
}

/** The five prompts of an answer: a JSON array of strings (possibly fenced), else one per line
 * with list markers stripped. Fewer than five distinct non-empty ones: null. */
export function parseSuggestions(answer: string): string[] | null {
  const text = answer.trim().replace(/^```(?:json)?\s*/i, "").replace(/\s*```$/, "");
  let candidates: string[];
  try {
    const parsed: unknown = JSON.parse(text);
    candidates = Array.isArray(parsed) ? parsed.filter((x): x is string => typeof x === "string") : [];
  } catch {
    candidates = text.split("\n").map((line) => line.replace(/^\s*(?:[-*•]|\d+[.)])\s*/, ""));
  }
  const unique = [...new Set(candidates.map((c) => c.trim()).filter((c) => c.length > 0))];
  return unique.length >= SUGGESTION_COUNT ? unique.slice(0, SUGGESTION_COUNT) : null;
}
