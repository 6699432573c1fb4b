/**
 * The security suites' attacker: a throwaway container on the topology's network with nothing but
 * a shell, Node's fetch (the node image) or psql (the postgres image), and how an attack's answers
 * become the two verdicts every aspect records — the deployed system's (must be met: every attack
 * refused) and its old configuration's (the negative control: must be caught, not met).
 */
import { expect } from 'vitest';
import { Wait } from 'testcontainers';
import { type AttackAttempt, surfacesVerdict } from '#fixtures/checks/security.js';
import { recordVerdict } from '#fixtures/report/measurements.js';
import { SingleContainerService, containerFor } from '#fixtures/services/container-service.js';
import { IDLE_COMMAND } from '#fixtures/support/idle-command.js';
import type { ServiceDefinition } from '#fixtures/topology/topology.js';

/** psql gives up on a server that does not answer after this long (and the exec after twice it). */
const CONNECT_TIMEOUT_S = 5;

export class StartedAttacker extends SingleContainerService {
  /** One HTTP request from inside the network: the status, or why none came. Bounded at 10 s. */
  async request(method: 'GET' | 'POST', url: string, body?: string): Promise<string> {
    // Every attack's body is JSON (Alertmanager refuses any other content type with 415, which is not a refusal of the attacker).
    const payload = body === undefined ? '' : `body: ${JSON.stringify(body)}, headers: { 'content-type': 'application/json' }, `;
    const init = `{ method: '${method}', ${payload}signal: AbortSignal.timeout(8000) }`;
    const script = `fetch(${JSON.stringify(url)}, ${init})
      .then((r) => console.log(String(r.status)), (e) => console.log('refused: ' + (e.cause?.code ?? e.name)))`;
    const result = await this.container.exec(['node', '-e', script]);
    return result.output.trim().split('\n').at(-1) ?? `exit ${result.exitCode}`;
  }

  /**
   * A PostgreSQL login with psql (the password in the exec's environment, on no command line):
   * "answered: <last line>" when it worked, else psql's own refusal. `query` is what the login runs
   * (SELECT current_user; PgBouncer's console takes its own commands, e.g. SHOW USERS).
   */
  async login(target: {
    host: string;
    port: number;
    user: string;
    password: string;
    database: string;
    query?: string;
  }): Promise<AttackAttempt> {
    const query = target.query ?? 'SELECT current_user';
    const result = await this.container.exec(
      ['psql', '-XAtq', '-h', target.host, '-p', String(target.port), '-U', target.user, '-d', target.database, '-c', query],
      { env: { PGPASSWORD: target.password, PGCONNECT_TIMEOUT: String(CONNECT_TIMEOUT_S) } },
    );
    const lines = result.output
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '');
    const succeeded = result.exitCode === 0;
    return {
      attack: `psql -h ${target.host} -p ${target.port} -U ${target.user} ${target.database} -c "${query}"`,
      answer: succeeded
        ? `answered: ${(lines.at(-1) ?? '').slice(0, 80)}`
        : `refused: ${(lines.at(-1) ?? `exit ${result.exitCode}`).replace(/^psql: (error: )?/, '')}`,
      succeeded,
    };
  }
}

/** The attacker, from `component`'s image: `node` for HTTP attacks, `postgres` for psql. */
export function attackerService(name: string, component: 'node' | 'postgres'): ServiceDefinition<StartedAttacker> {
  return {
    name,
    async start(context) {
      const container = (await containerFor(context, component, name))
        // Idle until stopped, whatever the image's own entrypoint would start.
        .withEntrypoint([...IDLE_COMMAND])
        .withWaitStrategy(Wait.forSuccessfulCommand('true'));
      return new StartedAttacker(await container.start(), name);
    },
  };
}

/**
 * Records both verdicts of one aspect: the deployed system's attempts must all be refused (met)
 * and the old configuration's must not (its negative control, caught).
 */
export function judgeAttacks(aspect: string, shipped: readonly AttackAttempt[], old: readonly AttackAttempt[]): void {
  const v = recordVerdict(surfacesVerdict(aspect, shipped), { attempts: shipped }, 'shipped', aspect);
  const nv = recordVerdict(surfacesVerdict(aspect, old), { attempts: old }, 'old-configuration', aspect);
  expect(nv.status, nv.measured).toBe('not met');
  expect(v.status, v.measured).toBe('met');
}
