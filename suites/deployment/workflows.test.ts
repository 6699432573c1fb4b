/**
 * The CI workflows are code: actionlint (github.com/rhysd/actionlint, built into .cache/bin from
 * the Go module proxy by scripts/build-go-tool.sh, here on first use) must pass on every one,
 * and must catch a broken one — otherwise a green run here says nothing about the workflows.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runDir } from '#fixtures/run/run-folder.js';
import { ensureGoTool } from '#fixtures/support/go-tool.js';

const execFileAsync = promisify(execFile);
const WORKFLOWS = join(REPO_ROOT, '.github', 'workflows');

const BUILT_ACTIONLINT = join(REPO_ROOT, '.cache', 'bin', 'actionlint');

/** BSS_ACTIONLINT when set, else the pinned build in .cache/bin, built on first use. */
async function actionlint(): Promise<string> {
  if (process.env.BSS_ACTIONLINT) {
    if (!existsSync(process.env.BSS_ACTIONLINT))
      throw new Error(`BSS_ACTIONLINT=${process.env.BSS_ACTIONLINT} does not exist; unset it to build actionlint`);
    return process.env.BSS_ACTIONLINT;
  }
  await ensureGoTool('actionlint');
  return BUILT_ACTIONLINT;
}

interface LintError {
  readonly message: string;
  readonly filepath: string;
  readonly line: number;
  readonly kind: string;
}

async function lint(files: readonly string[]): Promise<{ code: number; errors: LintError[] }> {
  try {
    await execFileAsync(await actionlint(), ['-format', '{{json .}}', ...files], { cwd: REPO_ROOT, timeout: 60_000 });
    return { code: 0, errors: [] };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number' || e.code !== 1)
      throw new Error(`actionlint failed to run: ${e.stderr ?? String(error)}`, { cause: error });
    return { code: 1, errors: JSON.parse(e.stdout || '[]') as LintError[] };
  }
}

describe('CI workflows', () => {
  // A first use builds actionlint (about a minute cold): in its own hook, not in a test's timeout.
  beforeAll(() => actionlint(), 15 * 60_000);
  const files = readdirSync(WORKFLOWS)
    .filter((f) => /\.ya?ml$/.test(f))
    .map((f) => join(WORKFLOWS, f));

  it('actionlint passes on every workflow (nightly with shards, pull request)', async () => {
    expect(files.map((f) => f.slice(WORKFLOWS.length + 1)).sort()).toEqual(['nightly.yml', 'pull-request.yml']);
    const result = await lint(files);
    expect(result.errors.map((e) => `${e.filepath}:${e.line} ${e.message}`)).toEqual([]);
    expect(result.code).toBe(0);
  });

  it('actionlint catches a broken workflow (negative control: a misspelt matrix key and a bad runner label)', async () => {
    const nightly = readFileSync(join(WORKFLOWS, 'nightly.yml'), 'utf8');
    const broken = nightly
      .replace('name: shard ${{ matrix.shard }}/3', 'name: shard ${{ matrix.shrd }}/3')
      .replace('ubuntu-24.04', 'ubuntu-2404');
    expect(broken).not.toBe(nightly);
    const dir = join(runDir(), 'deployment', 'workflows');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'nightly-broken.yml');
    writeFileSync(file, broken);
    const result = await lint([file]);
    expect(result.code).toBe(1);
    const messages = result.errors.map((e) => e.message).join('\n');
    expect(messages).toMatch(/shrd/);
    expect(messages).toMatch(/ubuntu-2404/);
  });
});
