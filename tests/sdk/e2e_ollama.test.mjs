// e2e_ollama.test.mjs - the official Ollama client (ollama-js) against `osaurus serve`: chat and
// generate (body and stream), tool calls, options.stop, tags, show, ps and errors, through a
// cloud provider and on the local model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import { SERVER_URL, CLOUD_MODEL, LOCAL_MODEL, SENTENCE, WEATHER_TOOL, T, collect, words, skipWithoutLocal } from './e2e_env.mjs';

const ollama = new Ollama({ host: SERVER_URL });
const USER = [{ role: 'user', content: 'Tell me about foxes.' }];

function checkFinal(r, reason) {
  assert.equal(r.done, true);
  assert.equal(r.done_reason, reason);
  for (const k of ['total_duration', 'load_duration', 'prompt_eval_count', 'eval_count', 'eval_duration'])
    assert.ok(Number.isInteger(r[k]) && r[k] >= 0, `${k} = ${r[k]}`);
  assert.ok(!Number.isNaN(Date.parse(r.created_at)));
}

test('chat: a body and a stream through a provider', T, async () => {
  const r = await ollama.chat({ model: CLOUD_MODEL, messages: USER, stream: false, options: { num_predict: 4 } });
  assert.equal(r.model, CLOUD_MODEL);
  assert.equal(r.message.role, 'assistant');
  assert.equal(r.message.content, words(4));
  checkFinal(r, 'length');
  assert.equal(r.eval_count, 4);
  const parts = await collect(await ollama.chat({ model: CLOUD_MODEL, messages: USER, stream: true }));
  assert.ok(parts.length > 2);
  assert.ok(parts.slice(0, -1).every((p) => p.done === false));
  checkFinal(parts.at(-1), 'stop');
  assert.equal(parts.map((p) => p.message.content).join(''), SENTENCE);
});

test('chat: tool calls come back as objects and the round trip continues', T, async () => {
  const tools = [{ type: 'function', function: WEATHER_TOOL }];
  const r = await ollama.chat({ model: CLOUD_MODEL, messages: USER, tools, stream: false });
  const call = r.message.tool_calls?.[0];
  assert.ok(call, JSON.stringify(r.message));
  assert.equal(call.function.name, 'get_weather');
  assert.deepEqual(call.function.arguments, { city: 'Paris' });
  const next = await ollama.chat({
    model: CLOUD_MODEL, tools, stream: false, options: { num_predict: 2 },
    messages: [...USER, r.message, { role: 'tool', content: '21 degrees', tool_name: 'get_weather' }],
  });
  assert.equal(next.message.content, words(2));
});

test('chat: options.stop cuts the answer', T, async () => {
  const r = await ollama.chat({ model: CLOUD_MODEL, messages: USER, stream: false, options: { stop: [' over'] } });
  assert.equal(r.message.content, 'The quick brown fox jumps');
  checkFinal(r, 'stop');
});

test('generate: a body and a stream', T, async () => {
  const r = await ollama.generate({ model: CLOUD_MODEL, prompt: 'Foxes?', system: 'Be brief.', stream: false, options: { num_predict: 3 } });
  assert.equal(r.response, words(3));
  checkFinal(r, 'length');
  const parts = await collect(await ollama.generate({ model: CLOUD_MODEL, prompt: 'Foxes?', stream: true, options: { num_predict: 6 } }));
  assert.equal(parts.map((p) => p.response).join(''), words(6));
  checkFinal(parts.at(-1), 'length');
});

test('tags, show and ps', T, async () => {
  const tags = await ollama.list();
  const cloud = tags.models.find((m) => m.name === CLOUD_MODEL);
  assert.ok(cloud, `${CLOUD_MODEL} in ${tags.models.map((m) => m.name).join(', ')}`);
  assert.equal(cloud.size, 0);
  assert.equal(cloud.details.format, 'remote');
  const show = await ollama.show({ model: CLOUD_MODEL });
  assert.equal(show.details.format, 'remote');
  assert.ok(show.capabilities.includes('completion'));
  await ollama.generate({ model: CLOUD_MODEL, prompt: 'Hi', stream: false, options: { num_predict: 1 } });
  const ps = await ollama.ps();
  const running = ps.models.find((m) => m.name === CLOUD_MODEL);
  assert.ok(running, `${CLOUD_MODEL} in ps: ${ps.models.map((m) => m.name).join(', ')}`);
  assert.equal(running.size, 0);
  const left = Date.parse(running.expires_at) - Date.now();
  assert.ok(left > 4 * 60 * 1000 && left <= 5 * 60 * 1000 + 5000, `expires in ${left} ms`);
  // keep_alive 0: no longer running.
  await ollama.generate({ model: CLOUD_MODEL, prompt: 'Hi', stream: false, keep_alive: 0, options: { num_predict: 1 } });
  assert.ok(!(await ollama.ps()).models.some((m) => m.name === CLOUD_MODEL));
});

test('errors: an unknown model is a 404 ResponseError', T, async () => {
  await assert.rejects(
    ollama.chat({ model: 'nobody/nothing', messages: USER, stream: false }),
    (e) => e.name === 'ResponseError' && e.status_code === 404 && /not found/.test(e.error));
});

test('the local model: tags, show, chat and ps', T, async (t) => {
  if (skipWithoutLocal(t)) return;
  const tags = await ollama.list();
  const local = tags.models.find((m) => m.name === LOCAL_MODEL);
  assert.ok(local && local.size > 0 && local.details.format === 'gguf', JSON.stringify(local));
  const show = await ollama.show({ model: LOCAL_MODEL });
  assert.equal(show.details.format, 'gguf');
  assert.ok(show.model_info['general.architecture']);
  const r = await ollama.chat({ model: LOCAL_MODEL, messages: USER, stream: false, options: { num_predict: 3, temperature: 0 } });
  assert.ok(r.eval_count <= 3 && r.eval_count >= 1);
  const parts = await collect(await ollama.chat({ model: LOCAL_MODEL, messages: USER, stream: true, options: { num_predict: 3, temperature: 0 } }));
  assert.equal(parts.map((p) => p.message.content).join(''), r.message.content);
  const ps = await ollama.ps();
  const running = ps.models.find((m) => m.name === LOCAL_MODEL);
  assert.ok(running && running.size > 0, JSON.stringify(ps.models));
});
