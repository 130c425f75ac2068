#!/bin/sh
# Test-only JWT keys for the Test::Nginx suite (t/inc/GatewayJWT.pm).
#
#   t/data/make-keys.sh           create the keys that are missing, then
#                                 rebuild jwks.json and jwks-rsa-only.json
#   t/data/make-keys.sh --force   new keys for all of them (every test token
#                                 and every committed JWKS changes)
#
# The JWK Sets are a pure function of the keys: running the script again
# without --force rewrites them byte for byte. Needs openssl (3.x) and perl
# with core modules only. These keys are public, in git: never use them for
# anything but tests.

set -eu
cd "$(dirname "$0")"

force=0
case "${1:-}" in
    --force) force=1 ;;
    "") ;;
    *) echo "usage: $0 [--force]" >&2; exit 2 ;;
esac

mkdir -p keys

# genpkey NAME ARGS...: a private key in PKCS#8 PEM, written atomically.
genpkey() {
    name=$1; shift
    if [ "$force" = 1 ] || [ ! -s "keys/$name.pem" ]; then
        openssl genpkey -quiet "$@" -out "keys/$name.pem.tmp"
        mv "keys/$name.pem.tmp" "keys/$name.pem"
        echo "new key keys/$name.pem"
    fi
}

# secret NAME BYTES: raw random bytes for HMAC (the JWK "k").
secret() {
    if [ "$force" = 1 ] || [ ! -s "keys/$1.key" ]; then
        openssl rand -out "keys/$1.key.tmp" "$2"
        mv "keys/$1.key.tmp" "keys/$1.key"
        echo "new key keys/$1.key"
    fi
}

for k in rsa1 rsa2 rsa3 attacker-rsa; do
    genpkey "$k" -algorithm RSA -pkeyopt rsa_keygen_bits:2048
done
for k in ec256:P-256 ec384:P-384 ec521:P-521 attacker-ec256:P-256; do
    genpkey "${k%%:*}" -algorithm EC -pkeyopt "ec_paramgen_curve:${k#*:}" \
        -pkeyopt ec_param_enc:named_curve
done
genpkey ed25519 -algorithm ED25519
secret hs1 32
secret hs512 64
chmod 644 keys/*

# The JWKs are read from the DER SubjectPublicKeyInfo that openssl prints
# for each key, so nothing private can end up in them. Arguments are
# OUTPUT=KEY:ALG,... with the kid equal to the key's name.
all=rsa1:RS256,rsa2:PS256,rsa3:RS512
all=$all,ec256:ES256,ec384:ES384,ec521:ES512,ed25519:EdDSA
all=$all,hs1:HS256,hs512:HS512
perl - "jwks.json=$all" jwks-rsa-only.json=rsa1:RS256 <<'PERL'
use strict;
use warnings;
use JSON::PP;
use MIME::Base64 qw(encode_base64);

sub b64url {
    (my $s = encode_base64(shift, '')) =~ tr{+/}{-_};
    $s =~ s/=+\z//;
    return $s;
}

# One DER element: (tag, contents, the bytes after it).
sub der {
    my ($b) = @_;
    my ($tag, $len) = unpack 'C2', $b;
    my $off = 2;
    if ($len & 0x80) {
        my $n = $len & 0x7f;
        $len = 0;
        $len = $len * 256 + ord substr $b, $off++, 1 for 1 .. $n;
    }
    die "truncated DER\n" if length $b < $off + $len;
    return ($tag, substr($b, $off, $len), substr($b, $off + $len));
}

sub slurp {
    open my $fh, '<:raw', $_[0] or die "$_[0]: $!\n";
    local $/;
    return scalar <$fh>;
}

sub spki {
    my ($name) = @_;
    open my $fh, '-|', 'openssl', 'pkey', '-in', "keys/$name.pem",
        '-pubout', '-outform', 'DER' or die "openssl: $!\n";
    binmode $fh;
    my $der = do { local $/; <$fh> };
    close $fh or die "openssl pkey failed for $name\n";
    my (undef, $seq) = der($der);
    my (undef, $algid, $rest) = der($seq);
    my (undef, $bits) = der($rest);
    my (undef, $oid, $params) = der($algid);
    return (unpack('H*', $oid), $params, substr $bits, 1);  # 0 unused bits
}

my %curve = (                   # named curve OID => (crv, field bytes)
    '2a8648ce3d030107' => ['P-256', 32],
    '2b81040022'       => ['P-384', 48],
    '2b81040023'       => ['P-521', 66],
);

sub jwk {
    my ($name, $alg) = @_;
    my %k = (kid => $name, alg => $alg, use => 'sig');
    if ($alg =~ /^HS/) {
        return { %k, kty => 'oct', k => b64url(slurp("keys/$name.key")) };
    }
    my ($oid, $params, $pub) = spki($name);
    if ($oid eq '2a864886f70d010101') {                     # rsaEncryption
        my (undef, $seq) = der($pub);
        my (undef, $n, $rest) = der($seq);
        my (undef, $e) = der($rest);
        s/^\x00+// for $n, $e;          # RFC 7518 6.3.1: no leading zero
        return { %k, kty => 'RSA', n => b64url($n), e => b64url($e) };
    }
    if ($oid eq '2a8648ce3d0201') {                         # ecPublicKey
        my (undef, $coid) = der($params);
        my ($crv, $size) = @{ $curve{unpack 'H*', $coid} or die "curve\n" };
        die "$name: not an uncompressed point\n"
            unless length $pub == 1 + 2 * $size && substr($pub, 0, 1) eq "\x04";
        return { %k, kty => 'EC', crv => $crv,              # RFC 7518 6.2.1:
                 x => b64url(substr $pub, 1, $size),        # full field size
                 y => b64url(substr $pub, 1 + $size) };
    }
    if ($oid eq '2b6570') {                                 # Ed25519
        return { %k, kty => 'OKP', crv => 'Ed25519', x => b64url($pub) };
    }
    die "$name: unexpected key type $oid\n";
}

my $json = JSON::PP->new->canonical->pretty->indent_length(2);
for my $arg (@ARGV) {
    my ($file, $list) = split /=/, $arg;
    my @keys = map { jwk(split /:/) } split /,/, $list;
    open my $out, '>', "$file.tmp" or die "$file: $!\n";
    print $out $json->encode({ keys => \@keys });
    close $out or die "$file: $!\n";
    rename "$file.tmp", $file or die "$file: $!\n";
    print "wrote $file\n";
}
PERL
