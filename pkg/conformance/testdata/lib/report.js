'use strict'
// Coverage summary printed at the end of the suite and written to generated/coverage.json.
const fs = require('node:fs')
const path = require('node:path')

function buildReport(proxy, operations) {
  const coverage = proxy.coverage()
  const missing = operations.filter((op) => !coverage[op])
  const extra = Object.keys(coverage).filter((op) => !operations.includes(op))
  const invalid = proxy.invalid().map((r) => ({
    seq: r.seq,
    method: r.method,
    path: r.path,
    status: r.status,
    operationId: r.operationId,
    errors: r.errors,
    responseBody: r.responseBody,
  }))
  return { upstream: proxy.upstream, totalResponses: proxy.records.length, coverage, missing, extra, invalid }
}

/** Invalid responses grouped by (operation, status, messages): [{first, count, errors}] */
function groupInvalid(rep) {
  const groups = new Map()
  for (const r of rep.invalid) {
    const sig = `${r.operationId} ${r.status} ${r.errors.join('|')}`
    if (!groups.has(sig)) groups.set(sig, { first: r, count: 0, errors: r.errors })
    groups.get(sig).count++
  }
  return [...groups.values()]
}

function formatReport(rep, operations) {
  const lines = []
  lines.push(`conformance coverage against ${rep.upstream} (${rep.totalResponses} responses)`)
  const w = Math.max(...operations.map((o) => o.length), 12)
  for (const op of [...operations, ...rep.extra]) {
    const c = rep.coverage[op]
    const statuses = c ? Object.entries(c.statuses).map(([s, n]) => `${s}x${n}`).join(' ') : '-'
    const mark = !c ? 'MISSING' : c.invalid ? `INVALID(${c.invalid})` : 'ok'
    const tag = operations.includes(op) ? '' : ' (not in OPERATIONS)'
    lines.push(`  ${op.padEnd(w)}  ${String(c ? c.count : 0).padStart(3)}  ${statuses.padEnd(24)} ${mark}${tag}`)
  }
  lines.push(`  missing: ${rep.missing.length ? rep.missing.join(', ') : 'none'}`)
  lines.push(`  responses failing schema validation: ${rep.invalid.length}`)
  for (const g of groupInvalid(rep)) {
    const r = g.first
    const more = g.count > 1 ? ` (and ${g.count - 1} more like it)` : ''
    lines.push(`    #${r.seq} ${r.method} ${r.path} -> ${r.status} (${r.operationId || 'unmatched'})${more}`)
    for (const e of r.errors) lines.push(`      - ${e}`)
  }
  return lines.join('\n')
}

function writeReport(rep, file = path.join(__dirname, '..', 'generated', 'coverage.json')) {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, JSON.stringify(rep, null, 2) + '\n')
  return file
}

module.exports = { buildReport, formatReport, writeReport, groupInvalid }
