'use strict'
// The Tables API through the official @botpress/client, every response validated against the
// OpenAPI document of @botpress/api by this file's own validating proxy: every table operation
// (a filter, a group, a search, an upsert and a duplicate among them), tenancy (another bot's
// token reaches no table, by name or id) and bad input (a clear error, nothing written).
//
//   PARLEY_API_URL=http://127.0.0.1:3000 PARLEY_TOKEN=... npm test
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')

const { startProxy } = require('../lib/proxy')
const { buildReport, groupInvalid } = require('../lib/report')
const { env, makeClient, rejectsApi, assertTimestamp, runId } = require('../lib/harness')

const TABLE_OPERATIONS = [
  'createTable', 'getTable', 'getOrCreateTable', 'listTables', 'updateTable', 'renameTableColumn',
  'duplicateTable', 'deleteTable', 'getTableRow', 'findTableRows', 'createTableRows', 'updateTableRows',
  'deleteTableRows', 'upsertTableRows',
]

const RUN = runId()
let proxy
const ctx = {}

async function botClient(token, name) {
  const c = makeClient(proxy.url, { token })
  const ws = await c.createWorkspace({ name: `${name}-${RUN}` })
  const wc = makeClient(proxy.url, { token, workspaceId: ws.id })
  const { bot } = await wc.createBot({ name: `${name}-${RUN}` })
  return makeClient(proxy.url, { token, workspaceId: ws.id, botId: bot.id })
}

before(async () => {
  const e = env()
  proxy = await startProxy({ upstream: e.apiUrl })
  ctx.c = await botClient(e.token, 'tables')
  ctx.other = await botClient(e.token, 'tables-other')
})

after(async () => {
  if (proxy) await proxy.close()
})

const schema = {
  type: 'object',
  properties: {
    sku: { type: 'string', 'x-zui': { index: 0 } },
    customer: { type: 'string', 'x-zui': { index: 1 }, 'x-parley': { index: true } },
    amount: { type: 'number', 'x-zui': { index: 2 } },
    note: { type: 'string', 'x-zui': { index: 3, searchable: true } },
    placedAt: { type: 'string', format: 'date-time', 'x-zui': { index: 4 } },
  },
  required: ['sku'],
  additionalProperties: true,
}

test('tables: create, get by name and id, get-or-create, list by tags', async () => {
  const { c } = ctx
  const { table } = await c.createTable({ name: 'ordersTable', schema, keyColumn: 'sku', tags: { suite: RUN } })
  assert.equal(table.name, 'ordersTable')
  assert.equal(table.keyColumn, 'sku')
  assert.equal(table.isComputeEnabled, false)
  assertTimestamp(table.createdAt, 'table.createdAt')
  ctx.tableId = table.id
  for (const ref of ['ordersTable', table.id]) {
    const got = await c.getTable({ table: ref })
    assert.equal(got.table.id, table.id)
    assert.equal(got.rows, 0)
    assert.equal(got.indexing, 0)
  }
  const existing = await c.getOrCreateTable({ table: 'ordersTable', schema })
  assert.equal(existing.created, false)
  const made = await c.getOrCreateTable({ table: 'notesTable', schema: { type: 'object', properties: { text: { type: 'string', 'x-zui': { index: 0 } } }, additionalProperties: true } })
  assert.equal(made.created, true)
  const { tables } = await c.listTables({ tags: { suite: RUN } })
  assert.deepEqual(tables.map((t) => t.name), ['ordersTable'])
})

test('tables: rows are created, validated, read, updated and upserted', async () => {
  const { c } = ctx
  const res = await c.createTableRows({
    table: 'ordersTable',
    rows: [
      { sku: 'A1', customer: 'ann', amount: 10, note: 'red running shoes', placedAt: '2026-05-01T10:00:00.000Z' },
      { sku: 'A2', customer: 'bob', amount: 20, note: 'a wool scarf' },
      { sku: 'A3', customer: 'ann', amount: 30, note: 'blue winter coat' },
      { sku: 'A4', customer: 'cid', amount: 'forty' },
    ],
  })
  assert.deepEqual(res.rows.map((r) => r.id), [1, 2, 3])
  assert.equal(res.errors.length, 1)
  assert.match(res.errors[0], /rows\[3\]\.amount/)
  const { row } = await c.getTableRow({ table: 'ordersTable', id: 1 })
  assert.equal(row.sku, 'A1')
  assertTimestamp(row.updatedAt, 'row.updatedAt')
  const up = await c.updateTableRows({ table: 'ordersTable', rows: [{ id: 2, amount: 25 }] })
  assert.equal(up.rows[0].amount, 25)
  assert.equal(up.rows[0].note, 'a wool scarf')
  const ups = await c.upsertTableRows({ table: 'ordersTable', rows: [{ sku: 'A3', amount: 35 }, { sku: 'B1', customer: 'dan', amount: 5 }] })
  assert.deepEqual(ups.updated.map((r) => r.id), [3])
  assert.deepEqual(ups.inserted.map((r) => r.id), [4])
})

