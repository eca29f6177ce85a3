#!/bin/bash
# contrib/raftctl.bash: commands, subcommands, option values and member
# names complete (bash-completion's helpers are stubbed, so this runs
# without the bash-completion package).
set -u
srcdir=${srcdir:-.}
fail() { echo "FAIL: $*"; exit 1; }
_init_completion() { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
_filedir() { COMPREPLY=(FILES); }
# the member list comes from raftctl; a stand-in answers as raftd would
raftctl() { printf '[\n  {\n    "name": "n1",\n    "url": "x"\n  },\n  {\n    "name": "n2",\n    "url": "y"\n  }\n]\n'; }
# shellcheck source=/dev/null
. "$srcdir/contrib/raftctl.bash"
complete -p raftctl >/dev/null || fail "no completion registered"
try() { # try "WORDS..." EXPECTED
	read -r -a COMP_WORDS <<<"$1"
	[[ $1 == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_raftctl
	[ "${COMPREPLY[*]}" = "$2" ] || fail "'$1' completes to '${COMPREPLY[*]}', expected '$2'"
}
try "raftctl st" "status"
try "raftctl sn" "snapshot"
try "raftctl --endpoints x:1 me" "members"
try "raftctl members " "list add remove promote --help"
try "raftctl members remove " "n1 n2"
try "raftctl leader transfer n" "n1 n2"
try "raftctl -o " "table json"
try "raftctl logs --event memb" "membership member-joined member-left"
try "raftctl logs --event lifec" "lifecycle"
try "raftctl check perf --load " "s m l xl"
try "raftctl bench --op " "put get delete"
try "raftctl snapshot save " "FILES"
try "raftctl wal " "dump verify --help"
try "raftctl get --n" "--node"
try "raftctl get --p" "--prefix"
try "raftctl put --if" "--if-mod-rev"
try "raftctl del --p" "--prefix"
try "raftctl --gr" "--grpc"
try "raftctl comp" "compact"
try "raftctl lease " "grant revoke keep-alive list ttl --help"
try "raftctl lease keep-alive --o" "--once"
try "raftctl put --le" "--lease"
try "raftctl wa" "watch wal"
try "raftctl elect --l" "--listen"
try "raftctl --ca" "--cacert"
try "raftctl --cert " "FILES"
try "raftctl --cacert ca.pem --cert c.pem --key k.pem st" "status"
echo "ok: bash completion"
