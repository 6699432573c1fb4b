/**
 * Webhook receiver standing in for Slack: records every payload it is sent, in arrival order,
 * and answers as Slack's incoming webhooks do ("ok"). Run with `node server.ts` (Node >= 23
 * strips the types); no dependencies.
 *
 *   POST /<any path>      record { path, receivedAt, headers, body } and answer 200 "ok"
 *   GET  /payloads        every recorded payload (JSON array)
 *   DELETE /payloads      forget them
 *   GET  /health          200
 *
 * PORT (default 8080). FAIL_STATUS set to an HTTP status makes every POST fail with it (a
 * receiver that is down, for the retry case), while still recording the attempt.
 */
import { createServer, type IncomingMessage } from 'node:http';

interface Recorded {
  readonly seq: number;
  readonly path: string;
  readonly receivedAt: string;
  readonly receivedAtMs: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: unknown;
  readonly answered: number;
}

const port = Number(process.env.PORT ?? 8080);
const failStatus = process.env.FAIL_STATUS ? Number(process.env.FAIL_STATUS) : undefined;
const recorded: Recorded[] = [];
const MAX_BODY = 1 << 20;

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) reject(new Error('payload larger than 1 MiB'));
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const server = createServer((request, response) => {
  const url = new URL(request.url ?? '/', 'http://receiver');
  const reply = (status: number, body: string, type = 'text/plain'): void => {
    response.writeHead(status, { 'content-type': type });
    response.end(body);
  };
  if (request.method === 'GET' && url.pathname === '/health') return reply(200, 'ok');
  if (request.method === 'GET' && url.pathname === '/payloads') return reply(200, JSON.stringify(recorded), 'application/json');
  if (request.method === 'DELETE' && url.pathname === '/payloads') {
    recorded.length = 0;
    return reply(204, '');
  }
  if (request.method !== 'POST') return reply(405, 'POST a payload, GET /payloads, DELETE /payloads or GET /health');
  readBody(request).then(
    (text) => {
      const answered = failStatus ?? 200;
      const receivedAtMs = Date.now();
      recorded.push({
        seq: recorded.length + 1,
        path: url.pathname,
        receivedAt: new Date(receivedAtMs).toISOString(),
        receivedAtMs,
        headers: request.headers,
        body: parse(text),
        answered,
      });
      reply(answered, answered === 200 ? 'ok' : 'receiver configured to fail');
    },
    (error: unknown) => reply(413, String(error)),
  );
});

server.listen(port, () => process.stdout.write(`webhook-receiver listening on :${port}\n`));
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => server.close(() => process.exit(0)));
