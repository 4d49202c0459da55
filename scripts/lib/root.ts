// The repository's root, wherever a script is started from: every path the tools build starts here.
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "../..");
