/**
 * Finds the control API of a running router for `umbra status` and `umbra router export-info`:
 * `--api URL` if given, else the URL in `<dataDir>/control.json`, where the data directory
 * comes from `--data-dir`, `--config`, `UMBRA_DATA_DIR` or the default (as for `umbra router`).
 */
import { ControlHttpError, controlGet } from '../api/control-client.ts'
import { loadConfig } from '../router/config.ts'
import { controlFilePath, readControlFile } from '../router/control-file.ts'
import { ConfigError, DecodeError, LimitError, UmbraError } from '../util/errors.ts'

/** Where to reach the API, or why there is nothing to reach. */
export type ControlTarget = { url: string, dataDir?: string } | { notRunning: string }

/** Options naming the router: at most one of `api` and `dataDir`/`config`. */
export interface TargetOptions {
  api?: string
  dataDir?: string
  config?: string
}

/** Resolves the control API's base URL; ConfigError for contradictory options or a bad config. */
async function findControlApi (o: TargetOptions, env: NodeJS.ProcessEnv = process.env): Promise<ControlTarget> {
  if (o.api !== undefined) {
    if (o.dataDir !== undefined || o.config !== undefined) throw new ConfigError('give either --api or --data-dir/--config, not both')
    if (o.api.startsWith('unix:/')) return { url: o.api }
    if (!/^http:\/\/[^/?#]+\/?$/.test(o.api)) throw new ConfigError(`--api must be the API's base URL, e.g. http://127.0.0.1:7657 or unix:/path, got '${o.api}'`)
    return { url: o.api.replace(/\/$/, '') }
  }
  const cfg = await loadConfig({
    ...(o.dataDir !== undefined ? { 'data-dir': o.dataDir } : {}),
    ...(o.config !== undefined ? { config: o.config } : {})
  }, env)
  const c = await readControlFile(cfg.dataDir)
  if (c === undefined) {
    return { notRunning: `no router is running with data directory ${cfg.dataDir} (no ${controlFilePath(cfg.dataDir)}); start one with \`umbra router --data-dir ${cfg.dataDir}\`` }
  }
  return { url: c.url, dataDir: cfg.dataDir }
}

/**
 * GETs `path` from the target; a failure to reach it becomes a "not running" message (stale
 * control.json, router gone, timeout). Returns `{ body }` or `{ notRunning }`; throws when
 * something answered, but not the API (ControlHttpError, DecodeError).
 */
export async function askRouter (t: { url: string, dataDir?: string }, path: string, timeoutMs = 3000): Promise<{ body: unknown } | { notRunning: string }> {
  try {
    return { body: await controlGet(t.url, path, { timeoutMs }) }
  } catch (err) {
    // It answered, but not as expected: that is not "not running".
    if (err instanceof ConfigError || err instanceof ControlHttpError || err instanceof DecodeError || err instanceof LimitError) throw err
    const why = err instanceof UmbraError ? err.message : String(err)
    const hint = t.dataDir !== undefined ? `; is the router with data directory ${t.dataDir} running? (its control.json may be stale)` : ''
    return { notRunning: `the router's control API at ${t.url} does not answer: ${why}${hint}` }
  }
}

/** The options every command that asks a running router takes (parse() option specs). */
export const TARGET_OPTIONS = {
  'data-dir': { type: 'string' },
  config: { type: 'string' },
  api: { type: 'string' }
} as const

/**
 * Finds the router named by the parsed target options and GETs `path` from it. When no router
 * answers, prints `umbra <cmd>: <why><hint>` and returns exit code 1; otherwise the target and
 * the answer. Throws like {@link findControlApi} and {@link askRouter}.
 */
export async function queryRouter (values: { 'data-dir'?: string, config?: string, api?: string }, path: string, cmd: string, hint = ''):
Promise<{ target: { url: string, dataDir?: string }, body: unknown } | number> {
  const target = await findControlApi({ api: values.api, dataDir: values['data-dir'], config: values.config })
  const got = 'notRunning' in target ? target : await askRouter(target, path)
  if ('notRunning' in got) {
    process.stderr.write(`umbra ${cmd}: ${got.notRunning}${hint}\n`)
    return 1
  }
  return { target: target as { url: string, dataDir?: string }, body: got.body }
}
