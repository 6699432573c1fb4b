/**
 * Security from an attacker's seat: a throwaway container on the topology's network, with nothing
 * but a shell and Node's fetch, tries the control surfaces the deployed system used to leave open.
 * Each attack must be refused by the system as deployed, and succeed against the old configuration
 * (its negative control), so a refusal means the surface is closed, not that the attack was broken.
 *
 *   - backend-control: POST backend:8081/control — the backend's fault controls. Deployed: the
 *     program has no control interface. Old: the controls served by the backend itself.
 *   - prometheus-lifecycle: POST prometheus:9090/-/reload. Deployed: no --web.enable-lifecycle.
 *     Old: the flag set.
 */
import { afterAll, describe, expect } from 'vitest';
import { type AttackAttempt, surfacesVerdict } from '#fixtures/checks/security.js';
import { printSummary, recordVerdict } from '#fixtures/report/measurements.js';
import { BACKEND_CONTROL_PORT, backendService } from '#fixtures/services/backend.js';
import { SingleContainerService, containerFor } from '#fixtures/services/container-service.js';
import { prometheusService } from '#fixtures/services/prometheus.js';
import { IDLE_COMMAND } from '#fixtures/support/idle-command.js';
import type { ServiceDefinition, Topology } from '#fixtures/topology/topology.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';
import { Wait } from 'testcontainers';

class StartedAttacker extends SingleContainerService {
  /** One HTTP request from inside the network: the status, or why none came. Bounded at 10 s. */
  async post(url: string, body = ''): Promise<string> {
    const script = `fetch(${JSON.stringify(url)}, { method: 'POST', body: ${JSON.stringify(body)}, signal: AbortSignal.timeout(8000) })
      .then((r) => console.log(String(r.status)), (e) => console.log('refused: ' + (e.cause?.code ?? e.name)))`;
    const result = await this.container.exec(['node', '-e', script]);
    return result.output.trim().split('\n').at(-1) ?? `exit ${result.exitCode}`;
  }
}

const attacker: ServiceDefinition<StartedAttacker> = {
  name: 'attacker',
  async start(context) {
    const container = (await containerFor(context, 'node', 'attacker'))
      .withCommand([...IDLE_COMMAND])
      .withWaitStrategy(Wait.forSuccessfulCommand('true'));
    return new StartedAttacker(await container.start(), 'attacker');
  },
};

const test = topologyTest('security', [
  backendService({ controls: false }),
  backendService({ name: 'backend-old' }),
  prometheusService({ name: 'prometheus', dependsOn: [] }),
  prometheusService({ name: 'prometheus-old', dependsOn: [], extraFlags: ['--web.enable-lifecycle'] }),
  attacker,
]);

afterAll(() => printSummary('security'));

const attackerOf = (t: Topology): StartedAttacker => t.get<StartedAttacker>('attacker');

/** An answered 2xx is an attack that worked; anything else (refused, 403, 404) is a refusal. */
const attempt = async (a: StartedAttacker, attack: string, url: string, body?: string): Promise<AttackAttempt> => {
  const answer = await a.post(url, body);
  return { attack, answer, succeeded: /^2\d\d$/.test(answer) };
};

describe('security: the control surfaces of the deployed system, attacked from its network', () => {
  test('security.surfaces: the backend fault controls are not served (negative control: the old backend with its controls)', async ({
    topology,
  }) => {
    const command = JSON.stringify({ command: 'fail', count: 1 });
    const shipped = [
      await attempt(attackerOf(topology), 'POST backend:8081/control fail', `http://backend:${BACKEND_CONTROL_PORT}/control`, command),
    ];
    const old = [
      await attempt(
        attackerOf(topology),
        'POST backend-old:8081/control fail',
        `http://backend-old:${BACKEND_CONTROL_PORT}/control`,
        command,
      ),
    ];
    const v = recordVerdict(surfacesVerdict('backend-control', shipped), { attempts: shipped }, 'shipped', 'backend-control');
    const nv = recordVerdict(surfacesVerdict('backend-control', old), { attempts: old }, 'old-configuration', 'backend-control');
    expect(nv.status, nv.measured).toBe('not met');
    expect(v.status, v.measured).toBe('met');
  });

  test('security.surfaces: the Prometheus lifecycle API is off (negative control: --web.enable-lifecycle)', async ({ topology }) => {
    const shipped = [await attempt(attackerOf(topology), 'POST prometheus:9090/-/reload', 'http://prometheus:9090/-/reload')];
    const old = [await attempt(attackerOf(topology), 'POST prometheus-old:9090/-/reload', 'http://prometheus-old:9090/-/reload')];
    const v = recordVerdict(surfacesVerdict('prometheus-lifecycle', shipped), { attempts: shipped }, 'shipped', 'prometheus-lifecycle');
    const nv = recordVerdict(surfacesVerdict('prometheus-lifecycle', old), { attempts: old }, 'old-configuration', 'prometheus-lifecycle');
    expect(nv.status, nv.measured).toBe('not met');
    expect(v.status, v.measured).toBe('met');
  });
});
