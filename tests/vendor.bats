#!/usr/bin/env bats
# vendor.bats: the vendor's side of messages, `vrmfs vendor keygen|open|reply`,
# driven as a vendor would drive it, against two peers:
#   - the person's side as libvrm does it, through test_envelope's fixture
#     modes (--write-fixtures DIR: a vault, the person's identity.json for
#     "acme" and a message from it; --check-reply DIR FILE: open a reply as
#     that person), since a person's identity needs a vault;
#   - tests/vendor_interop.py, a vendor written with PyNaCl alone.
#
# Run:  VRMFS=build/fs/vrmfs SRCDIR=. ENVELOPE_TEST=build/tests/test_envelope \
#           bats --tap tests/vendor.bats
# (meson test vendor-cli runs it exactly so).  The PyNaCl tests skip without
# /usr/bin/python3 and python3-nacl.

bats_require_minimum_version 1.5.0

load assert

B64_32='^[A-Za-z0-9_-]{43}$'            # 32 bytes, unpadded base64url
B64_16='^[A-Za-z0-9_-]{22}$'            # 16 bytes

setup() {
    : "${VRMFS:?set VRMFS to the vrmfs binary}"
    : "${SRCDIR:?set SRCDIR to the source tree}"
    : "${ENVELOPE_TEST:?set ENVELOPE_TEST to the test_envelope binary}"
    case $VRMFS in /*) ;; */*) VRMFS="$PWD/$VRMFS" ;; esac
    case $SRCDIR in /*) ;; *) SRCDIR="$PWD/$SRCDIR" ;; esac
    case $ENVELOPE_TEST in /*) ;; */*) ENVELOPE_TEST="$PWD/$ENVELOPE_TEST" ;; esac
    T="$BATS_TEST_TMPDIR/w"
    mkdir -p "$T"
    cd "$T" || return 1
    exec </dev/null
    PEER="$SRCDIR/tests/vendor_interop.py"
    umask 022
}

# ---- helpers ------------------------------------------------------------

need_nacl() {
    /usr/bin/python3 -c 'import nacl.public, nacl.signing' 2>/dev/null ||
        skip "no /usr/bin/python3 with python3-nacl"
}

peer() {
    /usr/bin/python3 "$PEER" "$@"
}

# fixtures: fx/vendor made by `vrmfs vendor keygen`, then the person's side
# (fx/vault, fx/identity.json, fx/payload.json, fx/msg.vrm, fx/other.vrm).
fixtures() {
    mkdir -p fx
    "$VRMFS" vendor keygen fx/vendor >fx/keygen.out 2>&1 ||
        { echo "keygen failed:"; cat fx/keygen.out; return 1; }
    "$ENVELOPE_TEST" --write-fixtures "$T/fx" ||
        { echo "test_envelope --write-fixtures failed"; return 1; }
}

mode() {
    stat -c %a "$1"
}

sha() {
    sha256sum <"$1" | cut -d' ' -f1
}