test('tables: find with a filter, order, select, group and search', async () => {
  const { c } = ctx
  let res = await c.findTableRows({ table: 'ordersTable', filter: { customer: 'ann' }, select: ['sku'] })
  assert.deepEqual(res.rows.map((r) => r.sku), ['A1', 'A3'])
  assert.equal(res.hasMore, false)
  res = await c.findTableRows({ table: 'ordersTable', filter: { amount: { $gte: 10 }, $or: [{ sku: { $regex: '^a', $options: 'i' } }] }, orderBy: 'amount', orderDirection: 'desc', limit: 2 })
  assert.deepEqual(res.rows.map((r) => r.id), [3, 2])
  assert.equal(res.hasMore, true)
  res = await c.findTableRows({ table: 'ordersTable', group: { customer: 'key', amount: ['sum', 'avg'] } })
  const ann = res.rows.find((r) => r.customerKey === 'ann')
  assert.equal(ann.amountSum, 45)
  assert.equal(ann.amountAvg, 22.5)
  res = await c.findTableRows({ table: 'ordersTable', search: 'running shoes' })
  assert.equal(res.rows[0].id, 1)
  assert.ok(res.rows[0].similarity > res.rows[1].similarity)
  await rejectsApi(c.findTableRows({ table: 'ordersTable', filter: { amount: { $near: 3 } } }), { type: 'InvalidQuery', code: 400 })
  await rejectsApi(c.findTableRows({ table: 'ordersTable', filter: { nope: 1 } }), { type: 'InvalidQuery', code: 400 })
})

test('tables: update, rename a column, duplicate, delete rows and tables', async () => {
  const { c } = ctx
  const upd = await c.updateTable({ table: 'ordersTable', tags: { stage: 'test' } })
  assert.deepEqual(upd.staleColumns, [])
  const ren = await c.renameTableColumn({ table: 'ordersTable', name: 'amount', newName: 'total' })
  assert.ok(ren.table.schema.properties.total)
  assert.equal((await c.getTableRow({ table: 'ordersTable', id: 1 })).row.total, 10)
  const dup = await c.duplicateTable({ sourceTableId: ctx.tableId, tableName: 'ordersCopyTable' })
  assert.equal(dup.rows, 4)
  const schemaOnly = await c.duplicateTable({ sourceTableId: ctx.tableId, tableName: 'emptyCopyTable', schemaOnly: true })
  assert.equal(schemaOnly.rows, 0)
  assert.equal((await c.deleteTableRows({ table: 'ordersCopyTable', ids: [1, 2] })).deletedRows, 2)
  assert.equal((await c.deleteTableRows({ table: 'ordersCopyTable', filter: { customer: 'ann' } })).deletedRows, 1)
  assert.equal((await c.deleteTableRows({ table: 'ordersCopyTable', deleteAllRows: true })).deletedRows, 1)
  assert.equal((await c.getTable({ table: 'ordersCopyTable' })).rows, 0)
  await c.updateTable({ table: 'emptyCopyTable', frozen: true })
  await rejectsApi(c.updateTable({ table: 'emptyCopyTable', name: 'renamedTable' }), { type: 'ResourceLockedConflict', code: 409 })
  assert.deepEqual(await c.deleteTable({ table: 'emptyCopyTable' }), {})
  await rejectsApi(c.getTable({ table: 'emptyCopyTable' }), { type: 'ResourceNotFound', code: 404 })
})

test('tables: another bot cannot see or change a table, by name or id', async () => {
  const { other } = ctx
  for (const ref of ['ordersTable', ctx.tableId]) {
    await rejectsApi(other.getTable({ table: ref }), { type: 'ResourceNotFound', code: 404 })
    await rejectsApi(other.findTableRows({ table: ref }), { type: 'ResourceNotFound', code: 404 })
    await rejectsApi(other.getTableRow({ table: ref, id: 1 }), { type: 'ResourceNotFound', code: 404 })
    await rejectsApi(other.createTableRows({ table: ref, rows: [{ sku: 'X' }] }), { type: 'ResourceNotFound', code: 404 })
    await rejectsApi(other.deleteTable({ table: ref }), { type: 'ResourceNotFound', code: 404 })
  }
  assert.deepEqual((await other.listTables({})).tables, [])
  assert.equal((await ctx.c.getTable({ table: 'ordersTable' })).rows, 4)
})

test('tables: bad input is a clear error and writes nothing', async () => {
  const { c } = ctx
  await rejectsApi(c.createTable({ name: 'badTable', schema: { type: 'object', properties: { a: { type: 'integer' } }, additionalProperties: true } }), { type: 'InvalidJsonSchema', code: 400 })
  await rejectsApi(c.createTable({ name: 'not a name', schema }), { type: 'InvalidPayload', code: 400 })
  await rejectsApi(c.createTable({ name: 'aiTable', schema: { type: 'object', properties: { a: { type: 'string', 'x-zui': { index: 0, computed: { action: 'ai' } } } }, additionalProperties: true } }), { type: 'InvalidPayload', code: 400 })
  await rejectsApi(c.getTable({ table: 'badTable' }), { type: 'ResourceNotFound', code: 404 })
  const big = await c.createTableRows({ table: 'ordersTable', rows: [{ sku: 'BIG', note: 'x'.repeat(5000) }] })
  assert.deepEqual(big.rows, [])
  assert.match(big.errors[0], /at most 4096/)
  assert.equal((await c.getTable({ table: 'ordersTable' })).rows, 4)
  await rejectsApi(c.deleteTableRows({ table: 'ordersTable', filter: { sku: { $bogus: 1 } } }), { type: 'InvalidQuery', code: 400 })
  assert.equal((await c.getTable({ table: 'ordersTable' })).rows, 4)
})

test('tables: every table operation was exercised and every response matched the OpenAPI schema', () => {
  const rep = buildReport(proxy, TABLE_OPERATIONS)
  assert.deepEqual(rep.missing, [], `operations never exercised: ${rep.missing.join(', ')}`)
  const problems = groupInvalid(rep).map(
    ({ first: r, count, errors }) => `#${r.seq} ${r.method} ${r.path} -> ${r.status} (${r.operationId}) x${count}: ${errors.join('; ')}`
  )
  assert.deepEqual(problems, [], `responses failing validation:\n${problems.join('\n')}`)
})
