#!/usr/bin/env bash
# Conversation deletion jobs against `make run`, as a Kore.ai script would
# drive them: DEV_PAT=… make demo-deletion. Needs curl, jq and openssl.
set -euo pipefail
API=${API:-http://127.0.0.1:${PORT:-3000}}
: "${DEV_PAT:?set DEV_PAT to the token make run printed (or started with)}"
for tool in jq openssl curl; do command -v $tool >/dev/null || { echo "demo needs $tool"; exit 1; }; done

call() { # method path [body] [extra headers…]
  local m=$1 p=$2 b=${3:-}
  shift $(( $# < 3 ? $# : 3 ))
  curl -sS -X "$m" "$API$p" -H 'Content-Type: application/json' "$@" ${b:+-d "$b"}
}
pat() { call "$1" "$2" "${3:-}" -H "Authorization: Bearer $DEV_PAT" "${@:4}"; }
say() { printf '\n== %s\n' "$*"; }
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }

say "a bot with two users and their conversations"
WS=$(pat POST /v1/admin/workspaces '{"name":"deletion demo"}' | jq -r .id)
BOT=$(pat POST /v1/admin/bots '{"name":"deletion demo"}' -H "x-workspace-id: $WS" | jq -r .bot.id)
chat() { pat "$1" "$2" "${3:-}" -H "x-bot-id: $BOT"; }
declare -A CONVS
for who in ann bob; do
  U=$(chat POST /v1/chat/users "{\"tags\":{},\"name\":\"$who\"}" | jq -r .user.id)
  eval "USER_$who=$U"
  for i in 1 2; do
    C=$(chat POST /v1/chat/conversations '{"channel":"web","tags":{}}' | jq -r .conversation.id)
    chat POST "/v1/chat/conversations/$C/participants" "{\"userId\":\"$U\"}" >/dev/null
    for t in hello "how are you" bye; do
      chat POST /v1/chat/messages "{\"conversationId\":\"$C\",\"userId\":\"$U\",\"type\":\"text\",\"payload\":{\"text\":\"$t\"},\"tags\":{}}" >/dev/null
    done
    CONVS[$who$i]=$C
  done
done
for k in "${!CONVS[@]}"; do echo "$k ${CONVS[$k]}"; done | sort

say "a bot API key, and a JWT signed with it (HS256, claim appId)"
KEY=$(pat POST /v1/admin/bots/baks "{\"botId\":\"$BOT\",\"note\":\"deletions\"}" -H "x-workspace-id: $WS")
KEY_ID=$(jq -r .id <<<"$KEY"); SECRET=$(jq -r .value <<<"$KEY")
HEADER=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
CLAIMS=$(printf '{"appId":"%s","exp":%d}' "$KEY_ID" $(( $(date +%s) + 3600 )) | b64url)
SIG=$(printf '%s.%s' "$HEADER" "$CLAIMS" | openssl dgst -sha256 -hmac "$SECRET" -binary | b64url)
JWT="$HEADER.$CLAIMS.$SIG"
echo "key $KEY_ID"
kore() { call "$1" "/api/public/bot/$BOT/conversations/delete${2:-}" "${3:-}" -H "auth: $JWT"; }

say "queue a job by ids (ann's first, bob's first) and one by cId (all of ann's, today)"
TODAY=$(date -u +%F)
JOB_IDS=$(kore POST "" "{\"conversationIds\":[\"${CONVS[ann1]}\",\"${CONVS[bob1]}\"]}" | tee /dev/stderr | jq -r .jobId)
echo
JOB_USER=$(kore POST "" "{\"cId\":\"$USER_ann\",\"startDate\":\"$TODAY\",\"endDate\":\"$TODAY\"}" | tee /dev/stderr | jq -r .jobId)
echo
say "nothing is deleted at submission"
chat GET "/v1/chat/conversations/${CONVS[ann1]}" | jq -c '{conversation: .conversation.id}'
for job in "$JOB_IDS" "$JOB_USER"; do kore GET "/$job" | jq -c '{jobId, status, scheduledAt, startedAt}'; done

say "the off-peak window (fired now unless OFFPEAK_SCHEDULE runs it)"
[ -n "${OFFPEAK_SCHEDULE:-}" ] || curl -fsS -X POST "$API/_local/schedules/offpeak"
for job in "$JOB_IDS" "$JOB_USER"; do
  last=""
  for _ in $(seq 1 120); do
    s=$(kore GET "/$job" | jq -r .status)
    [ "$s" != "$last" ] && echo "$job: $s" && last=$s
    [ "$s" = completed ] || [ "$s" = failed ] && break
    sleep 0.5
  done
  kore GET "/$job" | jq -c '{status, requestType, result}'
done

say "deleted conversations answer 404, the others remain"
for k in ann1 ann2 bob1 bob2; do
  code=$(curl -sS -o /dev/null -w '%{http_code}' "$API/v1/chat/conversations/${CONVS[$k]}" -H "Authorization: Bearer $DEV_PAT" -H "x-bot-id: $BOT")
  printf '%s %s: %s\n' "$k" "${CONVS[$k]}" "$code"
done
