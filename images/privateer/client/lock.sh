# Sourced by bash. hold_lock SERVER DIR MODE: takes flock(1) on the directory DIR on SERVER,
# MODE shared (readers) or exclusive (writers), and holds it until this shell exits. Every
# transfer of one copy on a server takes it, so that a scheduled push, an on-demand push and a
# restore of the same copy queue rather than interleave. The lock lives on the server, held by
# a process reading this shell's end of a pipe: when this shell ends, or its connection drops
# (sshd's keepalive gives up within a minute), the lock goes with it. A writer creates DIR; a
# reader of a DIR that does not exist fails, saying so. Set LOCK_SSH to share a connection.
# The server's privateer-gate takes the lock (`montagu lock`), where the client may: exclusive
# on its own copies, shared on any it may read.
# The lock ends with this shell process: a command that replaces it (exec, or the last command
# of `bash -c`, which bash execs in its place) ends the lock before it runs.

hold_lock() {
  local server="$1" dir="$2" mode="$3" line
  case "$mode" in shared | exclusive) ;; *) echo "lock: unknown mode '$mode'" >&2; return 2 ;; esac
  coproc LOCK_HOLDER { ${LOCK_SSH:-ssh} "$server" "montagu lock $(printf '%q' "$dir") $mode" 2>&1; }
  while IFS= read -r line <&"${LOCK_HOLDER[0]}"; do
    case "$line" in
      held) return 0 ;;
      waiting) echo "lock: another transfer is using $dir on $server; waiting for it to end" ;;
      missing) echo "lock: $dir does not exist on $server" >&2; return 1 ;;
      *) echo "lock: $line" >&2 ;;
    esac
  done
  echo "lock: could not lock $dir on $server" >&2
  return 1
}

# lock_request REQUEST: has the server do REQUEST under the exclusive lock hold_lock took, in
# the session that holds it (a push's `begin` and `pushed`: a session each would cost a
# process on the server each). What the server says is shown; its `answer WORD` is left in
# LOCK_ANSWER. Fails when the request fails or the lock's session is gone.
# shellcheck disable=SC2034 # LOCK_ANSWER is for the script that sources this one
lock_request() {
  local request="$1" line
  LOCK_ANSWER=""
  printf '%s\n' "$request" >&"${LOCK_HOLDER[1]}"
  while IFS= read -r line <&"${LOCK_HOLDER[0]}"; do
    case "$line" in
      "done 0") return 0 ;;
      "done "*) echo "lock: $request failed on the server (${line#done })" >&2; return 1 ;;
      "answer "*) LOCK_ANSWER="${line#answer }" ;;
      *) echo "$line" ;;
    esac
  done
  echo "lock: the session holding the lock ended during $request" >&2
  return 1
}
