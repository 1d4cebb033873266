// e2e_openai.test.mjs - the official OpenAI SDK against `osaurus serve`: Chat Completions
// (body, stream, stream helper, tool round trip, stop strings, errors) and Responses (body,
// stream events, previous_response_id chains), through a cloud provider and on a local model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import {
  SERVER_URL, CLOUD_MODEL, LOCAL_MODEL, SENTENCE, WEATHER_TOOL, T, collect, words,
  skipWithoutLocal,
} from './e2e_env.mjs';

const client = new OpenAI({ baseURL: `${SERVER_URL}/v1`, apiKey: 'unused', maxRetries: 0 });
const USER = [{ role: 'user', content: 'Tell me about foxes.' }];

test('chat: a non-streamed answer through a provider', T, async () => {
  const r = await client.chat.completions.create({ model: CLOUD_MODEL, messages: USER, max_tokens: 4 });
  assert.equal(r.object, 'chat.completion');
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.model, CLOUD_MODEL);
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, 'assistant');
  assert.equal(r.choices[0].message.content, words(4));
  assert.equal(r.choices[0].finish_reason, 'length');
  assert.equal(r.usage.completion_tokens, 4);
  assert.ok(r.usage.prompt_tokens > 0);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
});

test('chat: a streamed answer: role first, deltas, one finish, usage when asked, the whole sentence', T, async () => {
  const chunks = await collect(await client.chat.completions.create({
    model: CLOUD_MODEL, messages: USER, stream: true, stream_options: { include_usage: true },
  }));
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.equal(text, SENTENCE);
  const finishes = chunks.filter((c) => c.choices[0]?.finish_reason);
  assert.equal(finishes.length, 1);
  assert.equal(finishes[0].choices[0].finish_reason, 'stop');
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.equal(last.usage.completion_tokens, 19);
  assert.ok(new Set(chunks.map((c) => c.id)).size === 1, 'one id for the whole stream');
});

test('chat: the SDK stream helper assembles the final completion', T, async () => {
  const runner = client.chat.completions.stream({ model: CLOUD_MODEL, messages: USER, max_tokens: 6 });
  let deltas = '';
  runner.on('content', (d) => { deltas += d; });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].message.content, words(6));
  assert.equal(deltas, words(6));
});

test('chat: a tool call round trip', T, async () => {
  const tools = [{ type: 'function', function: WEATHER_TOOL }];
  const first = await client.chat.completions.create({ model: CLOUD_MODEL, messages: USER, tools });
  assert.equal(first.choices[0].finish_reason, 'tool_calls');
  const call = first.choices[0].message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
  assert.ok(call.id.length > 0);
  // The answer to the call goes back; the model then writes text.
  const second = await client.chat.completions.create({
    model: CLOUD_MODEL, tools, max_tokens: 3,
    messages: [...USER, first.choices[0].message, { role: 'tool', tool_call_id: call.id, content: '{"temp":21}' }],
  });
  assert.equal(second.choices[0].message.content, words(3));
  assert.equal(second.choices[0].message.tool_calls ?? undefined, undefined);
  // Streamed: the call arrives as deltas with index, id and name first.
  const chunks = await collect(await client.chat.completions.create({ model: CLOUD_MODEL, messages: USER, tools, stream: true }));
  const calls = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
  assert.equal(calls[0].index, 0);
  assert.equal(calls[0].function.name, 'get_weather');
  assert.deepEqual(JSON.parse(calls.map((c) => c.function?.arguments ?? '').join('')), { city: 'Paris' });
  assert.equal(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason, 'tool_calls');
});

test('chat: stop strings cut the answer before the first match', T, async () => {
  const r = await client.chat.completions.create({ model: CLOUD_MODEL, messages: USER, stop: [' fox', 'never'] });
  assert.equal(r.choices[0].message.content, 'The quick brown');
  assert.equal(r.choices[0].finish_reason, 'stop');
  const chunks = await collect(await client.chat.completions.create({ model: CLOUD_MODEL, messages: USER, stop: 'lazy', stream: true }));
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), 'The quick brown fox jumps over the ');
});

test('chat: an unknown model is the SDK\'s NotFoundError; a bad body its BadRequestError', T, async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'nobody/nothing', messages: USER }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && /not found/.test(e.message));
  await assert.rejects(
    client.chat.completions.create({ model: CLOUD_MODEL, messages: USER, n: 3 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400);
});

test('responses: a body, then a chained turn with previous_response_id', T, async () => {
  const r1 = await client.responses.create({ model: CLOUD_MODEL, input: 'Tell me about foxes.', max_output_tokens: 5 });
  assert.equal(r1.object, 'response');
  assert.match(r1.id, /^resp_/);
  assert.equal(r1.status, 'incomplete');
  assert.equal(r1.incomplete_details.reason, 'max_output_tokens');
  assert.equal(r1.output_text, words(5));
  const r2 = await client.responses.create({ model: CLOUD_MODEL, input: 'And dogs?', previous_response_id: r1.id });
  assert.equal(r2.status, 'completed');
  assert.equal(r2.output_text, SENTENCE);
  // The chained turn carried the first turn along: the upstream counted a longer prompt.
  const alone = await client.responses.create({ model: CLOUD_MODEL, input: 'And dogs?' });
  assert.ok(r2.usage.input_tokens > alone.usage.input_tokens,
    `chained prompt ${r2.usage.input_tokens} tokens, alone ${alone.usage.input_tokens}`);
  await assert.rejects(
    client.responses.create({ model: CLOUD_MODEL, input: 'x', previous_response_id: 'resp_doesnotexist000000000000' }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400);
});

test('responses: the stream\'s event order and sequence numbers', T, async () => {
  const events = await collect(await client.responses.create({ model: CLOUD_MODEL, input: 'Hi', max_output_tokens: 3, stream: true }));
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'response.created');
  assert.equal(types[1], 'response.in_progress');
  const order = ['response.output_item.added', 'response.content_part.added', 'response.output_text.delta',
    'response.output_text.done', 'response.content_part.done', 'response.output_item.done'];
  let at = 0;
  for (const want of order) {
    const i = types.indexOf(want, at);
    assert.ok(i >= at, `${want} missing or out of order in ${types.join(', ')}`);
    at = i;
  }
  assert.equal(types.at(-1), 'response.incomplete');
  events.forEach((e, i) => assert.equal(e.sequence_number, i));
  assert.equal(events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join(''), words(3));
  // A streamed turn is stored too and can be chained onto.
  const id = events[0].response.id;
  const next = await client.responses.create({ model: CLOUD_MODEL, input: 'more', previous_response_id: id, max_output_tokens: 2 });
  assert.equal(next.output_text, words(2));
});

test('chat on the local model: a body and a stream', T, async (t) => {
  if (skipWithoutLocal(t)) return;
  const r = await client.chat.completions.create({ model: LOCAL_MODEL, messages: USER, max_tokens: 3, temperature: 0 });
  assert.equal(r.model, LOCAL_MODEL);
  assert.ok(['length', 'stop'].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.completion_tokens <= 3);
  const chunks = await collect(await client.chat.completions.create({ model: LOCAL_MODEL, messages: USER, max_tokens: 3, temperature: 0, stream: true }));
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
  assert.equal(text, r.choices[0].message.content, 'greedy stream and body agree');
});

test('models: the list holds the provider models and the local one', T, async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.ok(ids.includes(CLOUD_MODEL), `${CLOUD_MODEL} in ${ids.join(', ')}`);
  if (LOCAL_MODEL) assert.ok(ids.includes(LOCAL_MODEL));
});
