'use strict'
// Botpress-compatibility suite: drives Parley with the official @botpress/client through the
// validating proxy (lib/proxy.js). Every response body is checked against the OpenAPI document
// of @botpress/api; the last test fails if any response was invalid or if an operation listed
// in lib/operations.js was never exercised.
//
// Flow: getAccount -> PATs -> createWorkspace -> (client with workspaceId) -> createBot ->
// (client with botId) -> chat users.
//
//   PARLEY_API_URL=http://127.0.0.1:3000 PARLEY_TOKEN=... npm test
const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')

const { startProxy } = require('../lib/proxy')
const { OPERATIONS } = require('../lib/operations')
const { buildReport, formatReport, writeReport, groupInvalid } = require('../lib/report')
const { env, makeClient, rejectsApi, assertTimestamp, assertId, fakeId, runId } = require('../lib/harness')

const RUN = runId()
// user tag keys the bot declares (Botpress restricts user tags to those the bot defines)
const USER_TAGS = ['suite', 'color', 'group', 'batch', 'extid']

let proxy
let token
const ctx = {} // account, workspace, bot, clients

function need(key) {
  if (ctx[key] === undefined) throw new Error(`skipped: an earlier step did not produce ${key}`)
  return ctx[key]
}

/** The most recent proxy record for an operation. */
function lastRecord(operationId) {
  const recs = proxy.records.filter((r) => r.operationId === operationId)
  return recs[recs.length - 1]
}

before(async () => {
  const e = env()
  token = e.token
  proxy = await startProxy({ upstream: e.apiUrl })
  ctx.client = makeClient(proxy.url, { token })
})

after(async () => {
  if (!proxy) return
  const rep = buildReport(proxy, OPERATIONS)
  const file = writeReport(rep)
  console.log(`\n${formatReport(rep, OPERATIONS)}\n  (details: ${file})\n`)
  await proxy.close()
})

// ---------------------------------------------------------------- auth

test('auth: a bad token is rejected with 401 Unauthorized', async () => {
  const bad = makeClient(proxy.url, { token: 'bp_pat_this-token-does-not-exist-0000000000' })
  await rejectsApi(bad.getAccount({}), { type: 'Unauthorized', code: 401 })
})

test('auth: no token is rejected with 401 Unauthorized', async () => {
  const anon = makeClient(proxy.url, {})
  await rejectsApi(anon.getAccount({}), { type: 'Unauthorized', code: 401 })
})

// ---------------------------------------------------------------- account

test('getAccount returns the token owner', async () => {
  const { account } = await ctx.client.getAccount({})
  assert.equal(typeof account.id, 'string')
  assert.ok(account.id.length > 0)
  assert.equal(typeof account.email, 'string')
  assert.match(account.email, /@/)
  assert.equal(typeof account.emailVerified, 'boolean')
  assertTimestamp(account.createdAt, 'account.createdAt')
  assert.equal(lastRecord('getAccount').status, 200)
  ctx.account = account
})

// ---------------------------------------------------------------- personal access tokens

test('personal access tokens: create, use, list, delete', async () => {
  const client = ctx.client
  const account = need('account')

  const before = await client.listPersonalAccessTokens({})
  assert.ok(Array.isArray(before.pats))

  const note = `conformance ${RUN}`
  const { pat } = await client.createPersonalAccessToken({ note })
  assert.equal(pat.note, note)
  assert.equal(typeof pat.id, 'string')
  assert.equal(typeof pat.value, 'string')
  assert.ok(pat.value.length >= 16, 'token value is non-trivial')
  assertTimestamp(pat.createdAt, 'pat.createdAt')
  assert.ok(!before.pats.some((p) => p.id === pat.id), 'new PAT id is fresh')

  // the new token authenticates as the same account
  const other = makeClient(proxy.url, { token: pat.value })
  const me = await other.getAccount({})
  assert.equal(me.account.id, account.id)

  const listed = await client.listPersonalAccessTokens({})
  const item = listed.pats.find((p) => p.id === pat.id)
  assert.ok(item, 'created PAT is listed')
  assert.equal(item.note, note)
  assert.equal(item.createdAt, pat.createdAt)
  for (const p of listed.pats) assert.equal(p.value, undefined, 'list never reveals token values')

  const del = await client.deletePersonalAccessToken({ id: pat.id })
  assert.deepEqual(del, {})

  const after = await client.listPersonalAccessTokens({})
  assert.ok(!after.pats.some((p) => p.id === pat.id), 'deleted PAT is no longer listed')

  // a deleted token no longer authenticates; deleting it again is a 404
  await rejectsApi(other.getAccount({}), { type: 'Unauthorized', code: 401 })
  await rejectsApi(client.deletePersonalAccessToken({ id: pat.id }), { type: 'ResourceNotFound', code: 404 })
})

