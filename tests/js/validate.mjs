// Validates UI message stream chunks against the `ai` package's own uiMessageChunkSchema,
// for every pinned major version (ai5, ai6, ai7 are npm aliases in package.json).
// Input: a JSON array of chunks on stdin. Output: a JSON report; exit 1 if any chunk fails.
// A chunk passes when the schema accepts it and returns it unchanged (nothing stripped or
// coerced), so a field a version does not know is caught too.
import { isDeepStrictEqual } from "node:util";

const VERSIONS = ["ai5", "ai6", "ai7"];

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
  for (const [index, chunk] of chunks.entries()) {
    const result = await schema.validate(chunk);
    if (!result.success) {
      entry.errors.push({ index, type: chunk.type, error: String(result.error.message).slice(0, 400) });
    } else if (!isDeepStrictEqual(result.value, chunk)) {
      entry.errors.push({ index, type: chunk.type, error: "changed by the schema", value: result.value });
    }
  }
  failed ||= entry.errors.length > 0;
}
process.stdout.write(JSON.stringify(report));
process.exit(failed ? 1 : 0);
