/** CPU and memory of containers while load runs, from `docker stats` (bounded sampling loop). */
import { run } from '#fixtures/support/exec.js';

export interface StatsSample {
  /** ms since the sampler started. */
  readonly at: number;
  readonly container: string;
  /** docker's CPUPerc: 100 = one core. */
  readonly cpuPercent: number;
  readonly memMiB: number;
}

const UNITS: Record<string, number> = { B: 1 / 1048576, KiB: 1 / 1024, MiB: 1, GiB: 1024, kB: 1 / 1048.576, MB: 1 / 1.048576, GB: 953.674 };

export function parseMemory(text: string): number {
  const match = /^([\d.]+)\s*([A-Za-z]+)/.exec(text.split('/')[0]!.trim());
  return match ? Number(match[1]) * (UNITS[match[2]!] ?? Number.NaN) : Number.NaN;
}

/** Samples until `stop()` is called or `maxSamples` rounds are taken, whichever comes first. */
export function sampleDockerStats(ids: Readonly<Record<string, string>>, maxSamples = 600): { stop(): Promise<StatsSample[]> } {
  const samples: StatsSample[] = [];
  const origin = performance.now();
  let running = true;
  const loop = (async () => {
    for (let i = 0; running && i < maxSamples; i += 1) {
      const out = await run('docker', ['stats', '--no-stream', '--format', '{{json .}}', ...Object.values(ids)], { timeoutMs: 10_000 });
      const at = performance.now() - origin;
      for (const line of out.stdout.split('\n').filter(Boolean)) {
        const row = JSON.parse(line) as { ID: string; Container: string; CPUPerc: string; MemUsage: string };
        const name =
          Object.entries(ids).find(([, id]) => id.startsWith(row.ID) || row.ID.startsWith(id.slice(0, 12)) || row.Container === id)?.[0] ??
          row.ID;
        samples.push({ at, container: name, cpuPercent: Number.parseFloat(row.CPUPerc), memMiB: parseMemory(row.MemUsage) });
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}
