// Bundles the storefront into <out> (default: dist/): index.html and assets/ with content-hashed
// names, each with .gz and .br siblings the server sends by Accept-Encoding. Fails when the drop
// page (the entry bundle, the chunks it imports statically and the stylesheet) weighs more than
// the budget, gzipped. Usage: node build.mjs [--out DIR]
import * as esbuild from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const BUDGET_BYTES = 60 * 1024; // JS + CSS of the drop page, gzipped (issue 16)

const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const out = resolve(outIndex >= 0 ? args[outIndex + 1] : 'dist');
const assetsDir = join(out, 'assets');
rmSync(out, { recursive: true, force: true });
mkdirSync(assetsDir, { recursive: true });

const result = await esbuild.build({
  entryPoints: { main: 'src/main.tsx' },
  bundle: true,
  splitting: true,
  format: 'esm',
  minify: true,
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  assetNames: '[name]-[hash]',
  outdir: assetsDir,
  publicPath: '/assets',
  metafile: true,
  legalComments: 'none',
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
});

const outputs = result.metafile.outputs;
const rel = (p) => basename(p);
const entry = Object.keys(outputs).find((p) => outputs[p].entryPoint === 'src/main.tsx');
const css = outputs[entry].cssBundle;
if (!entry || !css) throw new Error('build: no entry bundle or stylesheet');
// What the drop page loads before it is usable: the entry, its static imports, the stylesheet.
const dropFiles = new Set([entry, css]);
const walk = (file) => {
  for (const imp of outputs[file].imports) {
    if (imp.kind === 'import-statement' && !dropFiles.has(imp.path)) {
      dropFiles.add(imp.path);
      walk(imp.path);
    }
  }
};
walk(entry);
const preloads = [...dropFiles].filter((f) => f !== entry && f.endsWith('.js'));

const template = readFileSync('src/index.html', 'utf8');
const head = [
  `<link rel="stylesheet" href="/assets/${rel(css)}">`,
  ...preloads.map((f) => `<link rel="modulepreload" href="/assets/${rel(f)}">`),
  `<script type="module" src="/assets/${rel(entry)}"></script>`,
].join('\n    ');
writeFileSync(join(out, 'index.html'), template.replace('<!-- assets -->', head));

// Precompressed siblings of every file.
const sizes = {};
const compress = (file) => {
  const data = readFileSync(file);
  const gz = gzipSync(data, { level: 9 });
  const br = brotliCompressSync(data, {
    params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length },
  });
  writeFileSync(file + '.gz', gz);
  writeFileSync(file + '.br', br);
  sizes[basename(file)] = { raw: data.length, gzip: gz.length, brotli: br.length };
};
compress(join(out, 'index.html'));
for (const name of readdirSync(assetsDir)) compress(join(assetsDir, name));

const dropGzip = [...dropFiles].reduce((sum, f) => sum + sizes[rel(f)].gzip, 0);
const report = { budgetBytes: BUDGET_BYTES, dropPageGzipBytes: dropGzip, dropPageFiles: [...dropFiles].map(rel), files: sizes };
writeFileSync(join(out, 'budget.json'), JSON.stringify(report, null, 1));
console.log(`storefront: drop page ${(dropGzip / 1024).toFixed(1)} KiB gzipped (budget ${BUDGET_BYTES / 1024} KiB), ${Object.keys(sizes).length} files -> ${out}`);
if (dropGzip > BUDGET_BYTES) {
  console.error(`storefront: the drop page is over its weight budget: ${dropGzip} > ${BUDGET_BYTES} bytes gzipped`);
  process.exit(1);
}
