'use strict'
// Self-test of the validating proxy, no Parley server needed: a synthetic upstream returns
// canned bodies, the official client talks to it through lib/proxy.js, and we check what the
// validator recorded. Also pins down what the client puts on the wire (headers, query encoding).
//
//   npm run selftest
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const zlib = require('node:zlib')
const { Client, isApiError } = require('@botpress/client')
const { startProxy } = require('../lib/proxy')
const { OpenApiValidator } = require('../lib/openapi')

const NOW = '2026-05-08T06:22:56.097Z'
const USER_ID = 'user_01JTESTTESTTESTTESTTESTTES' // 31 chars
const BOT_ID = 'bot_01JTESTTESTTESTTESTTESTTEST'
const user = (extra = {}) => ({ id: USER_ID, createdAt: NOW, updatedAt: NOW, tags: { a: 'b' }, ...extra })
const workspace = (extra = {}) => ({
  id: 'wkspace_01JTESTTESTTESTTESTTESTTES',
  name: 'w',
  ownerId: 'acct',
  createdAt: NOW,
  updatedAt: NOW,
  botCount: 0,
  billingVersion: 'v4',
  plan: 'community',
  blocked: false,
  spendingLimit: 0,
  activeTrialId: null,
  ...extra,
})

// route -> canned {status, body, gzip?}; set per test
let next = null
const seen = [] // requests as the upstream saw them
let upstream
let proxy
let validator

before(async () => {
  upstream = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() })
      const { status, body, gzip, contentType } = next
      let payload = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
      const headers = { 'content-type': contentType || 'application/json' }
      if (gzip) {
        payload = zlib.gzipSync(payload)
        headers['content-encoding'] = 'gzip'
      }
      res.writeHead(status, headers)
      res.end(payload)
    })
  })
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r))
  validator = OpenApiValidator.load()
  proxy = await startProxy({ upstream: `http://127.0.0.1:${upstream.address().port}`, validator, log: false, printInvalid: false })
})

after(async () => {
  await proxy?.close()
  await new Promise((r) => upstream.close(r))
})

const client = (extra = {}) => new Client({ apiUrl: proxy.url, token: 'bp_pat_test', botId: BOT_ID, ...extra })
const last = () => proxy.records[proxy.records.length - 1]

test('a correct body passes', async () => {
  next = { status: 200, body: { user: user({ name: 'Alice' }) } }
  const r = await client().getUser({ id: USER_ID })
  assert.equal(r.user.name, 'Alice')
  assert.equal(last().operationId, 'getUser')
  assert.deepEqual(last().errors, [])
})

test('a body missing a required field fails', async () => {
  const u = user()
  delete u.updatedAt
  next = { status: 200, body: { user: u } }
  await client().getUser({ id: USER_ID }) // the client itself does not check
  assert.equal(last().operationId, 'getUser')
  assert.ok(last().errors.some((e) => e.includes("required property 'updatedAt'")), last().errors.join('\n'))
})

test('an extra (undocumented) field fails: objects are closed', async () => {
  next = { status: 200, body: { user: user({ botId: BOT_ID }) } }
  await client().getUser({ id: USER_ID })
  assert.ok(last().errors.some((e) => e.includes("'botId'")), last().errors.join('\n'))
})

test('bounds and formats are checked (id length, date-time, tag value type)', async () => {
  next = { status: 200, body: { user: user({ id: 'u1', createdAt: '2026-05-08 06:22', tags: { a: 1 } }) } }
  await client().getUser({ id: USER_ID })
  const errs = last().errors.join('\n')
  assert.match(errs, /\/user\/id must NOT have fewer than 28 characters/)
  assert.match(errs, /\/user\/createdAt must match format "date-time"/)
  assert.match(errs, /\/user\/tags\/a must be string/)
})

test('an undocumented success status fails (createUser must be 201)', async () => {
  next = { status: 200, body: { user: user() } }
  await client().createUser({ tags: {} })
  assert.equal(last().operationId, 'createUser')
  assert.ok(last().errors.some((e) => e.includes('status 200 is not documented')), last().errors.join('\n'))
  next = { status: 201, body: { user: user() } }
  await client().createUser({ tags: {} })
  assert.deepEqual(last().errors, [])
})

test('OpenAPI nullable is honoured (Workspace.activeTrialId: string | null, required)', async () => {
  next = { status: 200, body: workspace() }
  await client().getWorkspace({ id: 'wkspace_x' })
  assert.equal(last().operationId, 'getWorkspace')
  assert.deepEqual(last().errors, [])
  next = { status: 200, body: workspace({ activeTrialId: 'trial_1' }) }
  await client().getWorkspace({ id: 'wkspace_x' })
  assert.deepEqual(last().errors, [])
  const ws = workspace()
  delete ws.activeTrialId
  next = { status: 200, body: ws }
  await client().getWorkspace({ id: 'wkspace_x' })
  assert.ok(last().errors.some((e) => e.includes("required property 'activeTrialId'")))
})

