# assert.bash: assertions shared by the bats files (cli.bats, mount.bats).
# Each prints what it expected and what it got, and fails the test.

# expect_status CODE: the last `run` exited with CODE
expect_status() {
    if [ "$status" -ne "$1" ]; then
        echo "expected exit status $1, got $status"
        echo "stdout: $output"
        echo "stderr: ${stderr:-}"
        return 1
    fi
}

# has TEXT NEEDLE / lacks TEXT NEEDLE
has() {
    case "$1" in
    *"$2"*) return 0 ;;
    esac
    echo "expected to find '$2' in:"
    echo "$1"
    return 1
}

lacks() {
    case "$1" in
    *"$2"*)
        echo "did not expect '$2' in:"
        echo "$1"
        return 1
        ;;
    esac
}

# byte FILE OFFSET: the byte there, as a decimal number.
byte() {
    od -An -tu1 -j "$2" -N1 "$1" | tr -d ' \n'
}

# flip FILE OFFSET: invert every bit of one byte, and make sure it changed.
flip() {
    local f=$1 off=$2 old new
    old=$(byte "$f" "$off")
    [ -n "$old" ] || { echo "flip: $f has no byte at $off"; return 1; }
    new=$((old ^ 255))
    # shellcheck disable=SC2059
    printf "\\$(printf %03o "$new")" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
    [ "$(byte "$f" "$off")" = "$new" ] || { echo "flip: byte $off of $f did not change"; return 1; }
}
