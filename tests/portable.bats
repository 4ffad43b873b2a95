#!/usr/bin/env bats
# portable.bats: `vrmfs export` and `vrmfs import-all` on a vault filled
# through a real mount (records, documents, a vendor with grants, receipts,
# an access log, sent and pending messages, a reply in the inbox, a custom
# query), compared with the vault they came from.

bats_require_minimum_version 1.5.0

load mount_helpers

setup() {
    mount_setup
}

teardown() {
    mount_teardown
}

# A vault with something of everything, unmounted.
fill() {
    mkvault
    mount_vault
    mkdir "$MNT/records/profile" "$MNT/records/finance"
    echo '{"name": "Ann", "email": "ann@example.org", "note": "'"$MARKER"'"}' \
        >"$MNT/records/profile/me.json"
    echo '{"date": "2026-10-02", "amount": -12.5, "currency": "EUR", "merchant": "Cafe",
           "category": "food"}' >"$MNT/records/finance/t1.json"
    echo '{"date": "2026-11-03", "amount": -40, "currency": "EUR", "merchant": "Shop",
           "category": "home"}' >"$MNT/records/finance/t2.json"
    mkdir -p "$MNT/files/docs/empty" "$MNT/files/ünïcode dir"
    echo "contract $MARKER" >"$MNT/files/docs/contract.txt"
    head -c 3000000 /dev/urandom >"$MNT/files/docs/scan.bin"
    ln "$MNT/files/docs/contract.txt" "$MNT/files/docs/contract-link.txt"
    ln -s contract.txt "$MNT/files/docs/latest"
    setfattr -n user.tag -v "blue and green" "$MNT/files/docs/contract.txt"
    echo x >"$MNT/files/ünïcode dir/ñ.txt"
    chmod 0640 "$MNT/files/docs/contract.txt"
    chmod 0500 "$MNT/files/docs/empty"
    touch -d '2019-05-06 07:08:09.123456789' "$MNT/files/docs/scan.bin"
    touch -d '2018-01-01' "$MNT/files/docs/empty"

    "$VRMFS" vendor keygen "$T/keys-acme" >"$T/pub-acme.json"
    mkdir "$MNT/vendors/acme" "$T/spool-acme"
    jq -n --slurpfile k "$T/pub-acme.json" --arg ep "dir:$T/spool-acme" \
        '{name: "Acme", keys: $k[0], endpoint: $ep, terms: "CC-PDC-1.0"}' \
        >"$MNT/vendors/acme/vendor.json"
    echo '{"grants": [{"fields": ["profile.name", "finance.amount"], "purpose": "billing",
           "until": "2031-01-01T00:00:00Z", "notify": true}]}' >"$MNT/vendors/acme/grants.json"
    cat "$MNT/views/acme/records/profile/me.json" >/dev/null
    echo '{"kind": "note", "text": "hello"}' >"$MNT/outbox/acme/n1.json"
    for i in $(seq 100); do [ -n "$(ls "$MNT/sent/acme")" ] && break; sleep 0.1; done
    [ -n "$(ls "$MNT/sent/acme")" ]
    local sent
    sent=$(ls "$MNT/sent/acme" | head -n1)
    "$VRMFS" vendor reply --key "$T/keys-acme" --to "$MNT/vendors/acme/identity.json" \
        --spool "$VAULT/inbox/acme" <<<'{"body": {"offer": "10% off"}}' >"$T/reply-id"
    for i in $(seq 100); do [ -n "$(ls "$MNT/inbox/acme")" ] && break; sleep 0.1; done
    [ -n "$(ls "$MNT/inbox/acme")" ]

    # a vendor nobody can reach: its message stays pending
    "$VRMFS" vendor keygen "$T/keys-gone" >"$T/pub-gone.json"
    mkdir "$MNT/vendors/gone"
    jq -n --slurpfile k "$T/pub-gone.json" \
        '{name: "Gone", keys: $k[0], endpoint: "http://127.0.0.1:9/vrm"}' \
        >"$MNT/vendors/gone/vendor.json"
    echo '{"kind": "note", "text": "are you there"}' >"$MNT/outbox/gone/n2.json"
    echo "SELECT json_extract(body, '$.merchant') AS merchant FROM records
          WHERE collection = 'finance' ORDER BY 1" >"$MNT/analytics/custom/merchants.sql"
    # one more record change after the grant: a pushed update to acme
    echo '{"name": "Ann B."}' >"$MNT/records/profile/me.json"
    unmount_vault
}

