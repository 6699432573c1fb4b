/**
 * Deliberately broken HAProxy configs, each derived from the shipped one by a single change,
 * so a negative control differs from production only in the property it proves the check catches.
 */
import { SHIPPED_HAPROXY_CONFIG } from '#fixtures/services/database-tier.js';

function replaceOnce(config: string, pattern: RegExp, replacement: string, what: string): string {
  if (!pattern.test(config)) throw new Error(`Cannot derive variant "${what}": pattern ${pattern} not found in haproxy.cfg`);
  return config.replace(pattern, replacement);
}

function section(config: string, name: string, edit: (body: string) => string): string {
  const pattern = new RegExp(`(\\nbackend ${name}\\n)([\\s\\S]*?)(?=\\n(?:frontend|backend|listen|defaults|global|resolvers) |$)`);
  const match = pattern.exec(config);
  if (!match) throw new Error(`haproxy.cfg has no backend ${name}`);
  const edited = edit(match[2]!);
  if (edited === match[2]) throw new Error(`Variant of backend ${name} is identical to the shipped config`);
  return config.replace(pattern, `${match[1]}${edited}`);
}

/** The design document's timing: "check inter 5s rise 2 fall 3", no fastinter/downinter. */
export const DOCUMENT_TIMING = replaceOnce(
  SHIPPED_HAPROXY_CONFIG,
  /default-server inter \S+ fastinter \S+ downinter \S+ rise 2 fall 3/,
  'default-server inter 5s rise 2 fall 3',
  'document timing',
);

/** Writes spread round-robin over all three servers with a plain TCP check. */
export const ROUND_ROBIN_WRITES = section(SHIPPED_HAPROXY_CONFIG, 'postgres_write', (body) =>
  body
    .replace(/balance first/, 'balance roundrobin')
    .replace(/ *option httpchk\n/, '')
    .replace(/ *http-check [^\n]*\n/g, '')
    .replace(/ check\n/g, ' check port 5432\n'),
);

/** Reads always sent to the first server: what an uneven balance looks like. */
export const FIRST_SERVER_READS = section(SHIPPED_HAPROXY_CONFIG, 'postgres_read', (body) =>
  replaceOnce(body, /balance roundrobin/, 'balance first', 'first-server reads'),
);

/** Reads without health checks (`check` dropped from every server): a frozen replica is never taken out. */
export const UNCHECKED_READS = section(SHIPPED_HAPROXY_CONFIG, 'postgres_read', (body) =>
  body
    .replace(/ *option httpchk\n/, '')
    .replace(/ *http-check [^\n]*\n/g, '')
    .replace(/ check\n/g, '\n'),
);