# kid ED25519_B64URL: the vendor's key id computed here, with coreutils:
# the first 16 bytes of BLAKE2b-256 of the key, unpadded base64url.
kid() {
    local pad
    pad=$(printf '%s' "$1" | tr -- '-_' '+/')
    while [ $(( ${#pad} % 4 )) -ne 0 ]; do pad="$pad="; done
    printf '%s' "$pad" | base64 -d | b2sum -l 256 | cut -c1-32 | xxd -r -p |
        basenc --base64url | tr -d '=\n'
}

# both_refuse FILE WHY: vrmfs vendor open and the PyNaCl peer both refuse
both_refuse() {
    run --separate-stderr "$VRMFS" vendor open --key fx/vendor "$1"
    [ "$status" -eq 1 ] || { echo "$2: vrmfs exit $status, not 1; stdout: $output"; return 1; }
    [ -z "$output" ] || { echo "$2: vrmfs printed: $output"; return 1; }
    has "$stderr" "vrmfs vendor open: $1: "
    if /usr/bin/python3 -c 'import nacl' 2>/dev/null; then
        run --separate-stderr peer open fx/vendor/secret.json "$1"
        [ "$status" -eq 1 ] || { echo "$2: peer exit $status, not 1"; return 1; }
        [ -z "$output" ] || { echo "$2: peer printed: $output"; return 1; }
    fi
}

# ---- help and usage --------------------------------------------------------

@test "vendor: --help for the group and each command; usage errors exit 64" {
    run --separate-stderr "$VRMFS" vendor --help
    expect_status 0
    has "$output" "Usage: vrmfs vendor COMMAND"
    local group=$output
    for c in keygen open reply; do
        has "$group" "  $c "
        for opt in --help -h; do
            run --separate-stderr "$VRMFS" vendor "$c" "$opt"
            expect_status 0
            has "$output" "Usage: vrmfs vendor $c [OPTIONS]"
            [ -z "$stderr" ]
        done
    done
    run --separate-stderr "$VRMFS" --help
    has "$output" "vendor"
    local -a cases=("vendor" "vendor frob" "vendor keygen" "vendor keygen a b"
        "vendor keygen --bogus d" "vendor open x" "vendor open --key k"
        "vendor open --key k a b" "vendor reply --key k --to i"
        "vendor reply --key k --spool s" "vendor reply --key k --to i --spool s extra")
    local c
    for c in "${cases[@]}"; do
        # shellcheck disable=SC2086
        run --separate-stderr "$VRMFS" $c
        [ "$status" -eq 64 ] || { echo "'vrmfs $c': exit $status, not 64"; return 1; }
        [ -z "$output" ] || { echo "'vrmfs $c': stdout: $output"; return 1; }
        has "$stderr" "vrmfs vendor"
    done
}

# ---- keygen ------------------------------------------------------------------

@test "keygen: secret.json 0600 and public.json in a 0700 directory; prints the public keys" {
    run --separate-stderr "$VRMFS" vendor keygen k
    expect_status 0
    [ "$(mode k)" = 700 ]
    [ "$(mode k/secret.json)" = 600 ]
    [ "$(mode k/public.json)" = 644 ]
    # stdout is public.json, byte for byte: vendor.json's "keys"
    [ "$output" = "$(cat k/public.json)" ]
    jq -e 'keys == ["ed25519", "x25519"]' k/public.json >/dev/null
    [[ "$(jq -r .ed25519 k/public.json)" =~ $B64_32 ]]
    [[ "$(jq -r .x25519 k/public.json)" =~ $B64_32 ]]
    jq -e 'keys == ["ed25519_secret", "x25519_secret"]' k/secret.json >/dev/null
    [[ "$(jq -r .ed25519_secret k/secret.json)" =~ ^[A-Za-z0-9_-]{86}$ ]]
    [[ "$(jq -r .x25519_secret k/secret.json)" =~ $B64_32 ]]
    # the key id, computed independently, is named on stderr
    has "$stderr" "key id $(kid "$(jq -r .ed25519 k/public.json)")"
    # no secret on stdout
    lacks "$output" "$(jq -r .x25519_secret k/secret.json)"
    # an existing directory is used as it is
    mkdir k2
    run --separate-stderr "$VRMFS" vendor keygen k2
    expect_status 0
    [ -f k2/secret.json ]
    # two keys differ
    [ "$(jq -r .ed25519 k/public.json)" != "$(jq -r .ed25519 k2/public.json)" ]
}

@test "keygen: never overwrites a key (exit 8); a missing parent exits 10" {
    "$VRMFS" vendor keygen k >/dev/null 2>&1
    local before pub
    before=$(sha k/secret.json)
    pub=$(sha k/public.json)
    run --separate-stderr "$VRMFS" vendor keygen k
    expect_status 8
    [ -z "$output" ]
    has "$stderr" "k/secret.json exists"
    [ "$(sha k/secret.json)" = "$before" ]
    [ "$(sha k/public.json)" = "$pub" ]
    # a stale public.json alone is not paired with a new secret
    mkdir s && echo '{}' >s/public.json
    run --separate-stderr "$VRMFS" vendor keygen s
    expect_status 8
    [ ! -e s/secret.json ]
    # a symbolic link where the secret goes is never written through
    mkdir l && ln -s "$T/target" l/secret.json
    run --separate-stderr "$VRMFS" vendor keygen l
    expect_status 8
    [ ! -e target ]
    run --separate-stderr "$VRMFS" vendor keygen no/such/dir
    expect_status 10
    has "$stderr" "no/such/dir"
}

# ---- open --------------------------------------------------------------------

@test "open: a person's message prints its payload, as the PyNaCl peer does" {
    fixtures
    run --separate-stderr "$VRMFS" vendor open --key fx/vendor fx/msg.vrm
    expect_status 0
    [ -z "$stderr" ]
    [ "$output" = "$(cat fx/payload.json)" ] || { echo "got: $output"; return 1; }
    jq -e '.kind == "disclose" and .body.city == "Zürich \"old town\""' <<<"$output" >/dev/null
    # from standard input too, and pinned to the person with --from
    run --separate-stderr "$VRMFS" vendor open --key fx/vendor - <fx/msg.vrm
    expect_status 0
    [ "$output" = "$(cat fx/payload.json)" ]
    run --separate-stderr "$VRMFS" vendor open --key fx/vendor --from fx/identity.json fx/msg.vrm
    expect_status 0
    [ "$output" = "$(cat fx/payload.json)" ]
    [ "$(jq -r .from <<<"$output")" = "$(jq -r .id fx/identity.json)" ]
    need_nacl
    run --separate-stderr peer open fx/vendor/secret.json fx/msg.vrm
    expect_status 0
    [ "$output" = "$(cat fx/payload.json)" ] || { echo "peer: $output"; return 1; }
}

@test "open --from: a message from another person (another vault) is refused" {
    fixtures
    # it is genuine, from someone...
    run --separate-stderr "$VRMFS" vendor open --key fx/vendor fx/other.vrm
    expect_status 0
    # ...but not from the person of identity.json
    run --separate-stderr "$VRMFS" vendor open --key fx/vendor --from fx/identity.json fx/other.vrm
    expect_status 1
    [ -z "$output" ]
    has "$stderr" "signed by another key"
    # the right signer but a payload naming someone else as "from"
    jq '.id = "AAAAAAAAAAAAAAAAAAAAAA"' fx/identity.json >fx/renamed.json
    run --separate-stderr "$VRMFS" vendor open --key fx/vendor --from fx/renamed.json fx/msg.vrm
    expect_status 1
    has "$stderr" '"from" is not the id of fx/renamed.json'
}

@test "open: tampered, truncated, empty and misaddressed messages are refused by both" {
    fixtures
    local size off n
    size=$(stat -c %s fx/msg.vrm)
    for off in 0 1 16 31 32 47 48 49 60 100 $((size / 2)) $((size - 65)) $((size - 1)); do
        cp fx/msg.vrm t.vrm
        flip t.vrm "$off"
        both_refuse t.vrm "byte $off flipped"
    done
    for n in 0 1 47 48 49 100 $((size - 1)); do
        head -c "$n" fx/msg.vrm >t.vrm
        both_refuse t.vrm "cut to $n bytes"
    done
    { cat fx/msg.vrm; printf x; } >t.vrm
    both_refuse t.vrm "a byte appended"
    head -c 200 /dev/urandom >t.vrm
    both_refuse t.vrm "random bytes"
    # sealed to another vendor's key
    "$VRMFS" vendor keygen k2 >/dev/null 2>&1
    run --separate-stderr "$VRMFS" vendor open --key k2 fx/msg.vrm
    expect_status 1
    has "$stderr" "does not open with this key"
}

@test "open: missing or malformed inputs exit 10 or 11, with the file named" {
    fixtures
    run --separate-stderr "$VRMFS" vendor open --key fx/vendor nosuch.vrm
    expect_status 10
    has "$stderr" "nosuch.vrm"
    run --separate-stderr "$VRMFS" vendor open --key fx/vendor fx
    expect_status 10
    run --separate-stderr "$VRMFS" vendor open --key nokey fx/msg.vrm
    expect_status 10
    has "$stderr" "nokey/secret.json"
    has "$stderr" "vrmfs vendor keygen nokey"
    run --separate-stderr "$VRMFS" vendor open --key fx/vendor --from nosuch.json fx/msg.vrm
    expect_status 10
    # malformed key files
    mkdir bad
    local -a secrets=('not json' '{}' '{"ed25519_secret": "AAAA", "x25519_secret": "AAAA"}'
        "$(jq '.x25519_secret = "short"' fx/vendor/secret.json)"
        "$(jq '.extra = 1' fx/vendor/secret.json)")
    local s
    for s in "${secrets[@]}"; do
        printf '%s' "$s" >bad/secret.json
        run --separate-stderr "$VRMFS" vendor open --key bad fx/msg.vrm
        [ "$status" -eq 11 ] || { echo "secret.json '$s': exit $status, not 11"; return 1; }
        has "$stderr" "bad/secret.json"
    done
    # malformed identity.json
    local -a idents=('not json' '[]' '{"id": "x"}'
        "$(jq '.ed25519 = "AAAA"' fx/identity.json)"
        "$(jq 'del(.x25519)' fx/identity.json)"
        "$(jq '.ed25519 = 5' fx/identity.json)")
    for s in "${idents[@]}"; do
        printf '%s' "$s" >bad.json
        run --separate-stderr "$VRMFS" vendor open --key fx/vendor --from bad.json fx/msg.vrm
        [ "$status" -eq 11 ] || { echo "identity '$s': exit $status, not 11"; return 1; }
        has "$stderr" "bad.json"
    done
}

# ---- reply -------------------------------------------------------------------

@test "reply: sealed into the spool; the person opens it and sees every field filled in" {
    fixtures
    local id file payload before after
    before=$(date -u +%s)
    run --separate-stderr "$VRMFS" vendor reply --key fx/vendor --to fx/identity.json \
        --spool vault/inbox/acme <<<'{"in_reply_to": "fixture-1", "body": {"text": "Thanks", "n": [1, 2]}}'
    expect_status 0
    id=$output
    [[ "$id" =~ $B64_16 ]] || { echo "id: $id"; return 1; }
    file=vault/inbox/acme/new/$id.vrm
    [ -f "$file" ]
    [ "$(mode "$file")" = 600 ]
    [ -d vault/inbox/acme/cur ]
    [ -z "$(ls vault/inbox/acme/tmp)" ]
    run --separate-stderr "$ENVELOPE_TEST" --check-reply "$T/fx" "$file"
    expect_status 0
    payload=$output
    after=$(date -u +%s)
    jq -e --arg id "$id" --arg to "$(jq -r .id fx/identity.json)" \
        --arg from "$(kid "$(jq -r .ed25519 fx/vendor/public.json)")" '
        keys_unsorted == ["v", "id", "kind", "from", "to", "created", "in_reply_to", "body"]
        and .v == 1 and .id == $id and .kind == "reply" and .from == $from and .to == $to
        and .in_reply_to == "fixture-1" and .body == {"text": "Thanks", "n": [1, 2]}
        and (.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"))' \
        <<<"$payload" >/dev/null || { echo "payload: $payload"; return 1; }
    local t
    t=$(date -u -d "$(jq -r .created <<<"$payload")" +%s)
    [ "$t" -ge "$before" ] && [ "$t" -le "$after" ]
    # it is not for the vendor: its own open refuses it
    run --separate-stderr "$VRMFS" vendor open --key fx/vendor "$file"
    expect_status 1
    # given fields are kept when they agree
    run --separate-stderr "$VRMFS" vendor reply --key fx/vendor --to fx/identity.json \
        --spool vault/inbox/acme <<<'{"v": 1, "id": "my-id_1", "kind": "reply", "created": "2026-01-02T03:04:05.5+01:00", "body": null}'
    expect_status 0
    [ "$output" = my-id_1 ]
    run --separate-stderr "$ENVELOPE_TEST" --check-reply "$T/fx" vault/inbox/acme/new/my-id_1.vrm
    expect_status 0
    jq -e '.created == "2026-01-02T03:04:05.5+01:00" and .body == null' <<<"$output" >/dev/null
    # the same id twice: refused, the first kept
    before=$(sha vault/inbox/acme/new/my-id_1.vrm)
    run --separate-stderr "$VRMFS" vendor reply --key fx/vendor --to fx/identity.json \
        --spool vault/inbox/acme <<<'{"id": "my-id_1", "body": 2}'
    expect_status 8
    [ "$(sha vault/inbox/acme/new/my-id_1.vrm)" = "$before" ]
    [ -z "$(ls vault/inbox/acme/tmp)" ]
}

@test "reply: to another person's identity, the person cannot open it" {
    fixtures
    jq --arg x "$(jq -r .x25519 fx/vendor/public.json)" '.x25519 = $x' fx/identity.json >other.json
    run --separate-stderr "$VRMFS" vendor reply --key fx/vendor --to other.json --spool sp <<<'{"body": {}}'
    expect_status 0
    run --separate-stderr "$ENVELOPE_TEST" --check-reply "$T/fx" "sp/new/$output.vrm"
    expect_status 1
    has "$stderr" "does not open"
    # signed by another vendor's key: refused by the person too
    "$VRMFS" vendor keygen k2 >/dev/null 2>&1
    run --separate-stderr "$VRMFS" vendor reply --key k2 --to fx/identity.json --spool sp <<<'{"body": {}}'
    expect_status 0
    run --separate-stderr "$ENVELOPE_TEST" --check-reply "$T/fx" "sp/new/$output.vrm"
    expect_status 1
    has "$stderr" "not the vendor's"
}

@test "reply: bad payloads and inputs exit 11, 10 or 64 and deliver nothing" {
    fixtures
    # each with a body, so that it fails for the reason it shows
    local -a bad=('' 'not json' '[1]' '{"a": 1, "body": 1} x' '{"kind": "note", "body": 1}'
        '{"kind": 5, "body": 1}' '{"v": 2, "body": 1}' '{"v": "1", "body": 1}'
        '{"terms": "x", "body": 1}' '{"id": "a/b", "body": 1}' '{"id": "", "body": 1}'
        '{"id": "../x", "body": 1}' '{"from": "someone", "body": 1}' '{"to": "someone", "body": 1}'
        '{"created": "yesterday", "body": 1}' '{"created": "2026-11-23 14:02:57Z", "body": 1}'
        '{"created": "2026-02-30T00:00:00Z", "body": 1}' '{"in_reply_to": 7, "body": 1}'
        '{"in_reply_to": "a b", "body": 1}' '{"body": 1, "body": 2}' '{"text": "no body"}' '{}')
    local p
    for p in "${bad[@]}"; do
        run --separate-stderr "$VRMFS" vendor reply --key fx/vendor --to fx/identity.json \
            --spool sp <<<"$p"
        [ "$status" -eq 11 ] || { echo "payload '$p': exit $status, not 11; $stderr"; return 1; }
        [ -z "$output" ] || { echo "payload '$p': stdout $output"; return 1; }
        [ -n "$stderr" ]
    done
    [ ! -e sp/new ] || [ -z "$(ls sp/new)" ]
    # too large: more than a message may be
    head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' ' ' >big
    run --separate-stderr "$VRMFS" vendor reply --key fx/vendor --to fx/identity.json \
        --spool sp <big
    expect_status 11
    has "$stderr" "too long"
    run --separate-stderr "$VRMFS" vendor reply --key nokey --to fx/identity.json --spool sp <<<'{"body": {}}'
    expect_status 10
    run --separate-stderr "$VRMFS" vendor reply --key fx/vendor --to nosuch.json --spool sp <<<'{"body": {}}'
    expect_status 10
    jq '.x25519 = "AAAA"' fx/identity.json >short.json
    run --separate-stderr "$VRMFS" vendor reply --key fx/vendor --to short.json --spool sp <<<'{"body": {}}'
    expect_status 11
    has "$stderr" '"x25519" is not 32 bytes'
    run --separate-stderr "$VRMFS" vendor reply --key fx/vendor --to fx/identity.json --spool '' <<<'{"body": {}}'
    expect_status 64
    # a spool under a file cannot be made
    : >afile
    run --separate-stderr "$VRMFS" vendor reply --key fx/vendor --to fx/identity.json \
        --spool afile/sp <<<'{"body": {}}'
    expect_status 9
    [ -z "$output" ]
}

# ---- the PyNaCl peer's replies and the CLI's messages --------------------------

@test "interop: a PyNaCl-made reply is accepted by the person; one sealed elsewhere is not" {
    need_nacl
    fixtures
    run --separate-stderr peer reply fx/vendor/secret.json fx/identity.json sp fixture-1
    expect_status 0
    local id=$output
    [[ "$id" =~ $B64_16 ]]
    run --separate-stderr "$ENVELOPE_TEST" --check-reply "$T/fx" "sp/new/$id.vrm"
    expect_status 0
    jq -e --arg id "$id" '.id == $id and .kind == "reply" and .in_reply_to == "fixture-1"
        and (.body.text | test("Tuesday"))' <<<"$output" >/dev/null
    # the vendor's own open refuses it: not addressed to the vendor
    run --separate-stderr "$VRMFS" vendor open --key fx/vendor "sp/new/$id.vrm"
    expect_status 1
    # a copy with one byte flipped is refused by the person
    cp "sp/new/$id.vrm" t.vrm
    flip t.vrm 70
    run --separate-stderr "$ENVELOPE_TEST" --check-reply "$T/fx" t.vrm
    expect_status 1
}

@test "interop: the peer opens messages sealed to a key from vrmfs vendor keygen" {
    need_nacl
    fixtures
    # both readers agree on a message with every kind of JSON value
    run --separate-stderr peer open fx/vendor/secret.json fx/msg.vrm
    expect_status 0
    [ "$(jq -S . <<<"$output")" = "$(jq -S . fx/payload.json)" ]
    # and the peer refuses what is sealed to another vendor
    "$VRMFS" vendor keygen k2 >/dev/null 2>&1
    run --separate-stderr peer open k2/secret.json fx/msg.vrm
    expect_status 1
}

# ---- the manual page ----------------------------------------------------------

@test "the manual page documents the vendor commands, their options and exit codes" {
    command -v groff >/dev/null || skip "groff missing"
    local text synopsis c short long
    text=$(groff -man -Tascii -rLL=2000n -rHY=0 -P-cbou "$SRCDIR/fs/vrmfs.1" 2>/dev/null)
    synopsis=$(sed -n '/^SYNOPSIS$/,/^DESCRIPTION$/p' <<<"$text")
    for c in keygen open reply; do
        grep -qE "^ *vrmfs vendor $c " <<<"$synopsis" || { echo "no synopsis for vendor $c"; return 1; }
        grep -qE "^ *vendor $c " <<<"$text" || { echo "no section for vendor $c"; return 1; }
        while read -r short long; do
            [ "$long" = --help ] && continue
            grep -qE "^ *${short:+$short, }$long" <<<"$text" ||
                { echo "option $short $long of vendor $c not described"; return 1; }
        done < <("$VRMFS" vendor "$c" --help |
            sed -nE 's/^ +(-[a-zA-Z]), (--[a-z][a-z-]*).*/\1 \2/p')
    done
    local status_section
    status_section=$(sed -n '/^EXIT STATUS$/,/^FILES$/p' <<<"$text")
    grep -qE '^ +10 +[[:alnum:]]' <<<"$status_section"
    grep -qE '^ +11 +[[:alnum:]]' <<<"$status_section"
    has "$text" "vrm+jws"
    has "$text" "crypto_box_seal"
}
