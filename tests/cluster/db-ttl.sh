#!/bin/sh
# POST /db/KEY?ttl=SECONDS (issue 20, raftd-only): the key is written with an
# etcd lease of that TTL and goes, on every node, once the leader's clock
# revokes the lease: after the TTL, never before it. A bad TTL is a 400, a
# follower answers as for any write, a later write without ?ttl keeps the
# key for good. Without a gRPC port: the lease clock is the daemon's.
. "$(dirname "$0")/lib.sh"

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$1" "$(now)"; }
found() { curl -s -m 5 -o /dev/null -D - "http://127.0.0.1:$1/db/$2" | grep -qi '^X-Raftd-Found: true'; }
missing() { curl -s -m 5 -o /dev/null -D - "http://127.0.0.1:$1/db/$2" | grep -qi '^X-Raftd-Found: false'; }
post() { curl -s -m 10 -o "$T/body" -w '%{http_code}' -XPOST "http://127.0.0.1:$1/db/$2" --data-binary "$3"; }

opts="-h 127.0.0.1 --election-timeout-ms 1000"
# shellcheck disable=SC2086
start_three $opts
make_lead 1
L=$(port 1)

# ---- bad TTLs, a follower ---------------------------------------------------------------
for q in 0 -1 abc "" 1.5 9000000001 99999999999999999999999; do
	c=$(post "$L" "bad?ttl=$q" v)
	[ "$c" = 400 ] || fail "ttl=$q: HTTP $c $(cat "$T/body")"
done
missing "$L" bad || fail "a refused ?ttl wrote the key"
c=$(post "$(port 2)" "tk?ttl=5" v)
[ "$c" = 400 ] && grep -q "Not current leader" "$T/body" || fail "?ttl on a follower: HTTP $c $(cat "$T/body")"

# ---- the key goes after its TTL, on every node --------------------------------------------
section_expiry() {
	make_lead 1
	t0=$(now)
	c=$(post "$L" "tk?ttl=3" hello)
	[ "$c" = 200 ] || fail "POST ?ttl=3: HTTP $c $(cat "$T/body")"
	for n in 1 2 3; do wait_value "$(port "$n")" tk hello || fail "tk on node $n"; done
	until_ok 20 missing "$L" tk || fail "tk outlives its TTL"
	took=$(elapsed "$t0")
	python3 -c "import sys; sys.exit(not (float(sys.argv[1]) >= 2.9))" "$took" || fail "tk gone after $took s, its TTL 3 s"
	for n in 2 3; do until_ok 10 missing "$(port "$n")" tk || fail "tk on node $n"; done
}
steady section_expiry

# ---- a write without ?ttl keeps the key; a TTL under the minimum is raised -----------------
section_keep() {
	make_lead 1
	[ "$(post "$L" "kk?ttl=2" one)" = 200 ] || fail "POST kk?ttl=2"
	[ "$(post "$L" kk two)" = 200 ] || fail "POST kk"
	sleep 4
	for n in 1 2 3; do wait_value "$(port "$n")" kk two || fail "kk went with its old lease on node $n"; done
	t0=$(now)
	[ "$(post "$L" "short?ttl=1" v)" = 200 ] || fail "POST short?ttl=1"
	until_ok 20 missing "$L" short || fail "short outlives its TTL"
	took=$(elapsed "$t0")
	# etcd's minimum TTL with a 1 s election timeout: 2 s
	python3 -c "import sys; sys.exit(not (float(sys.argv[1]) >= 1.9))" "$took" || fail "short gone after $took s, under the minimum TTL"
}
steady section_keep

# ---- across a restart of every node: the lease is in the log ------------------------------
make_lead 1
[ "$(post "$L" "rk?ttl=6" v)" = 200 ] || fail "POST rk?ttl=6"
wait_value "$(port 3)" rk v || fail "rk on node 3"
for n in 1 2 3; do node_kill "$n"; done
# shellcheck disable=SC2086
for n in 1 2 3; do node_start "$n" $opts; done
for n in 1 2 3; do until_ok 30 missing "$(port "$n")" rk || fail "rk outlives its lease across a restart (node $n)"; done
echo PASS
