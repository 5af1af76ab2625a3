/**
 * Cover presets and their checked merge with overrides: the preset values, defaults, overrides,
 * and every kind of bad value, name or key.
 */
import t from 'tap'
import { COVER_PRESETS, coverSettings, type CoverSettings } from '../../src/cover/presets.ts'
import { ConfigError } from '../../src/util/errors.ts'

t.test('the presets', async t => {
  t.same(COVER_PRESETS.off, { linkRate: 0, strict: false, loopIntervalMs: 0, destinationRate: 0 })
  t.same(COVER_PRESETS.low, { linkRate: 20, strict: false, loopIntervalMs: 5000, destinationRate: 0 })
  t.same(COVER_PRESETS.high, { linkRate: 400, strict: true, loopIntervalMs: 1000, destinationRate: 0 })
  t.same(Object.keys(COVER_PRESETS), ['off', 'low', 'high'])
  t.ok(Object.isFrozen(COVER_PRESETS) && Object.isFrozen(COVER_PRESETS.high), 'frozen')
  for (const name of ['off', 'low', 'high']) t.same(coverSettings(name), COVER_PRESETS[name as 'off'], `${name} passes its own checks`)
})

t.test('defaults and overrides', async t => {
  t.same(coverSettings(), COVER_PRESETS.off, 'no preset: off')
  t.same(coverSettings(undefined, { linkRate: 50 }), { ...COVER_PRESETS.off, linkRate: 50 })
  t.same(coverSettings('high', { strict: false, destinationRate: 2.5 }),
    { linkRate: 400, strict: false, loopIntervalMs: 1000, destinationRate: 2.5 })
  t.same(coverSettings('low', { linkRate: undefined }), COVER_PRESETS.low, 'undefined overrides are ignored')
  t.same(coverSettings('low', { loopIntervalMs: 0, linkRate: 10_000 }), { ...COVER_PRESETS.low, loopIntervalMs: 0, linkRate: 10_000 }, 'edges')
  t.same(coverSettings('low', { loopIntervalMs: 100 }).loopIntervalMs, 100)
  const mine = coverSettings('high')
  mine.linkRate = 1
  t.equal(COVER_PRESETS.high.linkRate, 400, 'a fresh object each time')
})

t.test('unknown names and keys', async t => {
  for (const name of ['medium', 'HIGH', '', 'toString', '__proto__']) {
    t.throws(() => coverSettings(name), ConfigError, `preset '${name}'`)
  }
  t.throws(() => coverSettings('low', { linkrate: 5 } as unknown as Partial<CoverSettings>), ConfigError, 'a misspelt key')
})

t.test('bad values', async t => {
  const bad: Array<Partial<Record<keyof CoverSettings, unknown>>> = [
    { linkRate: -1 }, { linkRate: Number.NaN }, { linkRate: Infinity }, { linkRate: 10_001 }, { linkRate: '5' },
    { destinationRate: -0.1 }, { destinationRate: Number.NaN }, { destinationRate: 20_000 },
    { loopIntervalMs: 50 }, { loopIntervalMs: 99.9 }, { loopIntervalMs: -1 }, { loopIntervalMs: Number.NaN }, { loopIntervalMs: Infinity },
    { strict: 1 }, { strict: 'yes' }
  ]
  for (const o of bad) {
    t.throws(() => coverSettings('low', o as Partial<CoverSettings>), ConfigError, JSON.stringify(o, (_, v) => typeof v === 'number' && !Number.isFinite(v) ? String(v) : v))
  }
})
