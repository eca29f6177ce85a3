#!/bin/sh
# tests/lib/mkcerts.sh DIR — makes the certificates the TLS tests use, at
# test time (no key is ever committed). Needs certtool (gnutls-bin).
#
# DIR/ca.pem, ca-key.pem            the cluster's CA
# DIR/NAME.pem, NAME-key.pem        signed by it, for each of:
#   n1 n2 n3 n4 n5   nodes: CN=nN, SAN DNS nN, DNS localhost, IP 127.0.0.1,
#                    IP ::1, IP 10.0.0.1..10.0.0.9; TLS server and client use
#   reader writer admin   clients: CN=NAME, TLS client use only
#   expired          a node certificate (CN=expired, SANs as a node's) whose
#                    validity ended in the past
#   serveronly       a node certificate (CN=serveronly, SANs as a node's) for
#                    TLS server use only: no client's identity
#   wrongname        a node certificate for CN/DNS wrongname.example only
#                    (no localhost, no IP): fails hostname checks
# DIR/other-ca.pem, other-ca-key.pem  a second, unrelated CA
# DIR/other.pem, other-key.pem        a node certificate (CN=n1, SANs as
#                                     n1's) signed by the second CA
# Keys are ECDSA P-256 (fast to make and to handshake with).
set -eu
dir=${1:?usage: mkcerts.sh DIR}
mkdir -p "$dir"
cd "$dir"
command -v certtool >/dev/null || { echo "mkcerts.sh: certtool not found (apt-get install gnutls-bin)" >&2; exit 1; }

key() { certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile "$1" 2>/dev/null; }

ca() { # ca NAME CN
	key "$1-key.pem"
	cat > "$1.tmpl" <<EOF
cn = "$2"
ca
cert_signing_key
crl_signing_key
expiration_days = 3650
EOF
	certtool --generate-self-signed --load-privkey "$1-key.pem" --template "$1.tmpl" \
		--outfile "$1.pem" 2>/dev/null
}

# leaf NAME CA KIND CN [expired]: KIND node (server+client, node SANs),
# client (client only), serveronly (server only), wrongname
# (server+client, another name)
leaf() {
	key "$1-key.pem"
	{
		echo "cn = \"$4\""
		case $3 in
		node)
			echo "dns_name = \"$4\""
			echo 'dns_name = "localhost"'
			echo 'ip_address = "127.0.0.1"'
			echo 'ip_address = "::1"'
			for i in 1 2 3 4 5 6 7 8 9; do echo "ip_address = \"10.0.0.$i\""; done
			echo tls_www_server
			echo tls_www_client
			;;
		client)
			echo tls_www_client
			;;
		serveronly)
			echo "dns_name = \"$4\""
			echo 'ip_address = "127.0.0.1"'
			echo tls_www_server
			;;
		wrongname)
			echo "dns_name = \"$4\""
			echo tls_www_server
			echo tls_www_client
			;;
		esac
		echo signing_key
		echo encryption_key
		if [ "${5:-}" = expired ]; then
			echo 'activation_date = "2020-01-01 00:00:00 UTC"'
			echo 'expiration_date = "2021-01-01 00:00:00 UTC"'
		else
			echo 'expiration_days = 3650'
		fi
	} > "$1.tmpl"
	certtool --generate-certificate --load-privkey "$1-key.pem" --load-ca-certificate "$2.pem" \
		--load-ca-privkey "$2-key.pem" --template "$1.tmpl" --outfile "$1.pem" 2>/dev/null
}

ca ca "raftd test CA"
ca other-ca "another CA"
for n in n1 n2 n3 n4 n5; do leaf "$n" ca node "$n"; done
for c in reader writer admin; do leaf "$c" ca client "$c"; done
leaf expired ca node expired expired
leaf serveronly ca serveronly serveronly
leaf wrongname ca wrongname wrongname.example
leaf other other-ca node n1
rm -f ./*.tmpl
chmod 600 ./*-key.pem
