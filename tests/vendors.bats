#!/usr/bin/env bats
# vendors.bats: vendors, grants, views, the access log, consent receipts and
# view mounts, on a real mount driven with shell tools.

bats_require_minimum_version 1.5.0

load mount_helpers

setup() {
    mount_setup
}

teardown() {
    mount_teardown
}

# A vault with a profile, purchases and a diet, mounted at $MNT.
sample_vault() {
    mkvault
    mount_vault
    mkdir "$MNT/records/profile" "$MNT/records/purchases" "$MNT/records/diet"
    cat >"$MNT/records/profile/me.json" <<'EOF'
{"name": "Ann Example", "email": "ann@example.org", "phone": "+33 1 23 45 67 89",
 "address": {"street": "1 rue de la Paix", "city": "Paris", "zip": "75002"},
 "kcal_target": 2100}
EOF
    echo '{"date": "2026-10-01", "merchant": "acme", "item": "kettle", "amount": 39.9}' \
        >"$MNT/records/purchases/p1.json"
    echo '{"date": "2026-10-03", "merchant": "acme", "item": "mug", "amount": 7.5}' \
        >"$MNT/records/purchases/p2.json"
    echo '{"date": "2026-10-04", "merchant": "other", "item": "book", "amount": 12}' \
        >"$MNT/records/purchases/p3.json"
    echo '{"date": "2026-10-04", "food": "apple", "kcal": 95}' >"$MNT/records/diet/d1.json"
    V="$MNT/vendors/acme"
    W="$MNT/views/acme"
}

# wait_for_text FILE TEXT FILTER...: until FILTER of FILE prints TEXT (3 s).
wait_for_text() {
    local file=$1 want=$2 i got=
    shift 2
    for i in $(seq 60); do
        got=$("$@" "$file" 2>/dev/null) && [ "$got" = "$want" ] && return 0
        sleep 0.05
    done
    echo "$file still holds: $(cat "$file"), not $want"
    ps -eo pid,stat,wchan:32,args | grep -E "[c]at |[p]ython3 -" | head -5
    return 1
}

# grant TEXT: write acme's grants.json; fails if refused.
grant() {
    /bin/echo "$1" >"$V/grants.json" || { echo "grants.json refused: $(tail -n1 "$MNT/.vrmfs/errors.log")"; return 1; }
}

# ---- vendors ----------------------------------------------------------------

@test "vendors/: mkdir registers a vendor; vendor.json is validated at close; rmdir removes it" {
    sample_vault
    mkdir "$V"
    [ -d "$V" ]
    [ "$(ls "$MNT/vendors")" = acme ]
    [ "$(ls "$V" | tr '\n' ' ')" = "access.log grants.json identity.json receipts vendor.json " ]
    [ "$(jq -c . "$V/vendor.json")" = '{"name":"acme"}' ]
    [ "$(jq -c . "$V/grants.json")" = '{"grants":[]}' ]
    [ -d "$W" ]

    local ed x
    ed=$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')
    x=$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')
    cat >"$V/vendor.json" <<EOF
{"name": "ACME Corp.", "keys": {"ed25519": "$ed", "x25519": "$x"},
 "endpoint": "https://acme.example/vrm", "terms": "CC-PDC-1.0 (Customer Commons)",
 "note": "fine so far", "accepts_intents": true}
EOF
    [ "$(jq -r .name "$V/vendor.json")" = "ACME Corp." ]
    [ "$(jq -r .keys.ed25519 "$V/vendor.json")" = "$ed" ]
    [ "$(jq -r .accepts_intents "$V/vendor.json")" = true ]
    [ "$(stat -c %s "$V/vendor.json")" -eq "$(wc -c <"$V/vendor.json")" ]

    local before bad
    before=$(cat "$V/vendor.json")
    for bad in '{"name": "x", "colour": "red"}' '{"note": "no name"}' '{"name": ""}' \
        '{"name": "x", "keys": {"ed25519": "short"}}' '{"name": "x", "keys": {"rsa": "a"}}' \
        '{"name": "x", "endpoint": "ftp://x"}' '{"name": "x", "endpoint": "dir:relative"}' \
        '{"name": "x", "accepts_intents": "yes"}' '{"name": null}' '[1]' 'not json'; do
        run bash -c "/bin/echo '$bad' >'$V/vendor.json'"
        [ "$status" -ne 0 ] || { echo "accepted: $bad"; return 1; }
        [ "$(cat "$V/vendor.json")" = "$before" ] || { echo "changed by: $bad"; return 1; }
    done
    errlog_has /vendors/acme/vendor.json
    has "$(errlog)" 'unknown key "colour"'
    fails_with "Invalid argument" mkdir "$MNT/vendors/Bad_Name"
    fails_with "Invalid argument" mkdir "$MNT/vendors/all"
    fails_with "File exists" mkdir "$V"

    remount
    [ "$(cat "$V/vendor.json")" = "$before" ]
    rmdir "$V"
    [ ! -e "$V" ]
    [ ! -e "$W" ]
    [ -z "$(ls "$MNT/vendors")" ]
}

