// A captured upload as files on disk: exactly the files the CLI sent, at the paths it named them,
// and nothing else (the metadata is the caller's to keep).
import fs from "node:fs";
import path from "node:path";
import type { CapturedDeploy } from "./types.ts";

export function writeUpload(deploy: CapturedDeploy, dir: string): void {
  for (const [name, data] of deploy.files) {
    const target = path.join(dir, name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, data);
  }
}
