#!/bin/sh
# Makes a throw-away test CA, a server cert for localhost / 127.0.0.1 / ::1 and a client cert.
# Usage: gen-certs.sh DIR
#   -> DIR/ca.pem DIR/ca.key                      test CA (trust root)
#      DIR/server.pem DIR/server.key DIR/server-chain.pem   (chain = leaf + CA)
#      DIR/client.pem DIR/client.key DIR/client-chain.pem   (CN=test client, clientAuth)
# Leaves are end-entity certs (CA:FALSE, SAN, EKU), so rustls/webpki accept them when
# ca.pem is the only trust root. Needs only the `openssl` CLI. Takes well under 1 s.
set -eu
D=${1:-certs}
mkdir -p "$D"
cd "$D"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout ca.key -out ca.pem -days 365 -subj "/CN=test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
leaf() { # name subject ext-lines
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
    -out "$1.pem" -days 365 -extfile "$1.ext" 2>/dev/null
  cat "$1.pem" ca.pem > "$1-chain.pem"
  rm -f "$1.csr" "$1.ext"
}
leaf server "/CN=localhost" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
leaf client "/CN=test client" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
rm -f ca.srl
chmod 644 ./*.key   # peers that drop privileges (squid, nginx workers) may read them
echo "certs in $(pwd)"