@test "vendors/: identity.json is pairwise: stable, read-only, different for every vendor" {
    sample_vault
    mkdir "$V" "$MNT/vendors/shop"
    local a b
    a=$(cat "$V/identity.json")
    b=$(cat "$MNT/vendors/shop/identity.json")
    [ "$(jq -r 'keys | join(",")' <<<"$a")" = "ed25519,id,x25519" ]
    [ "$(jq -r '.ed25519 | length' <<<"$a")" -eq 43 ]   # 32 bytes, unpadded base64url
    [ "$(jq -r '.x25519 | length' <<<"$a")" -eq 43 ]
    [ "$(jq -r .id <<<"$a")" != "$(jq -r .id <<<"$b")" ]
    [ "$(jq -r .ed25519 <<<"$a")" != "$(jq -r .ed25519 <<<"$b")" ]
    [ "$(jq -r .x25519 <<<"$a")" != "$(jq -r .x25519 <<<"$b")" ]
    fails_sh "Permission denied" "echo '{}' >'$V/identity.json'"
    remount
    [ "$(cat "$V/identity.json")" = "$a" ]
    # nothing stored: removed and registered again, the same identity
    rmdir "$V"
    mkdir "$V"
    [ "$(cat "$V/identity.json")" = "$a" ]
}

# ---- grants and views -------------------------------------------------------