# What a user would compare between two vaults: a listing of everything
# (names, sizes, modes, mtimes, links), the contents' sums, records as JSON.
snapshot() {  # snapshot MNT OUT
    local m=$1 out=$2
    (
        cd "$m" || exit 1
        # names, types, modes, links, sizes of everything; times of what the
        # person made (the rest of the tree shows the mount's time)
        find records files vendors sent inbox analytics/custom -mindepth 1 \
            ! -path 'vendors/*/access.log' -printf '%p %y %m %n %s %l\n' | LC_ALL=C sort
        find records -type f -printf '%p %T@\n' | LC_ALL=C sort
        find files -printf '%p %T@ %A@\n' | LC_ALL=C sort
        find records files vendors sent inbox -type f -exec sha256sum {} + | LC_ALL=C sort -k2
        getfattr -R -d -m user. files 2>/dev/null | grep -v '^$' | LC_ALL=C sort
        cat vendors/*/access.log
        ls outbox/gone
    ) >"$out"
}

@test "export then import-all: the new vault holds the same records, documents, vendors, receipts and messages" {
    need setfattr getfattr
    fill
    mount_vault
    snapshot "$MNT" "$T/before"
    local ident
    ident=$(cat "$MNT/vendors/acme/identity.json")
    [ "$(ls "$MNT/outbox/gone" | grep -c pending)" -eq 1 ]
    unmount_vault

    run "$VRMFS" export --passfile "$T/pass" --yes "$VAULT" "$T/export"
    expect_status 0
    has "in clear"
    [ "$(stat -c %a "$T/export")" = 700 ]
    # plain files: the records and documents as they were
    same_json "$T/export/records/profile/me.json" <(echo '{"name": "Ann B."}')
    grep -q "contract $MARKER" "$T/export/files/docs/contract.txt"
    [ "$(getfattr --only-values -n user.tag "$T/export/files/docs/contract.txt")" = "blue and green" ]
    [ "$(stat -c %Y "$T/export/files/docs/scan.bin")" = "$(date -d '2019-05-06 07:08:09' +%s)" ]
    [ "$(jq -r .format "$T/export/export.json")" = vrmfs-export ]
    [ -f "$T/export/receipts/acme/1.jws" ]

    run "$VRMFS" import-all --passfile "$T/pass" --kdf-ops 1 --kdf-mem 8M \
        --recovery-file "$T/new.key" "$T/export" "$T/new"
    expect_status 0
    check_ok "$T/new"
    run "$VRMFS" verify-log --passfile "$T/pass" "$T/new"
    expect_status 0
    # no plaintext in the new vault
    not grep -rqF "$MARKER" "$T/new"

    VAULT=$T/new
    mount_vault
    snapshot "$MNT" "$T/after"
    diff "$T/before" "$T/after"
    # the vendor still knows the person: same pairwise identity
    [ "$(cat "$MNT/vendors/acme/identity.json")" = "$ident" ]
    # records keep their times; analytics work on the imported facts
    [ "$(jq -r '.[0].merchant' "$MNT/analytics/custom/merchants.json")" = Cafe ]
    jq -e '.[] | select(.month == "2026-11")' "$MNT/analytics/spending/by-month.json" >/dev/null
    # hard links are one file again; the read-only directory stays so
    [ "$(stat -c %i "$MNT/files/docs/contract.txt")" = "$(stat -c %i "$MNT/files/docs/contract-link.txt")" ] ||
        [ "$(stat -c %h "$MNT/files/docs/contract.txt")" = 2 ]
    [ "$(stat -c %a "$MNT/files/docs/empty")" = 500 ]
    # the pending message is still pending, and a view still works
    [ "$(ls "$MNT/outbox/gone" | grep -c pending)" -eq 1 ]
    [ "$(jq -r .name "$MNT/views/acme/records/profile/me.json")" = "Ann B." ]
    unmount_vault
    check_ok "$T/new"
}

@test "export: works on a mounted vault; refuses without --yes off a terminal, a non-empty directory, a wrong passphrase" {
    fill
    run "$VRMFS" export --passfile "$T/pass" "$VAULT" "$T/export"
    expect_status 64
    has "--yes"
    [ ! -e "$T/export" ]

    # mounted: exported from a snapshot, which is gone afterwards; the same
    # as an export of the unmounted vault, but for the manifest's time and
    # the delivery attempts the daemon may have made in between
    mount_vault
    run "$VRMFS" export --passfile "$T/pass" --yes "$VAULT" "$T/live"
    expect_status 0
    [ -z "$(ls -A "$T" | grep snapshot)" ]
    unmount_vault
    "$VRMFS" export --passfile "$T/pass" --yes "$VAULT" "$T/cold" 2>/dev/null
    diff -r -x export.json -x messages.jsonl "$T/live" "$T/cold"
    diff <(jq -c 'del(.attempts, .next_try, .last_error)' "$T/live/tables/messages.jsonl") \
        <(jq -c 'del(.attempts, .next_try, .last_error)' "$T/cold/tables/messages.jsonl")
    local keep='del(.created, .indexes["tables/messages.jsonl"].sha256)'
    diff <(jq -S "$keep" "$T/live/export.json") <(jq -S "$keep" "$T/cold/export.json")

    mkdir "$T/full"
    echo keep >"$T/full/mine"
    run "$VRMFS" export --passfile "$T/pass" --yes "$VAULT" "$T/full"
    expect_status 8
    [ "$(ls "$T/full")" = mine ]

    run "$VRMFS" export --passfile "$T/wrongpass" --yes "$VAULT" "$T/export"
    expect_status 2
    [ ! -e "$T/export" ]
}

@test "import-all: a changed, damaged or incomplete export is refused and leaves no vault" {
    fill
    "$VRMFS" export --passfile "$T/pass" --yes "$VAULT" "$T/export" 2>/dev/null
    imp() {
        "$VRMFS" import-all --passfile "$T/pass" --kdf-ops 1 --kdf-mem 8M \
            --recovery-file "$T/r.key" "$1" "$T/new"
    }
    try_bad() {  # try_bad MESSAGE SCRIPT: damage a copy of the export, import it
        rm -rf "$T/bad" "$T/new" "$T/r.key"
        cp -a "$T/export" "$T/bad"
        (cd "$T/bad" && eval "$2")
        run imp "$T/bad"
        [ "$status" -ne 0 ] || { echo "imported: $2"; return 1; }
        has "$1"
        [ ! -e "$T/new" ] || { echo "left $(ls "$T/new") after: $2"; return 1; }
        [ ! -e "$T/r.key" ]
    }
    try_bad "does not match its sha256" "sed -i 's/Ann B./Eve/' records/profile/me.json"
    try_bad "does not match its size and sha256" "echo more >>files/docs/scan.bin"
    try_bad "does not match its sha256 in export.json" \
        "sed -i 's/\"reads\":[0-9]*/\"reads\":7/' tables/grants.jsonl"
    try_bad "no export.json" "rm export.json"
    try_bad "version 2" "jq '.version = 2' export.json >e && mv e export.json"
    try_bad "unknown key" "jq '.extra = 1' export.json >e && mv e export.json"
    try_bad "No such file" "rm files/docs/scan.bin"
    # an index line with an unknown key, its sum made to match: refused by name
    try_bad 'files.jsonl line 2: unknown key "colour"' "
        sed -i '2s/^{/{\"colour\":\"red\",/' files.jsonl
        s=\$(sha256sum files.jsonl | cut -d' ' -f1)
        jq --arg s \"\$s\" '.indexes[\"files.jsonl\"].sha256 = \$s' export.json >e && mv e export.json"
    # a name that would leave its folder in the mount, sums made to match
    try_bad 'tables/vendors.jsonl line 1: "name"' "
        sed -i '1s/\"name\":\"acme\"/\"name\":\"..\/acme\"/' tables/vendors.jsonl
        s=\$(sha256sum tables/vendors.jsonl | cut -d' ' -f1)
        jq --arg s \"\$s\" '.indexes[\"tables/vendors.jsonl\"].sha256 = \$s' export.json >e && mv e export.json"
    # a receipt altered consistently with its index: the chain check catches it
    try_bad "receipt" "
        sed -i 's/\"n\":1,\"jws\":\"eyJ/\"n\":1,\"jws\":\"eyK/' tables/receipts.jsonl
        s=\$(sha256sum tables/receipts.jsonl | cut -d' ' -f1)
        jq --arg s \"\$s\" '.indexes[\"tables/receipts.jsonl\"].sha256 = \$s' export.json >e && mv e export.json"
    # and the intact export still imports
    rm -rf "$T/new" "$T/r.key"
    run imp "$T/export"
    expect_status 0
    check_ok "$T/new"
    # into an existing vault: refused, that vault untouched
    run imp "$T/export"
    expect_status 8
    check_ok "$T/new"
}
