// The OpenAI Responses API from JavaScript, unchanged: the node `openai` SDK and the AI SDK's
// `openai(agent)` provider (Responses by default) with generateText and streamText.
// usage: node responses.mjs <base_url> <scenario>; prints one JSON object.
import OpenAI from "openai";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText } from "ai";

const [base, scenario] = process.argv.slice(2);
const baseURL = `${base}/v1`;

const scenarios = {
  async nodeSdk() {
    const client = new OpenAI({ baseURL, apiKey: "unused", maxRetries: 0 });
    const first = await client.responses.create({ model: "echo", input: "My name is Alice" });
    const second = await client.responses.create({
      model: "echo",
      input: "What is my name?",
      previous_response_id: first.id,
    });
    const stream = await client.responses.create({
      model: "echo",
      input: "streamed",
      previous_response_id: second.id,
      stream: true,
    });
    const kinds = [];
    let streamedText = "";
    let completed = null;
    for await (const event of stream) {
      kinds.push(event.type);
      if (event.type === "response.output_text.delta") streamedText += event.delta;
      if (event.type === "response.completed") completed = event.response;
    }
    let missing = null;
    try {
      await client.responses.create({ model: "echo", input: "x", previous_response_id: "resp_nope" });
    } catch (error) {
      missing = { status: error.status, code: error.code, param: error.param };
    }
    return {
      first: first.output_text,
      second: second.output_text,
      streamedText,
      kinds: [kinds[0], kinds[kinds.length - 1]],
      completedText: completed && completed.output.map((o) => o.content.map((c) => c.text).join("")).join(""),
      missing,
    };
  },
  async aiSdk() {
    const provider = createOpenAI({ baseURL, apiKey: "unused" });
    const first = await generateText({ model: provider("echo"), prompt: "My name is Alice" });
    const responseId = first.providerMetadata?.openai?.responseId;
    const second = await generateText({
      model: provider("echo"),
      prompt: "What is my name?",
      providerOptions: { openai: { previousResponseId: responseId } },
    });
    const streamed = streamText({
      model: provider("echo"),
      system: "Be brief.",
      prompt: "stream this",
    });
    let streamedText = "";
    for await (const delta of streamed.textStream) streamedText += delta;
    return {
      first: first.text,
      firstFinish: first.finishReason,
      responseId,
      second: second.text,
      streamedText,
      streamedFinish: await streamed.finishReason,
      usage: (await streamed.usage).outputTokens,
    };
  },
};

const result = await scenarios[scenario]();
process.stdout.write(JSON.stringify(result));