test('createPersonalAccessToken without note is a 400', async () => {
  await rejectsApi(ctx.client.createPersonalAccessToken({}), { type: 'InvalidPayload', code: 400 })
})

// ---------------------------------------------------------------- workspaces

test('createWorkspace / getWorkspace / listWorkspaces', async () => {
  const client = ctx.client
  const account = need('account')
  const name = `conformance-${RUN}`

  const ws = await client.createWorkspace({ name })
  ctx.workspace = ws
  ctx.wclient = makeClient(proxy.url, { token, workspaceId: ws.id })
  assert.equal(typeof ws.id, 'string')
  assert.ok(ws.id.length > 0)
  assert.equal(ws.name, name)
  assert.equal(ws.ownerId, account.id)
  assert.equal(ws.botCount, 0)
  assert.equal(lastRecord('createWorkspace').status, 200)

  const got = await client.getWorkspace({ id: ws.id })
  assert.equal(got.id, ws.id)
  assert.equal(got.name, name)
  assert.equal(got.ownerId, account.id)
  assert.equal(got.createdAt, ws.createdAt)
  assert.equal(got.billingVersion, ws.billingVersion)
  assert.equal(got.plan, ws.plan)

  const { workspaces } = await client.listWorkspaces({})
  const item = workspaces.find((w) => w.id === ws.id)
  assert.ok(item, 'new workspace is listed')
  assert.equal(item.name, name)

  // through the paginating helper as well (follows meta.nextToken)
  const all = await client.list.workspaces({}).collect()
  assert.ok(all.some((w) => w.id === ws.id))
})

test('getWorkspace of an unknown id is a 404', async () => {
  await rejectsApi(ctx.client.getWorkspace({ id: fakeId('wkspace') }), { type: 'ResourceNotFound', code: 404 })
})

test('createWorkspace without a name is a 400', async () => {
  await rejectsApi(ctx.client.createWorkspace({}), { type: 'InvalidPayload', code: 400 })
})

// ---------------------------------------------------------------- bots

test('createBot / getBot / listBots', async () => {
  const wclient = need('wclient')
  const ws = need('workspace')
  const name = `conformance-bot-${RUN}`
  const userTags = Object.fromEntries(USER_TAGS.map((t) => [t, { title: t }]))

  const { bot } = await wclient.createBot({ name, user: { tags: userTags } })
  ctx.bot = bot
  ctx.bclient = makeClient(proxy.url, { token, workspaceId: ws.id, botId: bot.id })
  assertId(bot.id, 'bot.id')
  assert.equal(bot.name, name)
  assert.equal(bot.dev, false)
  assertTimestamp(bot.createdAt, 'bot.createdAt')
  assertTimestamp(bot.updatedAt, 'bot.updatedAt')
  assert.deepEqual(Object.keys(bot.user.tags).sort(), [...USER_TAGS].sort())
  assert.equal(typeof bot.signingSecret, 'string')
  assert.equal(lastRecord('createBot').status, 200)

  const got = await wclient.getBot({ id: bot.id })
  assert.equal(got.bot.id, bot.id)
  assert.equal(got.bot.name, name)
  assert.equal(got.bot.createdAt, bot.createdAt)
  assert.deepEqual(got.bot.user.tags, bot.user.tags)

  const { bots } = await wclient.listBots({})
  const item = bots.find((b) => b.id === bot.id)
  assert.ok(item, 'new bot is listed')
  assert.equal(item.name, name)
  assert.equal(item.createdAt, bot.createdAt)

  const wsAfter = await ctx.client.getWorkspace({ id: ws.id })
  assert.equal(wsAfter.botCount, 1, 'workspace.botCount counts the new bot')
})

test('getBot of an unknown id is a 404', async () => {
  const wclient = need('wclient')
  await rejectsApi(wclient.getBot({ id: fakeId('bot') }), { type: 'ResourceNotFound', code: 404 })
})

