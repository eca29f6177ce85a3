#!/bin/sh
# A v3 write forwarded by a follower whose forward gets no answer: the
# leader is paused (SIGSTOP) with the follower's request on the wire, so the
# peer's response timeout breaks the forward after the leader may have
# appended the entry. The outcome is unknown: the client gets etcd's
# "etcdserver: request timed out", never "no leader" (which says nothing was
# done). Once continued, the key may or may not be there.
. "$(dirname "$0")/lib.sh"
command -v etcdctl >/dev/null || { echo "SKIP: etcdctl (etcd-client) not installed"; exit 77; }
export ETCDCTL_API=3
GRPC=1

# a long election timeout: the follower still names the paused leader when
# the put reaches it
start_three --election-timeout-ms 5000
L=$(wait_leader) || fail "no leader"
for n in 1 2 3; do [ "$(port "$n")" = "$L" ] && LN=$n || F=$n; done
EP="127.0.0.1:$(grpc_port "$F")"
# the follower knows the leader's kind and has forwarded once
etcdctl --endpoints="$EP" --command-timeout=30s put before 1 >"$T/before.out" 2>&1 ||
	fail "a forwarded put: $(cat "$T/before.out")"
kill -STOP "$(eval echo \$PID_"$LN")"
etcdctl --endpoints="$EP" --command-timeout=30s put during 1 >"$T/during.out" 2>&1
rc=$?
leader_seen=$(status_field "$(port "$F")" leader)
kill -CONT "$(eval echo \$PID_"$LN")"
[ $rc -ne 0 ] || fail "the put succeeded with the leader paused: $(cat "$T/during.out")"
grep -q "no leader" "$T/during.out" && fail "a forward that may have reached the leader answered no leader" \
	"(the follower's leader afterwards: '$leader_seen'): $(cat "$T/during.out")"
grep -q "etcdserver: request timed out" "$T/during.out" || fail "forward lost: $(cat "$T/during.out")"
# the cluster goes on, the put applied or not
put_after() { etcdctl --endpoints="$EP" --command-timeout=5s put after 1 >"$T/after.out" 2>&1; }
until_ok 60 put_after || fail "a forwarded put after the leader continued: $(cat "$T/after.out")"
echo "ok: a forward lost after it may have reached the leader: etcd's request timed out"
