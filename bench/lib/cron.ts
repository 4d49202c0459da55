// Counts how often a 5-field cron expression fires in one UTC day, to put the legacy nine-job
// schedule beside daybreak's two ticks. Supports *, n, a-b, */n, a-b/n and lists (what pg_cron
// accepts in the legacy jobs); day-of-month/day-of-week follow cron's "either matches" rule.

type Field = (value: number) => boolean;

function parseField(spec: string, min: number, max: number): { matches: Field; any: boolean } {
  const parts = spec.split(",").map((part) => {
    const [range, stepText] = part.split("/") as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`bad cron step in "${spec}"`);
    let lo = min;
    let hi = max;
    if (range !== "*") {
      const [a, b] = range.split("-");
      lo = Number(a);
      hi = b === undefined ? (stepText === undefined ? lo : max) : Number(b);
      if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < min || hi > max) throw new Error(`bad cron field "${spec}"`);
    }
    return (v: number) => v >= lo && v <= hi && (v - lo) % step === 0;
  });
  return { matches: (v) => parts.some((p) => p(v)), any: spec === "*" };
}

export function firingsOnDay(expression: string, dayUtc: string): number {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) throw new Error(`expected 5 cron fields, got "${expression}"`);
  const [minute, hour, dom, month, dow] = [
    parseField(fields[0]!, 0, 59),
    parseField(fields[1]!, 0, 23),
    parseField(fields[2]!, 1, 31),
    parseField(fields[3]!, 1, 12),
    parseField(fields[4]!, 0, 7),
  ];
  const day = new Date(`${dayUtc}T00:00:00Z`);
  const weekday = day.getUTCDay();
  // Sunday is 0 or 7 in cron.
  const dowMatches = dow.matches(weekday) || (weekday === 0 && dow.matches(7));
  const dayMatches = dom.any || dow.any
    ? dom.matches(day.getUTCDate()) && dowMatches
    : dom.matches(day.getUTCDate()) || dowMatches;
  if (!dayMatches || !month.matches(day.getUTCMonth() + 1)) return 0;
  let count = 0;
  for (let h = 0; h < 24; h++) {
    if (!hour.matches(h)) continue;
    for (let m = 0; m < 60; m++) if (minute.matches(m)) count++;
  }
  return count;
}
