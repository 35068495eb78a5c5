// Validates UI message stream chunks against the `ai` package's own uiMessageChunkSchema,
// for every pinned major version (ai5, ai6, ai7 are npm aliases in package.json).
// Input: a JSON array of chunks on stdin; arguments (optional) name the versions to check
// (e.g. `ai6 ai7` for chunks ai 5 does not have). Output: a JSON report; exit 1 if any fails.
// A chunk passes when the schema accepts it, returns it unchanged (nothing stripped or
// coerced), and every key it has is declared for its type in that version's own
// `UIMessageChunk` type (dist/index.d.ts): a strict reading, as a release whose schema
// refuses unknown keys would apply.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { isDeepStrictEqual } from "node:util";

const require = createRequire(import.meta.url);

/** For each chunk type, the keys UIMessageChunk declares for it (from the .d.ts). */
function declaredKeys(name) {
  const dts = readFileSync(join(dirname(require.resolve(`${name}/package.json`)), "dist/index.d.ts"), "utf8");
  const start = dts.indexOf("type UIMessageChunk<");
  if (start < 0) return null;
  const end = dts.indexOf("\n};", start);
  const union = dts.slice(dts.indexOf("{", start) + 1, end);
  const keys = new Map();
  for (const member of union.split(/\n\s*\}[^{\n]*\{/)) {
    const lines = member.split("\n").filter((line) => line.trim());
    const typeLine = lines.find((line) => /^\s*type: '[^']+';/.test(line));
    if (!typeLine) continue;
    const indent = typeLine.length - typeLine.trimStart().length;
    const names = lines
      .filter((line) => line.length - line.trimStart().length === indent)
      .map((line) => /^\s*(\w+)\??:/.exec(line)?.[1])
      .filter(Boolean);
    keys.set(/type: '([^']+)'/.exec(typeLine)[1], new Set(names));
  }
  return keys;
}

const VERSIONS = process.argv.length > 2 ? process.argv.slice(2) : ["ai5", "ai6", "ai7"];

async function readStdin() {
  const parts = [];
  for await (const part of process.stdin) parts.push(part);
  return JSON.parse(Buffer.concat(parts).toString("utf8"));
}

const chunks = await readStdin();
const report = {};
let failed = false;
for (const name of VERSIONS) {
  const mod = await import(name);
  const { version } = (await import(`${name}/package.json`, { with: { type: "json" } })).default;
  const entry = { version, exported: typeof mod.uiMessageChunkSchema === "function", errors: [] };
  report[name] = entry;
  if (!entry.exported) {
    failed = true;
    continue;
  }
  const schema = mod.uiMessageChunkSchema();
  const declared = declaredKeys(name);
  entry.typesDeclared = declared !== null;
  for (const [index, chunk] of chunks.entries()) {
    const result = await schema.validate(chunk);
    if (!result.success) {
      entry.errors.push({ index, type: chunk.type, error: String(result.error.message).slice(0, 400) });
    } else if (!isDeepStrictEqual(result.value, chunk)) {
      entry.errors.push({ index, type: chunk.type, error: "changed by the schema", value: result.value });
    } else if (declared !== null) {
      const known = declared.get(chunk.type);
      const unknown = known ? Object.keys(chunk).filter((key) => !known.has(key)) : ["<type>"];
      if (unknown.length) {
        entry.errors.push({ index, type: chunk.type, error: `keys not declared: ${unknown.join(", ")}` });
      }
    }
  }
  failed ||= entry.errors.length > 0;
}
process.stdout.write(JSON.stringify(report));
process.exit(failed ? 1 : 0);
