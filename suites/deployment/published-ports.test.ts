/**
 * The harness publishes container ports on loopback only (when the engine runs on this machine):
 * a test database with its generated password must not be reachable from the machine's other
 * networks. Covers both ways services are built: `containerFor` (every harness service) and a
 * Testcontainers module (PostgreSqlContainer, which exposes its port in its constructor).
 */
import { connect } from 'node:net';
import { expect } from 'vitest';
import { beyondLoopback, type PublishedBinding, publishedBindings } from '#fixtures/checks/published-ports.js';
import { SingleContainerService } from '#fixtures/services/container-service.js';
import { postgresService } from '#fixtures/services/postgres.js';
import { WEBHOOK_PORT, webhookReceiverService } from '#fixtures/services/webhook.js';
import { run } from '#fixtures/support/exec.js';
import { publishesOnLoopback } from '#fixtures/support/loopback-ports.js';
import type { ServiceDefinition, Topology } from '#fixtures/topology/topology.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';
import { GenericContainer, Wait } from 'testcontainers';

class StartedBare extends SingleContainerService {}

/** Negative control: the webhook image exposed the way Testcontainers does by default, without `onLoopback`. */
const allInterfaces: ServiceDefinition<StartedBare> = {
  name: 'all-interfaces',
  async start(context) {
    const container = new GenericContainer(await context.image('node'))
      .withNetwork(context.network)
      .withLabels({ ...context.labels, 'org.bss.service': 'all-interfaces', 'org.bss.component': 'node' })
      .withEntrypoint(['sleep', '300'])
      .withCommand([])
      .withExposedPorts(WEBHOOK_PORT)
      // Nothing listens inside: only the binding is under test.
      .withWaitStrategy(Wait.forSuccessfulCommand('true'));
    return new StartedBare(await container.start(), 'all-interfaces');
  },
};

const test = topologyTest('published-ports', [postgresService({ name: 'db' }), webhookReceiverService()]);

async function bindingsOf(ids: readonly string[]): Promise<PublishedBinding[]> {
  const inspected = await run('docker', ['inspect', '--format', '{{.Name}} {{json .NetworkSettings.Ports}}', ...ids], {
    timeoutMs: 10_000,
  });
  if (inspected.code !== 0) throw new Error(`docker inspect failed: ${inspected.stderr.trim()}`);
  return inspected.stdout
    .trim()
    .split('\n')
    .flatMap((line) => {
      const space = line.indexOf(' ');
      return publishedBindings(line.slice(0, space).replace(/^\//, ''), JSON.parse(line.slice(space + 1)));
    });
}

const reachable = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: 2_000 }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });

const containerIds = (topology: Topology, names: readonly string[]) =>
  names.flatMap((name) => topology.get(name).containers.map((c) => c.getId()));

test('published ports are on loopback only, and reachable there; a container exposed the default way is caught', async ({ topology }) => {
  // The engine here is local: if it were not, the harness would leave bindings alone and this test would say so.
  expect(publishesOnLoopback(), 'TESTCONTAINERS_HOST_OVERRIDE is not localhost: the engine is not local').toBe(true);
  const shipped = await bindingsOf(containerIds(topology, ['db', 'webhook-receiver']));
  expect(shipped.length, 'nothing was published: the check would pass vacuously').toBeGreaterThanOrEqual(2);
  expect(beyondLoopback(shipped), JSON.stringify(shipped)).toEqual([]);
  for (const binding of shipped) expect(await reachable(Number(binding.hostPort)), `${binding.container} ${binding.port}`).toBe(true);

  const control = await topology.withService(allInterfaces, async (bare) => bindingsOf(bare.containers.map((c) => c.getId())));
  expect(control.length).toBeGreaterThanOrEqual(1);
  expect(beyondLoopback(control).length, JSON.stringify(control)).toBeGreaterThanOrEqual(1);
});
