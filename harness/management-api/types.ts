// What the Management API stand-in keeps: each function deploy exactly as the CLI uploaded it,
// the project's function secrets, and a log of every request with secret values masked.

/** One `POST /v1/projects/{ref}/functions/deploy` as received: every uploaded file under the
 * name the CLI gave it (a path relative to the project root) and the metadata it sent. */
export interface CapturedDeploy {
  slug: string;
  /** `bundleOnly=true`: uploaded as part of a bulk deploy, live only after the bulk update. */
  bundleOnly: boolean;
  entrypointPath: string;
  /** "" when the CLI sent no import map. */
  importMapPath: string;
  staticPatterns: string[];
  verifyJwt: boolean;
  files: ReadonlyMap<string, Buffer>;
}

/** A function as the project serves it (the state `GET .../functions` reports). */
export interface FunctionRecord {
  id: string;
  slug: string;
  name: string;
  version: number;
  status: "ACTIVE";
  verify_jwt: boolean;
  import_map: boolean;
  entrypoint_path: string;
  import_map_path: string;
  created_at: number;
  updated_at: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  /** The request body as JSON, or a summary of a multipart upload; secret values masked. */
  body: unknown;
}

/** A refusal the next matching request gets instead of its normal answer (a bundler error, say). */
export interface Refusal {
  method: string;
  path: RegExp;
  /** Matches the `slug` query parameter when set. */
  slug?: string;
  status: number;
  message: string;
}

export interface ManagementApi {
  /** Base URL for a CLI profile's `api_url`. */
  url: string;
  requests(): RecordedRequest[];
  /** Every deploy upload, in the order received. */
  deploys(): CapturedDeploy[];
  /** The functions the project serves now, by slug. */
  functions(): Map<string, FunctionRecord>;
  /** The function secrets the project holds now (name → value). */
  secrets(): Map<string, string>;
  refuseNext(refusal: Refusal): void;
  reset(): void;
  close(): Promise<void>;
}
