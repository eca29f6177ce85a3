#!/bin/bash
# tests/fault/run.sh — one randomized fault schedule against a real raftd
# cluster, then every check of tests/fault/history.h on what the clients saw.
#
#   run.sh [--nodes 3] [--net lo|ns] [--seconds 20] [--seed N] [--clients 6]
#          [--faults kill,stop,...] [--disk loop|dir] [--raftd PATH]
#          [--node-env 'VAR=VALUE ...'] [--cycles N] [--value-pad N]
#          [--save DIR] [--quiet] [--order random|seq] [--tls] [--v3]
#          [--watch]
#
# --net lo: every node on 127.0.0.1 (ports above the ephemeral range).
# --net ns: one network namespace per node (10.77.S.N/24, S from the pid),
#   veth pairs into a bridge of our own; the clients talk to the nodes over
#   the bridge (10.77.S.254) and partitions are nftables rules inside the
#   node namespaces that drop packets from chosen peers, one way or both.
# --disk loop: each node's data directory on its own small ext4 on a loop
#   device (image in /dev/shm), mounted commit=300 so that nothing reaches
#   the "disk" but what is fsynced (or written back after 30 s). A power
#   failure is: kill -9, copy the image as it is (what the loop device
#   received = what was durable), unmount, mount the copy. Needs root.
#
# --tls: the nodes serve HTTPS only, with client and peer certificate
#   authentication (--client-cert-auth, --peer-client-cert-auth) and a
#   [roles] section; certificates are made for the run with certtool (a CA;
#   node N's certificate names nN, nN.1..nN.30 for its names across rejoins,
#   and its address; "fault-client" with the write role, which fault-client
#   presents; "fault-admin" with the admin role, for this script's /leave).
#   Not with the hostile faults (fault-hostile speaks plain HTTP).
#
# --v3: every node also serves etcd's v3 API (--grpc-listen; on loopback
#   the ports of the block the HTTP ones leave, so at most 5 nodes; 2379 with --net
#   ns), and fault-client mixes v3 Puts, linearizable Ranges and Txn
#   compare-and-swaps (on value or mod_revision) with the /db operations
#   on the same keys (fault-client --grpc): one history, checked across
#   both APIs. Not with --tls yet (no TLS on the gRPC port here).
#
# --watch (with --v3; issue 20): beside the clients, $WATCHERS (2) watchers
#   (tests/fault/watch.py) watch the whole key space from the revision
#   before the first write, each through a random node; when its stream
#   fails or stalls (no answer to a progress request for 2 s: a node
#   killed, stopped or cut off) it re-watches on another node from its last
#   revision + 1. A lease holder (tests/fault/lease.py) grants a lease of
#   $LEASE_TTL (5) s, puts a key on it, keeps it alive through any node for
#   half of --seconds, then stops and reads the key until it is gone on
#   every node. Once the cluster converged, the watchers catch up to its
#   revision and stop. Two more checks of the run:
#   tests/fault/watch_check.py (each watcher's events in order, no revision
#   skipped, every acknowledged write exactly once with its value, no value
#   nobody wrote, the watchers agree) and tests/fault/lease_check.py (the
#   key never gone before its TTL while keep-alives were answered, gone
#   within TTL + an election time of the last keep-alive or of a new
#   leader's term, plus a margin, on every node). Needs python3-etcd3.
#   FAULT_LEASE=0 leaves the lease holder out.
#
# Faults (one at a time, held 1-3 s, 0.3-1.5 s apart; leader-biased):
#   kill       kill -9 one node, restart it
#   killleader kill -9 the leader (waiting up to 5 s for one), restart it
#   killall    kill -9 every node at once, restart them
#   stop       SIGSTOP one node, SIGCONT it
#   pausekill  SIGSTOP the followers, kill -9 the leader, SIGCONT, restart it
#   partition  (ns) halves, leader isolated, bridge, one-way into the leader
#   diskfail   restart a node with RAFTD_TEST_WAL_FAILPOINT (fsync/write EIO,
#              write/fallocate ENOSPC, rename EIO): on EIO it must exit, is
#              restarted; on ENOSPC it holds the batch, refuses writes (503
#              NOSPACE) and goes on once a retry succeeds
#   member     /leave a follower under load; it stops; it rejoins afresh
#   powerfail  (loop) power failure of one node
#   powerall   (loop) power failure of every node at once
#   enospc     (loop) fill a node's file system, then free it: the node
#              stays up (an exit whose reason is ENOSPC is still accepted:
#              a truncation's segment or a rename that finds no room)
# Hostile faults (a peer that lies, floods or bloats; tests/fault/hostile.c
# forges the goraft RPCs with the project's codec). Each one checks what
# must hold right after it and logs "HOSTILE <fault>: ok" or
# "HOSTILE-FAIL <fault>: ... [issue 16 #N: the fix it needs]"; any
# HOSTILE-FAIL fails the run, besides the usual checks at the end:
#   hvote      RequestVote at the leader's term + 1000 with a follower's real
#              name, to every other node: no node may take that term (#2)
#   hvotemax   RequestVote at term 2^64-1 with a real name: no term may
#              reach 2^63 (or print negative), a leader within 10 s (#1)
#   hae        AppendEntries from an invented leader at a higher term,
#              entries writing hostile.ae.K, to every node (PrevLogTerm
#              guessed): nobody may apply them (#4)
#   hsnap      SnapshotRequest and SnapshotRecoveryRequest to a follower in
#              the name of another follower, 10^9 entries ahead, State
#              holding only hostile.snap.K: not installed (#3)
#   hflood     5,000 idle connections to the leader for 6 s (from 127.0.0.2
#              on loopback): /status (200) and a write through it must
#              still answer (#6)
#   hslow      the same with 1,100 slowloris connections (a header line a
#              second each)
#   hbody      3 connections streaming 400 MiB each to a follower's
#              /raft/appendEntries: its RSS may not grow 256 MiB (#7)
#   hjoin      three POST /join at once for raftd members at closed ports:
#              writes must still commit (#5)
# --order seq: the faults in the order given, cycling (each one at least
#   once, whatever --seconds says), instead of at random.
# --cycles N: instead of --seconds, N kill -9 cycles (the 1000-cycle goal).
# --value-pad N: every value written is its token and N more characters
#   (fault-client --value-pad), so that log entries are long; the loop
#   disks are then 512 MiB instead of 96.
#
# Exit: 0 clean; 1 a check failed (lost acknowledged writes, a history that is
# not linearizable, diverged nodes, no convergence, a node that crashed
# unexpectedly or a sanitizer report); 77 skipped (no root for ns/loop);
# 99 the harness could not run. The last line is a RESULT line. A failing
# run is saved with its seed to --save (default tests/fault/failures) for
# replay: fault-check on the saved history gives the same verdict, and the
# same command line replays the same fault schedule (timing differs).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top_builddir=${top_builddir:-$(cd "$here/../.." && pwd)}
FC=${FAULT_CLIENT:-$top_builddir/tests/fault/fault-client}
FCHECK=${FAULT_CHECK:-$top_builddir/tests/fault/fault-check}
FHOST=${FAULT_HOSTILE:-$top_builddir/tests/fault/fault-hostile}

N=3 NET=lo SECONDS_RUN=20 SEED=${FAULT_SEED:-$(( ($$ * 7919 + $(date +%s)) % 100000 ))} CLIENTS=6
FAULTS="" DISK=auto RAFTD=${RAFTD:-$top_builddir/tests/cluster/raftd-test} NODE_ENV="" CYCLES=0
SAVE=${FAULT_SAVE_DIR:-$top_builddir/tests/fault/failures} QUIET=0 VALUE_PAD=0 ORDER=random TLS=0 V3=0 WATCH=0
argv="$*"
while [ $# -gt 0 ]; do
	case $1 in
	--nodes) N=$2 ;;
	--net) NET=$2 ;;
	--seconds) SECONDS_RUN=$2 ;;
	--seed) SEED=$2 ;;
	--clients) CLIENTS=$2 ;;
	--faults) FAULTS=$2 ;;
	--disk) DISK=$2 ;;
	--raftd) RAFTD=$2 ;;
	--node-env) NODE_ENV=$2 ;;
	--cycles) CYCLES=$2 ;;
	--value-pad) VALUE_PAD=$2 ;;
	--save) SAVE=$2 ;;
	--order) ORDER=$2 ;;
	--quiet) QUIET=1; shift; continue ;;
	--tls) TLS=1; shift; continue ;;
	--v3) V3=1; shift; continue ;;
	--watch) WATCH=1; shift; continue ;;
	--help) sed -n '2,/^set -u/{/^set -u/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) echo "run.sh: unknown option $1" >&2; exit 99 ;;
	esac
	shift 2
