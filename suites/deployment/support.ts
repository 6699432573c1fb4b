import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A /24 under 10.213.0.0/16 that no Docker network on this engine uses (compose's BSS_SUBNET). */
export async function freeSubnet(): Promise<string> {
  const { stdout: ids } = await execFileAsync('docker', ['network', 'ls', '-q'], { timeout: 15_000 });
  const { stdout } = await execFileAsync(
    'docker',
    ['network', 'inspect', '--format', '{{range .IPAM.Config}}{{.Subnet}} {{end}}', ...ids.split('\n').filter(Boolean)],
    { timeout: 15_000 },
  );
  const used = stdout.split(/\s+/).filter(Boolean);
  for (let attempt = 0; attempt < 250; attempt++) {
    const candidate = `10.213.${(process.pid + attempt) % 250}.0/24`;
    if (
      !used.some(
        (subnet) =>
          subnet.startsWith(candidate.split('.').slice(0, 3).join('.') + '.') ||
          subnet.startsWith('10.213.0.0/16') ||
          subnet === '10.0.0.0/8',
      )
    ) {
      return candidate;
    }
  }
  throw new Error('No free /24 under 10.213.0.0/16 for the compose network; remove unused Docker networks (`docker network prune`)');
}