test('bot API keys: create (value once), list, delete', async () => {
  const wclient = need('wclient')
  const { bot } = await wclient.createBot({ name: `keys-${RUN}` })
  const key = await wclient.createBotApiKey({ botId: bot.id, note: 'deletions' })
  assert.ok(key.value && key.id && key.note === 'deletions', 'the key and its value are returned once')
  assertTimestamp(key.createdAt, 'bak.createdAt')
  const { baks } = await wclient.listBotApiKeys({ botId: bot.id })
  assert.deepEqual(baks.map((k) => k.id), [key.id])
  assert.ok(baks.every((k) => k.value === undefined), 'listed keys never show their value')
  assert.deepEqual(await wclient.deleteBotApiKey({ id: key.id }), {})
  assert.deepEqual((await wclient.listBotApiKeys({ botId: bot.id })).baks, [])
  await rejectsApi(wclient.deleteBotApiKey({ id: key.id }), { type: 'ResourceNotFound', code: 404 })
  await rejectsApi(wclient.createBotApiKey({ botId: fakeId('bot') }), { type: 'ResourceNotFound', code: 404 })
  assert.deepEqual(await wclient.deleteBot({ id: bot.id }), {}) // keep the workspace's botCount as later tests expect
})

// ---------------------------------------------------------------- admin (issue 4)

test('updateWorkspace / usages / quotas / audit records', async () => {
  const client = ctx.client
  const ws = need('workspace')
  const updated = await client.updateWorkspace({ id: ws.id, name: `conformance-2-${RUN}`, spendingLimit: 20 })
  assert.equal(updated.name, `conformance-2-${RUN}`)
  assert.equal(updated.spendingLimit, 20)
  await rejectsApi(client.updateWorkspace({ id: ws.id, spendingLimit: 1 }), { type: 'InvalidPayload', code: 400 })

  const { usage } = await client.getUsage({ id: ws.id, type: 'bot_count' })
  assert.equal(usage.type, 'bot_count')
  assert.ok(usage.quota >= usage.value)
  const { usages } = await client.listWorkspaceUsages({ id: ws.id, type: 'workspace_member_count' })
  assert.equal(usages[0].value, 1)
  const { quota } = await client.getWorkspaceQuota({ id: ws.id, type: 'bot_count' })
  assert.equal(quota.value, usage.quota)
  const { quotas } = await client.listWorkspaceQuotas({ id: ws.id })
  assert.ok(quotas.some((q) => q.type === 'bot_count'))

  // Billing through the pinned client: no invoice yet, and without a Stripe
  // key a charge says how to configure payments (a Botpress error body).
  const { invoices } = await client.listWorkspaceInvoices({ id: ws.id })
  assert.ok(Array.isArray(invoices))
  await rejectsApi(client.chargeWorkspaceUnpaidInvoices({ id: ws.id }), { type: 'Runtime', code: 400 })

  const { records } = await client.getAuditRecords({ id: ws.id })
  assert.ok(records.length >= 3)
  assert.ok(['UPDATE_WORKSPACE', 'SET_SPENDING_LIMIT'].includes(records[0].action), 'most recent first')
  assert.equal(records[records.length - 1].action, 'CREATE_WORKSPACE')
})

test('deleteWorkspace: refused while it has bots, done when empty', async () => {
  const client = ctx.client
  const ws = need('workspace')
  await rejectsApi(client.deleteWorkspace({ id: ws.id }), { type: 'ReferenceConstraint', code: 409 })
  const spare = await client.createWorkspace({ name: `spare-${RUN}` })
  assert.deepEqual(await client.deleteWorkspace({ id: spare.id }), {})
  await rejectsApi(client.getWorkspace({ id: spare.id }), { type: 'ResourceNotFound', code: 404 })
})