done
RANDOM=$SEED
[ "$DISK" = auto ] && { [ "$(id -u)" = 0 ] && [ -e /dev/loop-control ] && DISK=loop || DISK=dir; }
if [ -z "$FAULTS" ]; then
	FAULTS="kill,killall,stop,pausekill,diskfail,member"
	[ "$NET" = ns ] && FAULTS="$FAULTS,partition,partition,partition"
	[ "$DISK" = loop ] && FAULTS="$FAULTS,powerfail,powerall,enospc"
fi
[ "$CYCLES" -gt 0 ] && FAULTS=kill
skip() { echo "SKIP: $*"; echo "RESULT seed=$SEED skipped"; exit 77; }
if [ "$NET" = ns ] || [ "$DISK" = loop ]; then
	[ "$(id -u)" = 0 ] || skip "--net ns and --disk loop need root"
fi
if [ "$NET" = ns ]; then
	command -v nft >/dev/null || skip "nft not installed (scripts/install-deps)"
	command -v ip >/dev/null || skip "ip (iproute2) not installed"
fi
case ",$FAULTS," in *,partition,*) [ "$NET" = ns ] || { echo "run.sh: partition needs --net ns" >&2; exit 99; } ;; esac
case ",$FAULTS," in *,powerfail,*|*,powerall,*|*,enospc,*)
	[ "$DISK" = loop ] || { echo "run.sh: powerfail/powerall/enospc need --disk loop" >&2; exit 99; } ;; esac
case ",$FAULTS," in *,h[a-z]*) [ -x "$FHOST" ] || { echo "run.sh: $FHOST not built" >&2; exit 99; } ;; esac
if [ "$TLS" = 1 ]; then
	case ",$FAULTS," in *,h[a-z]*) echo "run.sh: the hostile faults speak plain HTTP: not with --tls" >&2; exit 99 ;; esac
	command -v certtool >/dev/null || skip "certtool (gnutls-bin) not installed"
fi
if [ "$V3" = 1 ]; then
	[ "$TLS" = 1 ] && { echo "run.sh: --v3 is not with --tls yet" >&2; exit 99; }
	[ "$NET" = ns ] || [ "$N" -le 5 ] || { echo "run.sh: --v3 on loopback: at most 5 nodes" >&2; exit 99; }
fi
WPY=""
if [ "$WATCH" = 1 ]; then
	[ "$V3" = 1 ] || { echo "run.sh: --watch needs --v3" >&2; exit 99; }
	# Debian's python3-etcd3 is for Debian's python3, which another
	# python3 first in PATH (a pyenv's) cannot import
	for p in python3 /usr/bin/python3; do "$p" -c 'import etcd3, grpc' 2>/dev/null && { WPY=$p; break; }; done
	[ -n "$WPY" ] || skip "--watch needs python3-etcd3 (scripts/install-deps)"
fi
for b in "$RAFTD" "$FC" "$FCHECK"; do [ -x "$b" ] || { echo "run.sh: $b not built" >&2; exit 99; }; done
IFS=, read -r -a FAULT_LIST <<<"$FAULTS"

T=$(mktemp -d "${TMPDIR:-/tmp}/raftd-fault.XXXXXX")
SCHED=$T/schedule.log
T0=$(date +%s%N)
log() {
	local t=$(( ($(date +%s%N) - T0) / 1000000 ))
	printf '%6d.%03d %s\n' $((t / 1000)) $((t % 1000)) "$*" >>"$SCHED"
	[ "$QUIET" = 1 ] || printf '[%d.%03d] %s\n' $((t / 1000)) $((t % 1000)) "$*"
}
# Every random choice comes from RANDOM in this shell, never in a $(...)
# subshell (bash reseeds those): same seed, same schedule.
rnd() { R=$((RANDOM % $1)); }                       # R = 0..$1-1
hold_s() { HOLD=$((1 + RANDOM % 2)).$((RANDOM % 10)); } # HOLD = 1.0-2.9 s
gap_s() { GAP=0.$((3 + RANDOM % 7)); }

# --- nodes -----------------------------------------------------------------------
declare -a PID STATE HOST PORT NAME GEN ENVV EXPECT LEAVE_ASKED IP NSN MNT IMG LOOPDEV GPORT
CRASHED=0 CLIENT_PID="" SUB="" BR="" WATCH_PIDS=() LEASE_PID=""
if [ "$NET" = ns ]; then
	for s in $(seq $(( $$ % 200 + 20 )) 254) $(seq 20 254); do
		ip -o addr show | grep -q " 10\.77\.$s\." && continue
		ip netns list | grep -q "^rft$s-" && continue
		SUB=$s
		break
	done
	[ -n "$SUB" ] || { echo "run.sh: no free 10.77.S.0/24" >&2; exit 99; }
	BR=rfb$SUB
else
	# Schedules run side by side in make check, beside the cluster tests:
	# each claims its block of ten ports the way they do (ports.sh), above
	# the ephemeral range.
	. "$(dirname "$0")/../cluster/ports.sh"
	BASE=""
	port_claim 61000 64899 && BASE=$PORT_BASE
	[ -n "$BASE" ] || { echo "run.sh: no free block of loopback ports" >&2; exit 99; }
fi
NODES="" GNODES=""
for n in $(seq 1 "$N"); do
	if [ "$NET" = ns ]; then
		IP[n]=10.77.$SUB.$n HOST[n]=10.77.$SUB.$n PORT[n]=4001 NSN[n]=rft$SUB-$n GPORT[n]=2379
	else
		HOST[n]=127.0.0.1 PORT[n]=$(( BASE + n ))
		# the block's other five ports (its first one for node 5)
		GPORT[n]=$(( BASE + (5 + n) % 10 ))
	fi
	STATE[n]=new GEN[n]=1 NAME[n]=n$n.1 ENVV[n]="" EXPECT[n]="" LEAVE_ASKED[n]=0 FILLED[n]=0
	NODES="$NODES${NODES:+,}${HOST[n]}:${PORT[n]}"
	GNODES="$GNODES${GNODES:+,}${HOST[n]}:${GPORT[n]}"
done
# fault-client's v3 operations (--v3)
FCV3=()
[ "$V3" = 1 ] && FCV3=(--grpc "$GNODES")
ADDR() { echo "${HOST[$1]}:${PORT[$1]}"; }
# how this script and fault-client reach the nodes (--tls: tls_setup)
SCHEME=http CURLTLS=() FCTLS=()
DATA() { if [ "$DISK" = loop ]; then echo "${MNT[$1]}/data"; else echo "$T/d$1"; fi; }

