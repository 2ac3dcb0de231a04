#!/usr/bin/env bash
# A whole conversation against `make run`: DEV_PAT=… make demo
set -euo pipefail
API=${API:-http://127.0.0.1:${PORT:-3000}}
: "${DEV_PAT:?set DEV_PAT to the token make run printed (or started with)}"
command -v jq >/dev/null || { echo "demo.sh needs jq"; exit 1; }

call() { # method path [body] [extra headers…]
  local m=$1 p=$2 b=${3:-}
  shift $(( $# < 3 ? $# : 3 ))
  curl -sS -X "$m" "$API$p" -H "Authorization: Bearer $DEV_PAT" -H 'Content-Type: application/json' "$@" ${b:+-d "$b"}
}
say() { printf '\n== %s\n' "$*"; }

say "workspace and bot"
WS=$(call POST /v1/admin/workspaces '{"name":"demo"}' | jq -r .id)
BOT=$(call POST /v1/admin/bots '{"name":"demo"}' -H "x-workspace-id: $WS" | jq -r .bot.id)
echo "workspace $WS, bot $BOT"
chat() { call "$1" "$2" "${3:-}" -H "x-bot-id: $BOT"; }

say "create user"
USER=$(chat POST /v1/chat/users '{"tags":{},"name":"Ann"}' | jq -r .user.id); echo "$USER"
say "get-or-create conversation (twice: one conversation)"
CONV=$(chat POST /v1/chat/conversations/get-or-create '{"channel":"web","tags":{}}' | jq -r .conversation.id)
AGAIN=$(chat POST /v1/chat/conversations/get-or-create '{"channel":"web","tags":{}}' | jq -r .conversation.id)
echo "$CONV $AGAIN"; [ "$CONV" = "$AGAIN" ]
say "add participant"
chat POST "/v1/chat/conversations/$CONV/participants" "{\"userId\":\"$USER\"}" | jq -c .participant
say "exchange messages"
for t in "Hello!" "Hi Ann, how can I help?" "Where is my order?"; do
  chat POST /v1/chat/messages "{\"conversationId\":\"$CONV\",\"userId\":\"$USER\",\"type\":\"text\",\"payload\":{\"text\":\"$t\"},\"tags\":{}}" | jq -c '.message | {id, direction, text: .payload.text}'
done
chat GET "/v1/chat/messages?conversationId=$CONV" | jq -c '[.messages[].payload.text]'
MSG=$(chat GET "/v1/chat/messages?conversationId=$CONV" | jq -r '.messages[0].id')
say "set, patch, get state"
chat POST "/v1/chat/states/conversation/$CONV/context" '{"payload":{"step":1},"expiry":3600000}' | jq -c .state.payload
chat PATCH "/v1/chat/states/conversation/$CONV/context" '{"payload":{"topic":"order"}}' | jq -c .state.payload
chat GET "/v1/chat/states/conversation/$CONV/context" | jq -c .state.payload
say "create and list events"
chat POST /v1/chat/events "{\"type\":\"order_lookup\",\"payload\":{\"order\":42},\"conversationId\":\"$CONV\"}" | jq -c '.event | {id, type, status}'
chat GET "/v1/chat/events?conversationId=$CONV" | jq -c '[.events[] | {type, status}]'
say "delete the conversation"
chat DELETE "/v1/chat/conversations/$CONV" | jq -c .
say "its messages are gone"
chat GET "/v1/chat/messages/$MSG" | jq -c '{code, type}'
chat GET "/v1/chat/messages?conversationId=$CONV" | jq -c '{messages}'
chat GET "/v1/chat/conversations/$CONV" | jq -c '{code, type}'
