// Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) clicking through
// examples/web-chat the way a person would, on another origin than the API.
// usage: node browser.mjs '<json spec>'; prints one JSON object: each scenario's result.
// spec: {page, api, chats: {scenario: chat id}, scenarios: [...], screenshots: dir|null}
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const spec = JSON.parse(process.argv[2]);
const TIMEOUT = 20_000;

/** What the page shows: its status, error, and each message's text and tool parts. */
function view(page) {
  return page.evaluate(() => {
    const main = document.querySelector("main");
    const text = (node) => (node ? node.textContent : null);
    return {
      status: main?.dataset.status ?? null,
      error: text(document.querySelector(".error")),
      messages: [...document.querySelectorAll(".message")].map((m) => ({
        id: m.dataset.id,
        role: m.dataset.role,
        text: [...m.querySelectorAll("p.text")].map((p) => p.textContent).join(""),
        tools: [...m.querySelectorAll(".tool")].map((t) => ({
          name: t.dataset.tool,
          state: t.dataset.state,
          output: text(t.querySelector(".tool-output code")),
          error: text(t.querySelector(".tool-error")),
        })),
        stopped: Boolean(m.querySelector(".note")),
      })),
    };
  });
}

const answers = (page) => page.locator(".message.assistant").count();

async function open(page, agent, chat) {
  const url = `${spec.page}?api=${encodeURIComponent(spec.api)}&agent=${agent}&chat=${chat}`;
  await page.goto(url);
  await page.waitForSelector("main[data-status=ready], main[data-status=load-error]");
}

async function send(page, text) {
  await page.fill("textarea[name=message]", text);
  await page.click("button[name=send]");
}

/** Until the page is ready again with at least ``count`` answers. */
async function answered(page, count) {
  await page.waitForFunction(
    (n) =>
      document.querySelector("main")?.dataset.status === "ready" &&
      document.querySelectorAll(".message.assistant").length >= n,
    count,
    { timeout: TIMEOUT },
  );
}

/** Until the last answer on the page shows at least ``count`` words. */
async function words(page, count) {
  await page.waitForFunction(
    (n) => {
      const all = document.querySelectorAll(".message.assistant");
      const last = all[all.length - 1];
      return last && last.textContent.split(" ").filter(Boolean).length >= n;
    },
    count,
    { timeout: TIMEOUT },
  );
}

async function shot(page, name) {
  if (spec.screenshots) {
    await page.locator("main").screenshot({ path: join(spec.screenshots, `${name}.png`) });
  }
}

const scenarios = {
  // two turns, one with a tool; a reload restores it (tool part included) and it goes on;
  // then Regenerate replaces the last answer
  async conversation(page, chat) {
    await open(page, "assistant", chat);
    await send(page, "My name is Alice");
    await answered(page, 1);
    await send(page, '/tool calculator {"expression": "2 * (3 + 4)"}');
    await answered(page, 2);
    const live = await view(page);
    await shot(page, "conversation");
    await page.reload();
    await page.waitForSelector("main[data-status=ready]");
    const reloaded = await view(page);
    await send(page, "and now?");
    await answered(page, 3);
    const continued = await view(page);
    const before = continued.messages.at(-1).id;
    await page.click("button[name=regenerate]");
    await page.waitForFunction(
      (old) => {
        const all = document.querySelectorAll(".message.assistant");
        return (
          document.querySelector("main").dataset.status === "ready" &&
          all[all.length - 1]?.dataset.id !== old
        );
      },
      before,
      { timeout: TIMEOUT },
    );
    return { live, reloaded, continued, regenerated: await view(page) };
  },
  // Stop in the middle of an answer, then the next message
  async stop(page, chat) {
    await open(page, "slow", chat);
    await send(page, "one two three four five six seven eight nine ten eleven twelve");
    await words(page, 4);
    await page.click("button[name=stop]");
    await page.waitForSelector("main[data-status=ready]", { timeout: TIMEOUT });
    const stopped = await view(page);
    await shot(page, "stopped");
    await send(page, "next");
    await answered(page, 2);
    return { stopped, next: await view(page) };
  },
  // a reload while the answer is being written: the page resumes it
  async resume(page, chat) {
    await open(page, "slow", chat);
    await send(page, "alpha beta gamma delta epsilon zeta eta theta");
    await words(page, 3);
    const before = await view(page);
    await page.reload();
    await answered(page, 1);
    await page.waitForFunction(
      () => document.querySelector(".message.assistant:last-of-type p.text")?.textContent.endsWith("theta"),
      null,
      { timeout: TIMEOUT },
    );
    return { before, after: await view(page) };
  },
  // the model provider cannot be reached: the page says so in words, with the request id
  async failure(page, chat) {
    await open(page, "broken", chat);
    await send(page, "hello");
    await page.waitForSelector(".error", { timeout: TIMEOUT });
    await shot(page, "failure");
    return await view(page);
  },
  // the page on an origin the server does not allow: the browser refuses the answer
  async refused(page, chat) {
    const origin = new URL(spec.page);
    origin.hostname = "localhost"; // same server, another origin than the one allowed
    const url = `${origin}?api=${encodeURIComponent(spec.api)}&agent=assistant&chat=${chat}`;
    await page.goto(url);
    await page.waitForSelector("main[data-status=load-error]", { timeout: TIMEOUT });
    return await view(page);
  },
};

const userDataDir = await mkdtemp(join(tmpdir(), "vel-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  viewport: { width: 820, height: 620 },
  args: [
    "--no-sandbox", // as root
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});
const results = {};
try {
  for (const name of spec.scenarios) {
    const page = await context.newPage();
    const problems = [];
    page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(`console: ${message.text()}`);
    });
    try {
      results[name] = { ...(await scenarios[name](page, spec.chats[name])), problems };
    } catch (error) {
      results[name] = { failed: String(error.stack ?? error), problems, last: await view(page) };
    } finally {
      await page.close();
    }
  }
} finally {
  await context.close();
  await rm(userDataDir, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(results));
