#!/bin/sh
# A cluster that ran without TLS turns it on by restarting every node with
# it: members' URLs stay the http:// ones in the log, and peers reach them
# over https:// (issue 18). Nothing written before is lost.
. "$(dirname "$0")/lib.sh"
command -v certtool >/dev/null || { echo "SKIP: certtool (gnutls-bin) not installed"; exit 77; }

C=$T/certs
sh "$(dirname "$0")/../lib/mkcerts.sh" "$C" || fail "mkcerts.sh"
node_start 1 --name n1 -h 127.0.0.1
node_start 2 --name n2 -h 127.0.0.1 -join "127.0.0.1:$(port 1)"
node_start 3 --name n3 -h 127.0.0.1 -join "127.0.0.1:$(port 1)"
put_range 1 20
for n in 1 2 3; do wait_value "$(port "$n")" k20 v20 || fail "node $n has k20"; done
for n in 1 2 3; do node_kill "$n" TERM; done
echo "ok: a plain cluster with 20 keys, stopped"

tls() {
	echo "--name n$1 -h 127.0.0.1 --cert-file $C/n$1.pem --key-file $C/n$1-key.pem" \
		"--peer-trusted-ca-file $C/ca.pem --peer-client-cert-auth"
}
sc() { curl -s -m 5 --cacert "$C/ca.pem" "$@"; }
for n in 1 2 3; do
	# shellcheck disable=SC2046
	"$RAFTD" $NOGRPC -p "$(port "$n")" $(tls "$n") "$T/n$n" >>"$T/n$n.log" 2>&1 &
	PIDS="$PIDS $!"
done
ok=
for _ in $(seq 200); do
	for n in 1 2 3; do
		[ "$(sc -o /dev/null -w '%{http_code}' -XPOST "https://127.0.0.1:$(port "$n")/db/after" -d tls)" = 200 ] &&
			{ ok=1; break 2; }
	done
	sleep 0.05
done
[ -n "$ok" ] || fail "the restarted cluster commits over TLS: $(tail -5 "$T/n1.log")"
for n in 1 2 3; do
	for _ in $(seq 100); do
		[ "$(sc "https://127.0.0.1:$(port "$n")/db/after")" = tls ] && break
		sleep 0.05
	done
	[ "$(sc "https://127.0.0.1:$(port "$n")/db/after")" = tls ] || fail "node $n has the write made over TLS"
	[ "$(sc "https://127.0.0.1:$(port "$n")/db/k7")" = v7 ] || fail "node $n kept k7"
done
[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$(port 1)/db/k7")" != 200 ] ||
	fail "plain HTTP still answered"
echo "ok: restarted with TLS: members reached over https://, nothing lost"
