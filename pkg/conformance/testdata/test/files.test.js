'use strict'
// The Files API through the official @botpress/client: uploadFile (upsertFile, then a PUT of
// the bytes to the presigned uploadUrl), indexing by the worker, searchFiles, listFiles,
// getFile (by id and by key), updateFileMetadata and deleteFile; another bot sees nothing;
// bad input answers clearly and leaves nothing behind. Every response goes through its own
// validating proxy (lib/proxy.js), checked against @botpress/api's OpenAPI at the end.
//
//   PARLEY_API_URL=http://127.0.0.1:3000 PARLEY_TOKEN=... npm test
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')

const { startProxy } = require('../lib/proxy')
const { buildReport, formatReport, groupInvalid } = require('../lib/report')
const { env, makeClient, rejectsApi, assertTimestamp, assertId, fakeId, runId } = require('../lib/harness')

const FILE_OPERATIONS = ['upsertFile', 'getFile', 'listFiles', 'updateFileMetadata', 'deleteFile', 'searchFiles']
const RUN = runId()
const HANDBOOK = `# Northwind handbook ${RUN}

## Leave

Employees accrue two days of paid leave per month. Unused leave carries over, up to ten days.

## Expenses

Submit expense reports within thirty days, with receipts above twenty dollars.

## Security

Badges must be worn at all times inside the office.
`

let proxy
const ctx = {}

before(async () => {
  const { apiUrl, token } = env()
  proxy = await startProxy({ upstream: apiUrl })
  const admin = makeClient(proxy.url, { token })
  const workspace = await admin.createWorkspace({ name: `files-${RUN}` })
  const wclient = makeClient(proxy.url, { token, workspaceId: workspace.id })
  const bots = []
  for (const name of ['files', 'other']) bots.push((await wclient.createBot({ name: `${name}-${RUN}` })).bot)
  ctx.bot = bots[0]
  ctx.client = makeClient(proxy.url, { token, workspaceId: workspace.id, botId: bots[0].id })
  ctx.other = makeClient(proxy.url, { token, workspaceId: workspace.id, botId: bots[1].id })
})

after(async () => {
  if (!proxy) return
  console.log(`\n${formatReport(buildReport(proxy, FILE_OPERATIONS), FILE_OPERATIONS)}\n`)
  await proxy.close()
})

async function waitStatus(client, id, statuses) {
  const deadline = Date.now() + 30_000
  for (;;) {
    const { file } = await client.getFile({ id })
    if (statuses.includes(file.status)) return file
    if (Date.now() > deadline) throw new Error(`file ${id} still ${file.status} (${file.failedStatusReason || ''})`)
    await new Promise((r) => setTimeout(r, 150))
  }
}

