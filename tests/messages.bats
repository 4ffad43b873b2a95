#!/usr/bin/env bats
# messages.bats: the outbox, delivery, pushed changes, intents and the inbox,
# end to end on a real mount, with vendors played by `vrmfs vendor` and by
# code the project did not write (python3-nacl).

bats_require_minimum_version 1.5.0

load mount_helpers

setup() {
    mount_setup
}

teardown() {
    mount_teardown
}

# vendor NAME [ENDPOINT [ACCEPTS_INTENTS]]: register NAME with fresh keys in
# $T/keys-NAME (public keys as made by `vrmfs vendor keygen`).
vendor() {
    local name=$1 endpoint=${2:-dir:$T/spool-$1} intents=${3:-false}
    "$VRMFS" vendor keygen "$T/keys-$name" >"$T/pub-$name.json" || return 1
    mkdir "$MNT/vendors/$name"
    jq -n --slurpfile k "$T/pub-$name.json" --arg ep "$endpoint" --argjson ai "$intents" \
        --arg n "$name" '{name: ("The " + $n + " shop"), keys: $k[0], endpoint: $ep,
                         terms: "CC-PDC-1.0", accepts_intents: $ai}' >"$MNT/vendors/$name/vendor.json"
}

sample() {
    mkvault
    mount_vault
    mkdir "$MNT/records/profile" "$MNT/records/purchases"
    echo '{"name": "Ann", "email": "ann@example.org", "address": {"city": "Paris", "zip": "75002"}}' \
        >"$MNT/records/profile/me.json"
    echo '{"merchant": "acme", "item": "kettle"}' >"$MNT/records/purchases/p1.json"
}

# wait_files DIR N [TENTHS]: until DIR holds N files.
wait_files() {
    local dir=$1 n=$2 i
    for i in $(seq "${3:-100}"); do
        [ "$(ls "$dir" 2>/dev/null | wc -l)" -ge "$n" ] && return 0
        sleep 0.1
    done
    echo "$dir holds $(ls "$dir" 2>/dev/null | wc -l) files, not $n"
    return 1
}

# open_msg NAME FILE: the payload of a message to vendor NAME, opened and
# verified with the vendor's key and the person's identity for it.
open_msg() {
    "$VRMFS" vendor open --key "$T/keys-$1" --from "$MNT/vendors/$1/identity.json" "$2"
}

