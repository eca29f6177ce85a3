#!/bin/sh
# --peer-port (issue 18): peers on their own listener with their own TLS
# policy, clients on theirs, as etcd's 2379/2380. Each refuses the other's
# paths; members advertise the peer port; a three-node cluster commits.
. "$(dirname "$0")/lib.sh"
command -v certtool >/dev/null || { echo "SKIP: certtool (gnutls-bin) not installed"; exit 77; }

C=$T/certs
sh "$(dirname "$0")/../lib/mkcerts.sh" "$C" || fail "mkcerts.sh"
printf '[roles]\nreader = read\nwriter = write\nadmin = admin\n' >"$T/raftd.conf"
# client ports BASE+1..3, peer ports BASE+5..7
pport() { echo $(( BASE + 4 + $1 )); }
curl_as() { _r=$1; shift; curl -s -m 5 --cacert "$C/ca.pem" --cert "$C/$_r.pem" --key "$C/$_r-key.pem" "$@"; }
code() { curl_as "$@" -o /dev/null -w '%{http_code}'; }

pnode_start() {
	n=$1
	shift
	"$RAFTD" $NOGRPC -p "$(port "$n")" --peer-port "$(pport "$n")" --peer-listen 127.0.0.1 --name "n$n" -h 127.0.0.1 \
		--config "$T/raftd.conf" --cert-file "$C/n$n.pem" --key-file "$C/n$n-key.pem" \
		--trusted-ca-file "$C/ca.pem" --client-cert-auth \
		--peer-cert-file "$C/n$n.pem" --peer-key-file "$C/n$n-key.pem" --peer-trusted-ca-file "$C/ca.pem" \
		--peer-client-cert-auth --peer-allowed-cn n1,n2,n3 --forward-writes "$@" "$T/n$n" >>"$T/n$n.log" 2>&1 &
	eval "PID_$n=$!"
	PIDS="$PIDS $!"
	for _ in $(seq 100); do
		[ "$(code reader "https://127.0.0.1:$(port "$n")/status")" = 200 ] && return 0
		kill -0 "$(eval echo \$PID_"$n")" 2>/dev/null || fail "node $n exited at start: $(tail -3 "$T/n$n.log")"
		sleep 0.05
	done
	fail "node $n does not answer"
}

pnode_start 1
pnode_start 2 -join "127.0.0.1:$(port 1)"
pnode_start 3 -join "127.0.0.1:$(port 1)"
grep -q "n2 (https://127.0.0.1:$(pport 2)) joined" "$T/n1.log" || fail "members advertise the peer port: $(cat "$T/n1.log")"
ok=
for _ in $(seq 40); do
	for n in 1 2 3; do
		[ "$(code writer -XPOST "https://127.0.0.1:$(port "$n")/db/k" -d v)" = 200 ] && { ok=1; break 2; }
	done
	sleep 0.1
done
[ -n "$ok" ] || fail "a write through the leader's client port"
for n in 1 2 3; do
	for _ in $(seq 100); do
		[ "$(curl_as reader "https://127.0.0.1:$(port "$n")/db/k")" = v ] && break
		sleep 0.05
	done
	[ "$(curl_as reader "https://127.0.0.1:$(port "$n")/db/k")" = v ] || fail "node $n has k"
done
echo "ok: three nodes, peers on their own port, a write replicated"

[ "$(code n2 -XPOST "https://127.0.0.1:$(port 1)/raft/appendEntries" --data-binary x)" = 404 ] ||
	fail "the client port serves no peer path"
[ "$(code admin "https://127.0.0.1:$(pport 1)/status")" = 404 ] || fail "the peer port serves no /status"
[ "$(code admin -XPOST "https://127.0.0.1:$(pport 1)/raftd/transfer")" = 404 ] || fail "the peer port: no admin path"
[ "$(code writer -XPOST "https://127.0.0.1:$(pport 1)/db/k" -d x)" = 404 ] || fail "the peer port serves no /db"
# the peer port's policy: only CNs n1..n3 (a client certificate of the same CA is refused)
body=$(curl_as admin "https://127.0.0.1:$(pport 1)/raftd/version" -w ' %{http_code}' | tr -d '\n')
case $body in *"not one of peer-allowed-cn"*" 403") ;; *) fail "peer-allowed-cn: $body" ;; esac
[ "$(code n2 "https://127.0.0.1:$(pport 1)/raftd/version")" = 200 ] || fail "a member's /raftd/version"
echo "ok: each listener refuses the other's paths; the peer port has its own policy"

# --forward-writes has no client URL of the leader to send a client to
# (members' URLs are their peer ports): a follower answers as goraft does
for n in 1 2 3; do
	c=$(curl_as writer -o "$T/fw" -w '%{http_code} %{redirect_url}' -XPOST "https://127.0.0.1:$(port "$n")/db/fw" -d x)
	case $c in
	"200 ") ;;
	"400 ") grep -q "Not current leader" "$T/fw" || fail "follower n$n: $(cat "$T/fw")" ;;
	*) fail "follower n$n answered $c (a redirect to the peer port?)" ;;
	esac
done
echo "ok: --forward-writes with --peer-port: followers answer 400, no redirect to a peer port"
