#!/usr/bin/env node
// Fails (exit 1) when the TypeScript sources import each other in a cycle, naming each cycle.
// Reads fixtures/, suites/, compose/ (not node_modules): relative imports ('./x.js' is x.ts) and
// the package's '#fixtures/*' / '#suites/*' aliases. Type-only imports count too: a type cycle
// is still a layering cycle. Run by `npm run check`.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import process from 'node:process';

/* global console, URL */

// The repository, or the folder given (the unit test runs it on a tree of its own).
const root = process.argv[2] ? resolve(process.argv[2]) : resolve(dirname(new URL(import.meta.url).pathname), '..');
const files = [];
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
  }
};
for (const top of ['fixtures', 'suites', 'compose']) if (existsSync(join(root, top))) walk(join(root, top));

const target = (from, spec) => {
  let path;
  if (spec.startsWith('#fixtures/')) path = join(root, 'fixtures', spec.slice('#fixtures/'.length));
  else if (spec.startsWith('#suites/')) path = join(root, 'suites', spec.slice('#suites/'.length));
  else if (spec.startsWith('.')) path = resolve(dirname(from), spec);
  else return undefined;
  for (const candidate of [path, path.replace(/\.js$/, '.ts'), `${path}.ts`])
    if (existsSync(candidate) && candidate.endsWith('.ts')) return candidate;
  return undefined;
};

const graph = new Map();
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const deps = new Set();
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/g)) {
    const to = target(file, m[1]);
    if (to) deps.add(to);
  }
  graph.set(file, [...deps]);
}

// Tarjan's strongly connected components: every component of more than one file is a cycle.
let index = 0;
const stack = [];
const state = new Map();
const cycles = [];
const strong = (v) => {
  state.set(v, { index, low: index, onStack: true });
  index += 1;
  stack.push(v);
  for (const w of graph.get(v) ?? []) {
    if (!state.has(w)) {
      strong(w);
      state.get(v).low = Math.min(state.get(v).low, state.get(w).low);
    } else if (state.get(w).onStack) state.get(v).low = Math.min(state.get(v).low, state.get(w).index);
  }
  if (state.get(v).low === state.get(v).index) {
    const component = [];
    let w;
    do {
      w = stack.pop();
      state.get(w).onStack = false;
      component.push(w);
    } while (w !== v);
    if (component.length > 1) cycles.push(component.map((f) => relative(root, f)).sort());
  }
};
for (const v of graph.keys()) if (!state.has(v)) strong(v);

if (cycles.length > 0) {
  console.error(`import cycles (${cycles.length}): break each by moving what both sides need into a module of its own`);
  for (const c of cycles) console.error(`  ${c.join(' ↔ ')}`);
  process.exit(1);
}
console.log(`import cycles: none among ${files.length} files`);