test('workspace members: list, add, update role, remove; the last owner stays', async () => {
  const wclient = need('wclient')
  const account = need('account')
  const me = await wclient.getWorkspaceMember({})
  assert.equal(me.role, 'owner')
  assert.equal(me.email, account.email)
  const email = `member-${RUN}@example.com`
  const added = await wclient.createWorkspaceMember({ email, role: 'viewer' })
  assert.equal(added.email, email)
  assert.equal(added.role, 'viewer')
  const { members } = await wclient.listWorkspaceMembers({})
  assert.ok(members.some((m) => m.id === added.id))
  const promoted = await wclient.updateWorkspaceMember({ id: added.id, role: 'developer' })
  assert.equal(promoted.role, 'developer')
  await rejectsApi(wclient.updateWorkspaceMember({ id: me.id, role: 'viewer' }), { type: 'ReferenceConstraint', code: 409 })
  await rejectsApi(wclient.deleteWorkspaceMember({ id: me.id }), { type: 'ReferenceConstraint', code: 409 })
  assert.deepEqual(await wclient.deleteWorkspaceMember({ id: added.id }), {})
  await rejectsApi(wclient.createWorkspaceMember({ email: 'not-an-email', role: 'viewer' }), { type: 'InvalidPayload', code: 400 })
})

test('updateBot / logs / webchat / analytics / issues', async () => {
  const wclient = need('wclient')
  const bot = need('bot')
  const { bot: updated } = await wclient.updateBot({
    id: bot.id, description: 'updated', alwaysAlive: true, blocked: false, tags: { team: 'cx' },
    states: { cart: { type: 'conversation', schema: { type: 'object' } } },
  })
  assert.equal(updated.description, 'updated')
  assert.equal(updated.alwaysAlive, true)
  assert.equal(updated.tags.team, 'cx')
  assert.ok(updated.states.cart)
  assert.deepEqual(updated.user.tags, bot.user.tags, 'unsent fields persist')

  const logs = await wclient.getBotLogs({ id: bot.id, timeStart: new Date(Date.now() - 3600e3).toISOString() })
  assert.ok(Array.isArray(logs.logs))
  const { code } = await wclient.getBotWebchat({ id: bot.id, type: 'preconfigured' })
  assert.ok(code.includes(bot.id))
  const today = new Date().toISOString().slice(0, 10)
  const tomorrow = new Date(Date.now() + 86400e3).toISOString().slice(0, 10)
  // startDate is inclusive, endDate exclusive (the seed).
  const { records } = await wclient.getBotAnalytics({ id: bot.id, startDate: today, endDate: tomorrow })
  assert.equal(records.length, 1)
  const none = await wclient.getBotAnalytics({ id: bot.id, startDate: today, endDate: today })
  assert.equal(none.records.length, 0)
  const { issues } = await wclient.listBotIssues({ id: bot.id })
  assert.ok(Array.isArray(issues))
  const issueId = 'issue_000000000000000000000000'
  await rejectsApi(wclient.getBotIssue({ id: bot.id, issueId }), { type: 'ResourceNotFound', code: 404 })
  await rejectsApi(wclient.listBotIssueEvents({ id: bot.id, issueId }), { type: 'ResourceNotFound', code: 404 })
  await rejectsApi(wclient.deleteBotIssue({ id: bot.id, issueId }), { type: 'ResourceNotFound', code: 404 })
})

test('transferBot and deleteBot keep botCount exact', async () => {
  const client = ctx.client
  const wclient = need('wclient')
  const ws = need('workspace')
  const target = await client.createWorkspace({ name: `target-${RUN}` })
  const { bot } = await wclient.createBot({ name: `moving-${RUN}` })
  assert.deepEqual(await wclient.transferBot({ id: bot.id, targetWorkspaceId: target.id }), {})
  const tclient = makeClient(proxy.url, { token, workspaceId: target.id })
  assert.equal((await tclient.getBot({ id: bot.id })).bot.id, bot.id)
  await rejectsApi(wclient.getBot({ id: bot.id }), { type: 'ResourceNotFound', code: 404 })
  assert.equal((await client.getWorkspace({ id: target.id })).botCount, 1)
  assert.deepEqual(await tclient.deleteBot({ id: bot.id }), {})
  await rejectsApi(tclient.getBot({ id: bot.id }), { type: 'ResourceNotFound', code: 404 })
  assert.equal((await client.getWorkspace({ id: target.id })).botCount, 0)
  assert.equal((await client.getWorkspace({ id: ws.id })).botCount, 1)
})

