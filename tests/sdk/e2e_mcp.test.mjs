// e2e_mcp.test.mjs - the official MCP SDK against `osaurus serve`'s /mcp (Streamable HTTP):
// initialize, tools/list, a tools/call of a built-in tool, and an unknown tool.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SERVER_URL, T } from './e2e_env.mjs';

let client;
let transport;

before(async () => {
  transport = new StreamableHTTPClientTransport(new URL(`${SERVER_URL}/mcp`));
  client = new Client({ name: 'osaurus-e2e', version: '0.1.0' });
  await client.connect(transport, { timeout: 30000 });
});

after(async () => {
  if (transport?.sessionId) await transport.terminateSession().catch(() => {});
  await client?.close().catch(() => {});
});

test('mcp: server info and tools', T, async () => {
  assert.ok(client.getServerVersion()?.name);
  assert.ok(client.getServerCapabilities()?.tools);
  const { tools } = await client.listTools();
  const calc = tools.find((t) => t.name === 'calculator');
  assert.ok(calc, tools.map((t) => t.name).join(', '));
  assert.equal(calc.inputSchema.type, 'object');
});

test('mcp: calling the calculator', T, async () => {
  const r = await client.callTool({ name: 'calculator', arguments: { expression: '(2+3)*4' } });
  assert.notEqual(r.isError, true);
  const text = r.content.filter((c) => c.type === 'text').map((c) => c.text).join('');
  assert.match(text, /20/);
});

test('mcp: an unknown tool is an error', T, async () => {
  let failed = false;
  try {
    const r = await client.callTool({ name: 'no_such_tool', arguments: {} });
    failed = r.isError === true;
  } catch {
    failed = true;
  }
  assert.ok(failed);
});
