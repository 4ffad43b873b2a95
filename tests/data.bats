#!/usr/bin/env bats
# data.bats: import/ and analytics/ on a real mount, checked against
# computations the project did not write (Python over the same CSV), and
# analytics results granted to a vendor instead of the records.

bats_require_minimum_version 1.5.0

load mount_helpers

setup() {
    mount_setup
}

teardown() {
    mount_teardown
}

# finance_csv FILE ROWS: a bank export with quoted fields, embedded commas
# and newlines, CRLF line ends and a UTF-8 byte order mark.
finance_csv() {
    /usr/bin/python3 - "$1" "$2" <<'EOF'
import random, sys
path, n = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
merchants = ['grocer', 'Cafe "Le Zinc"', 'bikes, parts & more', 'airline', 'pharmacy\nnight']
cats = ['food', 'eating-out', 'sport', 'travel', 'health']
def q(s):
    return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n') else s
with open(path, 'w', encoding='utf-8', newline='') as f:
    f.write('\ufeffdate,amount,currency,merchant,category\r\n')
    for i in range(n):
        m = rnd.randrange(len(merchants))
        day = '2026-%02d-%02d' % (1 + i % 12, 1 + i % 28)
        cents = rnd.randrange(100, 50000)
        f.write('%s,%d.%02d,EUR,%s,%s\r\n' % (day, cents // 100, cents % 100, q(merchants[m]), cats[m]))
EOF
}

@test "import/: a CSV with quotes, commas, newlines, BOM and CRLF becomes records; again adds nothing" {
    sample_csv=$T/bank.csv
    finance_csv "$sample_csv" 2000
    printf '2026-13-01,"unterminated\r\n' >>"$sample_csv"        # a bad last line
    mkvault
    mount_vault
    mkdir "$MNT/records/finance"
    cp "$sample_csv" "$MNT/import/finance/"
    [ "$(ls "$MNT/import/finance")" = bank.report.json ]
    local r="$MNT/import/finance/bank.report.json"
    [ "$(jq .rows "$r")" -ge 2000 ]
    [ "$(jq .imported "$r")" -eq 2000 ]
    [ "$(jq '.refused | length' "$r")" -eq 1 ]
    # the bad record starts on the file's last line (quoted newlines count)
    [ "$(jq -r '.refused[0].line' "$r")" -eq "$(wc -l <"$sample_csv")" ]
    [ "$(ls "$MNT/records/finance" | wc -l)" -eq 2000 ]
    # typed: numbers are numbers, dates stay strings, quoted text intact
    local one
    one=$(jq -s -c 'map(select(.merchant == "Cafe \"Le Zinc\"")) | .[0]' "$MNT/records/finance"/*.json)
    [ "$(jq -r '.amount | type' <<<"$one")" = number ]
    [ "$(jq -r '.date | type' <<<"$one")" = string ]
    jq -s -e 'map(select(.merchant == "pharmacy\nnight")) | length > 0' "$MNT/records/finance"/*.json >/dev/null
    jq -s -e 'map(select(.merchant == "bikes, parts & more")) | length > 0' "$MNT/records/finance"/*.json >/dev/null
    # the same file again: nothing new
    cp "$sample_csv" "$MNT/import/finance/"
    [ "$(jq .imported "$r")" -eq 0 ]
    [ "$(jq .unchanged "$r")" -eq 2000 ]
    [ "$(ls "$MNT/records/finance" | wc -l)" -eq 2000 ]
    # JSON lines, with a bad line
    printf '{"date": "2026-01-05", "food": "apple", "kcal": 95}\nnot json\n{"date": "2026-01-05", "food": "soup", "kcal": 300}\n' \
        >"$T/meals.jsonl"
    mkdir "$MNT/import/diet"
    cp "$T/meals.jsonl" "$MNT/import/diet/"
    [ "$(jq .imported "$MNT/import/diet/meals.report.json")" -eq 2 ]
    [ "$(jq -c '[.refused[].line]' "$MNT/import/diet/meals.report.json")" = '[2]' ]
    # not CSV or JSON lines at all: refused whole
    head -c 4096 /dev/urandom >"$T/noise.bin"
    run cp "$T/noise.bin" "$MNT/import/diet/"
    [ "$status" -ne 0 ]
    [ ! -e "$MNT/import/diet/noise.report.json" ]
    errlog_has /import/diet/noise.bin
    [ "$(ls "$MNT/records/diet" | wc -l)" -eq 2 ]
    # the command does the same without mounting, and adds nothing either
    unmount_vault
    run "$VRMFS" import --passfile "$T/pass" "$VAULT" finance "$sample_csv"
    expect_status 0
    [ "$(jq .imported <<<"$output")" -eq 0 ]
    check_ok
}

@test "analytics/: spending, calories and mileage equal an independent computation, to the cent" {
    finance_csv "$T/bank.csv" 3000
    mkvault
    mount_vault
    mkdir "$MNT/records/finance" "$MNT/records/purchases" "$MNT/records/diet" "$MNT/records/profile"
    cp "$T/bank.csv" "$MNT/import/finance/"
    # what Python makes of the same CSV, in integer cents
    /usr/bin/python3 - "$T/bank.csv" >"$T/want.json" <<'EOF'
import csv, json, sys
by_month, by_cat, by_merch = {}, {}, {}
with open(sys.argv[1], encoding='utf-8-sig', newline='') as f:
    for row in csv.DictReader(f):
        c = round(float(row['amount']) * 100)
        for d, k in ((by_month, row['date'][:7]), (by_cat, row['category']), (by_merch, row['merchant'])):
            t = d.setdefault(k, [0, 0]); t[0] += c; t[1] += 1
def out(d, key, order):
    rows = [{key: k, 'total': v[0] / 100, 'count': v[1]} for k, v in d.items()]
    if order == 'key':
        rows.sort(key=lambda r: r[key])
    else:
        rows.sort(key=lambda r: (-r['total'], r[key]))
    return rows
print(json.dumps({'month': out(by_month, 'month', 'key'), 'category': out(by_cat, 'category', 'total'),
                  'merchant': out(by_merch, 'merchant', 'total')}))
EOF
    [ "$(jq -S -c . "$MNT/analytics/spending/by-month.json")" = "$(jq -S -c .month "$T/want.json")" ] ||
        { diff <(jq -S . "$MNT/analytics/spending/by-month.json") <(jq -S .month "$T/want.json") | head; return 1; }
    [ "$(jq -S -c . "$MNT/analytics/spending/by-category.json")" = "$(jq -S -c .category "$T/want.json")" ]
    [ "$(jq -S -c . "$MNT/analytics/spending/by-merchant.json")" = "$(jq -S -c .merchant "$T/want.json")" ]
    # the CSV says the same as the JSON
    [ "$(tail -n +2 "$MNT/analytics/spending/by-month.csv" | cut -d, -f1,3 | tr '\n' ' ')" = \
      "$(jq -r '.month[] | "\(.month),\(.count)"' "$T/want.json" | tr '\n' ' ')" ]
    # a change shows at the next read (the cache follows the records)
    local before after
    before=$(jq '.[0].total' "$MNT/analytics/spending/by-month.json")
    echo '{"date": "2026-01-15", "amount": 1000.01, "currency": "EUR", "merchant": "x", "category": "y"}' \
        >"$MNT/records/finance/extra.json"
    after=$(jq '.[0].total' "$MNT/analytics/spending/by-month.json")
    [ "$(/usr/bin/python3 -c "print(round(($after - $before) * 100))")" -eq 100001 ]
    # calories: daily kcal and the target from the profile
    echo '{"kcal_target": 2000}' >"$MNT/records/profile/me.json"
    for d in 01 02 03; do
        echo "{\"date\": \"2026-03-$d\", \"food\": \"a\", \"kcal\": 1000}" >"$MNT/records/diet/$d-a.json"
        echo "{\"date\": \"2026-03-$d\", \"food\": \"b\", \"kcal\": 5$d}" >"$MNT/records/diet/$d-b.json"
    done
    grep -q '^2026-03-02,1502' "$MNT/analytics/calories/daily.csv" || { cat "$MNT/analytics/calories/daily.csv"; return 1; }
    grep -q '2000' "$MNT/analytics/calories/daily.csv"
    # mileage: earned - used per program
    echo '{"date": "2026-02-01", "merchant": "air", "item": "a", "amount": 1, "miles_earned": 1200, "miles_used": 0, "program": "sky"}' \
        >"$MNT/records/purchases/a.json"
    echo '{"date": "2026-03-01", "merchant": "air", "item": "b", "amount": 1, "miles_earned": 0, "miles_used": 500, "program": "sky"}' \
        >"$MNT/records/purchases/b.json"
    [ "$(jq -c '.[] | select(.program == "sky") | [.earned, .used, .balance]' "$MNT/analytics/mileage/balance.json")" = '[1200,500,700]' ]
}

@test "analytics/: the charts are valid standalone SVG (xmllint) and render in headless Chromium" {
    need xmllint
    finance_csv "$T/bank.csv" 200
    mkvault
    mount_vault
    mkdir "$MNT/records/finance" "$MNT/records/diet"
    cp "$T/bank.csv" "$MNT/import/finance/"
    echo '{"date": "2026-03-01", "food": "a", "kcal": 1800}' >"$MNT/records/diet/a.json"
    local svg
    for svg in spending/by-month.svg calories/daily.svg; do
        cp "$MNT/analytics/$svg" "$T/chart.svg"
        xmllint --noout "$T/chart.svg" || { echo "$svg is not XML"; return 1; }
        grep -q '<title>' "$T/chart.svg"
        not grep -Eq 'href="(https?:|//)' "$T/chart.svg"
        local chromium
        chromium=$(command -v chromium || command -v chromium-browser || true)
        if [ -n "$chromium" ]; then
            run timeout 60 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
                --window-size=820,440 --screenshot="$T/chart.png" "file://$T/chart.svg"
            [ -s "$T/chart.png" ] || { echo "chromium did not render $svg: $output"; return 1; }
            rm -f "$T/chart.png"
        fi
    done
}

@test "analytics/custom: a read-only query gives JSON and CSV; writes and ATTACH are refused" {
    mkvault
    mount_vault
    mkdir "$MNT/records/finance"
    echo '{"date": "2026-01-01", "amount": 10, "merchant": "a"}' >"$MNT/records/finance/a.json"
    echo '{"date": "2026-01-02", "amount": 5.5, "merchant": "a"}' >"$MNT/records/finance/b.json"
    echo "SELECT json_extract(body, '\$.merchant') AS merchant, sum(json_extract(body, '\$.amount')) AS total
          FROM records WHERE collection = 'finance' GROUP BY 1" >"$MNT/analytics/custom/totals.sql"
    [ "$(jq -c . "$MNT/analytics/custom/totals.json")" = '[{"merchant":"a","total":15.5}]' ]
    [ "$(cat "$MNT/analytics/custom/totals.csv")" = "$(printf 'merchant,total\na,15.5')" ]
    local q
    for q in "DELETE FROM records" "UPDATE records SET body = '{}'" "INSERT INTO records VALUES ('a','b','{}',0,0)" \
             "ATTACH DATABASE '/tmp/x.db' AS x" "SELECT * FROM vendors" "PRAGMA user_version=5" \
             "CREATE TABLE t(x)" "SELECT 1; DELETE FROM records"; do
        echo "$q" >"$MNT/analytics/custom/bad.sql"
        [ -s "$MNT/analytics/custom/bad.error.txt" ] || { echo "no error for: $q"; ls "$MNT/analytics/custom"; return 1; }
        [ ! -e "$MNT/analytics/custom/bad.json" ] || { echo "ran: $q"; return 1; }
    done
    [ ! -e /tmp/x.db ]
    [ "$(ls "$MNT/records/finance" | wc -l)" -eq 2 ]
    rm "$MNT/analytics/custom/bad.sql"
    [ ! -e "$MNT/analytics/custom/bad.error.txt" ]
    fails_sh "Read-only file system\|Permission denied" "echo x >'$MNT/analytics/spending/by-month.json'" ||
        fails_sh "Permission denied" "echo x >'$MNT/analytics/spending/by-month.json'"
}

@test "views: a granted analytics result, signed, and nothing of the records behind it" {
    mkvault
    mount_vault
    mkdir "$MNT/records/finance" "$MNT/vendors/bank"
    echo '{"date": "2026-01-01", "amount": 10, "merchant": "grocer", "category": "food"}' >"$MNT/records/finance/a.json"
    echo '{"date": "2026-01-02", "amount": 90, "merchant": "airline", "category": "travel"}' >"$MNT/records/finance/b.json"
    /bin/echo '{"grants": [{"fields": ["analytics.spending.by-category"], "purpose": "credit check"}]}' \
        >"$MNT/vendors/bank/grants.json"
    local W="$MNT/views/bank"
    [ "$(find "$W" -type f | sed "s|$W/||" | sort | tr '\n' ' ')" = \
      "analytics/spending/by-category.json analytics/spending/by-category.jws " ]
    [ "$(jq -c . "$W/analytics/spending/by-category.json")" = "$(jq -c . "$MNT/analytics/spending/by-category.json")" ]
    [ -z "$(ls "$W/records")" ]
    run grep -r "grocer\|airline" "$W"
    [ "$status" -eq 1 ]
    if /usr/bin/python3 -c 'import nacl' 2>/dev/null; then
        run /usr/bin/python3 "$SRCDIR/tests/verify_jws.py" "$W/analytics/spending/by-category.jws" \
            "$(jq -r .ed25519 "$MNT/vendors/bank/identity.json")"
        expect_status 0
        [ "$(jq -r .result <<<"$output")" = spending/by-category.json ]
        [ "$(jq -c .content <<<"$output")" = "$(jq -c . "$W/analytics/spending/by-category.json")" ]
        [ "$(jq -r .computed <<<"$output")" != null ]
    fi
    has "$(cat "$MNT/vendors/bank/access.log")" 'path="/analytics/spending/by-category.json"'
    /bin/echo '{"grants": []}' >"$MNT/vendors/bank/grants.json"
    [ ! -e "$W/analytics" ]
}
