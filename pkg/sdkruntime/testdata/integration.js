// A channel integration written with the official @botpress/sdk, unchanged
// by Parley: its webhook receives a user's text ({from, chat, text}) and
// creates the incoming message; it records, one JSON line each in
// $RECORD_FILE, what Parley asks of it (register, unregister, webhooks,
// messages to send, actions).
const sdk = require('@botpress/sdk')
const fs = require('fs')

const record = (entry) => fs.appendFileSync(process.env.RECORD_FILE, JSON.stringify(entry) + '\n')

const integration = new sdk.Integration({
  register: async ({ ctx, webhookUrl, client }) => {
    record({ op: 'register', webhookUrl, ctx })
    await client.configureIntegration({ identifier: 'account-' + ctx.configuration.account })
  },
  unregister: async ({ ctx, webhookUrl }) => record({ op: 'unregister', webhookUrl, ctx }),
  handler: async ({ req, client, ctx }) => {
    const body = JSON.parse(req.body)
    const { user } = await client.getOrCreateUser({ tags: { id: body.from } })
    const { conversation } = await client.getOrCreateConversation({ channel: 'chat', tags: { id: body.chat } })
    const { message } = await client.createMessage({
      conversationId: conversation.id, userId: user.id, type: 'text', payload: { text: body.text }, tags: {},
    })
    record({ op: 'webhook', path: req.path, query: req.query, method: req.method, ctx, messageId: message.id })
    return { status: 202, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ received: message.id }) }
  },
  actions: {
    shout: async ({ input, ctx }) => {
      record({ op: 'action', type: 'shout', input, ctx })
      return { text: String(input.text).toUpperCase() }
    },
  },
  channels: {
    chat: {
      messages: {
        text: async ({ payload, conversation, message, user, ctx, ack }) => {
          record({ op: 'send', payload, conversation, message, user, ctx })
          await ack({ tags: { delivered: 'yes' } })
        },
      },
    },
  },
})

integration.start(Number(process.env.PORT))