@test "grants.json: the view shows exactly the granted fields of the records that pass the filters" {
    sample_vault
    mkdir "$V"
    grant '{"grants": [
      {"fields": ["profile.email", "profile.address.city"], "purpose": "delivery"},
      {"fields": ["purchases[merchant=acme].*"], "purpose": "warranty"}]}'
    [ "$(find "$W" -type f | sort | sed "s|$W/||" | tr '\n' ' ')" = \
      "records/profile/me.json records/purchases/p1.json records/purchases/p2.json " ]
    [ "$(jq -c . "$W/records/profile/me.json")" = '{"email":"ann@example.org","address":{"city":"Paris"}}' ]
    same_json "$W/records/purchases/p1.json" "$MNT/records/purchases/p1.json"
    # formatted as records/ is
    [ "$(cat "$W/records/purchases/p2.json")" = "$(cat "$MNT/records/purchases/p2.json")" ]
    [ "$(stat -c %s "$W/records/profile/me.json")" -eq "$(wc -c <"$W/records/profile/me.json")" ]
    # diet was not granted: absent, with nothing found by grep or find
    [ ! -e "$W/records/diet" ]
    [ "$(ls "$W/records" | tr '\n' ' ')" = "profile purchases " ]
    run grep -r "Ann Example\|rue de la Paix\|book\|apple" "$W"
    [ "$status" -eq 1 ]
    # read-only
    fails_sh "Permission denied" "echo '{}' >'$W/records/profile/me.json'"
    fails_with "Read-only file system" rm "$W/records/profile/me.json"
    fails_with "Read-only file system" mkdir "$W/records/x"
    fails_with "Read-only file system" touch "$W/records/profile/new.json"
    # the grants read back as written (pretty)
    [ "$(jq -c '.grants[1].fields' "$V/grants.json")" = '["purchases[merchant=acme].*"]' ]
    # a record changed in records/ shows changed in the view at once, whole,
    # with its new size (the view's file was just read, so the kernel holds it)
    local g="$W/records/profile/me.json"
    jq '.email = "a.much.longer.address@example.org"' "$MNT/records/profile/me.json" >"$T/me.json"
    cp "$T/me.json" "$MNT/records/profile/me.json"
    [ "$(jq -r .email "$g")" = a.much.longer.address@example.org ] || { cat "$g"; return 1; }
    [ "$(stat -c %s "$g")" -eq "$(wc -c <"$g")" ]
    jq '.email = "x@y.z"' "$MNT/records/profile/me.json" >"$T/me.json"
    cp "$T/me.json" "$MNT/records/profile/me.json"
    [ "$(jq -c . "$g")" = '{"email":"x@y.z","address":{"city":"Paris"}}' ] || { cat "$g"; return 1; }
    # a new acme purchase appears, a new other one does not
    echo '{"merchant": "acme", "item": "lid"}' >"$MNT/records/purchases/p4.json"
    echo '{"merchant": "zed", "item": "pot"}' >"$MNT/records/purchases/p5.json"
    [ "$(ls "$W/records/purchases" | tr '\n' ' ')" = "p1.json p2.json p4.json " ]
    remount
    [ "$(ls "$W/records/purchases" | tr '\n' ' ')" = "p1.json p2.json p4.json " ]
}

@test "grants.json: malformed grants, unknown paths and unknown keys are refused and the previous grants stay" {
    sample_vault
    mkdir "$V"
    grant '{"grants": [{"fields": ["profile.email"], "purpose": "news"}]}'
    local before bad
    before=$(cat "$V/grants.json")
    for bad in 'nope' '{"grants": {}}' '{"grants": [], "x": 1}' \
        '{"grants": [{"fields": ["nosuch.x"], "purpose": "p"}]}' \
        '{"grants": [{"fields": ["profile"], "purpose": "p"}]}' \
        '{"grants": [{"fields": ["profile..x"], "purpose": "p"}]}' \
        '{"grants": [{"fields": ["purchases[merchant=acme.*"], "purpose": "p"}]}' \
        '{"grants": [{"fields": ["analytics.nosuch.thing"], "purpose": "p"}]}' \
        '{"grants": [{"fields": [], "purpose": "p"}]}' \
        '{"grants": [{"fields": ["profile.email"]}]}' \
        '{"grants": [{"fields": ["profile.email"], "purpose": "p", "colour": 1}]}' \
        '{"grants": [{"fields": ["profile.email"], "purpose": "p", "until": "tomorrow"}]}' \
        '{"grants": [{"fields": ["profile.email"], "purpose": "p", "until": "2020-01-01T00:00:00Z"}]}' \
        '{"grants": [{"fields": ["profile.email"], "purpose": "p", "max_reads": 0}]}' \
        '{"grants": [{"fields": ["profile.email"], "purpose": "p", "notify": "yes"}]}'; do
        run bash -c "/bin/echo '$bad' >'$V/grants.json'"
        [ "$status" -ne 0 ] || { echo "accepted: $bad"; return 1; }
        [ "$(cat "$V/grants.json")" = "$before" ] || { echo "changed by: $bad"; return 1; }
    done
    errlog_has /vendors/acme/grants.json
    has "$(errlog)" 'no collection nosuch'
    has "$(errlog)" 'unknown key "colour"'
    # cp of a bad file fails too; jq > tmp && mv from outside works
    echo '{"grants": 1}' >"$T/bad.json"
    run cp "$T/bad.json" "$V/grants.json"
    [ "$status" -ne 0 ]
    jq '.grants[0].purpose = "newsletter"' "$V/grants.json" >"$T/g.json"
    mv "$T/g.json" "$V/grants.json"
    [ "$(jq -r '.grants[0].purpose' "$V/grants.json")" = newsletter ]
    # analytics results may be granted by name
    grant '{"grants": [{"fields": ["analytics.spending.by-category"], "purpose": "offers"}]}'
    [ "$(jq -r '.grants[0].fields[0]' "$V/grants.json")" = analytics.spending.by-category ]
    # every grant for an unknown vendor fails
    fails_sh "No such file or directory" "echo '{\"grants\": []}' >'$MNT/vendors/nobody/grants.json'"
}

