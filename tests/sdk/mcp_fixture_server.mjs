// mcp_fixture_server.mjs - an MCP server built with the official TypeScript SDK, for the
// project's MCP client tests.
//
//   node mcp_fixture_server.mjs [--port N] [--json]    Streamable HTTP on 127.0.0.1:N/mcp
//                                                        (0 or absent: a free port); prints
//                                                        "PORT <n>" on stdout once listening.
//                                                        --json answers with JSON bodies
//                                                        instead of SSE streams.
//   node mcp_fixture_server.mjs --stdio                  newline-delimited JSON-RPC on stdio.
//
// Tools: echo {text}, add {a,b} (text and structuredContent), fail (isError), sleep {ms},
// whoami (the X-Fixture-Secret request header, HTTP), getenv {name} (an environment variable,
// stdio), grow (registers the tool "extra", which sends notifications/tools/list_changed).
import { randomUUID } from 'node:crypto';
import http from 'node:http';

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import * as z from 'zod';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const value = (name, dflt) => {
    const i = argv.indexOf(name);
    return i >= 0 && i + 1 < argv.length ? argv[i + 1] : dflt;
};

function text(t) {
    return { content: [{ type: 'text', text: String(t) }] };
}

function build() {
    const server = new McpServer({ name: 'osaurus-fixture', version: '1.0.0' });
    server.registerTool('echo', {
        description: 'Echoes its text',
        inputSchema: { text: z.string() },
    }, async ({ text: t }) => text(t));
    server.registerTool('add', {
        description: 'Adds two numbers',
        inputSchema: { a: z.number(), b: z.number() },
        outputSchema: { sum: z.number() },
    }, async ({ a, b }) => ({
        content: [{ type: 'text', text: String(a + b) }],
        structuredContent: { sum: a + b },
    }));
    server.registerTool('fail', {
        description: 'Always fails',
        inputSchema: {},
    }, async () => ({ content: [{ type: 'text', text: 'the fixture failed on purpose' }], isError: true }));
    server.registerTool('sleep', {
        description: 'Sleeps for ms milliseconds',
        inputSchema: { ms: z.number() },
    }, async ({ ms }) => {
        await new Promise((r) => setTimeout(r, ms));
        return text(`slept ${ms}`);
    });
    server.registerTool('whoami', {
        description: 'Returns the X-Fixture-Secret header it received',
        inputSchema: {},
    }, async (_args, extra) => {
        const h = extra?.requestInfo?.headers ?? {};
        return text(h['x-fixture-secret'] ?? '(none)');
    });
    server.registerTool('getenv', {
        description: 'Returns an environment variable',
        inputSchema: { name: z.string() },
    }, async ({ name }) => text(process.env[name] ?? '(unset)'));
    server.registerTool('grow', {
        description: 'Registers the tool "extra"',
        inputSchema: {},
    }, async () => {
        server.registerTool('extra', { description: 'Added later', inputSchema: {} },
            async () => text('extra'));
        return text('grown');
    });
    return server;
}

async function readBody(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const s = Buffer.concat(chunks).toString('utf8');
    return s ? JSON.parse(s) : undefined;
}

async function serveHttp() {
    const json = flag('--json');
    const sessions = new Map();
    const srv = http.createServer(async (req, res) => {
        try {
            if (!req.url.startsWith('/mcp')) {
                res.writeHead(404).end();
                return;
            }
            const sid = req.headers['mcp-session-id'];
            const body = req.method === 'POST' ? await readBody(req) : undefined;
            let transport = sid ? sessions.get(sid) : undefined;
            if (!transport) {
                if (sid || req.method !== 'POST' || !body || body.method !== 'initialize') {
                    res.writeHead(sid ? 404 : 400, { 'content-type': 'application/json' });
                    res.end(JSON.stringify({ jsonrpc: '2.0', id: null,
                        error: { code: -32000, message: sid ? 'Session not found' : 'No session' } }));
                    return;
                }
                transport = new StreamableHTTPServerTransport({
                    sessionIdGenerator: () => randomUUID(),
                    enableJsonResponse: json,
                    onsessioninitialized: (id) => sessions.set(id, transport),
                });
                transport.onclose = () => {
                    if (transport.sessionId) sessions.delete(transport.sessionId);
                };
                await build().connect(transport);
            }
            await transport.handleRequest(req, res, body);
        } catch (e) {
            if (!res.headersSent) res.writeHead(500).end(String(e));
        }
    });
    srv.listen(Number(value('--port', '0')), '127.0.0.1', () => {
        process.stdout.write(`PORT ${srv.address().port}\n`);
    });
    const stop = () => process.exit(0);
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}

async function serveStdio() {
    process.stderr.write('fixture: stdio server starting\n');
    await build().connect(new StdioServerTransport());
}

if (flag('--stdio')) await serveStdio();
else await serveHttp();
