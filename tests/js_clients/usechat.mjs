// useChat's machinery (the `ai` package's AbstractChat + DefaultChatTransport, what
// @ai-sdk/react's useChat wraps) against a vel-runner server, unchanged.
// usage: node usechat.mjs <base_url> <scenario>; prints one JSON object.
import { AbstractChat, DefaultChatTransport } from "ai";

const [base, scenario] = process.argv.slice(2);

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

class Chat extends AbstractChat {
  constructor({ agent, id, messages = [] }) {
    const state = new PlainState();
    state.messages = messages;
    const finishes = [];
    super({
      id,
      state,
      transport: new DefaultChatTransport({ api: `${base}/v1/agents/${agent}/chat` }),
      onFinish: (event) => finishes.push(event),
      onError: () => {},
    });
    this.finishes = finishes;
  }
}

const text = (message) =>
  message.parts.filter((p) => p.type === "text").map((p) => p.text).join("");
const view = (chat) => ({
  status: chat.status,
  error: chat.error ? String(chat.error.message ?? chat.error) : null,
  messages: chat.messages.map((m) => ({ id: m.id, role: m.role, text: text(m) })),
  finishReasons: chat.finishes.map((f) => f.finishReason ?? null),
  aborts: chat.finishes.map((f) => Boolean(f.isAbort)),
});
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(check, what, ms = 10000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
const words = (chat) => {
  const last = chat.lastMessage;
  return last && last.role === "assistant" ? text(last).split(" ").filter(Boolean).length : 0;
};

const scenarios = {
  // two turns, then a regenerate of the last answer
  async turns() {
    const chat = new Chat({ agent: "assistant", id: "chat-turns" });
    await chat.sendMessage({ text: "My name is Alice" });
    await chat.sendMessage({ text: "What is my name?" });
    const twoTurns = view(chat);
    await chat.regenerate();
    return { twoTurns, regenerated: view(chat) };
  },
  // stop() in the middle of an answer, then the next turn
  async stop() {
    const chat = new Chat({ agent: "slow", id: "chat-stop" });
    const sending = chat.sendMessage({ text: "one two three four five six seven eight" });
    await until(() => words(chat) >= 3, "three words");
    await chat.stop();
    await sending;
    const stopped = view(chat);
    await chat.sendMessage({ text: "next" });
    return { stopped, next: view(chat) };
  },
  // stop() after the answer began (its start chunk came) but before its first word: the
  // page keeps the question; the chat's messages route, read at once, shows it stored
  async stopBeforeFirstWord() {
    const id = "chat-early";
    const chat = new Chat({ agent: "gated", id });
    const sending = chat.sendMessage({ text: "hold on" });
    await until(() => chat.lastMessage?.role === "assistant", "the answer's start");
    const statusAtStop = chat.status;
    await chat.stop();
    await sending;
    const url = `${base}/v1/agents/gated/chat/${id}/messages`;
    const loaded = await (await fetch(url)).json();
    return { statusAtStop, stopped: view(chat), loaded };
  },
  // the next message of that chat, once the server stopped its answer
  async afterEarlyStop() {
    const id = "chat-early";
    const url = `${base}/v1/agents/gated/chat/${id}/messages`;
    const chat = new Chat({ agent: "gated", id, messages: await (await fetch(url)).json() });
    await chat.sendMessage({ text: "next" });
    return view(chat);
  },
  // resume with nothing in flight: 204, nothing changes
  async resumeIdle() {
    const chat = new Chat({ agent: "assistant", id: "chat-idle" });
    await chat.resumeStream();
    return view(chat);
  },
  // a reload in the middle of an answer: a new chat object with the same id resumes it
  async resumeLive() {
    const first = new Chat({ agent: "slow", id: "chat-live" });
    const sending = first.sendMessage({ text: "alpha beta gamma delta epsilon" });
    await until(() => words(first) >= 2, "two words");
    const shown = text(first.lastMessage);
    const reloaded = new Chat({ agent: "slow", id: "chat-live", messages: [first.messages[0]] });
    await reloaded.resumeStream();
    await sending;
    return { shownBeforeReload: shown, first: view(first), reloaded: view(reloaded) };
  },
  // a chat with a tool call (and a failing one), then a reload: the messages route gives back
  // exactly what the live chat showed, and a chat built from it continues
  async restore() {
    const id = "chat-restore";
    const live = new Chat({ agent: "tools", id });
    await live.sendMessage({ text: "hello" });
    await live.sendMessage({ text: '/tool add {"a": 2, "b": 3}\n/tool fail {}' });
    const url = `${base}/v1/agents/tools/chat/${id}/messages`;
    const loaded = await (await fetch(url)).json();
    const restored = new Chat({ agent: "tools", id, messages: loaded });
    await restored.sendMessage({ text: "and now?" });
    return {
      live: JSON.parse(JSON.stringify(live.messages)),
      loaded,
      continued: view(restored),
    };
  },
  // a good answer, then a failed one; regenerate() (no messageId, as useChat sends it)
  // answers the failed question and leaves the good answer alone
  async failThenRegenerate() {
    const chat = new Chat({ agent: "flaky", id: "chat-flaky" });
    await chat.sendMessage({ text: "first question" });
    await chat.sendMessage({ text: "second question, fail once" });
    const failed = view(chat);
    await chat.regenerate();
    return { failed, regenerated: view(chat) };
  },
  // a model failure: the chat ends in error, nothing is stored
  async failure() {
    const chat = new Chat({ agent: "broken", id: "chat-broken" });
    await chat.sendMessage({ text: "hello" });
    return view(chat);
  },
};

const result = await scenarios[scenario]();
process.stdout.write(JSON.stringify(result));