cleanup() {
	trap - EXIT INT TERM
	[ -n "$CLIENT_PID" ] && kill -9 "$CLIENT_PID" 2>/dev/null
	for p in "${WATCH_PIDS[@]}" $LEASE_PID; do kill -9 "$p" 2>/dev/null; done
	for n in $(seq 1 "$N"); do
		# only processes not reaped yet: a reaped pid may be someone else's now
		case ${STATE[n]:-} in up|stopped) ;; *) continue ;; esac
		kill -CONT "${PID[n]}" 2>/dev/null
		kill -9 "${PID[n]}" 2>/dev/null
	done
	wait 2>/dev/null
	for n in $(seq 1 "$N"); do
		[ -n "${NSN[n]:-}" ] && timeout 10 ip netns del "${NSN[n]}" 2>/dev/null
		if [ -n "${MNT[n]:-}" ]; then
			timeout 10 umount "${MNT[n]}" 2>/dev/null || timeout 10 umount -l "${MNT[n]}" 2>/dev/null
		fi
		[ -n "${LOOPDEV[n]:-}" ] && timeout 10 losetup -d "${LOOPDEV[n]}" 2>/dev/null
	done
	[ -n "$BR" ] && timeout 10 ip link del "$BR" 2>/dev/null
	[ -n "${IMGDIR:-}" ] && rm -rf "$IMGDIR"
	[ "${KEEP:-0}" = 1 ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 99' INT TERM

# the last reason node N gave for stopping (since its last start) is ENOSPC
stopped_for_enospc() {
	sed -n '/^### .* start: /h; /^### .* start: /!H; ${x;p}' "$T/n$1.log" |
		grep 'stopping so that recovery reads' | tail -1 | grep -q 'No space left on device'
}

# the node's process is gone (a zombie counts as gone): reap it and judge
check_alive() {
	local n pid st rc
	for n in $(seq 1 "$N"); do
		case ${STATE[n]} in up|stopped) ;; *) continue ;; esac
		pid=${PID[n]}
		st=""
		{ read -r _ _ st _ <"/proc/$pid/stat"; } 2>/dev/null
		[ -n "$st" ] && [ "$st" != Z ] && continue
		wait "$pid"
		rc=$?
		STATE[n]=down
		if [ -n "${EXPECT[n]}" ] && [ "$rc" = 1 ]; then
			log "node $n exited with $rc (expected: ${EXPECT[n]})"
		elif [ "${FILLED[n]}" = 1 ] && [ "$rc" = 1 ] && stopped_for_enospc "$n"; then
			# it met the full disk but left after the filler went
			log "node $n exited with $rc (expected: ENOSPC of the full disk it met)"
		elif [ "${LEAVE_ASKED[n]}" = 1 ] && [ "$rc" = 0 ]; then
			log "node $n exited with 0 after it was removed"
			STATE[n]=gone
		else
			log "UNEXPECTED: node $n exited with status $rc"
			CRASHED=$((CRASHED + 1))
			# CI keeps only what is printed: the end of the node's log says why
			echo "--- node $n exited with status $rc; the end of its log:" >&2
			tail -n 25 "$T/n$n.log" >&2
			if [ "$DISK" = loop ]; then
				log "  its file system: $(df -h --output=used,avail "${MNT[n]}" | tail -1 | tr -s ' ')," \
					"$(du -sh "$(DATA "$n")"/* 2>/dev/null | tr -s '\t\n' ' ')"
			fi
		fi
	done
}

leader() { # node number of the leader, or empty
	local i
	i=$("$FC" leader --nodes "$NODES" "${FCTLS[@]}" 2>/dev/null) && echo $((i + 1))
}

