/**
 * `umbra router export-info`: writes a seed file holding the running router's RouterInfo, for
 * other routers' `--seed-file`. The RouterInfo names the addresses the router actually bound,
 * so it is fetched from the running router's control API (`GET /api/info`); with no router
 * running there is nothing to export.
 */
import { resolve } from 'node:path'
import { writeFileAtomic } from '../util/files.ts'
import { decodeSeedInfo, formatSeedFile } from '../router/seed-file.ts'
import { ConfigError, DecodeError } from '../util/errors.ts'
import { failure, parse } from './args.ts'
import { askRouter, queryRouter, TARGET_OPTIONS } from './control-target.ts'

const HELP = `Usage: umbra router export-info [options]

Writes a seed file holding this router's signed RouterInfo (with the addresses it is bound
to), for other routers' --seed-file. The router must be running: the RouterInfo is fetched
from its control API.

Options:
  --data-dir DIR     the router's data directory (default: as for umbra router)
  --config FILE      the router's config file (to find its data directory)
  --api URL          the router's control API instead, e.g. http://127.0.0.1:7657 or unix:/path
  -o, --output FILE  where to write the seed file (default: stdout)
  -h, --help         show this text

Exit status: 0 written, 1 no router running or unreachable, 2 bad options.
`

/** The `umbra router export-info` command. Returns the exit code. */
export async function runExportInfo (argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parse(argv, { ...TARGET_OPTIONS, output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } })
    if (values.help === true) { process.stdout.write(HELP); return 0 }
    if (positionals.length > 0) throw new ConfigError(`unexpected argument '${positionals[0]}' (see umbra router export-info --help)`)
    if (values.output === '') throw new ConfigError('-o: needs a file name')
    const got = await queryRouter(values, '/api/info', 'router export-info', '; start the router first')
    if (typeof got === 'number') return got
    const target = got.target
    const b64 = (got.body as { info?: unknown } | null)?.info
    if (typeof b64 !== 'string') throw new DecodeError(`${target.url}/api/info did not answer {"info": "<base64>"}`)
    const entry = decodeSeedInfo(b64)
    // The status names the router; a failure here only costs the comment.
    const status = await askRouter(target, '/api/status').catch(() => undefined)
    const s = status !== undefined && 'body' in status ? status.body as { id?: unknown, network?: unknown } : {}
    const comments = ['umbra seed file: one base64 RouterInfo per line']
    if (typeof s.id === 'string' && typeof s.network === 'string') comments.push(`router ${s.id.slice(0, 64)} on network ${s.network.slice(0, 32)}`)
    comments.push(`exported ${new Date().toISOString()}`)
    const text = formatSeedFile([entry.bytes], comments)
    if (values.output === undefined) {
      process.stdout.write(text)
    } else {
      const out = resolve(values.output)
      await writeFileAtomic(out, text, 0o644)
      process.stderr.write(`wrote ${out}\n`)
    }
    return 0
  } catch (err) {
    return failure('router export-info', err)
  }
}
