// A bot written with the official @botpress/sdk, unchanged by Parley: it
// replies to every text message with the text reversed (authored by the
// bot: userId = ctx.botId) and offers the action `reverseAndShout`, which
// calls the installed integration's action `echo:shout`.
const sdk = require('@botpress/sdk')
const fs = require('fs')

const record = (entry) => fs.appendFileSync(process.env.RECORD_FILE, JSON.stringify(entry) + '\n')
const reverse = (s) => Array.from(s).reverse().join('')

const bot = new sdk.Bot({
  register: async ({ ctx }) => record({ op: 'register', ctx }),
  actions: {
    reverseAndShout: async ({ input, client, ctx }) => {
      const { output } = await client.callAction({ type: 'echo:shout', input: { text: input.text } })
      record({ op: 'action', input, output, ctx })
      return { reversed: reverse(input.text), shouted: output.text }
    },
  },
  plugins: {},
})

bot.on.message('text', async ({ message, user, conversation, client, ctx }) => {
  record({ op: 'message', message, user, conversation, ctx })
  await client.createMessage({
    conversationId: message.conversationId, userId: ctx.botId, type: 'text',
    payload: { text: reverse(message.payload.text) }, tags: {},
  })
})

bot.start(Number(process.env.PORT))