some_up() { # PICK = a random node that is up, the leader half of the time
	local l c=() n
	PICK=""
	rnd 2
	if [ "$R" = 0 ]; then
		l=$(leader)
		[ -n "$l" ] && [ "${STATE[l]}" = up ] && { PICK=$l; return; }
	fi
	for n in $(seq 1 "$N"); do [ "${STATE[n]}" = up ] && c+=("$n"); done
	[ ${#c[@]} -gt 0 ] && { rnd ${#c[@]}; PICK=${c[R]}; }
}

join_target() { # HOST:PORT of the leader, else of another node that is up
	local l n
	l=$(leader)
	[ -n "$l" ] && [ "$l" != "$1" ] && { ADDR "$l"; return; }
	for n in $(seq 1 "$N"); do [ "$n" != "$1" ] && [ "${STATE[n]}" = up ] && { ADDR "$n"; return; }; done
	[ "$1" = 1 ] && ADDR 2 || ADDR 1
}

# node_start N [ENV...]: start (or restart) node N; -join is ignored by a node
# whose log is not empty, and makes one whose log is empty join, not found a
# cluster of its own.
node_start() {
	local n=$1 join=() e
	shift
	e="$NODE_ENV $*"
	if [ "${STATE[n]}" != new ] || [ "$n" != 1 ]; then
		join=(-join "$(join_target "$n")")
	fi
	mkdir -p "$(DATA "$n")"
	[ "${EXPECT[n]}" = ENOSPC ] || FILLED[n]=0
	local TLSARGS=() grpc=none
	tls_node_args "$n"
	[ "$V3" = 1 ] && grpc=${HOST[n]}:${GPORT[n]}
	local cmd=(env $e "$RAFTD" -p "${PORT[n]}" -h "${HOST[n]}" --listen "${HOST[n]}" --name "${NAME[n]}" --grpc-listen "$grpc" "${TLSARGS[@]}"
		--election-timeout-ms "${ELECTION_MS:-300}" --heartbeat-ms "${HEARTBEAT_MS:-50}"
		--snapshot-threshold "${SNAPSHOT_THRESHOLD:-2000}" --segment-size 1M "${join[@]}" "$(DATA "$n")")
	echo "### $(date +%T.%N) start: ${cmd[*]}" >>"$T/n$n.log"
	if [ "$NET" = ns ]; then
		ip netns exec "${NSN[n]}" "${cmd[@]}" >>"$T/n$n.log" 2>&1 &
	else
		"${cmd[@]}" >>"$T/n$n.log" 2>&1 &
	fi
	PID[n]=$!
	STATE[n]=up
	ENVV[n]="$*"
	local i
	for i in $(seq 50); do
		curl "${CURLTLS[@]}" -s -m 0.5 -o /dev/null "$SCHEME://$(ADDR "$n")/status" && return 0
		check_alive
		[ "${STATE[n]}" = up ] || return 1
		sleep 0.1
	done
	log "node $n does not answer /status after 5 s"
	return 1
}

node_signal() { # N SIGNAL
	kill "-$2" "${PID[$1]}" 2>/dev/null
	if [ "$2" = KILL ]; then
		wait "${PID[$1]}" 2>/dev/null
		STATE[$1]=down
	fi
}

# --- network namespaces and partitions ---------------------------------------------------
net_setup() {
	ip link add "$BR" type bridge || return 1
	ip addr add "10.77.$SUB.254/24" dev "$BR" && ip link set "$BR" up || return 1
	local n
	for n in $(seq 1 "$N"); do
		ip netns add "${NSN[n]}" || return 1
		ip link add "rfv$SUB-$n" type veth peer name eth0 netns "${NSN[n]}" || return 1
		ip link set "rfv$SUB-$n" master "$BR" up || return 1
		ip -n "${NSN[n]}" addr add "${IP[n]}/24" dev eth0 || return 1
		ip -n "${NSN[n]}" link set eth0 up && ip -n "${NSN[n]}" link set lo up || return 1
		ip netns exec "${NSN[n]}" nft -f - <<-EOF || return 1
			table inet fault {
				chain in { type filter hook input priority 0; policy accept; }
			}
		EOF
	done
}

cut_oneway() { # FROM TO: TO stops receiving anything from FROM
	ip netns exec "${NSN[$2]}" nft add rule inet fault in ip saddr "${IP[$1]}" drop
}
cut_both() { cut_oneway "$1" "$2"; cut_oneway "$2" "$1"; }
heal_net() {
	local n
	for n in $(seq 1 "$N"); do ip netns exec "${NSN[n]}" nft flush chain inet fault in; done
}

# --- loop-device disks ------------------------------------------------------------------------
IMGDIR=""
disk_setup() {
	local base=/dev/shm
	[ -w "$base" ] || base=$T
	IMGDIR=$(mktemp -d "$base/raftd-fault-img.XXXXXX") || return 1
	local n
	for n in $(seq 1 "$N"); do
		IMG[n]=$IMGDIR/n$n.img
		MNT[n]=$T/mnt$n
		mkdir -p "${MNT[n]}"
		truncate -s "$([ "$VALUE_PAD" -gt 0 ] && echo 512M || echo 96M)" "${IMG[n]}" && mkfs.ext4 -q -m 0 -F "${IMG[n]}" || return 1
		disk_mount "$n" || return 1
	done
}
disk_mount() {
	LOOPDEV[$1]=$(losetup -f --show "${IMG[$1]}") || return 1
	mount -o commit=300 "${LOOPDEV[$1]}" "${MNT[$1]}"
}
# What the disk holds after a power failure: what reached the loop device.
disk_powerfail() {
	cp --sparse=always "${IMG[$1]}" "${IMG[$1]}.crash" || return 1
	# the killed node's io_uring may hold its files a moment longer
	local i
	for i in $(seq 20); do umount "${MNT[$1]}" 2>/dev/null && break; sleep 0.1; done
	[ "$i" = 20 ] && umount -l "${MNT[$1]}"
	losetup -d "${LOOPDEV[$1]}"
	LOOPDEV[$1]=""
	mv "${IMG[$1]}.crash" "${IMG[$1]}"
	disk_mount "$1"
}

# --- certificates (--tls) --------------------------------------------------------------------
tls_setup() {
	local cdir=$T/certs n g
	mkdir -p "$cdir" || return 1
	key() { certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$1" 2>/dev/null; }
	key "$cdir/ca-key.pem" || return 1
	printf 'cn = "raftd fault CA"\nca\ncert_signing_key\nexpiration_days = 30\n' >"$cdir/ca.tmpl"
	certtool --generate-self-signed --load-privkey "$cdir/ca-key.pem" --template "$cdir/ca.tmpl" \
		--outfile "$cdir/ca.pem" 2>/dev/null || return 1
	leaf() { # NAME TEMPLATE-LINES
		key "$cdir/$1-key.pem" || return 1
		printf '%s\nsigning_key\nencryption_key\nexpiration_days = 30\n' "$2" >"$cdir/$1.tmpl"
		certtool --generate-certificate --load-privkey "$cdir/$1-key.pem" --load-ca-certificate "$cdir/ca.pem" \
			--load-ca-privkey "$cdir/ca-key.pem" --template "$cdir/$1.tmpl" --outfile "$cdir/$1.pem" 2>/dev/null
	}
	for n in $(seq 1 "$N"); do
		# a member's claims are checked against its names (nN.G on
		# loopback, where every node shares 127.0.0.1) or its address
		local t="cn = \"n$n\""
		for g in $(seq 1 30); do t="$t"$'\n'"dns_name = \"n$n.$g\""; done
		t="$t"$'\n'"ip_address = \"${HOST[n]}\""$'\n'tls_www_server$'\n'tls_www_client
		leaf "n$n" "$t" || return 1
	done
	leaf fault-client $'cn = "fault-client"\ntls_www_client' || return 1
	leaf fault-admin $'cn = "fault-admin"\ntls_www_client' || return 1
	printf '[roles]\nfault-client = write\nfault-admin = admin\n' >"$cdir/raftd.conf"
	SCHEME=https
	CURLTLS=(--cacert "$cdir/ca.pem" --cert "$cdir/fault-admin.pem" --key "$cdir/fault-admin-key.pem")
	FCTLS=(--cacert "$cdir/ca.pem" --cert "$cdir/fault-client.pem" --key "$cdir/fault-client-key.pem")
}
# node N's TLS options
tls_node_args() {
	local cdir=$T/certs
	[ "$TLS" = 1 ] || return 0
	TLSARGS=(--config "$cdir/raftd.conf" --cert-file "$cdir/n$1.pem" --key-file "$cdir/n$1-key.pem"
		--trusted-ca-file "$cdir/ca.pem" --client-cert-auth
		--peer-trusted-ca-file "$cdir/ca.pem" --peer-client-cert-auth)
}

# --- faults ----------------------------------------------------------------------------------
f_killleader() {
	local l
	l=$(leader_within) || { log "killleader: no leader in 5 s"; return 0; }
	log "kill -9 leader $l"
	node_signal "$l" KILL
	hold_s
	sleep "$HOLD"
	log "restart node $l"
	node_start "$l"
}

f_kill() {
	some_up
	local n=$PICK
	[ -n "$n" ] || return 0
	log "kill -9 node $n"
	node_signal "$n" KILL
	hold_s
	sleep "${1:-$HOLD}"
	log "restart node $n"
	node_start "$n"
}

f_killall() {
	local n
	log "kill -9 every node"
	for n in $(seq 1 "$N"); do [ "${STATE[n]}" = up ] && node_signal "$n" KILL; done
	rnd 10
	sleep "0.$R"
	log "restart every node"
	for n in $(seq 1 "$N"); do [ "${STATE[n]}" = down ] && node_start "$n"; done
}

f_stop() {
	some_up
	local n=$PICK
	[ -n "$n" ] || return 0
	log "SIGSTOP node $n"
	node_signal "$n" STOP
	STATE[n]=stopped
	hold_s
	sleep "$HOLD"
	log "SIGCONT node $n"
	node_signal "$n" CONT
	STATE[n]=up
}

# The leader alone: its followers paused, then the leader killed while they
# are; they resume and elect one of them; the old leader comes back. A leader
# that acknowledged anything alone in that window (RAFTD_TEST_RAFT_FAULT=1)
# loses it here.
f_pausekill() {
	local l n
	l=$(leader)
	[ -n "$l" ] || return 0
	log "SIGSTOP every follower of leader $l"
	for n in $(seq 1 "$N"); do
		[ "$n" != "$l" ] && [ "${STATE[n]}" = up ] && { node_signal "$n" STOP; STATE[n]=stopped; }
	done
	rnd 10
	sleep "0.$((5 + R / 2))"
	log "kill -9 leader $l; SIGCONT the others"
	node_signal "$l" KILL
	for n in $(seq 1 "$N"); do
		[ "${STATE[n]}" = stopped ] && { node_signal "$n" CONT; STATE[n]=up; }
	done
	hold_s
	sleep "$HOLD"
	log "restart node $l"
	node_start "$l"
}

f_partition() {
	local l order=() n i a b kind
	l=$(leader)
	for n in $(seq 1 "$N"); do order+=("$n"); done
	for ((i = N - 1; i > 0; i--)); do # shuffle
		rnd $((i + 1))
		b=$R
		a=${order[i]} order[i]=${order[b]} order[b]=$a
	done
	rnd 4
	kind=$R
	[ -z "$l" ] && [ "$kind" != 0 ] && kind=0
	case $kind in
	0)
		local m=$(( (N - 1) / 2 ))
		log "partition: minority {${order[*]:0:m}} | majority {${order[*]:m}}"
		for a in "${order[@]:0:m}"; do for b in "${order[@]:m}"; do cut_both "$a" "$b"; done; done
		;;
	1)
		log "partition: leader $l isolated"
		for n in $(seq 1 "$N"); do [ "$n" != "$l" ] && cut_both "$l" "$n"; done
		;;
	2)
		# a bridge node sees both sides, which do not see each other
		local br=${order[0]} rest=("${order[@]:1}") h=$(( (N - 1) / 2 ))
		log "partition: bridge $br between {${rest[*]:0:h}} and {${rest[*]:h}}"
		for a in "${rest[@]:0:h}"; do for b in "${rest[@]:h}"; do cut_both "$a" "$b"; done; done
		;;
	3)
		log "partition: one way, leader $l receives from nobody (it still sends)"
		for n in $(seq 1 "$N"); do [ "$n" != "$l" ] && cut_oneway "$n" "$l"; done
		;;
	esac
	hold_s
	sleep "$HOLD"
	log "heal the network"
	heal_net
}