test('files: uploadFile uploads through the presigned URL and the worker indexes the file', async () => {
  const c = ctx.client
  const { file } = await c.uploadFile({
    key: 'kb/handbook.md', content: HANDBOOK, index: true,
    tags: { team: 'hr', lang: 'en' }, metadata: { source: 'wiki' },
  })
  assertId(file.id, 'file.id')
  assert.equal(file.botId, ctx.bot.id)
  assert.equal(file.key, 'kb/handbook.md')
  assert.equal(file.contentType, 'text/markdown')
  assert.equal(file.size, Buffer.byteLength(HANDBOOK))
  assert.equal(file.index, true)
  assert.deepEqual(file.owner, { type: 'bot', id: ctx.bot.id })
  assertTimestamp(file.createdAt, 'file.createdAt')
  assert.match(file.uploadUrl, /X-Amz-Signature=/)
  const indexed = await waitStatus(c, file.id, ['indexing_completed', 'indexing_failed'])
  assert.equal(indexed.status, 'indexing_completed', indexed.failedStatusReason)
  assert.equal(indexed.size, Buffer.byteLength(HANDBOOK))
  assert.match(indexed.url, /^https?:\/\//)
  ctx.file = indexed
})

test('files: searchFiles answers the passage that answers the question, with its context', async () => {
  const c = ctx.client
  const { passages } = await c.searchFiles({ query: 'How many days of paid leave per month?', limit: 3 })
  assert.ok(passages.length >= 1, 'a passage was found')
  assert.match(passages[0].content, /two days of paid leave/)
  assert.equal(passages[0].file.id, ctx.file.id)
  assert.equal(passages[0].file.key, 'kb/handbook.md')
  assert.equal(passages[0].meta.type, 'chunk')
  assert.equal(typeof passages[0].score, 'number')
  for (let i = 1; i < passages.length; i++) assert.ok(passages[i - 1].score >= passages[i].score, 'best first')

  const deep = await c.searchFiles({ query: 'expense reports receipts', limit: 1, contextDepth: 1 })
  assert.match(deep.passages[0].content, /expense reports/)
  assert.match(deep.passages[0].content, /paid leave/, 'the preceding passage is prepended')
  assert.match(deep.passages[0].content, /Badges/, 'the following passage is appended')

  assert.ok((await c.searchFiles({ query: 'paid leave', tags: { team: 'hr' } })).passages.length >= 1)
  assert.deepEqual((await c.searchFiles({ query: 'paid leave', tags: { team: 'sales' } })).passages, [])
})

test('files: getFile by id and by key, listFiles with tags', async () => {
  const c = ctx.client
  assert.equal((await c.getFile({ id: ctx.file.id })).file.key, 'kb/handbook.md')
  assert.equal((await c.getFile({ id: 'kb/handbook.md' })).file.id, ctx.file.id)
  const { files, meta } = await c.listFiles({ tags: { team: 'hr' } })
  assert.ok(files.some((f) => f.id === ctx.file.id))
  assert.equal(typeof meta, 'object')
  assert.deepEqual((await c.listFiles({ tags: { team: 'nobody' } })).files, [])
})

test('files: updateFileMetadata merges tags (null removes one) and replaces access policies', async () => {
  const c = ctx.client
  const { file } = await c.updateFileMetadata({ id: ctx.file.id, tags: { team: null, dept: 'people' }, accessPolicies: ['integrations'] })
  assert.deepEqual(file.tags, { lang: 'en', dept: 'people' })
  assert.deepEqual(file.accessPolicies, ['integrations'])
  assert.equal(file.id, ctx.file.id)
})

test('files: another bot cannot see, download, search or delete the file', async () => {
  const o = ctx.other
  await rejectsApi(o.getFile({ id: ctx.file.id }), { type: 'ResourceNotFound', code: 404 })
  await rejectsApi(o.getFile({ id: 'kb/handbook.md' }), { type: 'ResourceNotFound', code: 404 })
  await rejectsApi(o.updateFileMetadata({ id: ctx.file.id, tags: { x: 'y' } }), { type: 'ResourceNotFound', code: 404 })
  await rejectsApi(o.deleteFile({ id: ctx.file.id }), { type: 'ResourceNotFound', code: 404 })
  assert.deepEqual((await o.searchFiles({ query: 'paid leave per month' })).passages, [])
  assert.deepEqual((await o.listFiles({})).files, [])
})

test('files: bad input answers clearly and leaves nothing behind', async () => {
  const c = ctx.other
  await rejectsApi(c.upsertFile({ size: 3 }), { type: 'InvalidPayload', code: 400 })
  await rejectsApi(c.upsertFile({ key: '', size: 3 }), { type: 'InvalidPayload', code: 400 })
  await rejectsApi(c.upsertFile({ key: 'a.txt', size: -1 }), { type: 'InvalidPayload', code: 400 })
  await rejectsApi(c.upsertFile({ key: 'a.txt', size: 3, accessPolicies: ['everyone'] }), { type: 'InvalidPayload', code: 400 })
  await rejectsApi(c.getFile({ id: fakeId('file') }), { type: 'ResourceNotFound', code: 404 })
  await rejectsApi(c.searchFiles({ query: '' }), { type: 'InvalidQuery', code: 400 })
  assert.deepEqual((await c.listFiles({})).files, [], 'nothing was written')

  // An upload of another size than declared: the file fails, nothing is kept.
  const { file } = await c.upsertFile({ key: 'wrong-size.txt', size: 10 })
  const put = await fetch(file.uploadUrl, { method: 'PUT', body: 'five!', headers: { 'Content-Type': file.contentType } })
  assert.equal(put.status, 200)
  const failed = await waitStatus(c, file.id, ['upload_failed'])
  assert.match(failed.failedStatusReason, /declared as 10 bytes/)
  assert.equal(failed.size, null)
  assert.deepEqual(await c.deleteFile({ id: file.id }), {})
})

test('files: deleteFile removes the file and its search entries', async () => {
  const c = ctx.client
  assert.deepEqual(await c.deleteFile({ id: ctx.file.id }), {})
  await rejectsApi(c.getFile({ id: ctx.file.id }), { type: 'ResourceNotFound', code: 404 })
  assert.deepEqual((await c.searchFiles({ query: 'paid leave per month' })).passages, [])
  await rejectsApi(c.deleteFile({ id: ctx.file.id }), { type: 'ResourceNotFound', code: 404 })
})

test('files: every response matched the OpenAPI schema and every file operation was exercised', () => {
  const rep = buildReport(proxy, FILE_OPERATIONS)
  assert.deepEqual(rep.missing, [], `operations never exercised: ${rep.missing.join(', ')}`)
  const problems = groupInvalid(rep).map(
    ({ first: r, count, errors }) => `#${r.seq} ${r.method} ${r.path} -> ${r.status} (${r.operationId}) x${count}: ${errors.join('; ')}`
  )
  assert.deepEqual(problems, [], `responses failing validation:\n${problems.join('\n')}`)
})