@test "views: revoking shows at once, also to a long-lived reader" {
    sample_vault
    mkdir "$V"
    grant '{"grants": [{"fields": ["profile.*"], "purpose": "account"}]}'
    local f="$W/records/profile/me.json"
    # a reader that keeps one descriptor open and rereads it from the start
    /usr/bin/python3 - "$f" "$T/reader.out" <<'EOF' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
end = time.time() + 20
while time.time() < end:
    try:
        text = os.pread(fd, 65536, 0).decode()
    except OSError as e:
        text = "error %d\n" % e.errno
    with open(sys.argv[2] + ".tmp", "w") as out:
        out.write(text)
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    time.sleep(0.05)
EOF
    bg_started $!
    # and one that opens the path again each time (cat in a loop)
    (set +e; while :; do cat "$f" >"$T/cat.tmp" 2>&1; mv "$T/cat.tmp" "$T/cat.out"; sleep 0.05; done) &
    bg_started $!
    local i
    for i in $(seq 100); do
        grep -q phone "$T/reader.out" 2>/dev/null && grep -q phone "$T/cat.out" 2>/dev/null && break
        sleep 0.05
    done
    grep -q phone "$T/reader.out"
    grep -q phone "$T/cat.out"

    grant '{"grants": [{"fields": ["profile.email"], "purpose": "account"}]}'
    # gone from the first read that starts after the change
    [ "$(jq -c . "$f")" = '{"email":"ann@example.org"}' ]
    # and from the readers' next rounds (each takes about 0.1 s)
    wait_for_text "$T/reader.out" '{"email":"ann@example.org"}' jq -c .
    wait_for_text "$T/cat.out" '{"email":"ann@example.org"}' jq -c .

    grant '{"grants": []}'
    [ ! -e "$f" ]
    wait_for_text "$T/reader.out" "" cat   # nothing left to read
    wait_for_text "$T/cat.out" "cat: $f: No such file or directory" cat
    [ ! -e "$W/records/profile" ]
    [ -z "$(ls "$W/records")" ]
}

@test "views: a grant with until stops by itself and leaves an expire receipt" {
    sample_vault
    mkdir "$V"
    local until
    until=$(date -u -d '+2 seconds' +%Y-%m-%dT%H:%M:%SZ)
    grant "{\"grants\": [{\"fields\": [\"profile.email\"], \"purpose\": \"p\", \"until\": \"$until\"},
                         {\"fields\": [\"purchases.item\"], \"purpose\": \"q\"}]}"
    [ "$(jq -r .email "$W/records/profile/me.json")" = ann@example.org ]
    local i
    for i in $(seq 60); do
        [ -e "$W/records/profile/me.json" ] || break
        sleep 0.1
    done
    [ ! -e "$W/records/profile/me.json" ]
    [ "$(date +%s)" -ge "$(date -d "$until" +%s)" ]
    [ "$(jq -r .item "$W/records/purchases/p1.json")" = kettle ]
    for i in $(seq 30); do
        ls "$V/receipts/2.json" >/dev/null 2>&1 && break
        sleep 0.1
    done
    [ "$(jq -r .event "$V/receipts/2.json")" = expire ]
    [ "$(jq -c '[.services[0].purposes[].purpose]' "$V/receipts/2.json")" = '["q"]' ]
}

@test "views: max_reads lets the view's files be opened that many times, then the grant lapses" {
    sample_vault
    mkdir "$V"
    grant '{"grants": [{"fields": ["profile.address"], "purpose": "one delivery", "max_reads": 2},
                       {"fields": ["purchases.item"], "purpose": "standing"}]}'
    [ "$(jq -r .address.city "$W/records/profile/me.json")" = Paris ]
    [ "$(jq -r .address.zip "$W/records/profile/me.json")" = 75002 ]
    [ ! -e "$W/records/profile/me.json" ]
    fails_with "No such file or directory" cat "$W/records/profile/me.json"
    [ "$(jq -r .item "$W/records/purchases/p3.json")" = book ]
    [ "$(jq -r .event "$V/receipts/2.json")" = lapse ]
    # rewriting the grants unchanged does not give the reads back
    cp "$V/grants.json" "$T/g.json"
    cp "$T/g.json" "$V/grants.json"
    [ ! -e "$W/records/profile/me.json" ]
}

