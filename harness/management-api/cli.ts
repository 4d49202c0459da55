// The Management API stand-in as a process, to watch the real CLI (or scripts/deploy) by hand:
//   SUPABASE_ACCESS_TOKEN=sbp_<40 hex> DATABASE_URL=postgresql://... \
//     npx tsx harness/management-api/cli.ts --project-ref abcdefghijklmnopqrst --dir /tmp/stand-in [--port N]
// then, in another shell with the same SUPABASE_ACCESS_TOKEN: SUPABASE_PROFILE=/tmp/stand-in/supabase-profile.yaml
// supabase functions deploy --use-api --remote=abcdefghijklmnopqrst --yes. The log goes to
// <dir>/requests.jsonl (secrets masked), each upload's files to <dir>/uploads/<n>-<slug>/files/ and
// what the CLI said about them to <dir>/uploads/<n>-<slug>/metadata.json.
// Secrets come from the environment, never from argv.
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { READY_PREFIX, startManagementApi } from "./index.ts";
import { writeCliProfile } from "./profile.ts";
import { writeUpload } from "./upload.ts";

const { values } = parseArgs({ options: { "project-ref": { type: "string" }, dir: { type: "string" }, port: { type: "string", default: "0" } } });
const token = process.env.SUPABASE_ACCESS_TOKEN;
const databaseUrl = process.env.DATABASE_URL;
if (!values["project-ref"] || !values.dir || !token || !databaseUrl) {
  process.stderr.write("usage: SUPABASE_ACCESS_TOKEN=... DATABASE_URL=... cli.ts --project-ref REF --dir DIR [--port N]\n");
  process.exit(2);
}
const dir = values.dir;
fs.mkdirSync(path.join(dir, "uploads"), { recursive: true });
const logFile = path.join(dir, "requests.jsonl");
let uploads = 0;
const api = await startManagementApi({
  accessToken: token, projectRef: values["project-ref"], databaseUrl, port: Number(values.port),
  onRequest: (entry) => {
    fs.appendFileSync(logFile, `${JSON.stringify(entry)}\n`);
    process.stdout.write(`${entry.method} ${entry.path} -> ${entry.status}\n`);
    if (entry.path.endsWith("/functions/deploy") && entry.status === 201) {
      const { files, ...metadata } = api.deploys().at(-1)!;
      const target = path.join(dir, "uploads", `${++uploads}-${metadata.slug}`);
      writeUpload({ files, ...metadata }, path.join(target, "files"));
      fs.writeFileSync(path.join(target, "metadata.json"), `${JSON.stringify(metadata, null, 2)}\n`);
    }
  },
});
const profile = writeCliProfile(dir, api.url);
process.stdout.write(`${READY_PREFIX} ${api.url} (CLI profile: ${profile})\n`);
const stop = () => void api.close().then(() => process.exit(0));
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
