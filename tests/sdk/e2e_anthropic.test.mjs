// e2e_anthropic.test.mjs - the official Anthropic SDK against `osaurus serve`: messages through
// an OpenAI-type and an Anthropic-type provider (body, the exact stream event order, the
// MessageStream helper, tool_use round trip, stop_sequences, count_tokens, errors).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { SERVER_URL, CLOUD_MODEL, ANT_MODEL, SENTENCE, WEATHER_TOOL, T, collect, words } from './e2e_env.mjs';

const client = new Anthropic({ baseURL: SERVER_URL, apiKey: 'unused', maxRetries: 0 });
const USER = [{ role: 'user', content: 'Tell me about foxes.' }];
const TOOL = { name: WEATHER_TOOL.name, description: WEATHER_TOOL.description, input_schema: WEATHER_TOOL.parameters };

for (const model of [CLOUD_MODEL, ANT_MODEL]) {
  test(`messages (${model}): a body with stop_reason and usage`, T, async () => {
    const m = await client.messages.create({ model, max_tokens: 4, system: 'Be brief.', messages: USER });
    assert.equal(m.type, 'message');
    assert.equal(m.role, 'assistant');
    assert.match(m.id, /^msg_/);
    assert.deepEqual(m.content, [{ type: 'text', text: words(4) }]);
    assert.equal(m.stop_reason, 'max_tokens');
    assert.equal(m.stop_sequence, null);
    assert.equal(m.usage.output_tokens, 4);
    assert.ok(m.usage.input_tokens > 0);
  });

  test(`messages (${model}): the stream's events come in Anthropic's order`, T, async () => {
    const events = await collect(await client.messages.create({ model, max_tokens: 100, messages: USER, stream: true }));
    const types = events.map((e) => e.type).filter((t) => t !== 'ping');
    assert.equal(types[0], 'message_start');
    assert.equal(types[1], 'content_block_start');
    assert.equal(types.at(-3), 'content_block_stop');
    assert.equal(types.at(-2), 'message_delta');
    assert.equal(types.at(-1), 'message_stop');
    assert.ok(types.slice(2, -3).every((t) => t === 'content_block_delta'), types.join(', '));
    const start = events[0].message;
    assert.equal(start.stop_reason, null);
    assert.ok(Number.isInteger(start.usage.input_tokens) && start.usage.input_tokens > 0);
    const text = events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join('');
    assert.equal(text, SENTENCE);
    const delta = events.find((e) => e.type === 'message_delta');
    assert.equal(delta.delta.stop_reason, 'end_turn');
    assert.equal(delta.usage.output_tokens, 19);
  });

  test(`messages (${model}): stop_sequences end the answer with stop_reason stop_sequence`, T, async () => {
    const stop_sequences = ['never seen', ' jumps'];
    const m = await client.messages.create({ model, max_tokens: 100, messages: USER, stop_sequences });
    assert.equal(m.content[0].text, 'The quick brown fox');
    assert.equal(m.stop_reason, 'stop_sequence');
    assert.equal(m.stop_sequence, ' jumps');
    const events = await collect(await client.messages.create({ model, max_tokens: 100, messages: USER, stop_sequences, stream: true }));
    const delta = events.find((e) => e.type === 'message_delta');
    assert.equal(delta.delta.stop_reason, 'stop_sequence');
    assert.equal(delta.delta.stop_sequence, ' jumps');
    assert.equal(events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join(''), 'The quick brown fox');
  });

  test(`messages (${model}): a tool_use round trip`, T, async () => {
    const first = await client.messages.create({ model, max_tokens: 100, messages: USER, tools: [TOOL] });
    assert.equal(first.stop_reason, 'tool_use');
    const use = first.content.find((b) => b.type === 'tool_use');
    assert.ok(use, JSON.stringify(first.content));
    assert.equal(use.name, 'get_weather');
    assert.deepEqual(use.input, { city: 'Paris' });
    const second = await client.messages.create({
      model, max_tokens: 3, tools: [TOOL],
      messages: [...USER, { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '21 degrees' }] }],
    });
    assert.equal(second.stop_reason, 'max_tokens');
    assert.equal(second.content[0].text, words(3));
    // Streamed: the call is a tool_use block whose input arrives as input_json_delta.
    const events = await collect(await client.messages.create({ model, max_tokens: 100, messages: USER, tools: [TOOL], stream: true }));
    const startBlock = events.find((e) => e.type === 'content_block_start' && e.content_block.type === 'tool_use');
    assert.equal(startBlock.content_block.name, 'get_weather');
    const json = events.filter((e) => e.type === 'content_block_delta' && e.delta.type === 'input_json_delta').map((e) => e.delta.partial_json).join('');
    assert.deepEqual(JSON.parse(json), { city: 'Paris' });
    assert.equal(events.find((e) => e.type === 'message_delta').delta.stop_reason, 'tool_use');
  });
}

test('messages: the MessageStream helper assembles the final message', T, async () => {
  const ms = client.messages.stream({ model: CLOUD_MODEL, max_tokens: 5, messages: USER });
  let deltas = '';
  ms.on('text', (d) => { deltas += d; });
  const final = await ms.finalMessage();
  assert.equal(final.content[0].text, words(5));
  assert.equal(deltas, words(5));
  assert.equal(final.stop_reason, 'max_tokens');
});

test('messages: message_start of a stream carries the count a body of the same prompt reports', T, async () => {
  const prompt = [{ role: 'user', content: 'Count the tokens of this prompt, please.' }];
  const body = await client.messages.create({ model: CLOUD_MODEL, max_tokens: 2, messages: prompt });
  const events = await collect(await client.messages.create({ model: CLOUD_MODEL, max_tokens: 3, messages: prompt, stream: true }));
  assert.equal(events[0].message.usage.input_tokens, body.usage.input_tokens);
  const counted = await client.messages.countTokens({ model: CLOUD_MODEL, messages: prompt });
  assert.equal(counted.input_tokens, body.usage.input_tokens);
});

test('count_tokens through an Anthropic-type provider is the upstream\'s own count', T, async () => {
  const prompt = [{ role: 'user', content: 'Count these words for me, please, all of them.' }];
  const counted = await client.messages.countTokens({ model: ANT_MODEL, messages: prompt });
  const body = await client.messages.create({ model: ANT_MODEL, max_tokens: 1, messages: prompt });
  assert.equal(counted.input_tokens, body.usage.input_tokens);
  const longer = await client.messages.countTokens({ model: ANT_MODEL, messages: [...prompt, { role: 'assistant', content: 'Sure.' }, ...prompt] });
  assert.ok(longer.input_tokens > counted.input_tokens);
});

test('messages: an unknown model is the SDK\'s NotFoundError; a missing max_tokens its BadRequestError', T, async () => {
  await assert.rejects(
    client.messages.create({ model: 'nobody/nothing', max_tokens: 5, messages: USER }),
    (e) => e instanceof Anthropic.NotFoundError && e.status === 404 && e.error?.error?.type === 'not_found_error');
  await assert.rejects(
    client.messages.create({ model: CLOUD_MODEL, messages: USER }),
    (e) => e instanceof Anthropic.BadRequestError && e.status === 400);
});
