#!/bin/sh
":" //; exec node --initial-old-space-size=64 --max-semi-space-size=4 "$0" "$@"
// Run as a program, the line above is shell: it starts node with the heap flags of
// src/cli/node-flags.ts (kept equal there, here and in package.json); `env -S` in a shebang
// would do the same but BusyBox's env (Alpine) lacks it. To node, that line is a string and a
// comment.
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
