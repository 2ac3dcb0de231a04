'use strict'
// Writes the Botpress OpenAPI document (from the pinned @botpress/api) to ./generated/openapi.json.
// Run by `npm test` (pretest) and idempotent; safe to call at suite start.
const fs = require('node:fs')
const path = require('node:path')

const OUT_DIR = path.join(__dirname, 'generated')
const OUT_FILE = path.join(OUT_DIR, 'openapi.json')

async function generate() {
  fs.mkdirSync(OUT_DIR, { recursive: true })
  const { api } = require('@botpress/api')
  await api.exportOpenapi(OUT_DIR)
  if (!fs.existsSync(OUT_FILE)) {
    throw new Error(`exportOpenapi did not write ${OUT_FILE}`)
  }
  return OUT_FILE
}

module.exports = { generate, OUT_DIR, OUT_FILE }

if (require.main === module) {
  generate()
    .then((f) => {
      const doc = JSON.parse(fs.readFileSync(f, 'utf8'))
      let n = 0
      for (const p of Object.values(doc.paths)) n += Object.keys(p).length
      console.log(`wrote ${path.relative(process.cwd(), f)} (OpenAPI ${doc.openapi}, ${n} operations)`)
    })
    .catch((e) => {
      console.error(e)
      process.exit(1)
    })
}
