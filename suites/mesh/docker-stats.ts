/**
 * CPU and memory of containers while load runs, read from their cgroups: cumulative CPU time
 * (ns) and resident memory, sampled every `periodMs`, so CPU over any window is the difference of
 * two readings, not docker stats' coarse instantaneous figure. The host's cgroup files are read
 * directly where they are visible (cgroup v1 cgroupfs/systemd, cgroup v2); otherwise inside the
 * container with `docker exec cat`. Bounded sampling loop.
 */
import { readFileSync } from 'node:fs';
import { run } from '#fixtures/support/exec.js';

export interface CgroupSample {
  /** Wall clock (Date.now()) of the reading, comparable with timestamps taken inside containers. */
  readonly wallMs: number;
  readonly container: string;
  /** Cumulative CPU time of the container's cgroup. */
  readonly cpuNs: number;
  /** Resident (anonymous) memory. */
  readonly rssMiB: number;
}

interface Reader {
  readonly source: string;
  read(): Promise<{ cpuNs: number; rssMiB: number }>;
}

const MiB = 1024 * 1024;

/** CPU ns and RSS MiB from the texts of a cgroup's files (v1: cpuacct.usage + memory.stat; v2: cpu.stat + memory.stat). */
export function parseCgroup(cpuText: string, memoryStat: string): { cpuNs: number; rssMiB: number } {
  const field = (text: string, name: string): number | undefined => {
    const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const usec = field(cpuText, 'usage_usec');
  const cpuNs = usec !== undefined ? usec * 1000 : Number(cpuText.trim());
  const rss = field(memoryStat, 'total_rss') ?? field(memoryStat, 'rss') ?? field(memoryStat, 'anon');
  return { cpuNs, rssMiB: rss === undefined ? Number.NaN : rss / MiB };
}

function hostReader(id: string): Reader | undefined {
  const candidates: Array<[string, string]> = [
    [`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, `/sys/fs/cgroup/memory/docker/${id}/memory.stat`],
    [
      `/sys/fs/cgroup/cpuacct/system.slice/docker-${id}.scope/cpuacct.usage`,
      `/sys/fs/cgroup/memory/system.slice/docker-${id}.scope/memory.stat`,
    ],
    [`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, `/sys/fs/cgroup/system.slice/docker-${id}.scope/memory.stat`],
    [`/sys/fs/cgroup/docker/${id}/cpu.stat`, `/sys/fs/cgroup/docker/${id}/memory.stat`],
  ];
  for (const [cpu, memory] of candidates) {
    try {
      parseCgroup(readFileSync(cpu, 'utf8'), readFileSync(memory, 'utf8'));
      return { source: cpu, read: async () => parseCgroup(readFileSync(cpu, 'utf8'), readFileSync(memory, 'utf8')) };
    } catch {
      // not this layout
    }
  }
  return undefined;
}

async function execReader(id: string): Promise<Reader | undefined> {
  const layouts: Array<[string, string]> = [
    ['/sys/fs/cgroup/cpuacct/cpuacct.usage', '/sys/fs/cgroup/memory/memory.stat'],
    ['/sys/fs/cgroup/cpu.stat', '/sys/fs/cgroup/memory.stat'],
  ];
  for (const [cpu, memory] of layouts) {
    const read = async (): Promise<{ cpuNs: number; rssMiB: number }> => {
      const [c, m] = await Promise.all([
        run('docker', ['exec', id, 'cat', cpu], { timeoutMs: 5_000 }),
        run('docker', ['exec', id, 'cat', memory], { timeoutMs: 5_000 }),
      ]);
      if (c.code !== 0 || m.code !== 0) throw new Error(`docker exec cat ${cpu}: ${c.stderr.trim() || m.stderr.trim()}`);
      return parseCgroup(c.stdout, m.stdout);
    };
    try {
      if (Number.isFinite((await read()).cpuNs)) return { source: `docker exec ${cpu}`, read };
    } catch {
      // not this layout
    }
  }
  return undefined;
}

/**
 * Samples every `periodMs` until `stop()` or `maxSamples` rounds. Containers whose cgroup cannot be
 * read are named in `unreadable` (their figures are then missing, never guessed).
 */
export async function sampleCgroups(
  ids: Readonly<Record<string, string>>,
  options: { periodMs?: number; maxSamples?: number } = {},
): Promise<{ sources: Record<string, string>; unreadable: string[]; stop(): Promise<CgroupSample[]> }> {
  const periodMs = options.periodMs ?? 500;
  const maxSamples = options.maxSamples ?? 2_000;
  const readers: Record<string, Reader> = {};
  const unreadable: string[] = [];
  for (const [name, id] of Object.entries(ids)) {
    const reader = hostReader(id) ?? (await execReader(id));
    if (reader) readers[name] = reader;
    else unreadable.push(name);
  }
  const samples: CgroupSample[] = [];
  let running = true;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    for (let i = 0; running && i < maxSamples; i += 1) {
      const due = Date.now() + periodMs;
      await Promise.all(
        Object.entries(readers).map(async ([container, reader]) => {
          try {
            const wallMs = Date.now();
            const { cpuNs, rssMiB } = await reader.read();
            samples.push({ wallMs, container, cpuNs, rssMiB });
          } catch {
            // a missed reading leaves a gap; deltas span the readings that exist
          }
        }),
      );
      const wait = due - Date.now();
      if (running && wait > 0) await new Promise<void>((resolve) => ((wake = resolve), setTimeout(resolve, wait)));
    }
  })();
  return {
    sources: Object.fromEntries(Object.entries(readers).map(([name, r]) => [name, r.source])),
    unreadable,
    async stop() {
      running = false;
      wake?.();
      await loop;
      return samples.sort((a, b) => a.wallMs - b.wallMs);
    },
  };
}

/**
 * CPU used by `container` over [fromMs, toMs] (wall clock) as a share of `cores` (100 = the whole
 * machine), from the first and last readings inside the window; undefined when fewer than two
 * readings fall inside it or they span less than half of it.
 */
export function cpuPercentOver(
  samples: readonly CgroupSample[],
  container: string,
  fromMs: number,
  toMs: number,
  cores: number,
): number | undefined {
  const inside = samples.filter((s) => s.container === container && s.wallMs >= fromMs && s.wallMs <= toMs);
  if (inside.length < 2) return undefined;
  const first = inside[0]!;
  const last = inside[inside.length - 1]!;
  const spanMs = last.wallMs - first.wallMs;
  if (spanMs < (toMs - fromMs) / 2) return undefined;
  return ((last.cpuNs - first.cpuNs) / (spanMs * 1e6) / cores) * 100;
}

/** Per-interval CPU (cores) and RSS of one container, from consecutive readings. */
export function resourceSeries(
  samples: readonly CgroupSample[],
  container: string,
): Array<{ wallMs: number; cpuCores: number; rssMiB: number }> {
  const own = samples.filter((s) => s.container === container);
  const out: Array<{ wallMs: number; cpuCores: number; rssMiB: number }> = [];
  for (let i = 1; i < own.length; i += 1) {
    const a = own[i - 1]!;
    const b = own[i]!;
    if (b.wallMs > a.wallMs)
      out.push({ wallMs: b.wallMs, cpuCores: (b.cpuNs - a.cpuNs) / ((b.wallMs - a.wallMs) * 1e6), rssMiB: b.rssMiB });
  }
  return out;
}
