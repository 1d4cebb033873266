// mcp_stdio_client.mjs - the official MCP SDK as a client of `osaurus mcp` over stdio (the way
// desktop clients start it): lists the tools, calls the calculator, calls a tool that does not
// exist, and prints what it saw as one JSON line for tests/scripts/mcp_client_e2e.sh to check.
// Usage: node mcp_stdio_client.mjs OSAURUS_BINARY HOME
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const [bin, home] = process.argv.slice(2);
const transport = new StdioClientTransport({ command: bin, args: ['mcp', '--home', home], stderr: 'ignore' });
const client = new Client({ name: 'osaurus-stdio-test', version: '1.0.0' });
const seen = {};
try {
  await client.connect(transport);
  seen.server = client.getServerVersion()?.name ?? null;
  const list = await client.listTools();
  seen.tools = list.tools.map((t) => t.name).sort();
  seen.calculatorHasSchema = list.tools.find((t) => t.name === 'calculator')?.inputSchema?.type ?? null;
  const calc = await client.callTool({ name: 'calculator', arguments: { expression: '2+3*4' } });
  seen.calcIsError = calc.isError ?? false;
  seen.calcText = calc.content?.[0]?.text ?? null;
  const bad = await client.callTool({ name: 'no_such_tool', arguments: {} });
  seen.badIsError = bad.isError ?? false;
  seen.badText = bad.content?.[0]?.text ?? null;
  await client.ping();
  seen.ping = true;
} catch (e) {
  seen.error = String(e?.message ?? e);
} finally {
  await client.close().catch(() => {});
}
process.stdout.write(JSON.stringify(seen) + '\n');