test('integrations: create, get, by name (latest), list, update, logs, hub, install, delete', async () => {
  const wclient = need('wclient')
  const bot = need('bot')
  const name = `conformance-${RUN}`
  const def = (version, pub) => ({
    name, version, title: 'Conformance', description: 'test', public: pub,
    secrets: { TOKEN: 'secret-value' },
    configuration: { schema: { type: 'object' } },
    actions: { ping: { input: { schema: {} }, output: { schema: {} } } },
    channels: { chat: { messages: { text: { schema: {} } } } },
  })
  const { integration: v1 } = await wclient.createIntegration(def('1.2.0', false))
  assertId(v1.id, 'integration.id')
  assert.deepEqual(v1.secrets, ['TOKEN'], 'secrets by name only')
  const { integration: v2 } = await wclient.createIntegration(def('1.10.0', true))
  assert.equal((await wclient.getIntegration({ id: v1.id })).integration.version, '1.2.0')
  assert.equal((await wclient.getIntegrationByName({ name, version: 'latest' })).integration.id, v2.id)
  const { integrations } = await wclient.listIntegrations({ name })
  assert.equal(integrations.length, 2)
  const { integration: changed } = await wclient.updateIntegration({ id: v1.id, description: 'changed' })
  assert.equal(changed.description, 'changed')
  await rejectsApi(wclient.updateIntegration({ id: v2.id, description: 'changed' }), { type: 'BreakingChanges', code: 400 })
  const logs = await wclient.getIntegrationLogs({ id: v1.id, timeStart: new Date(Date.now() - 3600e3).toISOString() })
  assert.ok(Array.isArray(logs.logs))

  const hub = await ctx.client.listPublicIntegrations({ name })
  assert.deepEqual(hub.integrations.map((i) => i.id), [v2.id])
  assert.equal((await ctx.client.getPublicIntegrationById({ id: v2.id })).integration.id, v2.id)
  assert.equal((await ctx.client.getPublicIntegration({ name, version: '1.10.0' })).integration.id, v2.id)
  await rejectsApi(ctx.client.getPublicIntegrationById({ id: v1.id }), { type: 'ResourceNotFound', code: 404 })

  const { bot: withInt } = await wclient.updateBot({ id: bot.id, integrations: { [v2.id]: { enabled: true, configuration: { a: 1 } } } })
  assert.equal(withInt.integrations[v2.id].version, '1.10.0')
  const { bot: without } = await wclient.updateBot({ id: bot.id, integrations: { [v2.id]: null } })
  assert.equal(without.integrations[v2.id], undefined)

  assert.deepEqual(await wclient.deleteIntegration({ id: v1.id }), {})
  await rejectsApi(wclient.getIntegration({ id: v1.id }), { type: 'ResourceNotFound', code: 404 })
})

// ---------------------------------------------------------------- chat users

test('createUser / getUser round-trip (201 on create)', async () => {
  const c = need('bclient')
  const input = {
    tags: { suite: RUN, color: 'red' },
    name: 'Alice',
    pictureUrl: 'https://example.com/alice.png',
  }
  const { user } = await c.createUser(input)
  ctx.alice = user
  assert.equal(lastRecord('createUser').status, 201, 'createUser answers 201')
  assertId(user.id, 'user.id')
  assert.equal(user.name, input.name)
  assert.equal(user.pictureUrl, input.pictureUrl)
  assert.deepEqual(user.tags, input.tags)
  assertTimestamp(user.createdAt, 'user.createdAt')
  assertTimestamp(user.updatedAt, 'user.updatedAt')

  const got = await c.getUser({ id: user.id })
  assert.deepEqual(got.user, user)
})

test('updateUser: empty tag value unsets the key, other fields persist', async () => {
  const c = need('bclient')
  const alice = need('alice')

  const r1 = await c.updateUser({ id: alice.id, tags: { color: '' } })
  assert.equal(lastRecord('updateUser').status, 200)
  assert.deepEqual(r1.user.tags, { suite: RUN }, "color: '' removed the key")
  assert.equal(r1.user.name, 'Alice')
  assert.equal(r1.user.pictureUrl, alice.pictureUrl)
  assert.equal(r1.user.createdAt, alice.createdAt)
  assert.ok(Date.parse(r1.user.updatedAt) >= Date.parse(alice.updatedAt), 'updatedAt moves forward')

  const r2 = await c.updateUser({ id: alice.id, name: 'Bob', tags: { color: 'blue' } })
  assert.equal(r2.user.name, 'Bob')
  assert.deepEqual(r2.user.tags, { suite: RUN, color: 'blue' }, 'tags are merged, not replaced')

  const r3 = await c.updateUser({ id: alice.id, name: null })
  assert.equal(r3.user.name, undefined, 'name: null clears the name')
  assert.deepEqual(r3.user.tags, { suite: RUN, color: 'blue' }, 'tags untouched when omitted')

  const got = await c.getUser({ id: alice.id })
  assert.deepEqual(got.user, r3.user)
})