test('nullable enums accept null and reject other values', () => {
  // Bot.integrations[*].configurationType is `string | null`; check an enum one synthetically
  const { convertNullable } = require('../lib/openapi')
  const Ajv = require('ajv')
  const ajv = new Ajv({ strict: false })
  const v = ajv.compile(convertNullable({ type: 'string', enum: ['a', 'b'], nullable: true }))
  assert.equal(v(null), true)
  assert.equal(v('a'), true)
  assert.equal(v('c'), false)
})

test('a well-formed error passes and the client throws the typed error', async () => {
  next = { status: 404, body: { id: 'err_1', code: 404, type: 'ResourceNotFound', message: 'no such user' } }
  let err
  await client().getUser({ id: USER_ID }).catch((e) => (err = e))
  assert.ok(isApiError(err))
  assert.equal(err.type, 'ResourceNotFound')
  assert.equal(err.code, 404)
  assert.equal(err.message, 'no such user')
  assert.deepEqual(last().errors, [])
})

test('401 Unauthorized error surfaces as type Unauthorized', async () => {
  next = { status: 401, body: { id: 'err_2', code: 401, type: 'Unauthorized', message: 'bad token' } }
  let err
  await client().getAccount({}).catch((e) => (err = e))
  assert.equal(err.type, 'Unauthorized')
  assert.equal(err.code, 401)
  assert.deepEqual(last().errors, [])
})

test('malformed error bodies fail validation (and confuse the client)', async () => {
  next = { status: 404, body: { code: 404, type: 'ResourceNotFound', message: 'no id' } }
  let err
  await client().getUser({ id: USER_ID }).catch((e) => (err = e))
  // without `id` the client cannot classify the error: it becomes Unknown
  assert.equal(err.type, 'Unknown')
  assert.ok(last().errors.some((e) => e.includes("required property 'id'")))

  next = { status: 404, body: { id: 'err_3', code: 400, type: 'NotFound', message: 'x' } }
  await client().getUser({ id: USER_ID }).catch((e) => (err = e))
  const errs = last().errors.join('\n')
  assert.match(errs, /code 400 != HTTP status 404/)
  assert.match(errs, /\/type must be equal to one of the allowed values/)

  next = { status: 500, body: 'oops', contentType: 'text/plain' }
  await client().getUser({ id: USER_ID }).catch((e) => (err = e))
  assert.ok(last().errors.some((e) => e.startsWith('body is not JSON')))
})

test('gzip-encoded bodies are validated after decoding and relayed intact', async () => {
  next = { status: 200, body: { user: user({ name: 'Zed' }) }, gzip: true }
  const r = await client().getUser({ id: USER_ID })
  assert.equal(r.user.name, 'Zed')
  assert.deepEqual(last().errors, [])
})

test('unknown routes are recorded as unmatched', () => {
  const res = validator.validateResponse({ method: 'GET', path: '/v1/nope', status: 200, contentType: 'application/json', body: '{}' })
  assert.equal(res.operationId, null)
  assert.equal(res.errors.length, 1)
})

test('route matching prefers literal segments and strips the query string', () => {
  assert.equal(validator.match('POST', '/v1/chat/users/get-or-create').route.operationId, 'getOrCreateUser')
  assert.equal(validator.match('GET', '/v1/chat/users/abc?x=1').route.operationId, 'getUser')
  assert.equal(validator.match('GET', '/v1/admin/account/me').route.operationId, 'getAccount')
  assert.equal(validator.match('DELETE', '/v1/admin/account/pats/p1').route.operationId, 'deletePersonalAccessToken')
})

test('wire format of the official client (headers, query encoding, DELETE body)', async () => {
  const c = client({ workspaceId: 'wkspace_1' })
  next = { status: 200, body: { users: [], meta: {} } }
  await c.listUsers({ tags: { color: 'red', 'two words': 'a b' }, sortDirection: 'asc', pageSize: 5 })
  let req = seen[seen.length - 1]
  assert.equal(req.method, 'GET')
  assert.equal(req.url, '/v1/chat/users?pageSize=5&tags.color=red&tags.two%20words=a%20b&sortDirection=asc')
  assert.equal(req.headers.authorization, 'Bearer bp_pat_test')
  assert.equal(req.headers['x-bot-id'], BOT_ID)
  assert.equal(req.headers['x-workspace-id'], 'wkspace_1')
  assert.equal(req.body, '')

  next = { status: 200, body: {} }
  await c.deleteUser({ id: USER_ID })
  req = seen[seen.length - 1]
  assert.equal(req.method, 'DELETE')
  assert.equal(req.url, `/v1/chat/users/${USER_ID}`)
  assert.equal(req.body, '{}', 'DELETE carries a JSON {} body')
  assert.match(req.headers['content-type'], /^application\/json/)
  assert.deepEqual(last().errors, [])

  next = { status: 200, body: { user: user() } }
  await c.getOrCreateUser({ tags: { a: 'b' }, discriminateByTags: ['a'] })
  req = seen[seen.length - 1]
  assert.deepEqual(JSON.parse(req.body), { tags: { a: 'b' }, discriminateByTags: ['a'] }, 'undefined fields omitted')

  next = { status: 200, body: { user: user() } }
  await c.updateUser({ id: USER_ID, name: null, tags: { a: '' } })
  req = seen[seen.length - 1]
  assert.deepEqual(JSON.parse(req.body), { name: null, tags: { a: '' } }, 'null is sent as null')
})
