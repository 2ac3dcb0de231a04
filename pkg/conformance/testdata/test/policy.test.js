'use strict'
// Retention policies through the official ChatBotKit SDK: PolicyClient from
// @chatbotkit/sdk/policy/index.js, unchanged, pointed at Parley. The SDK keeps
// the /api prefix for hosts other than api.chatbotkit.com, so it calls
// /api/v1/policy/* here; `host` replaces the URL's host, `protocol` its scheme.
//
//   PARLEY_API_URL=http://127.0.0.1:3000 PARLEY_TOKEN=... npm test
const { test, before } = require('node:test')
const assert = require('node:assert/strict')

const { PolicyClient } = require('@chatbotkit/sdk/policy/index.js')
const { env, runId } = require('../lib/harness')

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/
const RUN = runId()
let client
let other
const ctx = {}

async function workspace(apiUrl, token, name) {
  const res = await fetch(new URL('/v1/admin/workspaces', apiUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  })
  assert.equal(res.status, 200, await res.clone().text())
  return (await res.json()).id
}

function policyClient(apiUrl, token, ws) {
  const url = new URL(apiUrl)
  return new PolicyClient({ secret: token, host: url.host, protocol: url.protocol, headers: { 'x-workspace-id': ws } })
}

before(async () => {
  const { apiUrl, token } = env()
  ctx.ws = await workspace(apiUrl, token, `policies-${RUN}`)
  client = policyClient(apiUrl, token, ctx.ws)
  other = policyClient(apiUrl, token, await workspace(apiUrl, token, `policies-other-${RUN}`))
})

test('policy: create answers the policy with its id', async () => {
  const created = await client.create({
    name: '30DayRetention',
    description: 'Automatically archive conversations older than 30 days',
    type: 'retention',
    config: { maxAge: 'P30D' },
    blueprintId: 'blueprint_xyz789',
    meta: { suite: RUN },
  })
  assert.match(created.id, /^policy_/)
  assert.equal(created.config.action, 'archive')
  assert.match(created.createdAt, ISO)
  ctx.id = created.id
})

test('policy: fetch returns every field of the seed', async () => {
  const p = await client.fetch(ctx.id)
  for (const k of ['id', 'name', 'description', 'type', 'blueprintId', 'config', 'meta', 'createdAt', 'updatedAt']) {
    assert.ok(k in p, `fetch lacks ${k}`)
  }
  assert.equal(p.name, '30DayRetention')
  assert.equal(p.type, 'retention')
  assert.equal(p.config.maxAge, 'P30D')
  assert.equal(p.meta.suite, RUN)
  assert.match(p.updatedAt, ISO)
})

test('policy: list pages with a cursor and filters by type, blueprint and meta', async () => {
  const second = await client.create({ name: 'second', description: 'd', type: 'retention', config: { maxAge: 'PT12H', action: 'delete' } })
  const first = await client.list({ take: 1 })
  assert.equal(first.items.length, 1)
  assert.equal(first.items[0].id, second.id) // newest first
  assert.ok(first.cursor, 'a cursor while more pages remain')
  const next = await client.list({ take: 1, cursor: first.cursor })
  assert.equal(next.items[0].id, ctx.id)
  const last = await client.list({ take: 5, cursor: first.cursor })
  assert.equal(last.cursor, undefined)
  const asc = await client.list({ order: 'asc', take: 1 })
  assert.equal(asc.items[0].id, ctx.id)
  assert.deepEqual((await client.list({ blueprintId: 'blueprint_xyz789' })).items.map((p) => p.id), [ctx.id])
  assert.deepEqual((await client.list({ meta: { suite: RUN } })).items.map((p) => p.id), [ctx.id])
  assert.equal((await client.list({ type: 'retention' })).items.length, 2)
  assert.equal((await other.list({})).items.length, 0, 'another workspace lists nothing')
  ctx.second = second.id
})

test('policy: update is incremental', async () => {
  const up = await client.update(ctx.id, { name: '60DayRetention', config: { maxAge: 'P60D' } })
  assert.equal(up.id, ctx.id)
  const p = await client.fetch(ctx.id)
  assert.equal(p.name, '60DayRetention')
  assert.equal(p.config.maxAge, 'P60D')
  assert.equal(p.description, 'Automatically archive conversations older than 30 days')
  assert.equal(p.blueprintId, 'blueprint_xyz789')
})

test('policy: invalid config is refused with the field named', async () => {
  await assert.rejects(client.update(ctx.id, { config: { maxAge: '30 days' } }), (err) => /config\.maxAge/.test(err.message))
  await assert.rejects(
    client.create({ name: 'f', description: 'd', type: 'retention', config: { maxAge: 'P1D', resources: 'files', scope: { channels: ['web'] } } }),
    (err) => /config\.scope/.test(err.message),
  )
})

test('policy: delete removes it; another workspace cannot reach it', async () => {
  await assert.rejects(other.delete(ctx.id), (err) => err.code === 'ResourceNotFound' || /doesn't exist/.test(err.message))
  const del = await client.delete(ctx.id)
  assert.equal(del.id, ctx.id)
  await assert.rejects(client.fetch(ctx.id), (err) => /doesn't exist/.test(err.message))
  await client.delete(ctx.second)
  assert.equal((await client.list({})).items.length, 0)
})
