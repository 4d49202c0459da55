// Prints the path of the real Deno executable. npm's `deno` bin entry is a Node wrapper that runs
// the binary with spawnSync, and a signal sent to the wrapper never reaches the server: anything
// that must stop (or kill -9) a Deno server runs this path directly.
process.stdout.write(require("deno/install_api.cjs").runInstall());
