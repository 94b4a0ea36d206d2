'use strict'
// The npm package's manifest: every module the entry points load is inside the `files` globs, the
// per-platform packages follow the root version, and `version` is the package's. An ES module sees
// the same named exports as require() does.
const { test } = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const manifest = require('../package.json')

function globToRegExp(glob) {
  return new RegExp('^' + glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$')
}
// npm always packs package.json; everything else must match a `files` glob.
const shipped = (file) => file === 'package.json' || manifest.files.some((g) => globToRegExp(g).test(file))

test('every module reachable from the entry points ships', () => {
  const seen = new Set()
  // Conditions nest (import / default, then types / default): every leaf is a file.
  const leaves = (e) => (typeof e === 'string' ? [e] : Object.values(e).flatMap(leaves))
  const entries = leaves(manifest.exports)
  const queue = entries.map((e) => path.normalize(e.replace(/^\.\//, '')))
  while (queue.length) {
    const file = queue.pop()
    if (seen.has(file)) continue
    seen.add(file)
    assert.ok(shipped(file), `${file} is required but not in package.json files`)
    // native.js is napi's loader: its requires are guarded fallbacks (platform files, WASI), and
    // the native module itself ships in the npm/ platform packages.
    if (!file.endsWith('.js') || file.endsWith('native.js')) continue
    const text = fs.readFileSync(path.join(root, file), 'utf8')
    for (const m of text.matchAll(/require\('(\.{1,2}\/[^']+)'\)/g)) {
      const target = path.normalize(path.join(path.dirname(file), m[1]))
      if (target === 'package.json' || target.endsWith('.node')) continue
      queue.push(target)
    }
  }
  assert.ok(seen.size > 30, `only ${seen.size} modules reached`)
  assert.ok(!manifest.files.some((g) => g.endsWith('.node')), 'native modules ship in the npm/ platform packages')
})

test('the platform packages are the napi targets, at the same version', () => {
  const dirs = fs.readdirSync(path.join(root, 'npm')).sort()
  assert.deepStrictEqual(dirs, ['linux-arm64-gnu', 'linux-arm64-musl', 'linux-x64-gnu', 'linux-x64-musl'])
  assert.strictEqual(manifest.napi.targets.length, dirs.length)
  for (const d of dirs) {
    const sub = require(`../npm/${d}/package.json`)
    assert.strictEqual(sub.name, `ferrule-${d}`)
    assert.strictEqual(sub.version, manifest.version)
    assert.deepStrictEqual(sub.files, [`ferrule.${d}.node`, 'LICENSE', 'NOTICE'])
  }
})

test('version is the package version, the same as Cargo and the native loader expect', () => {
  assert.strictEqual(require('ferrule').version, manifest.version)
  const cargo = fs.readFileSync(path.join(root, 'Cargo.toml'), 'utf8')
  assert.match(cargo, new RegExp(`\\nversion = "${manifest.version.replace(/\./g, '\\.')}"`))
  const loader = fs.readFileSync(path.join(root, 'bindings-node', 'native.js'), 'utf8')
  assert.ok(loader.includes(`bindingPackageVersion !== '${manifest.version}'`), 'run `npm run build` to regenerate native.js')
})

test('the licence ships in every package', () => {
  assert.match(fs.readFileSync(path.join(root, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0/)
  for (const name of ['LICENSE', 'NOTICE']) assert.ok(shipped(name), `${name} is not in package.json files`)
})

// Node finds a CommonJS module's named exports for `import { x } from` by reading its source
// (static patterns only): a name assigned in a way it cannot see compiles in TypeScript and then
// fails at import time with "does not provide an export named". Every public name must be seen.
test('an ES module imports every public name', async () => {
  for (const entry of ['ferrule', 'ferrule/langchain']) {
    const cjs = require(entry)
    const esm = await import(entry)
    const missing = Object.keys(cjs).filter((k) => !(k in esm))
    assert.deepStrictEqual(missing, [], `${entry}: not importable by name from an ES module`)
    for (const k of Object.keys(cjs)) assert.strictEqual(esm[k], cjs[k], `${entry}: ${k}`)
    assert.strictEqual(esm.default, cjs)
  }
})

test('the ES module declarations of ferrule/langchain are the CommonJS ones', () => {
  const dir = path.join(root, 'bindings-node')
  const body = (file) => fs.readFileSync(path.join(dir, file), 'utf8').split('\n').filter((l) => !l.startsWith('//'))
  const cjs = body('langchain.d.ts')
  // ES modules name the file they import: './index' becomes './index.js'.
  assert.deepStrictEqual(body('langchain.d.mts'), cjs.map((l) => l.replace("from './index'", "from './index.js'")),
    'langchain.d.mts must be langchain.d.ts with the relative import spelled with .js')
  const lc = manifest.exports['./langchain']
  assert.strictEqual(lc.import.types, './bindings-node/langchain.d.mts')
  assert.strictEqual(lc.default.types, './bindings-node/langchain.d.ts')
})
