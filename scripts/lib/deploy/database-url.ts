// Where `supabase db push` applies the migrations: DATABASE_URL, the project's connection string
// as the dashboard gives it (Connect → Session pooler: postgresql://postgres.<ref>:<password>@
// aws-0-<region>.pooler.supabase.com:5432/postgres; the direct host db.<ref>.supabase.co is
// IPv6-only). The CLI is given the URL without its password, which travels in PGPASSWORD
// instead (argv is world-readable), and TLS is required unless the URL names an sslmode itself.
// Not the linked form (`db push --linked` with SUPABASE_DB_PASSWORD): that needs `supabase link`,
// which writes the target into the checkout, and connects where the link's pooler lookup says,
// which no local stand-in can be (the CLI fixes the port); a URL works the same on hosted and in
// the tests.

export interface MigrationTarget {
  /** The URL for `--remote=`: no password, an sslmode. Safe to print. */
  url: string;
  password: string;
}

const PROJECT_USER = /^postgres\.([a-z]{20})$/; // the pooler's user names the project
const PROJECT_HOST = /^db\.([a-z]{20})\.supabase\.co$/; // so does the direct host

/** Parses DATABASE_URL; returns the target, or a problem to report (never containing the password). */
export function migrationTarget(databaseUrl: string, projectRef: string | undefined): MigrationTarget | { problem: string } {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    return { problem: "DATABASE_URL is not a URL (postgresql://USER:PASSWORD@HOST:PORT/postgres)" };
  }
  if (url.protocol !== "postgresql:" && url.protocol !== "postgres:") return { problem: "DATABASE_URL must start with postgresql://" };
  if (!url.hostname) return { problem: "DATABASE_URL names no host" };
  if (!url.password) return { problem: "DATABASE_URL has no password (the dashboard's [YOUR-PASSWORD] is the database password)" };
  if (url.password === encodeURIComponent("[YOUR-PASSWORD]")) return { problem: "DATABASE_URL still holds the placeholder [YOUR-PASSWORD]" };
  const named = PROJECT_USER.exec(decodeURIComponent(url.username))?.[1] ?? PROJECT_HOST.exec(url.hostname)?.[1];
  if (named && projectRef && named !== projectRef) {
    return { problem: `DATABASE_URL is the database of project ${named}, not of ${projectRef}: migrations and functions would go to different projects` };
  }
  const password = decodeURIComponent(url.password);
  url.password = "";
  if (!url.searchParams.has("sslmode")) url.searchParams.set("sslmode", "require");
  return { url: url.toString(), password };
}