f_diskfail() {
	some_up
	local n=$PICK kinds=("fsync:%d:5" "write:%d:5" "write:%d:28" "fallocate:%d:28" "rename:%d:5" "fsync:%d:28")
	[ -n "$n" ] || return 0
	local spec
	rnd ${#kinds[@]}
	# shellcheck disable=SC2059
	printf -v spec "${kinds[R]}" $((2 + RANDOM % 30))
	log "restart node $n with RAFTD_TEST_WAL_FAILPOINT=$spec"
	node_signal "$n" KILL
	EXPECT[n]="failpoint $spec"
	node_start "$n" "RAFTD_TEST_WAL_FAILPOINT=$spec"
	hold_s
	sleep "$HOLD"
	check_alive
	if [ "${STATE[n]}" = up ]; then
		log "node $n still up ($spec not reached): kill -9"
		node_signal "$n" KILL
	fi
	EXPECT[n]=""
	log "restart node $n without failpoint"
	node_start "$n"
}

f_member() {
	local l x c=() n code
	l=$(leader)
	[ -n "$l" ] || return 0
	for n in $(seq 1 "$N"); do [ "$n" != "$l" ] && [ "${STATE[n]}" = up ] && c+=("$n"); done
	[ ${#c[@]} -gt 0 ] || return 0
	rnd ${#c[@]}
	x=${c[R]}
	log "leave: node $x (${NAME[x]}) through leader $l"
	LEAVE_ASKED[x]=1
	code=$(curl "${CURLTLS[@]}" -s -m 12 -o /dev/null -w '%{http_code}' -XPOST "$SCHEME://$(ADDR "$l")/leave" \
		-d "{\"name\":\"${NAME[x]}\"}")
	log "leave of node $x: HTTP $code"
	for _ in $(seq 50); do
		check_alive
		[ "${STATE[x]}" = up ] || break
		sleep 0.1
	done
	if [ "${STATE[x]}" = up ]; then
		if [ "$code" != 200 ] && is_member "$x"; then
			# not removed (leadership changed, or the change is still
			# to commit): heal_all looks again
			log "node $x still running and a member after its leave; left as it is"
			return 0
		fi
		# removed, but it did not learn it (e.g. it was catching up
		# from a snapshot): it would idle as a non-member forever
		log "NOTE: node $x removed (leave HTTP $code) but still running after 5 s; kill -9"
		node_signal "$x" KILL
	fi
	rnd 10
	sleep "0.$R"
	node_rejoin "$x"
}

# is node N in the current leader's configuration? (no leader: yes)
is_member() {
	local l
	l=$(leader)
	[ -n "$l" ] || return 0
	[ "$l" = "$1" ] && return 0
	curl "${CURLTLS[@]}" -s -m 2 "$SCHEME://$(ADDR "$l")/status" | grep -qF "\"name\": \"${NAME[$1]}\""
}

# a removed node comes back as a new member: empty data, a new name
node_rejoin() {
	local x=$1
	rm -rf "$(DATA "$x")"
	GEN[x]=$((GEN[x] + 1))
	NAME[x]=n$x.${GEN[x]}
	LEAVE_ASKED[x]=0
	STATE[x]=down
	log "node $x rejoins as ${NAME[x]}"
	node_start "$x"
	wait_joined "$x"
}

# a joiner keeps asking the address it was given; when that is no longer the
# leader, start it again towards the leader
wait_joined() {
	local n=$1 try i s
	for try in 1 2 3 4 5 6; do
		for i in $(seq 30); do
			s=$("$FC" status --nodes "$(ADDR "$n")" "${FCTLS[@]}" 2>/dev/null)
			case $s in *" commit 0 "*|*down*|"") ;; *) return 0 ;; esac
			check_alive
			[ "${STATE[n]}" = up ] || break
			sleep 0.1
		done
		log "node $n has not joined yet; start it again towards the leader"
		[ "${STATE[n]}" = up ] && node_signal "$n" KILL
		node_start "$n"
	done
	log "node $n did not join"
	return 1
}

f_powerfail() {
	some_up
	local n=$PICK
	[ -n "$n" ] || return 0
	log "power failure of node $n"
	node_signal "$n" KILL
	disk_powerfail "$n" || log "power failure of node $n: image copy failed"
	rnd 10
	sleep "0.$R"
	log "restart node $n after its power failure"
	node_start "$n"
}

f_powerall() {
	local n
	log "power failure of every node"
	for n in $(seq 1 "$N"); do [ "${STATE[n]}" = up ] || [ "${STATE[n]}" = stopped ] && node_signal "$n" KILL; done
	for n in $(seq 1 "$N"); do [ "${STATE[n]}" = down ] && disk_powerfail "$n"; done
	log "restart every node"
	for n in $(seq 1 "$N"); do [ "${STATE[n]}" = down ] && node_start "$n"; done
}

f_enospc() {
	some_up
	local n=$PICK avail
	[ -n "$n" ] || return 0
	avail=$(df --output=avail -B1 "${MNT[n]}" | tail -1)
	log "file system of node $n full (filling $avail bytes)"
	EXPECT[n]="ENOSPC" FILLED[n]=1
	fallocate -l "$avail" "${MNT[n]}/filler" 2>/dev/null || dd if=/dev/zero of="${MNT[n]}/filler" bs=1M 2>/dev/null
	hold_s
	sleep "$HOLD"
	# durably, or the next power failure brings the filler back
	rm -f "${MNT[n]}/filler" && sync -f "${MNT[n]}"
	check_alive
	EXPECT[n]=""
	log "file system of node $n has room again"
	if [ "${STATE[n]}" = down ]; then
		log "restart node $n"
		node_start "$n"
	fi
}

# --- hostile faults ------------------------------------------------------------------------------
# What each needs is in the header. A check that fails logs HOSTILE-FAIL
# with the issue 16 item whose fix it waits for; HOSTILE_FAILS counts them.
# Verdicts are printed even with --quiet.
HOSTILE_FAILS=0 HOSTILE_SEQ=0
# floods and bodies come from another address than the clients and the
# peers (on loopback), as an attacker's would: a limit per source address
# may refuse them and still serve everyone else
HOSTILE_FROM=""
[ "$NET" = lo ] && HOSTILE_FROM="--from 127.0.0.2"
declare -A HOSTILE_VERDICT
hostile_verdict() { # FAULT ok|"what failed" [ITEM]
	local q=$QUIET
	QUIET=0
	if [ "$2" = ok ]; then
		log "HOSTILE $1: ok"
		[ -n "${HOSTILE_VERDICT[$1]:-}" ] || HOSTILE_VERDICT[$1]=ok
	else
		log "HOSTILE-FAIL $1: $2 [issue 16 $3]"
		HOSTILE_FAILS=$((HOSTILE_FAILS + 1))
		HOSTILE_VERDICT[$1]=FAIL
	fi
	QUIET=$q
}
# one field of node N's /status (empty when it does not answer)
st_field() {
	curl "${CURLTLS[@]}" -s -m 2 "$SCHEME://$(ADDR "$1")/status" |
		python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])" 2>/dev/null
}
# a term that wrapped or came near wrapping: printed negative, or 2^63 and up
term_absurd() {
	case $1 in -*) return 0 ;; esac
	[ "${#1}" -gt 19 ] || { [ "${#1}" = 19 ] && [ "$1" \> 9223372036854775807 ]; }
}
max_term() {
	local n t m=0
	for n in $(seq 1 "$N"); do
		[ "${STATE[n]}" = up ] || continue
		t=$(st_field "$n" term)
		case $t in ''|-*) continue ;; esac
		[ "${#t}" -lt 19 ] && [ "$t" -gt "$m" ] && m=$t
	done
	echo "$m"
}
# a follower of leader $1 that is up, other than $2
follower_of() {
	local n
	for n in $(seq 1 "$N"); do
		[ "$n" != "$1" ] && [ "$n" != "${2:-}" ] && [ "${STATE[n]}" = up ] && { echo "$n"; return; }
	done
}
# the leader, waiting up to $1 s (default 5)
leader_within() {
	local i l
	for i in $(seq $((${1:-5} * 5))); do
		l=$(leader)
		[ -n "$l" ] && { echo "$l"; return 0; }
		sleep 0.2
	done
	return 1
}
# node N reads KEY (local read) as VALUE within 2 s?
reads_within() {
	local i
	for i in $(seq 10); do
		[ "$(curl -s -m 1 "http://$(ADDR "$1")/db/$2")" = "$3" ] && return 0
		sleep 0.2
	done
	return 1
}

f_hvote() {
	local l f t n t2 l2 seen=""
	l=$(leader_within) || { log "hvote: no leader to start from"; return 0; }
	f=$(follower_of "$l")
	[ -n "$f" ] || return 0
	t=$(st_field "$l" term)
	case $t in ''|-*) return 0 ;; esac
	log "hvote: RequestVote term $((t + 1000)) as ${NAME[f]} (node $f) to every other node; leader $l, term $t"
	for n in $(seq 1 "$N"); do
		[ "$n" != "$f" ] && [ "${STATE[n]}" = up ] || continue
		log "  node $n: $("$FHOST" rv "$(ADDR "$n")" --term $((t + 1000)) --name "${NAME[f]}" \
			--last-index 1000000000 --last-term $((t + 1000)) 2>&1 | tr '\n' ' ')"
	done
	sleep 0.5
	l2=$(leader_within 5)
	for n in $(seq 1 "$N"); do
		[ "${STATE[n]}" = up ] || continue
		t2=$(st_field "$n" term)
		[ -n "$t2" ] && ! term_absurd "$t2" && [ "$t2" -ge $((t + 1000)) ] && seen="$seen node $n at term $t2;"
	done
	# the term taken is the fault; a leader change alone may be an
	# ordinary election on a busy machine
	if [ -n "$seen" ]; then
		hostile_verdict hvote "leader $l -> ${l2:-none};$seen" "#2: ignore RequestVote while a leader is heard"
	else
		hostile_verdict hvote ok
	fi
}

