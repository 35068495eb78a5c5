// Tool approval through useChat's machinery (the `ai` package's AbstractChat +
// DefaultChatTransport, what @ai-sdk/react's useChat wraps), in ai 6 and ai 7 (the npm
// aliases ai6 and ai7 of package.json), against a vel-runner server.
// usage: node approvals.mjs <ai6|ai7> <base_url> <agent> <scenario>; prints one JSON object:
// the chat as the page would show it, and every chunk the server sent (for validate.mjs).
const [version, base, agent, scenario] = process.argv.slice(2);
const ai = await import(version);
const { AbstractChat, DefaultChatTransport, lastAssistantMessageIsCompleteWithApprovalResponses } =
  ai;

// The plain state container a UI framework would provide (React's is ReactChatState).
class PlainState {
  constructor() {
    this.status = "ready";
    this.error = undefined;
    this.messages = [];
  }
  pushMessage(message) {
    this.messages = this.messages.concat(message);
  }
  popMessage() {
    this.messages = this.messages.slice(0, -1);
  }
  replaceMessage(index, message) {
    this.messages = [...this.messages.slice(0, index), message, ...this.messages.slice(index + 1)];
  }
  snapshot(thing) {
    return structuredClone(thing);
  }
}

const chunks = [];
const bodies = [];
const reading = [];
// fetch, as the browser's, keeping a copy of each request body and of every chunk received
async function recordingFetch(url, init) {
  bodies.push(JSON.parse(init.body));
  const response = await fetch(url, init);
  const [forChat, forUs] = response.body.tee();
  reading.push((async () => {
    const reader = forUs.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        for (const line of frame.split("\n")) {
          if (line.startsWith("data: ") && line !== "data: [DONE]") chunks.push(JSON.parse(line.slice(6)));
        }
      }
    }
  })());
  return new Response(forChat, { status: response.status, headers: response.headers });
}

class Chat extends AbstractChat {
  constructor({ id, automatic }) {
    const state = new PlainState();
    const finishes = [];
    super({
      id,
      state,
      transport: new DefaultChatTransport({ api: `${base}/v1/agents/${agent}/chat`, fetch: recordingFetch }),
      sendAutomaticallyWhen: automatic ? lastAssistantMessageIsCompleteWithApprovalResponses : undefined,
      onFinish: (event) => finishes.push(event),
      onError: () => {},
    });
    this.finishes = finishes;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(check, what, ms = 15000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const part = (p) => {
  if (p.type === "text") return { type: "text", text: p.text };
  if (p.type === "step-start") return { type: "step-start" };
  const shown = { type: p.type, toolName: p.toolName, toolCallId: p.toolCallId, state: p.state };
  if (p.approval) shown.approval = p.approval;
  if (p.output !== undefined) shown.output = p.output;
  if (p.errorText !== undefined) shown.errorText = p.errorText;
  return shown;
};
const view = (chat) => ({
  status: chat.status,
  error: chat.error ? String(chat.error.message ?? chat.error) : null,
  messages: chat.messages.map((m) => ({ id: m.id, role: m.role, parts: m.parts.map(part) })),
  finishReasons: chat.finishes.map((f) => f.finishReason ?? null),
});
const waiting = (chat) =>
  chat.lastMessage?.parts.filter((p) => p.state === "approval-requested").map((p) => p.approval.id) ?? [];

const ASK = '/tool wipe {"path": "/srv/a"}\n/tool peek {"path": "/srv"}';

const scenarios = {
  // approve; sendAutomaticallyWhen sends the answer as soon as every call has one
  async approveAutomatically() {
    const chat = new Chat({ id: `approve-${version}`, automatic: true });
    await chat.sendMessage({ text: ASK });
    const asked = view(chat);
    const [id] = waiting(chat);
    await chat.addToolApprovalResponse({ id, approved: true });
    await until(() => chat.status === "ready" && chat.finishes.length === 2, "the answer");
    return { asked, answered: view(chat), bodies, chunks };
  },
  // deny with a reason, then send by hand (no sendAutomaticallyWhen)
  async denyThenSend() {
    const chat = new Chat({ id: `deny-${version}`, automatic: false });
    await chat.sendMessage({ text: ASK });
    const asked = view(chat);
    const [id] = waiting(chat);
    await chat.addToolApprovalResponse({ id, approved: false, reason: "not on a Friday" });
    const before = view(chat);
    await chat.sendMessage();
    return { asked, before, answered: view(chat), bodies, chunks };
  },
};

const result = await scenarios[scenario]();
await Promise.all(reading);
process.stdout.write(JSON.stringify(result));
