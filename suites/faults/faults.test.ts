/**
 * The fault primitives do what they say, seen from a peer on the same network: each fault
 * breaks reachability (or the process), and healing restores it — aliases included.
 */
import { describe, expect } from 'vitest';
import {
  addLatency,
  addPacketLoss,
  FaultUnsupportedError,
  gracefulStop,
  isolate,
  kill,
  netemAvailable,
  pause,
  restart,
  start,
  unpause,
} from '#fixtures/faults/faults.js';
import { containerFor, SingleContainerService } from '#fixtures/services/container-service.js';
import { postgresService, type StartedPostgres } from '#fixtures/services/postgres.js';
import { run } from '#fixtures/support/exec.js';
import type { ServiceDefinition } from '#fixtures/topology/topology.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';

class StartedPeer extends SingleContainerService {
  /** pg_isready from inside the network: 0 reachable, 2 no response, 1 rejecting. */
  async reach(host: string, timeoutSeconds = 2): Promise<number> {
    return (await this.container.exec(['pg_isready', '-h', host, '-t', String(timeoutSeconds)])).exitCode;
  }
}

const peer: ServiceDefinition<StartedPeer> = {
  name: 'peer',
  async start(context) {
    const container = (await containerFor(context, 'postgres', 'peer')).withEntrypoint(['sleep', '3600']).withCommand([]);
    return new StartedPeer(await container.start(), 'peer');
  },
};

const test = topologyTest('faults', [postgresService({ name: 'target' }), peer]);

async function state(id: string): Promise<string> {
  return (await run('docker', ['inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', id])).stdout.trim();
}

describe('fault primitives', () => {
  test('isolate cuts a container off every network and heal restores it under its alias', async ({ topology }) => {
    const target = topology.get<StartedPostgres>('target');
    const from = topology.get<StartedPeer>('peer');
    await expect.poll(() => from.reach('target'), { timeout: 30_000 }).toBe(0);
    const cut = await isolate(target.container);
    expect(await from.reach('target', 1)).not.toBe(0);
    await cut.heal();
    await expect.poll(() => from.reach('target'), { timeout: 30_000 }).toBe(0);
  });

  test('packet loss of 100 % makes a container unreachable until healed', async ({ topology }) => {
    const target = topology.get<StartedPostgres>('target');
    const from = topology.get<StartedPeer>('peer');
    const loss = await addPacketLoss(target.container, 100);
    try {
      expect(['netem', 'iptables-statistic']).toContain(loss.method);
      expect(await from.reach('target', 1)).not.toBe(0);
    } finally {
      await loss.heal();
    }
    await expect.poll(() => from.reach('target'), { timeout: 30_000 }).toBe(0);
  });

  test('added latency works where the kernel has netem, and says so clearly where it does not', async ({ topology }) => {
    const target = topology.get<StartedPostgres>('target');
    const from = topology.get<StartedPeer>('peer');
    if (await netemAvailable(target.container)) {
      const slow = await addLatency(target.container, 300);
      try {
        const t0 = performance.now();
        expect(await from.reach('target', 5)).toBe(0);
        expect(performance.now() - t0).toBeGreaterThanOrEqual(300);
      } finally {
        await slow.heal();
      }
    } else {
      await expect(addLatency(target.container, 300)).rejects.toThrow(FaultUnsupportedError);
      await expect(addLatency(target.container, 300)).rejects.toThrow(/netem is not available.*Toxiproxy/);
    }
  });

  test('pause freezes the process and unpause resumes it', async ({ topology }) => {
    const target = topology.get<StartedPostgres>('target');
    const from = topology.get<StartedPeer>('peer');
    await pause(target.container);
    try {
      expect(await state(target.container.getId())).toMatch(/^paused/);
      expect(await from.reach('target', 1)).not.toBe(0);
    } finally {
      await unpause(target.container);
    }
    await expect.poll(() => from.reach('target'), { timeout: 30_000 }).toBe(0);
  });

  test('graceful stop and start, restart with fresh ports; kill leaves it dead with SIGKILL', async ({ topology }) => {
    const target = topology.get<StartedPostgres>('target');
    const from = topology.get<StartedPeer>('peer');
    await gracefulStop(target.container);
    expect(await state(target.container.getId())).toBe('exited 0');
    await start(target.container);
    await expect.poll(() => from.reach('target'), { timeout: 30_000 }).toBe(0);
    await restart(target.container);
    await expect.poll(() => from.reach('target'), { timeout: 30_000 }).toBe(0);
    await kill(target.container);
    expect(await state(target.container.getId())).toBe('exited 137');
  });
});
