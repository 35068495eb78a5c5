// Validates UI messages (what GET /v1/agents/{id}/chat/{chat_id}/messages answers) with the
// `ai` package's own validateUIMessages, for every pinned major version (ai5, ai6, ai7 are
// npm aliases in package.json): what `useChat({ messages })` takes.
// Input: a JSON array of UI messages on stdin. Output: a JSON report; exit 1 if any version
// refuses them, or changes them (a part stripped or coerced).
import { isDeepStrictEqual } from "node:util";

const VERSIONS = ["ai5", "ai6", "ai7"];

const parts = [];
for await (const part of process.stdin) parts.push(part);
const messages = JSON.parse(Buffer.concat(parts).toString("utf8"));

const report = {};
let failed = false;
for (const name of VERSIONS) {
  const mod = await import(name);
  const { version } = (await import(`${name}/package.json`, { with: { type: "json" } })).default;
  const entry = { version, exported: typeof mod.safeValidateUIMessages === "function", error: null };
  report[name] = entry;
  if (!entry.exported) {
    failed = true;
    continue;
  }
  const result = await mod.safeValidateUIMessages({ messages: structuredClone(messages) });
  if (!result.success) {
    entry.error = String(result.error?.message ?? result.error).slice(0, 1000);
  } else if (!isDeepStrictEqual(result.data, messages)) {
    entry.error = "changed by the schema";
    entry.value = result.data;
  }
  failed ||= entry.error !== null;
}
process.stdout.write(JSON.stringify(report));
process.exit(failed ? 1 : 0);
