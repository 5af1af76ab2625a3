#!/usr/bin/env -S node --initial-old-space-size=64
// (Heap flags: see src/cli/node-flags.ts; keep the three copies - here, there, package.json - equal.)
// The `umbra` command: runs the compiled CLI (built by `npm install`), or the TypeScript
// sources through tsx in a development checkout where dist/ has not been built or when
// UMBRA_FROM_SOURCE=1 (the tests set it, so they never run a stale build).
import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'

const built = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url))
if (existsSync(built) && process.env.UMBRA_FROM_SOURCE !== '1') {
  await import(pathToFileURL(built).href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import(new URL('../src/cli/main.ts', import.meta.url).href)
}