test('deleteUser: then get/update/delete are 404', async () => {
  const c = need('bclient')
  const { user } = await c.createUser({ tags: { suite: RUN }, name: 'to-delete' })
  const del = await c.deleteUser({ id: user.id })
  assert.deepEqual(del, {})
  assert.equal(lastRecord('deleteUser').status, 200)
  await rejectsApi(c.getUser({ id: user.id }), { type: 'ResourceNotFound', code: 404 })
  await rejectsApi(c.updateUser({ id: user.id, name: 'x' }), { type: 'ResourceNotFound', code: 404 })
  await rejectsApi(c.deleteUser({ id: user.id }), { type: 'ResourceNotFound', code: 404 })
})

test('getUser of an unknown id is a 404', async () => {
  const c = need('bclient')
  await rejectsApi(c.getUser({ id: fakeId('user') }), { type: 'ResourceNotFound', code: 404 })
})

test('createUser / getOrCreateUser / listUsers reject bad input with 400', async () => {
  const c = need('bclient')
  // tags is required
  await rejectsApi(c.createUser({ name: 'no tags' }), { type: 'InvalidPayload', code: 400 })
  // name maxLength 200
  await rejectsApi(c.createUser({ tags: {}, name: 'n'.repeat(201) }), { type: 'InvalidPayload', code: 400 })
  // tag values maxLength 500
  await rejectsApi(c.createUser({ tags: { suite: 'v'.repeat(501) } }), { type: 'InvalidPayload', code: 400 })
  // tag values must be strings
  await rejectsApi(c.createUser({ tags: { suite: 42 } }), { type: 'InvalidPayload', code: 400 })
  await rejectsApi(c.getOrCreateUser({ name: 'no tags' }), { type: 'InvalidPayload', code: 400 })
  await rejectsApi(c.updateUser({ id: need('alice').id, name: 'n'.repeat(201) }), { type: 'InvalidPayload', code: 400 })
  // enum query parameter
  await rejectsApi(c.listUsers({ sortDirection: 'sideways' }), { type: ['InvalidQuery', 'InvalidPayload'], code: 400 })
})

test('listUsers: tag filters (tags.k=v query keys, all must match)', async () => {
  const c = need('bclient')
  const group = `tf-${RUN}`
  const made = []
  for (const color of ['red', 'red', 'blue']) {
    made.push((await c.createUser({ tags: { group, color } })).user)
  }
  const reds = await c.listUsers({ tags: { group, color: 'red' } })
  assert.deepEqual(
    reds.users.map((u) => u.id).sort(),
    made.filter((u) => u.tags.color === 'red').map((u) => u.id).sort()
  )
  assert.equal(reds.meta.nextToken, undefined, 'single page: no nextToken')
  for (const u of reds.users) assert.deepEqual(u.tags, { group, color: 'red' })

  const all = await c.listUsers({ tags: { group } })
  assert.deepEqual(all.users.map((u) => u.id).sort(), made.map((u) => u.id).sort())

  const none = await c.listUsers({ tags: { group, color: 'green' } })
  assert.deepEqual(none.users, [])
  assert.equal(none.meta.nextToken, undefined)
})

