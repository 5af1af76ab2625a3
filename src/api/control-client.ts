/**
 * A client of the control API (`control.ts`), for `umbra status` and `umbra router
 * export-info`: one bounded GET (deadline, at most 1 MiB of answer) returning parsed JSON.
 */
import * as http from 'node:http'
import { ConfigError, DecodeError, LimitError, TimeoutError, TransportError } from '../util/errors.ts'

/** The API answered with an HTTP status other than 200. */
export class ControlHttpError extends TransportError {
  constructor (message: string, readonly status: number) {
    super(message)
  }
}

/** Largest answer read. */
const MAX_ANSWER_BYTES = 1024 * 1024

/**
 * GETs `path` under the API at `baseUrl` (`http://127.0.0.1:7657` or `unix:/path/to.sock`) and
 * parses the JSON answer.
 * Throws TimeoutError after `timeoutMs` (default 3000), TransportError when nothing answers or
 * the answer is not 200 (a {@link ControlHttpError}), DecodeError when it is not JSON, ConfigError for a bad `baseUrl`.
 */
export async function controlGet (baseUrl: string, path: string, opts: { timeoutMs?: number } = {}): Promise<unknown> {
  let url: URL
  let socketPath: string | undefined
  try {
    if (baseUrl.startsWith('unix:/')) {
      socketPath = baseUrl.slice(5)
      url = new URL(path, 'http://localhost')
    } else {
      url = new URL(path, baseUrl)
    }
  } catch (err) {
    throw new ConfigError(`not a URL: ${baseUrl}`, { cause: err })
  }
  if (url.protocol !== 'http:') throw new ConfigError(`the control API URL must start with http:// or unix:/, got ${baseUrl}`)
  const timeoutMs = opts.timeoutMs ?? 3000
  const where = socketPath !== undefined ? `unix:${socketPath}` : url.origin
  const href = `${where}${url.pathname}`
  return await new Promise((resolve, reject) => {
    const target: http.RequestOptions = socketPath !== undefined
      ? { socketPath }
      : { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? 80 : Number(url.port) }
    const req = http.get({ ...target, path: url.pathname + url.search, headers: { Accept: 'application/json', Host: url.host }, agent: false }, (res) => {
      const chunks: Buffer[] = []
      let n = 0
      res.on('data', (d: Buffer) => {
        n += d.length
        if (n > MAX_ANSWER_BYTES) { req.destroy(new LimitError(`answer from ${href} exceeds ${MAX_ANSWER_BYTES} bytes`)); return }
        chunks.push(d)
      })
      res.on('end', () => {
        clearTimeout(timer)
        const text = Buffer.concat(chunks).toString('utf8')
        let body: unknown
        try {
          body = JSON.parse(text)
        } catch (err) {
          reject(new DecodeError(`${href} did not answer JSON (HTTP ${res.statusCode ?? '?'})`, { cause: err }))
          return
        }
        if (res.statusCode !== 200) {
          const why = typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string' ? `: ${(body as { error: string }).error}` : ''
          reject(new ControlHttpError(`${href} answered HTTP ${res.statusCode ?? '?'}${why}`, res.statusCode ?? 0))
          return
        }
        resolve(body)
      })
      res.on('error', (err) => { clearTimeout(timer); reject(err) })
    })
    const timer = setTimeout(() => { req.destroy(new TimeoutError(`no answer from ${where} within ${timeoutMs} ms`)) }, timeoutMs)
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      if (err instanceof TimeoutError || err instanceof LimitError) reject(err)
      else reject(new TransportError(`cannot reach ${where}: ${err.code ?? err.message}`, { cause: err }))
    })
  })
}
