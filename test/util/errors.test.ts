/** stackless: errors for ordinary events, made without a stack. */
import t from 'tap'
import { ClosedError, stackless } from '../../src/util/errors.ts'

t.test('stackless makes an error with no stack frames and restores the limit', async (t) => {
  const before = Error.stackTraceLimit
  const err = stackless(() => new ClosedError('peer closed the link'))
  t.ok(err instanceof ClosedError)
  t.equal(err.name, 'ClosedError')
  t.equal(err.message, 'peer closed the link')
  t.notMatch(err.stack ?? '', /\n\s+at /, 'no frames captured')
  t.equal(Error.stackTraceLimit, before)
  t.match(new Error('x').stack ?? '', /\n\s+at /, 'later errors get their stack')
})

t.test('stackless restores the limit when making the error throws', async (t) => {
  const before = Error.stackTraceLimit
  t.throws(() => stackless(() => { throw new Error('boom') }), /boom/)
  t.equal(Error.stackTraceLimit, before)
})
