// What hosted's bundler gets, tried on its own: each function upload the real Supabase CLI sent to
// the Management API stand-in, written alone into an empty directory (no deno.json, no
// package.json, no node_modules), resolved only through the import map the CLI sent, offline
// (Deno's cache was filled at install time; any download would go to a dead proxy): its npm
// packages are package.json's versions, it type-checks, it bundles, and the bundle serves and
// refuses a call without credentials with 401 JSON. The health bundle also answers an
// authenticated call from the database, so the bundled postgres driver runs under Deno.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseUrl } from "../../harness/db.ts";
import type { CapturedDeploy } from "../../harness/management-api/index.ts";
import { writeUpload } from "../../harness/management-api/upload.ts";
import { type CommandResult, freePort, runCommand, startService } from "../../harness/processes.ts";
import { DENO_BIN, DENO_DIR } from "../../scripts/lib/deno.ts";
import { DEPLOYED_FUNCTIONS } from "../../scripts/lib/deploy/config.ts";
import { ROOT } from "../../scripts/lib/root.ts";
import { type DeployRig, startDeployRig } from "../helpers/deploy.ts";

const PACKAGE_VERSIONS = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).dependencies as Record<string, string>;
const SERVICE_ROLE_KEY = "deploy-bundle-test-service-role-key-0123456789";
/** Nothing listens there: a download attempt fails instead of filling the cache. */
const OFFLINE = { HTTPS_PROXY: "http://127.0.0.1:9", HTTP_PROXY: "http://127.0.0.1:9", NO_PROXY: "" };

let rig: DeployRig;
let work: string;
const uploads = new Map<string, CapturedDeploy>();

beforeAll(async () => {
  rig = await startDeployRig();
  const r = await rig.deploy([]);
  expect(r.code, r.stdout + r.stderr).toBe(0);
  for (const d of rig.api.deploys()) uploads.set(d.slug, d);
  work = mkdtempSync(path.join(os.tmpdir(), "daybreak-deploy-bundle-"));
});
afterAll(async () => {
  await rig?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

function deno(args: string[], cwd: string): Promise<CommandResult> {
  return runCommand(DENO_BIN, args, cwd, { PATH: process.env.PATH!, DENO_DIR, NO_COLOR: "1", ...OFFLINE });
}

/** The upload alone in an empty directory: the directory, the entrypoint, and the flags that
 * resolve through the import map the CLI sent (none when it sent none, as hosted would). */
function materialize(slug: string): { dir: string; entry: string; resolution: string[] } {
  const upload = uploads.get(slug);
  expect(upload, `no upload for ${slug}`).toBeDefined();
  const dir = path.join(work, slug);
  writeUpload(upload!, dir);
  expect(readdirSync(dir)).toEqual(["functions"]);
  const map = upload!.importMapPath ? ["--import-map", path.join(dir, upload!.importMapPath)] : [];
  return { dir, entry: path.join(dir, upload!.entrypointPath), resolution: ["--no-config", ...map] };
}

/** How a call without credentials reaches each function: the dashboard's data route is a GET. */
const unauthenticatedCall = (slug: string): [string, RequestInit] =>
  slug === "daybreak-dashboard" ? [`/${slug}/data`, { method: "GET" }] : [`/${slug}`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } }];

describe("each captured upload, on its own and offline", () => {
  for (const slug of DEPLOYED_FUNCTIONS) {
    it(`${slug}: resolves package.json's versions, type-checks, bundles, and its bundle answers 401 without credentials`, async () => {
      const { dir, entry, resolution } = materialize(slug);

      const info = await deno(["info", "--json", ...resolution, entry], dir);
      expect(info.code, info.stderr).toBe(0);
      const packages = Object.values((JSON.parse(info.stdout) as { npmPackages: Record<string, { name: string; version: string }> }).npmPackages);
      expect(packages.length).toBeGreaterThan(0);
      for (const p of packages) expect(`${p.name}@${p.version}`).toBe(`${p.name}@${PACKAGE_VERSIONS[p.name]}`);

      const check = await deno(["check", "--quiet", "--cached-only", ...resolution, entry], dir);
      expect(check.code, check.stderr).toBe(0);

      // deno bundle has no --cached-only; the dead proxy makes any download fail instead.
      const bundle = path.join(work, `${slug}.bundle.js`);
      const bundled = await deno(["bundle", "--quiet", ...resolution, "--platform", "deno", "-o", bundle, entry], dir);
      expect(bundled.code, bundled.stderr).toBe(0);

      const port = await freePort();
      const server = await startService(`bundle-${slug}`, DENO_BIN,
        ["serve", "--cached-only", "--no-config", "--allow-net", "--allow-env", "--host", "127.0.0.1", "--port", String(port), bundle],
        { DENO_DIR, NO_COLOR: "1", ...OFFLINE, CRON_SECRET: rig.secrets.CRON_SECRET, SUPABASE_SERVICE_ROLE_KEY: SERVICE_ROLE_KEY, SUPABASE_DB_URL: databaseUrl() },
        /Listening on/);
      try {
        const [route, init] = unauthenticatedCall(slug);
        const refused = await fetch(`http://127.0.0.1:${port}${route}`, init);
        expect(refused.status).toBe(401);
        expect(refused.headers.get("content-type")).toMatch(/^application\/json/);
        expect(await refused.json()).toEqual({ error: "unauthorized" });
        if (slug === "health") {
          const ok = await fetch(`http://127.0.0.1:${port}/health`, { method: "POST", headers: { "x-cron-secret": rig.secrets.CRON_SECRET } });
          expect(ok.status, await ok.clone().text()).toBe(200);
          expect(await ok.json()).toMatchObject({ ok: true });
        }
      } finally {
        await server.stop();
      }
    });
  }
});