f_hvotemax() {
	local l f n t bad=""
	l=$(leader_within) || { log "hvotemax: no leader to start from"; return 0; }
	f=$(follower_of "$l")
	[ -n "$f" ] || return 0
	log "hvotemax: RequestVote term 18446744073709551615 as ${NAME[f]} (node $f) to every other node"
	for n in $(seq 1 "$N"); do
		[ "$n" != "$f" ] && [ "${STATE[n]}" = up ] || continue
		log "  node $n: $("$FHOST" rv "$(ADDR "$n")" --term 18446744073709551615 --name "${NAME[f]}" \
			--last-index 1000000000 --last-term 18446744073709551615 2>&1 | tr '\n' ' ')"
	done
	sleep 0.5
	for n in $(seq 1 "$N"); do
		[ "${STATE[n]}" = up ] || continue
		t=$(st_field "$n" term)
		term_absurd "$t" && bad="$bad node $n at term $t;"
	done
	l=$(leader_within 10) || bad="$bad no leader 10 s after;"
	if [ -n "$bad" ]; then
		hostile_verdict hvotemax "$bad" "#1: refuse terms that cannot be incremented"
	else
		hostile_verdict hvotemax ok
	fi
}

f_hae() {
	local l t li k n bad=""
	l=$(leader_within) || { log "hae: no leader to start from"; return 0; }
	t=$(max_term)
	li=$(st_field "$l" last_index)
	[ -n "$li" ] || return 0
	HOSTILE_SEQ=$((HOSTILE_SEQ + 1))
	k=hostile.ae.$SEED.$HOSTILE_SEQ
	log "hae: AppendEntries from 'intruder', term $((t + 1)), after index $li, writing $k, to every node"
	for n in $(seq 1 "$N"); do
		[ "${STATE[n]}" = up ] || continue
		log "  node $n: $("$FHOST" ae "$(ADDR "$n")" --term $((t + 1)) --leader intruder --prev-index "$li" \
			--prev-term "$t" --set "$k=forged" --probe 2>&1 | tail -1)"
	done
	for n in $(seq 1 "$N"); do
		[ "${STATE[n]}" = up ] || continue
		reads_within "$n" "$k" forged && bad="$bad node $n applied $k;"
		[ "$(st_field "$n" leader)" = intruder ] && bad="$bad node $n follows 'intruder';"
	done
	if [ -n "$bad" ]; then
		hostile_verdict hae "$bad" "#4: AppendEntries only from members"
	else
		hostile_verdict hae ok
	fi
}

f_hsnap() {
	local l a b t ci k n members=() bad="" li ahead
	l=$(leader_within) || { log "hsnap: no leader to start from"; return 0; }
	a=$(follower_of "$l")
	b=$(follower_of "$l" "$a")
	[ -n "$a" ] && [ -n "$b" ] || return 0
	t=$(st_field "$l" term)
	ci=$(st_field "$l" commit_index)
	case $t$ci in ''|*-*) return 0 ;; esac
	for n in $(seq 1 "$N"); do members+=(--member "${NAME[n]}=http://$(ADDR "$n")"); done
	HOSTILE_SEQ=$((HOSTILE_SEQ + 1))
	k=hostile.snap.$SEED.$HOSTILE_SEQ
	# far ahead of anything the clients can write meanwhile, so that a log
	# end past it can only be the forged snapshot
	ahead=1000000000
	log "hsnap: snapshot to node $b in the name of follower ${NAME[a]} (node $a): index $((ci + ahead)), only $k"
	log "  $("$FHOST" snap "$(ADDR "$b")" --leader "${NAME[a]}" --last-index $((ci + ahead)) --last-term "$t" \
		"${members[@]}" --set "$k=forged" 2>&1 | tr '\n' ' ')"
	reads_within "$b" "$k" forged && bad="$bad node $b installed it ($k reads forged);"
	li=$(st_field "$b" last_index)
	[ -n "$li" ] && [ "$li" -ge $((ci + ahead)) ] && bad="$bad node $b's log ends at $li;"
	if [ -n "$bad" ]; then
		hostile_verdict hsnap "$bad" "#3: snapshots only from the leader"
	else
		hostile_verdict hsnap ok
	fi
}

# hflood / hslow: the leader under CONNS connections; it must keep serving
flood() {
	local fault=$1 conns=$2 l l2 fpid i code bad="" ok_status=0
	shift 2
	l=$(leader_within) || { log "$fault: no leader to start from"; return 0; }
	log "$fault: $conns connections to leader $l for 6 s $*"
	"$FHOST" flood "$(ADDR "$l")" --conns "$conns" --seconds 6 $HOSTILE_FROM "$@" >"$T/flood.out" 2>&1 &
	fpid=$!
	sleep 2
	for i in 1 2 3; do
		curl -sf -m 2 -o /dev/null "http://$(ADDR "$l")/status" && ok_status=$((ok_status + 1))
		sleep 0.3
	done
	[ "$ok_status" = 3 ] || bad="$bad /status answered $ok_status of 3 times;"
	HOSTILE_SEQ=$((HOSTILE_SEQ + 1))
	code=$(curl -s -m 3 -o /dev/null -w '%{http_code}' -XPOST "http://$(ADDR "$l")/db/hostile.flood.$SEED.$HOSTILE_SEQ" \
		--data-binary x)
	if [ "$code" != 200 ] && l2=$(leader_within) && [ "$l2" != "$l" ]; then
		# a machine starved by others can cost the flooded leader its
		# term; what must hold is that the cluster keeps taking writes
		log "$fault: leadership moved from node $l to node $l2 during the flood (HTTP $code): the write goes there"
		code=$(curl -s -m 3 -o /dev/null -w '%{http_code}' -XPOST \
			"http://$(ADDR "$l2")/db/hostile.flood.$SEED.$HOSTILE_SEQ" --data-binary x)
	fi
	[ "$code" = 200 ] || bad="$bad a write through the leader: HTTP $code;"
	wait "$fpid"
	while IFS= read -r i; do log "  $i"; done <"$T/flood.out"
	if [ -n "$bad" ]; then
		hostile_verdict "$fault" "$bad" "#6: connection limits (peers' own budget, per-source caps, 503)"
	else
		hostile_verdict "$fault" ok
	fi
}
f_hflood() { flood hflood 5000; }
f_hslow() { flood hslow 1100 --slowloris; }

rss_kib() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status" 2>/dev/null; }

f_hbody() {
	local l f before peak r bpid bad=""
	l=$(leader_within) || { log "hbody: no leader to start from"; return 0; }
	f=$(follower_of "$l")
	[ -n "$f" ] || return 0
	before=$(rss_kib "${PID[f]}")
	[ -n "$before" ] || return 0
	log "hbody: 3 x 400 MiB to node $f's /raft/appendEntries (RSS $((before / 1024)) MiB)"
	"$FHOST" body "$(ADDR "$f")" --conns 3 --mib 400 --seconds 20 $HOSTILE_FROM >"$T/body.out" 2>&1 &
	bpid=$!
	peak=$before
	while kill -0 "$bpid" 2>/dev/null; do
		r=$(rss_kib "${PID[f]}")
		[ -n "$r" ] && [ "$r" -gt "$peak" ] && peak=$r
		sleep 0.1
	done
	wait "$bpid"
	while IFS= read -r r; do log "  $r"; done <"$T/body.out"
	log "  node $f: RSS peaked at $((peak / 1024)) MiB, $(( $(rss_kib "${PID[f]}" || echo 0) / 1024 )) MiB after"
	[ $((peak - before)) -lt $((256 * 1024)) ] || bad="$bad RSS grew $(( (peak - before) / 1024 )) MiB;"
	curl -s -m 2 -o /dev/null "http://$(ADDR "$f")/status" || bad="$bad /status does not answer after;"
	if [ -n "$bad" ]; then
		hostile_verdict hbody "$bad" "#7: bound memory per connection and in total"
	else
		hostile_verdict hbody ok
	fi
}

