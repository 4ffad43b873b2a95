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
