'use strict'
// Operations the conformance suite must exercise (Botpress operationIds from @botpress/api).
// Add an operationId here when an issue adds it to Parley's scope, then drive it from a test;
// the final check in test/botpress.test.js fails until every listed operation was hit at
// least once through the validating proxy.
const OPERATIONS = [
  // account & personal access tokens
  'getAccount',
  'listPersonalAccessTokens',
  'createPersonalAccessToken',
  'deletePersonalAccessToken',
  // workspaces
  'createWorkspace',
  'listWorkspaces',
  'getWorkspace',
  // bots
  'createBot',
  'getBot',
  'listBots',
  // chat users
  'createUser',
  'getUser',
  'listUsers',
  'getOrCreateUser',
  'updateUser',
  'deleteUser',
]

module.exports = { OPERATIONS }