f_hjoin() {
	local l i pids=() code ok=0
	l=$(leader_within) || { log "hjoin: no leader to start from"; return 0; }
	HOSTILE_SEQ=$((HOSTILE_SEQ + 1))
	log "hjoin: three joins to leader $l for members at closed ports"
	for i in 1 2 3; do
		# as raftd nodes (learners first, once fixed): a goraft joiner
		# is refused anyway once the log is compacted
		curl -s -m 12 -o "$T/join$i.out" -w '%{http_code}' -XPOST "http://$(ADDR "$l")/join?raftd=1" \
			-d "{\"name\":\"ghost$HOSTILE_SEQ.$i\",\"connectionString\":\"http://127.0.0.1:$((9 + i))\"}" \
			>"$T/join$i.code" &
		pids+=($!)
	done
	wait "${pids[@]}"
	for i in 1 2 3; do log "  join of ghost$HOSTILE_SEQ.$i: HTTP $(cat "$T/join$i.code")"; done
	# a write commits within 10 s (it waits for its commit up to 10 s)
	local end=$(( $(date +%s) + 10 ))
	while [ "$(date +%s)" -lt "$end" ]; do
		l=$(leader_within 2) || continue
		code=$(curl -s -m 11 -o /dev/null -w '%{http_code}' -XPOST \
			"http://$(ADDR "$l")/db/hostile.join.$SEED.$HOSTILE_SEQ" --data-binary x)
		[ "$code" = 200 ] && { ok=1; break; }
		sleep 0.5
	done
	if [ "$ok" = 1 ]; then
		hostile_verdict hjoin ok
	else
		hostile_verdict hjoin "no write commits after the joins (last HTTP ${code:-none})" \
			"#5: learner-first joins, goraft joins only while the cluster can commit"
	fi
}

# every fault undone, every node running and a member
heal_all() {
	local n
	[ "$NET" = ns ] && heal_net
	for n in $(seq 1 "$N"); do
		[ "${STATE[n]}" = stopped ] && { node_signal "$n" CONT; STATE[n]=up; }
		[ "$DISK" = loop ] && [ -e "${MNT[n]}/filler" ] && rm -f "${MNT[n]}/filler" && sync -f "${MNT[n]}"
		EXPECT[n]=""
	done
	check_alive
	for n in $(seq 1 "$N"); do
		case ${STATE[n]} in
		down) node_start "$n" ;;
		gone) node_rejoin "$n" ;;
		esac
	done
	# a node asked to leave but still running: its removal may have
	# committed meanwhile, or not. Every node must end a member: one that
	# is not is stopped and rejoins afresh.
	for n in $(seq 1 "$N"); do
		[ "${LEAVE_ASKED[n]}" = 1 ] || continue
		for _ in $(seq 20); do check_alive; [ "${STATE[n]}" = up ] || break; sleep 0.1; done
		[ "${STATE[n]}" = up ] || node_rejoin "$n"
	done
	local try
	for try in 1 2 3; do
		[ -n "$(leader)" ] && break
		sleep 1
	done
	for n in $(seq 1 "$N"); do
		[ "${STATE[n]}" = up ] || continue
		is_member "$n" && { LEAVE_ASKED[n]=0; continue; }
		log "node $n (${NAME[n]}) is not a member at the end; kill -9, rejoin"
		LEAVE_ASKED[n]=1
		node_signal "$n" KILL
		node_rejoin "$n"
	done
}

# --- watchers and the lease holder (--watch) ----------------------------------------------------
WATCHERS=${WATCHERS:-2} LEASE_TTL=${LEASE_TTL:-5} LEASE=${FAULT_LEASE:-1}
watch_start() {
	local i j
	for i in $(seq 1 "$WATCHERS"); do
		"$WPY" "$here/watch.py" --nodes "$GNODES" --out "$T/watch$i" --seed $((SEED + i)) 2>>"$T/watch.log" &
		WATCH_PIDS+=($!)
	done
	# every write of the clients comes after the revision each watches from
	for i in $(seq 1 "$WATCHERS"); do
		for j in $(seq 300); do grep -q '^S ' "$T/watch$i" 2>/dev/null && break; sleep 0.1; done
		grep -q '^S ' "$T/watch$i" 2>/dev/null || { log "watcher $i did not start"; return 1; }
	done
	if [ "$LEASE" = 1 ]; then
		"$WPY" "$here/lease.py" --nodes "$GNODES" --out "$T/lease" --seed "$SEED" --ttl "$LEASE_TTL" \
			--hold-s $((SECONDS_RUN / 2)) --wait-s 90 2>>"$T/watch.log" &
		LEASE_PID=$!
		log "$WATCHERS watchers and a lease holder (TTL $LEASE_TTL s, kept alive $((SECONDS_RUN / 2)) s) started"
	else
		: >"$T/lease"
		log "$WATCHERS watchers started"
	fi
}
# wait_within PID END: reaps PID; SIGTERM first if it still runs at END
# (date +%s): its record so far stays, without END or DONE
wait_within() {
	local st
	while [ "$(date +%s)" -lt "$2" ]; do
		st=""
		{ read -r _ _ st _ <"/proc/$1/stat"; } 2>/dev/null
		[ -n "$st" ] && [ "$st" != Z ] || break
		sleep 0.2
	done
	kill -TERM "$1" 2>/dev/null
	wait "$1"
}
# the lease holder done, then the watchers up to the cluster's revision
watch_end() {
	local i rc end=$(( $(date +%s) + 200 ))
	if [ -n "$LEASE_PID" ]; then
		wait_within "$LEASE_PID" "$end"
		rc=$?
		LEASE_PID=""
		log "lease holder: $(grep -c '^G ' "$T/lease") leases, $(grep -c '^K ' "$T/lease") keep-alives answered," \
			"$(grep -c '^KX ' "$T/lease") not, exit $rc"
	fi
	for i in $(seq 1 "$WATCHERS"); do kill -USR1 "${WATCH_PIDS[i - 1]}" 2>/dev/null; done
	for i in $(seq 1 "$WATCHERS"); do
		wait_within "${WATCH_PIDS[i - 1]}" "$end"
		rc=$?
		log "watcher $i: $(grep -c '^E ' "$T/watch$i") events, $(grep -c '^S ' "$T/watch$i") watches," \
			"$(tail -1 "$T/watch$i"), exit $rc"
	done
	WATCH_PIDS=()
}
# WATCH_RC, LEASE_RC: the checks' verdicts (0 holds, 1 violated, 2 could not check)
watch_checks() {
	local files=() i l
	for i in $(seq 1 "$WATCHERS"); do files+=("$T/watch$i"); done
	"$WPY" "$here/watch_check.py" --history "$T/history" --value-pad "$VALUE_PAD" --lease "$T/lease" "${files[@]}" \
		>"$T/watch.txt" 2>&1
	WATCH_RC=$?
	local w=() checks=watch
	if [ "$LEASE" = 1 ]; then
		for i in "${files[@]}"; do w+=(--watch "$i"); done
		"$WPY" "$here/lease_check.py" --election-ms "${ELECTION_MS:-300}" --late-ms "${LEASE_LATE_MS:-5000}" \
			"$T/lease" "${w[@]}" >"$T/lease.txt" 2>&1
		LEASE_RC=$?
		checks="watch lease"
	fi
	for i in $checks; do
		QUIET=0 log "$(tail -1 "$T/$i.txt")"
		grep -v "^$i: [0-9]" "$T/$i.txt" | head -20 | while IFS= read -r l; do QUIET=0 log "  $l"; done
	done
}

