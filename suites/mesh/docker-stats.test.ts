/** CPU and memory from cgroup readings: parsing both cgroup versions and CPU over a window. No containers. */
import { describe, expect, it } from 'vitest';
import { cpuPercentOver, parseCgroup, resourceSeries, type CgroupSample } from './docker-stats.js';

describe('mesh performance: cgroup readings', () => {
  it('parses cgroup v1 (cpuacct.usage in ns, total_rss) and v2 (usage_usec, anon)', () => {
    expect(parseCgroup('1500000000\n', 'cache 10\nrss 2097152\ntotal_rss 4194304\n')).toEqual({ cpuNs: 1_500_000_000, rssMiB: 4 });
    expect(parseCgroup('usage_usec 2500\nuser_usec 2000\n', 'anon 1048576\nfile 5\n')).toEqual({ cpuNs: 2_500_000, rssMiB: 1 });
  });

  it('CPU over a window is the difference of the first and last readings inside it, as a share of the cores', () => {
    // k6 uses one full core from t=1000 to t=9000 on a 2-core machine: 50 % of the machine.
    const samples: CgroupSample[] = Array.from({ length: 21 }, (_, i) => ({
      wallMs: i * 500,
      container: 'k6',
      cpuNs: Math.max(0, Math.min(i * 500, 9000) - 1000) * 1e6,
      rssMiB: 50,
    }));
    expect(cpuPercentOver(samples, 'k6', 1000, 9000, 2)).toBeCloseTo(50, 5);
    // Too few readings inside the window: no figure rather than a guess.
    expect(cpuPercentOver(samples, 'k6', 1100, 1400, 2)).toBeUndefined();
    expect(cpuPercentOver(samples, 'envoy', 1000, 9000, 2)).toBeUndefined();
    expect(resourceSeries(samples, 'k6')[5]).toEqual({ wallMs: 3000, cpuCores: 1, rssMiB: 50 });
  });
});
