// e2e_env.mjs - what the project's own SDK end-to-end tests share: the server under test and
// its models, given by tests/scripts/sdk_e2e.sh in the environment, and small helpers.
//
//   SERVER_URL   the running `osaurus serve`
//   CLOUD_MODEL  the deterministic fake model behind an OpenAI-type provider ("fake/model")
//   ANT_MODEL    the same fake behind an Anthropic-type provider ("fakeant/model")
//   LOCAL_MODEL  a tiny local GGUF model's id, or empty when the test data is absent
//
// The fake model (tests/tools/test_fake_model.c) writes SENTENCE one word per token, honours
// max_tokens and stop strings, and calls the first declared tool when the last turn is the
// user's and tools are offered.
import assert from 'node:assert/strict';

export const SERVER_URL = process.env.SERVER_URL || 'http://127.0.0.1:1337';
export const CLOUD_MODEL = process.env.CLOUD_MODEL || 'fake/model';
export const ANT_MODEL = process.env.ANT_MODEL || 'fakeant/model';
export const LOCAL_MODEL = process.env.LOCAL_MODEL || '';
export const SENTENCE = 'The quick brown fox jumps over the lazy dog, and then the fox rests in the sun.';
/** The first n words of SENTENCE, as the fake writes them for max_tokens n. */
export function words(n) {
  const parts = SENTENCE.match(/^\S+|\s\S+?(?=[\s,.]|$)|[,.]/g);
  return parts.slice(0, n).join('');
}

export const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

/** Every item of an async iterable, in order. */
export async function collect(it) {
  const out = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Per-test options: a generous limit for slow (sanitizer) builds. */
export const T = { timeout: 60000 };

export function skipWithoutLocal(t) {
  if (!LOCAL_MODEL) {
    t.skip('no local test model (llama-2-tiny-random.gguf absent from OSR_TESTDATA)');
    return true;
  }
  return false;
}

// A self-check of words(): the fake's first four tokens.
assert.equal(words(4), 'The quick brown fox');
assert.equal(words(10), 'The quick brown fox jumps over the lazy dog,');