@test "views: per-record visibility as the user.vrm.visible-to attribute" {
    need getfattr
    sample_vault
    mkdir "$V" "$MNT/vendors/shop" "$MNT/vendors/bank"
    grant '{"grants": [{"fields": ["profile.email", "purchases[merchant=acme].*"], "purpose": "p"}]}'
    /bin/echo '{"grants": [{"fields": ["profile.phone"], "purpose": "p"}]}' >"$MNT/vendors/shop/grants.json"
    [ "$(getfattr --only-values -n user.vrm.visible-to "$MNT/records/profile/me.json")" = acme,shop ]
    [ "$(getfattr --only-values -n user.vrm.visible-to "$MNT/records/purchases/p1.json")" = acme ]
    [ -z "$(getfattr --only-values -n user.vrm.visible-to "$MNT/records/purchases/p3.json")" ]
    [ -z "$(getfattr --only-values -n user.vrm.visible-to "$MNT/records/diet/d1.json")" ]
    rmdir "$MNT/vendors/shop"
    [ "$(getfattr --only-values -n user.vrm.visible-to "$MNT/records/profile/me.json")" = acme ]
}

# ---- the access log ---------------------------------------------------------

@test "access.log: every open of a view file is a chained line with time, path, pid, uid and command" {
    sample_vault
    mkdir "$V"
    grant '{"grants": [{"fields": ["profile.email", "purchases.*"], "purpose": "p"}]}'
    [ ! -s "$V/access.log" ]
    cat "$W/records/profile/me.json" >/dev/null
    jq . "$W/records/purchases/p1.json" >/dev/null
    head -c 10 "$W/records/purchases/p2.json" >/dev/null &
    local pid=$!
    wait "$pid"
    ls -R "$W" >/dev/null          # listing is not reading
    local log
    log=$(cat "$V/access.log")
    [ "$(wc -l <<<"$log")" -eq 3 ]
    local re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z pid=[0-9]+ uid=[0-9]+ comm="[^"]+" path="[^"]+" chain=[0-9a-f]{64}$'
    grep -Evq "$re" <<<"$log" && { echo "a line is not well formed:"; echo "$log"; return 1; }
    has "$(sed -n 1p <<<"$log")" 'comm="cat" path="/records/profile/me.json"'
    has "$(sed -n 2p <<<"$log")" 'comm="jq" path="/records/purchases/p1.json"'
    has "$(sed -n 3p <<<"$log")" "pid=$pid uid=$(id -u) comm=\"head\" path=\"/records/purchases/p2.json\""
    [ "$(stat -c %s "$V/access.log")" -eq "$(wc -c <"$V/access.log")" ]
    fails_sh "Permission denied" "echo x >>'$V/access.log'"
    # a copy verifies; removing or altering a line is found
    cp "$V/access.log" "$T/log"
    run "$VRMFS" verify-log "$T/log"
    expect_status 0
    sed 2d "$T/log" >"$T/cut"
    run "$VRMFS" verify-log "$T/cut"
    expect_status 1
    has "$output" "line 2"
    sed 's/comm="jq"/comm="xx"/' "$T/log" >"$T/alt"
    run "$VRMFS" verify-log "$T/alt"
    expect_status 1
    has "$output" "line 2"
    remount
    [ "$(cat "$V/access.log")" = "$log" ]
    unmount_vault
    run "$VRMFS" verify-log --passfile "$T/pass" "$VAULT"
    expect_status 0
    check_ok
}

