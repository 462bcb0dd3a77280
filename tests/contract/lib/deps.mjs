// The npm packages live in the build directory (installed by npm_ci.sh from the lockfile), not
// next to these sources, so they are loaded from ROCKETMART_NODE_MODULES' project explicitly.
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

function projectRequire() {
  const dir = process.env.ROCKETMART_NODE_PROJECT;
  if (!dir) {
    throw new Error("ROCKETMART_NODE_PROJECT is not set: run this through CTest " +
                    "(it installs the pinned packages with tests/contract/npm_ci.sh)");
  }
  return createRequire(path.join(dir, "package.json"));
}

export async function load(name) {
  const resolved = projectRequire().resolve(name);
  return import(pathToFileURL(resolved).href);
}
