'use strict'
// Validating reverse proxy: listens on 127.0.0.1:<random>, forwards every request unchanged to
// the upstream (process.env.PARLEY_API_URL by default), validates each response body against
// the OpenAPI operation matched by method + path template, records the result and relays the
// upstream response byte for byte to the caller.
const http = require('node:http')
const https = require('node:https')
const zlib = require('node:zlib')
const { OpenApiValidator } = require('./openapi')

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

function decodeBody(buf, encoding) {
  switch ((encoding || '').toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return zlib.gunzipSync(buf)
    case 'deflate':
      return zlib.inflateSync(buf)
    case 'br':
      return zlib.brotliDecompressSync(buf)
    default:
      return buf
  }
}

/**
 * Starts the proxy.
 * @param {object} [opts]
 * @param {string} [opts.upstream] base URL of the server under test (default PARLEY_API_URL)
 * @param {OpenApiValidator} [opts.validator]
 * @param {boolean} [opts.log] print one line per exchange (default: PARLEY_PROXY_LOG=1)
 * @param {boolean} [opts.printInvalid] print each distinct invalid response as it happens (default true)
 * @returns {Promise<{url, records, errors(), summary(), close()}>}
 */
async function startProxy(opts = {}) {
  const upstream = opts.upstream || process.env.PARLEY_API_URL
  if (!upstream) throw new Error('PARLEY_API_URL is not set (e.g. http://127.0.0.1:3000)')
  const base = new URL(upstream)
  const basePath = base.pathname.replace(/\/$/, '')
  const transport = base.protocol === 'https:' ? https : http
  const validator = opts.validator || OpenApiValidator.load()
  const log = opts.log ?? process.env.PARLEY_PROXY_LOG === '1'
  const printInvalid = opts.printInvalid ?? true
  const records = []
  const printed = new Set()

  const server = http.createServer((req, res) => {
    const reqChunks = []
    req.on('data', (c) => reqChunks.push(c))
    req.on('end', () => {
      const reqBody = Buffer.concat(reqChunks)
      const headers = { ...req.headers, host: base.host }
      for (const h of HOP_BY_HOP) delete headers[h]
      if (reqBody.length) headers['content-length'] = String(reqBody.length)
      const upReq = transport.request(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port || (base.protocol === 'https:' ? 443 : 80),
          method: req.method,
          path: basePath + req.url,
          headers,
        },
        (upRes) => {
          const chunks = []
          upRes.on('data', (c) => chunks.push(c))
          upRes.on('end', () => {
            const raw = Buffer.concat(chunks)
            const record = {
              seq: records.length + 1,
              method: req.method,
              path: req.url,
              status: upRes.statusCode,
              operationId: null,
              errors: [],
              requestBody: reqBody.length ? reqBody.toString('utf8').slice(0, 2000) : undefined,
              responseBody: undefined,
            }
            try {
              const decoded = decodeBody(raw, upRes.headers['content-encoding'])
              record.responseBody = decoded.toString('utf8').slice(0, 4000)
              const result = validator.validateResponse({
                method: req.method,
                path: req.url,
                status: upRes.statusCode,
                contentType: upRes.headers['content-type'] || '',
                body: decoded,
              })
              record.operationId = result.operationId
              record.errors = result.errors
            } catch (e) {
              record.errors = [`validator crashed: ${e.stack || e}`]
            }
            records.push(record)
            // print each distinct failure (operation + messages) once; the report lists them all
            const sig = `${record.operationId} ${record.status} ${record.errors.join('|')}`
            const repeated = record.errors.length > 0 && printed.has(sig)
            if (record.errors.length) printed.add(sig)
            if (log || (printInvalid && record.errors.length && !repeated)) {
              const flag = record.errors.length ? 'INVALID' : 'ok'
              const line = `[proxy] ${record.method} ${record.path} -> ${record.status} ${record.operationId || '?'} ${flag}`
              if (record.errors.length) {
                console.log(`${line}\n${record.errors.map((e) => `    - ${e}`).join('\n')}\n    body: ${(record.responseBody || "").slice(0, 800)}`)
              } else {
                console.log(line)
              }
            }
            const outHeaders = { ...upRes.headers }
            for (const h of HOP_BY_HOP) delete outHeaders[h]
            outHeaders['content-length'] = String(raw.length)
            res.writeHead(upRes.statusCode, upRes.statusMessage, outHeaders)
            res.end(raw)
          })
          upRes.on('error', (e) => fail(e))
        }
      )
      const fail = (e) => {
        records.push({
          seq: records.length + 1,
          method: req.method,
          path: req.url,
          status: 0,
          operationId: validator.match(req.method, req.url)?.route.operationId ?? null,
          errors: [`upstream request failed: ${e.message}`],
        })
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' })
        res.end(`parley conformance proxy: upstream ${upstream} failed: ${e.message}`)
      }
      upReq.on('error', fail)
      upReq.end(reqBody)
    })
  })

  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', resolve)
  })
  const { port } = server.address()

  return {
    url: `http://127.0.0.1:${port}`,
    upstream,
    validator,
    records,
    /** records that carry at least one validation error */
    invalid() {
      return records.filter((r) => r.errors.length > 0)
    },
    /** { operationId: { count, statuses: {status: n} } } */
    coverage() {
      const cov = {}
      for (const r of records) {
        const k = r.operationId || '(unmatched)'
        cov[k] ??= { count: 0, statuses: {}, invalid: 0 }
        cov[k].count++
        cov[k].statuses[r.status] = (cov[k].statuses[r.status] || 0) + 1
        if (r.errors.length) cov[k].invalid++
      }
      return cov
    },
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections?.()
      })
    },
  }
}

module.exports = { startProxy }
