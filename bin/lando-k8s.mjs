#!/usr/bin/env node
// The service's launcher (`npm start`). It runs the compiled service when `npm run build` has
// produced a dist/ newer than every source file, which starts in a fraction of the time, and
// otherwise the TypeScript source through tsx, so a fresh clone works without a build.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = join(root, 'dist', 'src', 'composition', 'main.js');

function newestSourceTime(directory) {
  let newest = 0;
  for (const entry of readdirSync(directory, { withFileTypes: true })) {
    const path = join(directory, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceTime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function compiledIsCurrent() {
  try {
    return statSync(compiled).mtimeMs >= newestSourceTime(join(root, 'src'));
  } catch {
    return false;
  }
}

if (compiledIsCurrent()) {
  await import(compiled);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(join(root, 'src', 'composition', 'main.ts'));
}
