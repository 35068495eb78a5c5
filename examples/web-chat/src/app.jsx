// A chat page on @ai-sdk/react's useChat against a vel-runner agent, on another origin than
// the API (the server allows it with `vel-runner serve --cors-origin <this page's origin>`).
//
// The page's address says where to talk to:
//   index.html?api=http://127.0.0.1:8000&agent=assistant&chat=<chat id>
// Without `chat` it starts a new one and writes its id into the address, so a reload keeps
// the chat: the page loads it from the server's messages route (text and tool parts as the
// live answer showed them), and `resume: true` follows an answer still being written.
import { useChat } from "@ai-sdk/react";
import { DefaultChatTransport } from "ai";
import { StrictMode, useEffect, useState } from "react";
import { createRoot } from "react-dom/client";

const params = new URLSearchParams(window.location.search);
const api = (params.get("api") ?? "http://127.0.0.1:8000").replace(/\/$/, "");
const agent = params.get("agent") ?? "assistant";
const chatId = params.get("chat") ?? `chat-${crypto.randomUUID()}`;
if (!params.has("chat")) {
  params.set("chat", chatId);
  window.history.replaceState(null, "", `?${params}`);
}
const chatUrl = `${api}/v1/agents/${encodeURIComponent(agent)}/chat`;

/** The stored chat, as UI messages ([] for a new chat). */
async function loadMessages() {
  const response = await fetch(`${chatUrl}/${encodeURIComponent(chatId)}/messages`);
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    throw new Error(body?.error?.message ?? `HTTP ${response.status}`);
  }
  return response.json();
}

/** An error as a person reads it: a stream's errorText is already words; an HTTP error's
 * message is the server's JSON body, whose error.message says what failed. */
function readable(error) {
  try {
    return JSON.parse(error.message).error.message ?? error.message;
  } catch {
    return error.message;
  }
}

function ToolPart({ part }) {
  const name = part.type === "dynamic-tool" ? part.toolName : part.type.slice("tool-".length);
  return (
    <div className="tool" data-state={part.state} data-tool={name}>
      <div className="tool-call">
        tool <b>{name}</b>(<code>{JSON.stringify(part.input ?? {})}</code>)
      </div>
      {part.state === "output-available" && (
        <div className="tool-output">
          → <code>{JSON.stringify(part.output)}</code>
        </div>
      )}
      {part.state === "output-error" && <div className="tool-error">✗ {part.errorText}</div>}
    </div>
  );
}

const isTool = (part) => part.type === "dynamic-tool" || part.type.startsWith("tool-");

function Message({ message }) {
  if (!message.parts.some((part) => (part.type === "text" && part.text) || isTool(part))) {
    return null; // nothing to show yet (an answer before its first word, or one that failed)
  }
  return (
    <div className={`message ${message.role}`} data-role={message.role} data-id={message.id}>
      {message.parts.map((part, index) => {
        if (part.type === "text") {
          return (
            <p key={index} className="text">
              {part.text}
            </p>
          );
        }
        if (isTool(part)) {
          return <ToolPart key={index} part={part} />;
        }
        return null; // step-start, reasoning, sources...: not shown by this page
      })}
      {message.metadata?.interrupted && <div className="note">(stopped)</div>}
    </div>
  );
}

function Chat({ initialMessages }) {
  const { messages, sendMessage, regenerate, stop, status, error } = useChat({
    id: chatId, // the chat id is vel-runner's session id
    messages: initialMessages,
    transport: new DefaultChatTransport({ api: chatUrl }),
    resume: true, // a reload in the middle of an answer continues it
  });
  const [input, setInput] = useState("");
  const busy = status === "submitted" || status === "streaming";
  const last = messages[messages.length - 1];
  return (
    <main data-status={status}>
      <header>
        vel-runner · <b>{agent}</b> · <span className="chat-id">{chatId}</span>
      </header>
      <section className="messages">
        {messages.map((message) => (
          <Message key={message.id} message={message} />
        ))}
      </section>
      {error && (
        <div className="error" role="alert">
          {readable(error)}
        </div>
      )}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          if (!input.trim() || busy) return;
          sendMessage({ text: input });
          setInput("");
        }}
      >
        <textarea
          name="message"
          rows={2}
          value={input}
          placeholder='Say something, or: /tool calculator {"expression": "2 * (3 + 4)"}'
          onChange={(event) => setInput(event.target.value)}
          onKeyDown={(event) => {
            if (event.key === "Enter" && !event.shiftKey) {
              event.preventDefault();
              event.currentTarget.form.requestSubmit();
            }
          }}
        />
        <button type="submit" name="send" disabled={busy}>
          Send
        </button>
        {busy ? (
          <button type="button" name="stop" onClick={() => stop()}>
            Stop
          </button>
        ) : (
          <button
            type="button"
            name="regenerate"
            disabled={last?.role !== "assistant"}
            onClick={() => regenerate()}
          >
            Regenerate
          </button>
        )}
      </form>
    </main>
  );
}

function App() {
  const [loaded, setLoaded] = useState(null);
  useEffect(() => {
    loadMessages().then(
      (messages) => setLoaded({ messages }),
      (error) => setLoaded({ error }),
    );
  }, []);
  if (loaded === null) return <main data-status="loading">Loading…</main>;
  if (loaded.error) {
    return (
      <main data-status="load-error">
        <div className="error" role="alert">
          Could not load the chat: {loaded.error.message}
        </div>
      </main>
    );
  }
  return <Chat initialMessages={loaded.messages} />;
}

createRoot(document.getElementById("root")).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
