// AbortSignal helpers: typed reasons, racing a promise against a signal (and letting go of the
// listener after), and a fanned-out signal many concurrent operations can race without a Node
// warning and without adding listeners to the caller's signal.
import t from 'tap'
import { getEventListeners } from 'node:events'
import { abortReason, fanOutSignal, raceSignal, throwIfAborted, withTimeout } from '../../src/util/abort.ts'
import { AbortError, TimeoutError } from '../../src/util/errors.ts'

t.test('typed reasons', async t => {
  t.doesNotThrow(() => { throwIfAborted(undefined) })
  t.doesNotThrow(() => { throwIfAborted(new AbortController().signal) })
  const ac = new AbortController()
  ac.abort()
  t.throws(() => { throwIfAborted(ac.signal) }, { name: 'AbortError' })
  const timedOut = new AbortController()
  timedOut.abort(new TimeoutError('late'))
  t.equal(abortReason(timedOut.signal), timedOut.signal.reason, 'a TimeoutError reason is passed on as it is')
  const domTimeout = new AbortController()
  domTimeout.abort(new DOMException('x', 'TimeoutError'))
  t.equal(abortReason(domTimeout.signal).name, 'TimeoutError', "a DOMException TimeoutError becomes ours")
  t.ok(abortReason(domTimeout.signal) instanceof TimeoutError)
  const own = new AbortController()
  own.abort(new AbortError('stop'))
  t.equal(abortReason(own.signal), own.signal.reason)
})

t.test('withTimeout fires with a TimeoutError, or when the caller aborts', async t => {
  const s = withTimeout(5)
  const keepAlive = setTimeout(() => {}, 10_000) // AbortSignal.timeout's timer does not hold the process
  await new Promise(resolve => s.addEventListener('abort', resolve, { once: true }))
  clearTimeout(keepAlive)
  t.equal(abortReason(s).name, 'TimeoutError')
  const ac = new AbortController()
  const s2 = withTimeout(60_000, ac.signal)
  ac.abort()
  t.ok(s2.aborted)
  t.equal(abortReason(s2).name, 'AbortError')
})

t.test('raceSignal settles like the promise, rejects on abort and removes its listener', async t => {
  const ac = new AbortController()
  t.equal(await raceSignal(Promise.resolve(7), ac.signal), 7)
  await t.rejects(raceSignal(Promise.reject(new Error('boom')), ac.signal), { message: 'boom' })
  t.equal(getEventListeners(ac.signal, 'abort').length, 0, 'no listener left behind')
  let released = 0
  const pending = raceSignal(new Promise(() => {}), ac.signal, () => { released++ })
  t.equal(getEventListeners(ac.signal, 'abort').length, 1)
  ac.abort()
  await t.rejects(pending, { name: 'AbortError' })
  t.equal(released, 1, 'onAbort ran once')
  await t.rejects(raceSignal(Promise.resolve(1), ac.signal), { name: 'AbortError' }, 'an aborted signal rejects at once')
})

t.test('fanOutSignal: many racers, no warning, no listener on the caller\'s signal', async t => {
  t.equal(fanOutSignal(undefined), undefined)
  const warnings: Error[] = []
  const onWarning = (w: Error): void => { warnings.push(w) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  const ac = new AbortController()
  const shared = fanOutSignal(ac.signal)!
  const racers = Array.from({ length: 64 }, async () => await raceSignal(new Promise(() => {}), shared))
  t.equal(getEventListeners(shared, 'abort').length, 64, 'all 64 listen on the fanned-out signal')
  t.equal(getEventListeners(ac.signal, 'abort').length, 0, 'the caller\'s signal gained none')
  const reason = new AbortError('user pressed Ctrl-C')
  ac.abort(reason)
  t.ok(shared.aborted, 'the fanned-out signal follows the caller\'s')
  t.equal(shared.reason, reason, 'with its reason')
  const results = await Promise.allSettled(racers)
  t.ok(results.every(r => r.status === 'rejected' && (r.reason as Error).name === 'AbortError'), 'every racer rejected with AbortError')
  await new Promise(resolve => setImmediate(resolve))
  t.same(warnings.map(w => w.name), [], 'no MaxListenersExceededWarning')

  // The same 64 racers on a plain signal do warn: what the fanned-out signal avoids.
  const plain = new AbortController()
  const racers2 = Array.from({ length: 64 }, async () => await raceSignal(new Promise(() => {}), plain.signal))
  plain.abort()
  await Promise.allSettled(racers2)
  await new Promise(resolve => setImmediate(resolve))
  t.ok(warnings.some(w => w.name === 'MaxListenersExceededWarning'), 'a plain signal with 64 racers warns')
})