# --- the run -------------------------------------------------------------------------------------
fail_setup() { log "setup failed: $*"; echo "RESULT seed=$SEED harness-error"; exit 99; }
log "seed $SEED: $N nodes, net $NET, disk $DISK, $([ "$TLS" = 1 ] && echo "mutual TLS, ")$([ "$V3" = 1 ] && echo "v3 and /db clients, ")faults $FAULTS, ${CYCLES:+cycles $CYCLES, }seconds $SECONDS_RUN, raftd $RAFTD${NODE_ENV:+ with $NODE_ENV}"
if [ "$TLS" = 1 ]; then tls_setup || fail_setup "certificates"; fi
if [ "$NET" = ns ]; then net_setup || fail_setup "network namespaces"; fi
if [ "$DISK" = loop ]; then disk_setup || fail_setup "loop devices"; fi
node_start 1 || fail_setup "node 1 does not start"
for n in $(seq 2 "$N"); do node_start "$n" || fail_setup "node $n does not start"; done
for n in $(seq 2 "$N"); do wait_joined "$n" || fail_setup "node $n does not join"; done
log "cluster up: $NODES"

if [ "$WATCH" = 1 ]; then watch_start || fail_setup "watchers and lease holder"; fi

client_secs=$SECONDS_RUN
# (stopped with SIGUSR1 when the faults are over)
[ "$CYCLES" -gt 0 ] || [ "$ORDER" = seq ] && client_secs=100000
"$FC" run --nodes "$NODES" --out "$T/history" --seconds "$client_secs" --clients "$CLIENTS" --seed "$SEED" \
	--value-pad "$VALUE_PAD" "${FCTLS[@]}" "${FCV3[@]}" ${CLIENT_ARGS:-} 2>"$T/client.log" &
CLIENT_PID=$!
start=$(date +%s)
cycle=0 fault_i=0
while :; do
	if [ "$CYCLES" -gt 0 ]; then
		[ "$cycle" -lt "$CYCLES" ] || break
		cycle=$((cycle + 1))
		f_kill "0.$((1 + RANDOM % 5))"
		check_alive
		sleep "0.$((1 + RANDOM % 4))"
		continue
	fi
	# --order seq: every fault at least once
	[ "$ORDER" = seq ] && [ "$fault_i" -lt ${#FAULT_LIST[@]} ] ||
		[ $(( $(date +%s) - start )) -lt $((SECONDS_RUN - 2)) ] || break
	gap_s
	sleep "$GAP"
	check_alive
	if [ "$ORDER" = seq ]; then
		f=${FAULT_LIST[$((fault_i % ${#FAULT_LIST[@]}))]}
		fault_i=$((fault_i + 1))
	else
		rnd ${#FAULT_LIST[@]}
		f=${FAULT_LIST[R]}
	fi
	"f_$f"
	check_alive
done
[ "$CYCLES" -gt 0 ] || [ "$ORDER" = seq ] && kill -USR1 "$CLIENT_PID" 2>/dev/null
log "faults over; healing"
heal_all
wait "$CLIENT_PID"
client_rc=$?
CLIENT_PID=""
log "$(tail -1 "$T/client.log")"
[ "$client_rc" = 0 ] || log "fault-client run exited with $client_rc"

converged=yes
if ! "$FC" final --nodes "$NODES" --history "$T/history" --out "$T/final" --wait-s "${FINAL_WAIT_S:-60}" \
	--value-pad "$VALUE_PAD" "${FCTLS[@]}" 2>>"$T/client.log"; then
	converged=no
fi
log "$(tail -1 "$T/client.log")"
[ "$WATCH" = 1 ] && watch_end
check_alive
# a clean stop: SIGTERM, exit status 0 within 10 s (and LeakSanitizer's
# report, in a sanitizer build)
for n in $(seq 1 "$N"); do [ "${STATE[n]}" = up ] && kill -TERM "${PID[n]}"; done
for n in $(seq 1 "$N"); do
	[ "${STATE[n]}" = up ] || continue
	for _ in $(seq 100); do
		st=""
		{ read -r _ _ st _ <"/proc/${PID[n]}/stat"; } 2>/dev/null
		[ -n "$st" ] && [ "$st" != Z ] || break
		sleep 0.1
	done
	[ -n "$st" ] && [ "$st" != Z ] && { log "UNEXPECTED: node $n still running 10 s after SIGTERM"; kill -9 "${PID[n]}"; }
	wait "${PID[n]}"
	rc=$?
	STATE[n]=down
	[ "$rc" = 0 ] || { log "UNEXPECTED: node $n exited with $rc after SIGTERM"; CRASHED=$((CRASHED + 1)); }
done
for n in $(seq 1 "$N"); do
	if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$T/n$n.log"; then
		log "UNEXPECTED: sanitizer report in node $n's log"
		CRASHED=$((CRASHED + 1))
	fi
done
"$FCHECK" "$T/history" "$T/final" >"$T/check.txt" 2>&1
check_rc=$?
WATCH_RC=0 LEASE_RC=0
[ "$WATCH" = 1 ] && watch_checks
summary=$(tail -1 "$T/check.txt")
log "$summary"
grep -v '^check:' "$T/check.txt" | head -20 | while IFS= read -r l; do log "  $l"; done
num() { sed -n "s/.* \([0-9][0-9]*\) $1.*/\1/p" <<<"$summary" | head -1; }
ops=$(sed -n 's/^check: \([0-9]*\) ops.*/\1/p' <<<"$summary")
wok=$(sed -n 's/.*writes \([0-9]*\) ok.*/\1/p' <<<"$summary")
result="seed=$SEED nodes=$N net=$NET disk=$DISK$([ "$TLS" = 1 ] && echo " tls=mutual")$([ "$V3" = 1 ] && echo " api=v3+db") seconds=$(( $(date +%s) - start )) ops=${ops:-0} writes_ok=${wok:-0}"
result="$result lost=$(num 'lost acknowledged') violations=$(num violations) diverged=$(num 'keys diverged')"
result="$result converged=$converged crashed=$CRASHED"
if [ "$WATCH" = 1 ]; then
	result="$result watch_violations=$(sed -n 's/.* \([0-9][0-9]*\) violations.*/\1/p' "$T/watch.txt" | tail -1)"
	[ "$LEASE" = 1 ] &&
		result="$result lease_violations=$(sed -n 's/.* \([0-9][0-9]*\) violations.*/\1/p' "$T/lease.txt" | tail -1)"
fi
if [ -n "${HOSTILE_VERDICT[*]+set}" ]; then
	v=""
	for f in "${FAULT_LIST[@]}"; do
		case " $v " in *" $f="*) continue ;; esac
		[ -n "${HOSTILE_VERDICT[$f]:-}" ] && v="$v $f=${HOSTILE_VERDICT[$f]}"
	done
	QUIET=0 log "HOSTILE summary:$v"
	result="$result hostile_fails=$HOSTILE_FAILS"
fi
rc=0
[ "$check_rc" = 0 ] && [ "$converged" = yes ] && [ "$CRASHED" = 0 ] && [ "$HOSTILE_FAILS" = 0 ] &&
	[ "$WATCH_RC" = 0 ] && [ "$LEASE_RC" = 0 ] || rc=1
[ "$check_rc" = 2 ] || [ "$WATCH_RC" = 2 ] || [ "$LEASE_RC" = 2 ] && rc=99
if [ "$rc" != 0 ]; then
	dir=$SAVE/seed-$SEED-$NET-$N-$(date +%Y%m%d-%H%M%S)
	mkdir -p "$dir" && cp "$T"/history "$T"/final "$T"/check.txt "$T"/schedule.log "$T"/client.log "$T"/n*.log "$dir"/ 2>/dev/null
	[ "$WATCH" = 1 ] && cp "$T"/watch* "$T"/lease* "$dir"/ 2>/dev/null
	cat >"$dir/REPLAY" <<-EOF
		# the same checks on the same history:
		$FCHECK $dir/history $dir/final
		$([ "$WATCH" = 1 ] && echo "$WPY $here/watch_check.py --history $dir/history --value-pad $VALUE_PAD --lease $dir/lease $dir/watch[0-9]*
$WPY $here/lease_check.py --election-ms ${ELECTION_MS:-300} --late-ms ${LEASE_LATE_MS:-5000} $dir/lease $(for i in $(seq 1 "$WATCHERS"); do printf ' --watch %s' "$dir/watch$i"; done)")
		# the same fault schedule again (same seed; timing differs):
		$0 $argv --seed $SEED
	EOF
	log "saved to $dir"
fi
echo "RESULT $result $([ $rc = 0 ] && echo PASS || echo FAIL)"
exit $rc