test('listUsers: pagination via meta.nextToken (default page 20, pageSize, sort)', async () => {
  const c = need('bclient')
  const batch = `pg-${RUN}`
  const N = 25
  const ids = []
  for (let i = 0; i < N; i++) ids.push((await c.createUser({ tags: { batch }, name: `p${i}` })).user.id)
  const filter = { tags: { batch } }

  // default page size is 20, most recent first
  const p1 = await c.listUsers(filter)
  assert.equal(p1.users.length, 20, 'first page holds the default 20')
  assert.equal(typeof p1.meta.nextToken, 'string', 'first page has a nextToken')
  const p2 = await c.listUsers({ ...filter, nextToken: p1.meta.nextToken })
  assert.equal(p2.users.length, N - 20)
  assert.equal(p2.meta.nextToken, undefined, 'last page has no nextToken')
  const seen = [...p1.users, ...p2.users].map((u) => u.id)
  assert.equal(new Set(seen).size, N, 'no duplicates across pages')
  assert.deepEqual([...seen].sort(), [...ids].sort())
  const created = [...p1.users, ...p2.users].map((u) => u.createdAt)
  for (let i = 1; i < created.length; i++) {
    assert.ok(created[i - 1] >= created[i], `default order is most recent first (${created[i - 1]} < ${created[i]})`)
  }
  assert.equal(seen[0], ids[N - 1], 'the newest user comes first')
  assert.equal(seen[N - 1], ids[0], 'the oldest user comes last')

  // pageSize (offered by @botpress/client 1.45.0) bounds each page
  const pages = []
  let nextToken
  do {
    const page = await c.listUsers({ ...filter, pageSize: 10, nextToken })
    assert.ok(page.users.length <= 10, `page of ${page.users.length} exceeds pageSize 10`)
    pages.push(page.users.map((u) => u.id))
    nextToken = page.meta.nextToken
  } while (nextToken && pages.length < 10)
  assert.deepEqual(pages.map((p) => p.length), [10, 10, 5])
  assert.deepEqual(pages.flat(), seen)

  // explicit ascending sort
  const asc = await c.list.users({ ...filter, sortField: 'createdAt', sortDirection: 'asc' }).collect()
  assert.equal(asc.length, N)
  assert.equal(asc[0].id, ids[0], 'sortDirection=asc: oldest first')
  assert.equal(asc[N - 1].id, ids[N - 1], 'sortDirection=asc: newest last')
  for (let i = 1; i < asc.length; i++) {
    assert.ok(asc[i - 1].createdAt <= asc[i].createdAt, 'ascending createdAt')
  }
})

test('getOrCreateUser: all given tags must match without discriminateByTags', async () => {
  const c = need('bclient')
  const extid = `y-${RUN}`
  const a1 = await c.getOrCreateUser({ tags: { extid, color: 'red' }, name: 'Y' })
  assert.equal(lastRecord('getOrCreateUser').status, 200)
  assertId(a1.user.id, 'user.id')
  assert.deepEqual(a1.user.tags, { extid, color: 'red' })
  assert.equal(a1.user.name, 'Y')

  const a2 = await c.getOrCreateUser({ tags: { extid, color: 'red' } })
  assert.equal(a2.user.id, a1.user.id, 'same tags: same user')

  const b = await c.getOrCreateUser({ tags: { extid, color: 'blue' } })
  assert.notEqual(b.user.id, a1.user.id, 'one tag differs: a new user')
  assert.deepEqual(b.user.tags, { extid, color: 'blue' })

  const got = await c.getUser({ id: a1.user.id })
  assert.deepEqual(got.user.tags, { extid, color: 'red' })
})

test('getOrCreateUser: discriminateByTags narrows the match', async () => {
  const c = need('bclient')
  const extid = `z-${RUN}`
  const first = await c.getOrCreateUser({ tags: { extid, color: 'red' }, discriminateByTags: ['extid'] })
  assert.deepEqual(first.user.tags, { extid, color: 'red' })

  const again = await c.getOrCreateUser({ tags: { extid, color: 'green' }, discriminateByTags: ['extid'] })
  assert.equal(again.user.id, first.user.id, 'same extid: same user despite another color')

  const other = await c.getOrCreateUser({ tags: { extid: `${extid}-2`, color: 'red' }, discriminateByTags: ['extid'] })
  assert.notEqual(other.user.id, first.user.id, 'different extid: a new user')

  const listed = await c.listUsers({ tags: { extid } })
  assert.deepEqual(listed.users.map((u) => u.id), [first.user.id], 'exactly one user for that extid')
})

// ---------------------------------------------------------------- chat: conversations … actions

