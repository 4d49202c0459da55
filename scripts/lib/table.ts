// A small aligned-table renderer for terminal reports (scripts/status). No dependencies:
// widths are measured on the plain text, colour (when asked for) is added after padding.

export type Colour = "red" | "green" | "yellow" | "dim" | "bold";

const SGR: Record<Colour, [number, number]> = Object.freeze({
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  dim: [2, 22],
  bold: [1, 22],
});

export function paint(text: string, colour: Colour | undefined, enabled: boolean): string {
  if (!enabled || !colour || text === "") return text;
  const [on, off] = SGR[colour];
  return `\x1b[${on}m${text}\x1b[${off}m`;
}

export interface Column<Row> {
  key: keyof Row & string;
  header?: string;
  align?: "left" | "right";
  /** Longer cells are cut to this many characters, ending in "…". */
  maxWidth?: number;
  format?: (value: unknown, row: Row) => string;
  colour?: (text: string, row: Row) => Colour | undefined;
}

export interface TableOptions {
  colour?: boolean;
  indent?: string;
}

/** One line of plain text per cell value: null → "", Date → ISO without milliseconds, UTC. */
export function formatCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (value instanceof Date) return value.toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "Z");
  if (Array.isArray(value)) return value.map(formatCell).join(",");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value).replace(/\s+/g, " ").trim();
}

function truncate(text: string, max: number | undefined): string {
  if (max === undefined || text.length <= max) return text;
  return `${text.slice(0, Math.max(1, max - 1))}…`;
}

export function renderTable<Row extends Record<string, unknown>>(
  columns: Column<Row>[],
  rows: Row[],
  { colour = false, indent = "  " }: TableOptions = {},
): string {
  const cells = rows.map((row) =>
    columns.map((c) => truncate(c.format ? c.format(row[c.key], row) : formatCell(row[c.key]), c.maxWidth))
  );
  const headers = columns.map((c) => c.header ?? c.key);
  const widths = columns.map((_, i) => Math.max(headers[i]!.length, ...cells.map((r) => r[i]!.length)));
  const numeric = columns.map((c, i) =>
    c.align ? c.align === "right" : rows.length > 0 && rows.every((r) => typeof r[c.key] === "number" || r[c.key] === null || r[c.key] === undefined) && cells.some((r) => r[i] !== "")
  );
  const pad = (text: string, i: number) => (numeric[i] ? text.padStart(widths[i]!) : text.padEnd(widths[i]!));
  const line = (parts: string[]) => `${indent}${parts.join("  ")}`.trimEnd();

  const out = [
    line(headers.map((h, i) => paint(pad(h, i), "bold", colour))),
    line(widths.map((w) => paint("─".repeat(w), "dim", colour))),
  ];
  rows.forEach((row, r) => {
    out.push(line(cells[r]!.map((text, i) => paint(pad(text, i), columns[i]!.colour?.(text, row), colour))));
  });
  return out.join("\n");
}
