// Build the panels' ES modules from src/ with the esbuild of the lock file.
//
//   node build.mjs [OUT_DIR]      (default: ../ipython_hotreload/widgets)
//
// writes OUT_DIR/panel.js (the FunctionsPanel, with its CodeMirror editor, from
// src/index.js), OUT_DIR/panel-lists.js (the event log and the project overview, no editor,
// from src/lists-entry.js) and OUT_DIR/panel-licenses.txt (the licence of every npm
// package bundled). The build is deterministic: the same sources, lock file and this script
// give the same bytes. Each bundle's first lines record a sha256 over exactly those inputs
// (see sourcesDigest), so a test can tell a stale bundle from its sources without node.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT_DIR = resolve(process.argv[2] ?? join(HERE, "..", "ipython_hotreload", "widgets"));
const BUNDLES = { "panel.js": "src/index.js", "panel-lists.js": "src/lists-entry.js" };

const sha256 = (data) => createHash("sha256").update(data).digest("hex");

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/**
 * The inputs of the build (paths relative to frontend/, with "/"), sorted: package.json,
 * package-lock.json, build.mjs and every file under src/. Their digest is the sha256 of
 * the lines "<sha256 of the file>  <path>\n", in that order (sha256sum's format).
 */
export function sourcesDigest() {
  const files = ["package.json", "package-lock.json", "build.mjs", ...filesUnder(join(HERE, "src")).map((f) => relative(HERE, f))]
    .map((f) => f.split(sep).join("/"))
    .sort();
  const lines = files.map((f) => `${sha256(readFileSync(join(HERE, f)))}  ${f}\n`).join("");
  return sha256(lines);
}

/** The npm package directories with code in a bundle (not those tree-shaking emptied). */
function bundledPackages(metafile) {
  const packages = new Set();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const match = input.match(/^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//);
      if (match && bytesInOutput > 0) packages.add(match[1]);
    }
  }
  return packages;
}

function licenceNotices(packages) {
  const notices = [];
  for (const dir of [...packages].sort()) {
    const meta = JSON.parse(readFileSync(join(HERE, dir, "package.json"), "utf8"));
    const licence = readdirSync(join(HERE, dir)).find((f) => /^licen[cs]e/i.test(f));
    const text = licence ? readFileSync(join(HERE, dir, licence), "utf8").trim() : `License: ${meta.license}`;
    notices.push(`${meta.name} ${meta.version} (${meta.license})\n\n${text}\n`);
  }
  return notices;
}

const header =
  "// ipython_hotreload panels, built by scripts/build-panel from frontend/: do not edit.\n" +
  `// sources-sha256: ${sourcesDigest()}\n`;
const packages = new Set();
for (const [name, entry] of Object.entries(BUNDLES)) {
  const result = await build({
    entryPoints: [join(HERE, entry)],
    absWorkingDir: HERE,
    bundle: true,
    format: "esm",
    target: "es2020",
    minify: true,
    legalComments: "none",
    charset: "ascii",
    sourcemap: false,
    metafile: true,
    write: false,
    logLevel: "warning",
  });
  const code = header + result.outputFiles[0].text;
  writeFileSync(join(OUT_DIR, name), code);
  for (const dir of bundledPackages(result.metafile)) packages.add(dir);
  console.log(`${name}: ${(code.length / 1000).toFixed(1)} kB`);
}
const notices = licenceNotices(packages);
writeFileSync(
  join(OUT_DIR, "panel-licenses.txt"),
  `Third-party code bundled into ${Object.keys(BUNDLES).join(" and ")}:\n\n` +
    notices.join("\n" + "-".repeat(72) + "\n\n"),
);
console.log(`panel-licenses.txt: ${notices.length} packages`);