# ---- consent receipts -------------------------------------------------------

@test "receipts/: each grant change is a JWS receipt that an outside EdDSA verifier accepts, chained" {
    /usr/bin/python3 -c 'import nacl' 2>/dev/null || skip "python3-nacl missing"
    sample_vault
    mkdir "$V"
    [ -z "$(ls "$V/receipts")" ]
    grant '{"grants": [{"fields": ["profile.email"], "purpose": "newsletter"}]}'
    grant '{"grants": [{"fields": ["profile.email"], "purpose": "newsletter"},
                       {"fields": ["diet.*"], "purpose": "meal plans", "until": "2099-01-01T00:00:00Z"}]}'
    grant '{"grants": [{"fields": ["profile.email"], "purpose": "newsletter"},
                       {"fields": ["diet.*"], "purpose": "meal plans", "until": "2099-01-01T00:00:00Z"}]}'
    grant '{"grants": []}'
    [ "$(ls "$V/receipts" | tr '\n' ' ')" = "1.json 1.jws 2.json 2.jws 3.json 3.jws " ]
    local pk id n prev=null
    pk=$(jq -r .ed25519 "$V/identity.json")
    id=$(jq -r .id "$V/identity.json")
    for n in 1 2 3; do
        run /usr/bin/python3 "$SRCDIR/tests/verify_jws.py" "$V/receipts/$n.jws" "$pk"
        expect_status 0
        # the decoded payload is N.json
        [ "$(jq -S -c . <<<"$output")" = "$(jq -S -c . "$V/receipts/$n.json")" ]
        [ "$(jq -r .previousReceipt "$V/receipts/$n.json")" = "$prev" ]
        prev=$(tr -d '\n' <"$V/receipts/$n.jws" | sha256sum | cut -d' ' -f1)
    done
    local r="$V/receipts/2.json"
    [ "$(jq -r .version "$r")" = KI-CR-v1.1.0 ]
    [ "$(jq -r '.consentTimestamp | type' "$r")" = number ]
    [ "$(jq -r '.consentTimestamp | floor == .' "$r")" = true ]
    [ "$(jq -r .piiPrincipalId "$r")" = "$id" ]
    [ "$(jq -r .publicKey "$r")" = "$pk" ]
    for k in jurisdiction collectionMethod consentReceiptID language piiControllers policyUrl \
             services sensitive spiCat; do
        [ "$(jq "has(\"$k\")" "$r")" = true ] || { echo "no $k in the receipt"; return 1; }
    done
    for k in purpose purposeCategory consentType piiCategory primaryPurpose termination \
             thirdPartyDisclosure; do
        [ "$(jq ".services[0].purposes[0] | has(\"$k\")" "$r")" = true ] ||
            { echo "no $k in the receipt's purposes"; return 1; }
    done
    [ "$(jq -r .event "$V/receipts/1.json")" = grant ]
    [ "$(jq -r .event "$r")" = change ]
    [ "$(jq -r .sensitive "$r")" = true ]          # diet is health data
    [ "$(jq -r '.services[0].purposes[1].termination' "$r")" = 2099-01-01T00:00:00Z ]
    [ "$(jq -r .event "$V/receipts/3.json")" = revoke ]
    [ "$(jq '.services[0].purposes | length' "$V/receipts/3.json")" -eq 0 ]
    # a receipt is never rewritten, and cannot be
    fails_sh "Permission denied" "echo x >'$V/receipts/1.json'"
    # a tampered copy does not verify
    sed 's/\(.\)$/\1x/' "$V/receipts/1.jws" >"$T/bad.jws"
    run /usr/bin/python3 "$SRCDIR/tests/verify_jws.py" "$T/bad.jws" "$pk"
    [ "$status" -ne 0 ]
    # removing the vendor revokes (with a receipt) only what is in force
    grant '{"grants": [{"fields": ["profile.email"], "purpose": "newsletter"}]}'
    rm -r "$V"
    [ ! -e "$V" ]
    mkdir "$V"
    [ "$(jq -r .event "$V/receipts/5.json")" = revoke ]
    [ ! -e "$V/receipts/6.json" ]
    unmount_vault
    check_ok
}

# ---- sharing a view ---------------------------------------------------------

@test "--view VENDOR mounts only that view, read-only, and logs its reads" {
    sample_vault
    mkdir "$V"
    grant '{"grants": [{"fields": ["profile.email"], "purpose": "p"}]}'
    unmount_vault
    local VM="$T/viewmnt"
    mount_at "$VAULT" "$VM" --view acme
    [ "$(find "$VM" | sed "s|$VM||" | sort | tr '\n' ' ')" = \
      " /records /records/profile /records/profile/me.json " ]
    [ "$(jq -c . "$VM/records/profile/me.json")" = '{"email":"ann@example.org"}' ]
    fails_with "No such file or directory" cat "$VM/README.txt"
    fails_with "No such file or directory" ls "$VM/vendors"
    fails_with "No such file or directory" ls "$VM/records/purchases"
    fails_with "Read-only file system" touch "$VM/x"
    fails_with "Read-only file system" mkdir "$VM/records/x"
    grep -q " $VM fuse.vrmfs ro," /proc/mounts
    # the vault is in use while the view is mounted
    run "$VRMFS" --passfile "$T/pass" "$VAULT" "$MNT"
    expect_status 7
    unmount_vault "$VM"
    run "$VRMFS" --passfile "$T/pass" --view nobody "$VAULT" "$VM"
    expect_status 64
    has "$output" "no vendor nobody"
    not mountpoint -q "$VM"
    run "$VRMFS" --passfile "$T/pass" --view 'Bad!' "$VAULT" "$VM"
    expect_status 64
    mount_vault
    has "$(cat "$V/access.log")" 'comm="jq" path="/records/profile/me.json"'
}

@test "vendors/: sed -i, jq > t && mv t grants.json and vim edit vendor.json and grants.json" {
    need vim
    sample_vault
    mkdir "$V"
    grant '{"grants": [{"fields": ["profile.email"], "purpose": "news"}]}'
    sed -i 's/"news"/"newsletter"/' "$V/grants.json"
    [ "$(jq -r '.grants[0].purpose' "$V/grants.json")" = newsletter ]
    [ "$(jq -r .event "$V/receipts/2.json")" = change ]
    # a bad edit is refused at the rename; the grants stay
    run sed -i 's/"newsletter"/""/' "$V/grants.json"
    [ "$status" -ne 0 ]
    [ "$(jq -r '.grants[0].purpose' "$V/grants.json")" = newsletter ]
    errlog_has /vendors/acme/grants.json
    [ "$(ls "$V" | tr '\n' ' ')" = "access.log grants.json identity.json receipts vendor.json " ]
    # a temporary file beside them, then mv
    jq '.name = "ACME Corp."' "$V/vendor.json" >"$V/vendor.json.tmp"
    [ -s "$V/vendor.json.tmp" ]
    mv "$V/vendor.json.tmp" "$V/vendor.json"
    [ "$(jq -r .name "$V/vendor.json")" = "ACME Corp." ]
    [ ! -e "$V/vendor.json.tmp" ]
    # vim with its swap file
    run timeout 30 vim -u NONE -i NONE -N -es -c '%s/newsletter/weekly news/' -c wq "$V/grants.json"
    expect_status 0
    [ "$(jq -r '.grants[0].purpose' "$V/grants.json")" = "weekly news" ]
    [ "$(ls "$V" | tr '\n' ' ')" = "access.log grants.json identity.json receipts vendor.json " ]
    # temporary files are drafts: they do not outlive the mount
    echo draft >"$V/notes.txt"
    [ "$(cat "$V/notes.txt")" = draft ]
    remount
    [ ! -e "$V/notes.txt" ]
}