@test "outbox/: a disclose goes to a dir: vendor, signed and sealed; sent/ and a receipt record it" {
    sample
    mkdir "$T/spool-acme"
    vendor acme
    echo '{"kind": "disclose", "fields": ["profile.email", "profile.address.city"],
           "purpose": "one delivery"}' >"$MNT/outbox/acme/order.json"
    wait_files "$T/spool-acme/new" 1
    local f id
    f=$(ls "$T/spool-acme/new"/*.vrm)
    id=$(basename "$f" .vrm)
    [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" != "eyJh" ]   # sealed, not a bare JWS
    run open_msg acme "$f"
    expect_status 0
    local p=$output
    [ "$(jq -r .id <<<"$p")" = "$id" ]
    [ "$(jq -r .kind <<<"$p")" = disclose ]
    [ "$(jq -r .v <<<"$p")" = 1 ]
    [ "$(jq -r .from <<<"$p")" = "$(jq -r .id "$MNT/vendors/acme/identity.json")" ]
    [ "$(jq -r .terms <<<"$p")" = CC-PDC-1.0 ]
    [ "$(jq -c .body.records <<<"$p")" = '{"profile":{"me":{"email":"ann@example.org","address":{"city":"Paris"}}}}' ]
    [ "$(jq -r 'keys | join(",")' <<<"$p")" = "body,created,from,id,kind,terms,to,v" ]
    # an outside implementation (PyNaCl) opens and verifies it too
    if /usr/bin/python3 -c 'import nacl' 2>/dev/null; then
        run /usr/bin/python3 "$SRCDIR/tests/vendor_interop.py" open "$T/keys-acme/secret.json" "$f"
        expect_status 0
        [ "$(jq -S -c . <<<"$output")" = "$(jq -S -c . <<<"$p")" ]
    fi
    # tampered: refused by both
    cp "$f" "$T/bad.vrm"
    flip "$T/bad.vrm" 60
    run open_msg acme "$T/bad.vrm"
    [ "$status" -ne 0 ]
    # sent/ shows it with when and how; the outbox is empty again
    for i in $(seq 30); do [ -e "$MNT/sent/acme/$id.json" ] && break; sleep 0.1; done
    [ "$(jq -r .transport "$MNT/sent/acme/$id.json")" = dir ]
    [ "$(jq -r .delivered "$MNT/sent/acme/$id.json")" != null ]
    [ -z "$(ls "$MNT/outbox/acme")" ]
    [ "$(jq -r .event "$MNT/vendors/acme/receipts/1.json")" = disclose ]
    [ "$(jq -r '.grants[0].message' "$MNT/vendors/acme/receipts/1.json")" = "$id" ]
    unmount_vault
    check_ok
}

@test "outbox/: bad messages are refused at close, logged, and nothing is queued" {
    sample
    vendor acme
    mkdir "$MNT/vendors/nokeys"
    local bad
    for bad in 'not json' '[1]' '{"text": "no kind"}' '{"kind": "shout", "text": "x"}' \
        '{"kind": "note"}' '{"kind": "note", "text": "x", "colour": 1}' \
        '{"kind": "disclose"}' '{"kind": "disclose", "fields": ["nosuch.x"]}' \
        '{"kind": "intent", "text": "x", "until": "soon"}' \
        '{"kind": "intent", "text": "x", "budget": "cheap"}'; do
        run bash -c "/bin/echo '$bad' >'$MNT/outbox/acme/m.json'"
        [ "$status" -ne 0 ] || { echo "accepted: $bad"; return 1; }
    done
    run bash -c "/bin/echo '{\"kind\": \"note\", \"text\": \"hi\"}' >'$MNT/outbox/nokeys/m.json'"
    [ "$status" -ne 0 ]
    has "$(errlog)" "vendor nokeys has no keys.x25519"
    run bash -c "/bin/echo '{\"kind\": \"note\", \"text\": \"hi\"}' >'$MNT/outbox/all/m.json'"
    [ "$status" -ne 0 ]
    has "$(errlog)" "only an intent can go to all vendors"
    fails_sh "No such file or directory" "echo '{}' >'$MNT/outbox/nobody/m.json'"
    fails_sh "Permission denied" "echo '{}' >'$MNT/outbox/acme/.m.json.swp'"
    errlog_has /outbox/acme/m.json
    [ -z "$(ls "$MNT/outbox/acme")" ] && [ -z "$(ls "$MNT/outbox/nokeys")" ] ||
        { ls -R "$MNT/outbox"; return 1; }
    [ -z "$(ls "$MNT/sent/acme")" ]
    [ -z "$(ls "$MNT/vendors/acme/receipts")" ]
}

@test "pushed changes: editing a field a notify grant covers sends an update with the new value" {
    sample
    mkdir "$T/spool-acme" "$T/spool-shop"
    vendor acme
    vendor shop
    /bin/echo '{"grants": [{"fields": ["profile.address"], "purpose": "delivery", "notify": true}]}' \
        >"$MNT/vendors/acme/grants.json"
    /bin/echo '{"grants": [{"fields": ["profile.address"], "purpose": "delivery"}]}' \
        >"$MNT/vendors/shop/grants.json"
    jq '.address.city = "Lyon" | .address.zip = "69001"' "$MNT/records/profile/me.json" >"$T/me.json"
    cp "$T/me.json" "$MNT/records/profile/me.json"
    jq '.name = "Ann B."' "$MNT/records/profile/me.json" >"$T/me.json"   # not granted: no update
    cp "$T/me.json" "$MNT/records/profile/me.json"
    wait_files "$T/spool-acme/new" 1
    sleep 0.5
    [ "$(ls "$T/spool-acme/new" | wc -l)" -eq 1 ]
    [ -z "$(ls "$T/spool-shop/new" 2>/dev/null)" ]
    run open_msg acme "$T/spool-acme/new"/*.vrm
    expect_status 0
    [ "$(jq -r .kind <<<"$output")" = update ]
    [ "$(jq -c .body <<<"$output")" = '{"collection":"profile","record":"me","values":{"address":{"city":"Lyon","zip":"69001"}}}' ]
    # ten quick edits: the last value always goes out
    local i
    for i in $(seq 10); do
        jq --arg z "7500$i" '.address.zip = $z' "$MNT/records/profile/me.json" >"$T/me.json"
        cp "$T/me.json" "$MNT/records/profile/me.json"
    done
    wait_files "$T/spool-acme/new" 11
    local zips
    zips=$(for f in "$T/spool-acme/new"/*.vrm; do open_msg acme "$f" | jq -r .body.values.address.zip; done | sort)
    grep -qx 750010 <<<"$zips" || { echo "the last value never went out: $zips"; return 1; }
}

@test "intents: outbox/all reaches every vendor that accepts intents; a reply shows in inbox/, a forged one is set aside" {
    sample
    mkdir "$T/spool-acme" "$T/spool-shop" "$T/spool-bank"
    vendor acme "" true
    vendor shop "" true
    vendor bank "" false
    echo '{"kind": "intent", "text": "a city bike", "category": "bikes",
           "budget": {"amount": 300, "currency": "EUR"}, "until": "2027-01-31T00:00:00Z"}' \
        >"$MNT/outbox/all/bike.json"
    wait_files "$T/spool-acme/new" 1
    wait_files "$T/spool-shop/new" 1
    sleep 0.3
    [ -z "$(ls "$T/spool-bank/new" 2>/dev/null)" ]
    local a s
    a=$(open_msg acme "$T/spool-acme/new"/*.vrm)
    s=$(open_msg shop "$T/spool-shop/new"/*.vrm)
    [ "$(jq -c .body <<<"$a")" = "$(jq -c .body <<<"$s")" ]
    [ "$(jq -r .from <<<"$a")" != "$(jq -r .from <<<"$s")" ]   # a pairwise identity each
    [ "$(jq -r .body.text <<<"$a")" = "a city bike" ]

    # acme answers with the vendor command
    local intent reply
    intent=$(jq -r .id <<<"$a")
    reply=$(jq -n --arg r "$intent" '{body: {offer: "Urban 3, 280 EUR"}, in_reply_to: $r}' |
        "$VRMFS" vendor reply --key "$T/keys-acme" --to "$MNT/vendors/acme/identity.json" \
            --spool "$VAULT/inbox/acme")
    for i in $(seq 50); do [ -e "$MNT/inbox/acme/$reply.json" ] && break; sleep 0.1; done
    [ "$(jq -r .body.offer "$MNT/inbox/acme/$reply.json")" = "Urban 3, 280 EUR" ]
    [ "$(jq -r .in_reply_to "$MNT/inbox/acme/$reply.json")" = "$intent" ]
    [ -z "$(ls "$VAULT/inbox/acme/new")" ]
    # shop answers with code the project did not write
    if /usr/bin/python3 -c 'import nacl' 2>/dev/null; then
        reply=$(/usr/bin/python3 "$SRCDIR/tests/vendor_interop.py" reply "$T/keys-shop/secret.json" \
            "$MNT/vendors/shop/identity.json" "$VAULT/inbox/shop" "$(jq -r .id <<<"$s")")
        for i in $(seq 50); do [ -e "$MNT/inbox/shop/$reply.json" ] && break; sleep 0.1; done
        [ "$(jq -r .kind "$MNT/inbox/shop/$reply.json")" = reply ]
    fi
    # bank's key signing a reply dropped into acme's spool: forged, set aside
    echo '{"body": {"offer": "free money"}}' |
        "$VRMFS" vendor reply --key "$T/keys-bank" --to "$MNT/vendors/acme/identity.json" \
            --spool "$VAULT/inbox/acme" >/dev/null
    echo 'not a message' >"$VAULT/inbox/acme/new/junk"
    for i in $(seq 50); do [ "$(ls "$MNT/inbox/.rejected" | wc -l)" -ge 2 ] && break; sleep 0.1; done
    [ "$(ls "$MNT/inbox/.rejected" | wc -l)" -eq 2 ]
    [ "$(ls "$MNT/inbox/acme" | wc -l)" -eq 1 ]
    grep -rq "free money" "$MNT/inbox" && { echo "a forged reply is shown"; return 1; }
    for f in "$MNT/inbox/.rejected"/*.json; do
        [ -n "$(jq -r .reason "$f")" ] || { cat "$f"; return 1; }
    done
    [ "$(ls "$VAULT/inbox/.rejected" | wc -l)" -eq 2 ]
    # a reply can be removed
    rm "$MNT/inbox/acme/"*.json
    [ -z "$(ls "$MNT/inbox/acme")" ]
}

@test "delivery: an http:// vendor that fails three times gets the message on a later try" {
    need python3
    sample
    local port=$((20000 + RANDOM % 20000))
    /usr/bin/python3 - "$port" "$T/http" <<'EOF' &
import http.server, os, sys
port, out = int(sys.argv[1]), sys.argv[2]
os.makedirs(out, exist_ok=True)
class H(http.server.BaseHTTPRequestHandler):
    tries = 0
    def do_POST(self):
        H.tries += 1
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if H.tries <= 3:
            self.send_response(503); self.end_headers(); return
        with open(os.path.join(out, self.headers["X-VRM-Message-Id"] + ".vrm"), "wb") as f:
            f.write(body)
        with open(os.path.join(out, "content-type"), "w") as f:
            f.write(self.headers["Content-Type"])
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
    bg_started $!
    sleep 0.5
    vendor acme "http://127.0.0.1:$port/vrm"
    echo '{"kind": "note", "text": "over http"}' >"$MNT/outbox/acme/n.json"
    local pend i
    for i in $(seq 50); do
        pend=$(ls "$MNT/outbox/acme" | head -n1)
        [ -n "$pend" ] && [ "$(jq -r .attempts "$MNT/outbox/acme/$pend" 2>/dev/null)" -ge 1 ] && break
        sleep 0.1
    done
    has "$(jq -r .last_error "$MNT/outbox/acme/$pend")" "HTTP 503"
    wait_files "$T/http" 2 200
    [ "$(cat "$T/http/content-type")" = application/octet-stream ]
    run open_msg acme "$T/http"/*.vrm
    expect_status 0
    [ "$(jq -r .body.text <<<"$output")" = "over http" ]
    for i in $(seq 30); do [ -z "$(ls "$MNT/outbox/acme")" ] && break; sleep 0.1; done
    [ "$(jq -r .transport "$MNT/sent/acme/$(jq -r .id <<<"$output").json")" = http ]
    [ "$(jq -r .attempts <<<"$(cat "$MNT/sent/acme"/*.json)")" = null ]   # sent/ shows the payload
}

@test "delivery: exec: vendors get the message on stdin; rm of a pending message cancels it" {
    sample
    vendor acme "exec:cat > '$T/exec-out.vrm'"
    vendor slow "dir:$T/missing-spool"
    echo '{"kind": "note", "text": "by exec"}' >"$MNT/outbox/acme/n.json"
    for i in $(seq 50); do [ -s "$T/exec-out.vrm" ] && break; sleep 0.1; done
    run open_msg acme "$T/exec-out.vrm"
    expect_status 0
    [ "$(jq -r .body.text <<<"$output")" = "by exec" ]
    # a message that cannot go yet waits; rm cancels it for good
    echo '{"kind": "note", "text": "never"}' >"$MNT/outbox/slow/n.json"
    local p
    p=$(ls "$MNT/outbox/slow")
    [[ "$p" == *.pending.json ]]
    rm "$MNT/outbox/slow/$p"
    [ -z "$(ls "$MNT/outbox/slow")" ]
    mkdir "$T/missing-spool"
    sleep 1.5
    [ -z "$(ls "$T/missing-spool/new" 2>/dev/null)" ]
    [ -z "$(ls "$MNT/sent/slow")" ]
}

@test "SIGKILL with 100 messages pending: after a remount all are delivered, none lost" {
    sample
    vendor acme "dir:$T/spool-acme"     # the spool is not there yet: they wait
    local i
    for i in $(seq 100); do
        printf '{"kind": "note", "text": "message %d"}\n' "$i" >"$MNT/outbox/acme/m$i.json"
    done
    [ "$(ls "$MNT/outbox/acme" | wc -l)" -eq 100 ]
    kill -9 "$DAEMON"
    wait_gone "$DAEMON"
    fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT"
    mkdir "$T/spool-acme"
    mount_vault
    wait_files "$T/spool-acme/new" 100 300
    local texts
    texts=$(for f in "$T/spool-acme/new"/*.vrm; do open_msg acme "$f" | jq -r .body.text; done | sort -u)
    [ "$(wc -l <<<"$texts")" -eq 100 ]
    for i in 1 50 100; do grep -qx "message $i" <<<"$texts"; done
    for i in $(seq 50); do [ -z "$(ls "$MNT/outbox/acme")" ] && break; sleep 0.1; done
    [ "$(ls "$MNT/sent/acme" | wc -l)" -eq 100 ]
    unmount_vault
    check_ok
}
