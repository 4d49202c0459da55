// A Supabase CLI profile that points the CLI at the stand-in: SUPABASE_PROFILE=<this file> (the
// CLI has no environment variable for the API URL itself). The CLI accepts only these keys, and
// wants http(s) URLs and a bare host name for project_host.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export function writeCliProfile(dir: string, apiUrl: string): string {
  const file = path.join(dir, "supabase-profile.yaml");
  fs.writeFileSync(file, [
    "name: daybreak-stand-in",
    `api_url: ${apiUrl}`,
    `dashboard_url: ${apiUrl}/dashboard`,
    "project_host: stand-in.test",
    "",
  ].join("\n"));
  return file;
}

/** An access token of the shape the CLI accepts (sbp_ and 40 hex digits), random per call. */
export function fakeAccessToken(): string {
  return `sbp_${randomBytes(20).toString("hex")}`;
}
