'use strict'
// Shared helpers for the suite: environment, clients pointed at the validating proxy, error
// assertions.
const assert = require('node:assert/strict')
const { Client, isApiError } = require('@botpress/client')

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

function env() {
  const apiUrl = process.env.PARLEY_API_URL
  const token = process.env.PARLEY_TOKEN
  const missing = []
  if (!apiUrl) missing.push('PARLEY_API_URL (e.g. http://127.0.0.1:3000)')
  if (!token) missing.push('PARLEY_TOKEN (a personal access token of a bootstrapped account)')
  if (missing.length) throw new Error(`set ${missing.join(' and ')}`)
  return { apiUrl, token }
}

/** Official client aimed at the proxy. `scope` = { token, workspaceId, botId } (all optional). */
function makeClient(proxyUrl, scope = {}) {
  const props = { apiUrl: proxyUrl, timeout: 30_000 }
  if (scope.token !== undefined) props.token = scope.token
  if (scope.workspaceId) props.workspaceId = scope.workspaceId
  if (scope.botId) props.botId = scope.botId
  return new Client(props)
}

/**
 * Awaits `promise`, expects it to reject with an API error of `type` (string or array of
 * accepted types) and HTTP `code`. Returns the error.
 */
async function rejectsApi(promise, { type, code }) {
  let err
  try {
    const value = await promise
    assert.fail(`expected ${type} (${code}), got success: ${JSON.stringify(value).slice(0, 300)}`)
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e
    err = e
  }
  assert.ok(isApiError(err), `expected an API error, got ${err && err.stack}`)
  const types = Array.isArray(type) ? type : [type]
  assert.ok(types.includes(err.type), `expected error type ${types.join('|')}, got ${err.type}: ${err.message}`)
  if (code !== undefined) assert.equal(err.code, code, `error code for ${err.type}`)
  return err
}

function assertTimestamp(value, label) {
  assert.equal(typeof value, 'string', `${label} is a string`)
  assert.match(value, ISO_MS, `${label} is ISO 8601 UTC with milliseconds`)
}

function assertId(value, label) {
  assert.equal(typeof value, 'string', `${label} is a string`)
  assert.ok(value.length >= 28 && value.length <= 36, `${label} length 28..36, got ${value.length} (${value})`)
}

/** A well-formed id (31 chars) that the server has never issued. */
function fakeId(prefix) {
  const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
  let s = ''
  while (s.length < 26) s += alphabet[Math.floor(Math.random() * alphabet.length)]
  return `${prefix}_${s}`.slice(0, 36)
}

function runId() {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
}

module.exports = { env, makeClient, rejectsApi, assertTimestamp, assertId, fakeId, runId, ISO_MS }
