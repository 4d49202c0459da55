// Edge Function deploys as `supabase functions deploy --use-api` makes them: a multipart
// `POST /v1/projects/{ref}/functions/deploy?slug=S` of `file` parts (each named by its path
// relative to the project root) and a `metadata` part; with several functions at once, each upload
// carries `bundleOnly=true` and one `PUT /v1/projects/{ref}/functions` then makes them all live.
// The upload is kept byte for byte; whether it bundles is for the caller to find out.
import { randomUUID } from "node:crypto";
import path from "node:path";
import { z } from "zod";
import { HttpError, type MultipartPart } from "./http.ts";
import type { CapturedDeploy, FunctionRecord } from "./types.ts";

const SLUG = /^[A-Za-z][A-Za-z0-9_-]*$/;

const metadataSchema = z.object({
  entrypoint_path: z.string().min(1),
  import_map_path: z.string().optional(),
  static_patterns: z.array(z.string()).optional(),
  verify_jwt: z.boolean().optional(),
  name: z.string().min(1),
}).strict();

const bulkUpdateSchema = z.array(z.object({ id: z.string(), slug: z.string() }).passthrough()).min(1);

/** A file name the CLI sent must stay inside the project: relative, normalized, no `..`. */
function checkedFileName(name: string): string {
  const normalized = path.posix.normalize(name);
  if (name === "" || path.posix.isAbsolute(name) || normalized !== name || normalized.startsWith("../")) {
    throw new HttpError(400, `upload file name ${JSON.stringify(name)} is not a path inside the project`);
  }
  return name;
}

export class FunctionStore {
  readonly deploys: CapturedDeploy[] = [];
  readonly live = new Map<string, FunctionRecord>();
  /** Bundled by a bulk deploy, not yet made live by its `PUT`. */
  private readonly pending = new Map<string, FunctionRecord>();

  deploy(slug: string | null, bundleOnly: boolean, parts: MultipartPart[]): FunctionRecord {
    if (!slug || !SLUG.test(slug)) throw new HttpError(400, "slug query parameter missing or invalid");
    const metadataPart = parts.find((p) => p.name === "metadata" && p.text !== undefined);
    if (!metadataPart) throw new HttpError(400, "metadata part missing");
    const parsed = metadataSchema.safeParse(JSON.parse(metadataPart.text!));
    if (!parsed.success) throw new HttpError(400, `invalid metadata: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    const meta = parsed.data;
    if (meta.name !== slug) throw new HttpError(400, `metadata name ${meta.name} is not the slug ${slug}`);
    const files = new Map<string, Buffer>();
    for (const part of parts.filter((p) => p.name === "file")) {
      if (part.filename === undefined || part.data === undefined) throw new HttpError(400, "a file part has no file name");
      const name = checkedFileName(part.filename);
      if (files.has(name)) throw new HttpError(400, `file ${name} uploaded twice`);
      files.set(name, part.data);
    }
    const unknownParts = parts.filter((p) => p.name !== "file" && p.name !== "metadata");
    if (unknownParts.length > 0) throw new HttpError(400, `unexpected form fields: ${unknownParts.map((p) => p.name).join(", ")}`);
    if (!files.has(meta.entrypoint_path)) throw new HttpError(400, `entrypoint ${meta.entrypoint_path} is not among the uploaded files`);
    const importMapPath = meta.import_map_path ?? "";
    if (importMapPath && !files.has(importMapPath)) throw new HttpError(400, `import map ${importMapPath} is not among the uploaded files`);

    this.deploys.push({
      slug, bundleOnly, entrypointPath: meta.entrypoint_path, importMapPath,
      staticPatterns: meta.static_patterns ?? [], verifyJwt: meta.verify_jwt ?? true, files,
    });
    const previous = this.pending.get(slug) ?? this.live.get(slug);
    const now = Date.now();
    const record: FunctionRecord = {
      id: previous?.id ?? randomUUID(), slug, name: meta.name, version: (previous?.version ?? 0) + 1, status: "ACTIVE",
      verify_jwt: meta.verify_jwt ?? true, import_map: importMapPath !== "", entrypoint_path: meta.entrypoint_path,
      import_map_path: importMapPath, created_at: previous?.created_at ?? now, updated_at: now,
    };
    (bundleOnly ? this.pending : this.live).set(slug, record);
    return record;
  }

  /** The bulk update after `bundleOnly` uploads: every function it names goes live together. */
  bulkUpdate(body: unknown): FunctionRecord[] {
    const parsed = bulkUpdateSchema.safeParse(body);
    if (!parsed.success) throw new HttpError(400, "expected a JSON array of functions ({id, slug, ...})");
    const records = parsed.data.map((f) => {
      const record = this.pending.get(f.slug) ?? this.live.get(f.slug);
      if (!record || record.id !== f.id) throw new HttpError(400, `function ${f.slug} (${f.id}) was not uploaded`);
      return record;
    });
    for (const record of records) {
      this.pending.delete(record.slug);
      this.live.set(record.slug, record);
    }
    return records;
  }

  remove(slug: string): boolean {
    return this.live.delete(slug);
  }

  clear(): void {
    this.deploys.length = 0;
    this.live.clear();
    this.pending.clear();
  }
}