test('conversations, participants, messages, events, states and actions', async () => {
  const c = need('bclient')
  const { user } = await c.createUser({ tags: { suite: RUN } })
  const { conversation } = await c.createConversation({ channel: 'web', tags: {} })
  assert.equal(lastRecord('createConversation').status, 201)
  assertId(conversation.id, 'conversation.id')
  assert.deepEqual((await c.getConversation({ id: conversation.id })).conversation, conversation)
  const goc = await c.getOrCreateConversation({ channel: 'web', tags: {}, discriminateByTags: [] })
  assertId(goc.conversation.id, 'conversation.id')
  const upd = await c.updateConversation({ id: conversation.id, tags: {} })
  assert.equal(upd.conversation.id, conversation.id)
  assert.ok((await c.listConversations({})).conversations.some((x) => x.id === conversation.id))
  assert.ok((await c.listConversations({ participantIds: [user.id] })).conversations.length === 0)

  const { participant } = await c.addParticipant({ id: conversation.id, userId: user.id })
  assert.equal(participant.id, user.id)
  assert.equal((await c.getParticipant({ id: conversation.id, userId: user.id })).participant.id, user.id)
  assert.deepEqual((await c.listParticipants({ id: conversation.id })).participants.map((p) => p.id), [user.id])

  const { message } = await c.createMessage({ conversationId: conversation.id, userId: user.id, type: 'text', payload: { text: 'hi' }, tags: {} })
  assert.equal(lastRecord('createMessage').status, 201)
  assert.equal(message.direction, 'outgoing')
  assert.deepEqual((await c.getMessage({ id: message.id })).message, message)
  const g = await c.getOrCreateMessage({ conversationId: conversation.id, userId: user.id, type: 'text', payload: { text: 'once' }, tags: {} })
  assertId(g.message.id, 'message.id')
  assert.equal((await c.updateMessage({ id: message.id, tags: {} })).message.id, message.id)
  assert.ok((await c.listMessages({ conversationId: conversation.id })).messages.some((m) => m.id === message.id))
  await rejectsApi(c.createMessage({ conversationId: conversation.id, userId: user.id, type: 'text', payload: {}, tags: {} }), { type: 'InvalidPayload', code: 400 })
  await rejectsApi(c.createMessage({ conversationId: fakeId('conv'), userId: user.id, type: 'text', payload: { text: 'x' }, tags: {} }), { type: 'ReferenceNotFound', code: 400 })
  assert.deepEqual(await c.deleteMessage({ id: message.id }), {})

  const { event } = await c.createEvent({ type: 'ping', payload: {}, conversationId: conversation.id })
  assert.equal(lastRecord('createEvent').status, 201)
  assert.equal(event.status, 'ignored')
  assert.equal((await c.getEvent({ id: event.id })).event.id, event.id)
  assert.ok((await c.listEvents({ conversationId: conversation.id })).events.some((e) => e.id === event.id))
  const later = await c.createEvent({ type: 'later', payload: {}, schedule: { delay: 600000 } })
  assert.equal(later.event.status, 'scheduled')
  assert.deepEqual(await c.cancelScheduledEvent({ id: later.event.id }), {})

  const ref = { type: 'conversation', id: conversation.id, name: 'ctx' }
  const set = await c.setState({ ...ref, payload: { step: 1 } })
  assert.equal(set.state.conversationId, conversation.id)
  assert.deepEqual((await c.patchState({ ...ref, payload: { lang: 'en' } })).state.payload, { step: 1, lang: 'en' })
  assert.deepEqual((await c.getState(ref)).state.payload, { step: 1, lang: 'en' })
  assert.deepEqual((await c.getOrSetState({ ...ref, payload: { other: true } })).state.payload, { step: 1, lang: 'en' })
  assert.equal((await c.setStateExpiry({ ...ref, expiry: 60000 })).state.id, set.state.id)

  await rejectsApi(c.callAction({ type: 'nowhere:thing', input: {} }), { type: 'Runtime', code: 400 })

  assert.deepEqual(await c.removeParticipant({ id: conversation.id, userId: user.id }), {})
  assert.deepEqual(await c.deleteConversation({ id: conversation.id }), {})
  await rejectsApi(c.getConversation({ id: conversation.id }), { type: 'ResourceNotFound', code: 404 })
  await rejectsApi(c.getState(ref), { type: 'ResourceNotFound', code: 404 })
})

// ---------------------------------------------------------------- final checks

test('every response matched the OpenAPI schema and every operation was exercised', () => {
  const rep = buildReport(proxy, OPERATIONS)
  assert.deepEqual(rep.missing, [], `operations never exercised: ${rep.missing.join(', ')}`)
  const problems = groupInvalid(rep).map(
    ({ first: r, count, errors }) =>
      `#${r.seq} ${r.method} ${r.path} -> ${r.status} (${r.operationId}) x${count}: ${errors.join('; ')}`
  )
  assert.deepEqual(problems, [], `responses failing validation:\n${problems.join('\n')}`)
})
