/**
 * Benchmark runner: `npm run bench -- NAME [--json] [options]` runs bench/NAME.ts.
 * Human output by default; with --json every figure is one JSON line
 * {"bench","case","metric","value","unit"}.
 */
import { report, setJson } from './report.ts'

const [name, ...rest] = process.argv.slice(2)
const known = ['link', 'handshake', 'netdb', 'tunnel', 'api', 'accounting', 'fs', 'chat', 'cover', 'admission']
if (name === undefined || !known.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${known.join('|')}> [--json]\n`)
  process.exit(2)
}
setJson(rest.includes('--json'))
const mod = await import(`./${name}.ts`) as { run: (args: string[], r: typeof report) => Promise<void> }
await mod.run(rest.filter(a => a !== '--json'), report)
