// Bundles the page into dist/ (index.html + app.js): `npm ci && npm run build`, then serve
// dist/ from any static server.
//
//   node build.mjs [--out DIR]
//
// WEB_CHAT_DEPS=/path/to/node_modules builds the same page against another install of
// react, react-dom, ai and @ai-sdk/react (the tests build it for ai 6 and ai 7 this way).
import { copyFile, mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const at = process.argv.indexOf("--out");
const out = resolve(at > 0 ? process.argv[at + 1] : join(here, "dist"));
const deps = process.env.WEB_CHAT_DEPS;

// Resolve the page's packages (and theirs) from WEB_CHAT_DEPS: one copy of each.
const fromDeps = {
  name: "packages-from-WEB_CHAT_DEPS",
  setup(build) {
    const filter = /^(react|react-dom|ai|@ai-sdk\/react)(\/.*)?$/;
    build.onResolve({ filter }, async (args) => {
      if (args.pluginData === "from-deps") return undefined;
      return build.resolve(args.path, {
        kind: args.kind,
        resolveDir: deps,
        pluginData: "from-deps",
      });
    });
  },
};

await mkdir(out, { recursive: true });
await esbuild.build({
  entryPoints: [join(here, "src/app.jsx")],
  outfile: join(out, "app.js"),
  bundle: true,
  minify: true,
  format: "iife",
  target: "es2022",
  jsx: "automatic",
  define: { "process.env.NODE_ENV": '"production"' },
  logLevel: "warning",
  plugins: deps ? [fromDeps] : [],
});
await copyFile(join(here, "index.html"), join(out, "index.html"));
console.log(`built ${out}`);
