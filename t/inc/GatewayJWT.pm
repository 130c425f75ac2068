package GatewayJWT;

# Signed JWTs for the Test::Nginx suite, minted at test time relative to
# time(), for every algorithm the gateway verifies, and forged ones. Perl
# has no crypto in core, so signatures come from the openssl command line;
# HMAC and SHA-2 from Digest::SHA. Keys and JWK Sets are in t/data (made by
# t/data/make-keys.sh). See t/inc/README.

use strict;
use warnings;

use Cwd ();
use Digest::SHA ();
use Exporter 'import';
use File::Basename ();
use File::Spec ();
use File::Temp ();
use IPC::Open3 ();
use JSON::PP ();
use MIME::Base64 ();
use Symbol ();

our @EXPORT = qw(jwt b64url b64url_json public_pem public_der jwks_path
                 data_dir sha256_hex jwk);
our @EXPORT_OK = @EXPORT;

# Resolved once, when the module is loaded: __FILE__ is relative to the cwd
# of that moment ('t/inc/GatewayJWT.pm'), which a test may change later.
my $DATA = Cwd::abs_path(File::Spec->catdir(
    File::Basename::dirname(Cwd::abs_path(__FILE__)), File::Spec->updir,
    'data'));

# alg => [how to sign, SHA-2 size]
my %ALG = (
    (map { ("HS$_" => [hmac => $_]) } 256, 384, 512),
    (map { ("RS$_" => [rsa  => $_]) } 256, 384, 512),
    (map { ("PS$_" => [pss  => $_]) } 256, 384, 512),
    (map { ("ES$_" => [ec   => $_]) } 256, 384, 512),
    EdDSA => ['eddsa'],
);

# The key each alg signs with by default: the one the JWKS binds to it.
# RS384, PS384, PS512 and HS384 have no key of their own in jwks.json, so
# their tokens are signed by a key bound to another alg and a gateway must
# refuse them (alg/key mismatch).
my %DEFAULT_KEY = (
    RS256 => 'rsa1', RS384 => 'rsa1', RS512 => 'rsa3',
    PS256 => 'rsa2', PS384 => 'rsa2', PS512 => 'rsa2',
    ES256 => 'ec256', ES384 => 'ec384', ES512 => 'ec521',
    EdDSA => 'ed25519',
    HS256 => 'hs1', HS384 => 'hs1', HS512 => 'hs512',
);

my $JSON = JSON::PP->new->canonical->utf8->allow_nonref;
my %PUB;    # keyname => { pem => ..., der => ... }: keys do not change

sub data_dir  { $DATA }
sub jwks_path { "$DATA/jwks.json" }

sub b64url {
    my ($bytes) = @_;
    utf8::encode($bytes) if $bytes =~ /[^\x00-\xff]/;  # text -> UTF-8
    (my $s = MIME::Base64::encode_base64($bytes, '')) =~ tr{+/}{-_};
    $s =~ s/=+\z//;
    return $s;
}

sub b64url_json { b64url($JSON->encode($_[0])) }

sub sha256_hex {
    my ($text) = @_;
    utf8::encode($text) if $text =~ /[^\x00-\xff]/;    # Digest::SHA wants bytes
    return Digest::SHA::sha256_hex($text);
}

# A public key as openssl writes it (PEM text or DER bytes). The PEM, byte
# for byte, is what a confused verifier would use as an HMAC secret.
sub public_pem { _public($_[0])->{pem} }
sub public_der { _public($_[0])->{der} }

# A copy of one public JWK from jwks.json, to build other JWK Sets (say,
# the rsa1 key bound to RS384) in a test's user_files.
sub jwk {
    my ($kid) = @_;
    my $set = $JSON->decode(_slurp(jwks_path()));
    my ($k) = grep { $_->{kid} eq $kid } @{ $set->{keys} };
    die "GatewayJWT: no kid '$kid' in jwks.json\n" unless $k;
    return $k;
}

# jwt(alg => ..., kid => ..., key => ..., claims => {...}, header => {...},
#     raw_header => '...', raw_payload => '...', signature => '...',
#     hmac_key => '...'): a compact JWS.
sub jwt {
    my %o = @_;
    my $alg = exists $o{alg} ? $o{alg} : 'RS256';
    my $key = exists $o{key} ? $o{key}
            : defined $alg   ? $DEFAULT_KEY{$alg} : undef;
    my $kid = exists $o{kid} ? $o{kid} : $key;
    my $now = time;

    my %header = (typ => 'JWT');
    $header{alg} = $alg if defined $alg;
    $header{kid} = $kid if defined $kid;
    _merge(\%header, $o{header});

    my %claims = (sub => 'alice', iat => $now, exp => $now + 300);
    _merge(\%claims, $o{claims});

    my $input = join '.',
        defined $o{raw_header}  ? b64url($o{raw_header})
                                : b64url_json(\%header),
        defined $o{raw_payload} ? b64url($o{raw_payload})
                                : b64url_json(\%claims);

    my $sig = exists $o{signature} ? $o{signature}
            : _sign($alg, $key, $o{hmac_key}, $input);
    return "$input." . b64url(defined $sig ? $sig : '');
}

# Values given replace the defaults; undef removes the member.
sub _merge {
    my ($into, $from) = @_;
    return unless $from;
    for (keys %$from) {
        if (defined $from->{$_}) { $into->{$_} = $from->{$_} }
        else                     { delete $into->{$_} }
    }
}

sub _sign {
    my ($alg, $key, $hmac_key, $input) = @_;
    my $how = defined $alg ? $ALG{$alg} : undef;
    return '' unless $how;         # "none" or made up: nothing to sign with
    my ($kind, $bits) = @$how;

    if ($kind eq 'hmac') {
        my $secret = defined $hmac_key ? $hmac_key
                                       : _slurp(_key_file($key, 'key'));
        return Digest::SHA->can("hmac_sha$bits")->($input, $secret);
    }

    my $pem = _key_file($key, 'pem');
    my $tmp = File::Temp->newdir('gatewayjwt-XXXXXX', TMPDIR => 1);
    my ($in, $out) = ("$tmp/input", "$tmp/sig");
    _spew($in, $input);

    if ($kind eq 'eddsa') {
        # Ed25519 signs the message itself, not a digest: -rawin.
        _openssl('pkeyutl', '-sign', '-rawin', '-inkey', $pem,
                 '-in', $in, '-out', $out);
    } else {
        # RFC 7518 3.5: PSS with MGF1 on the same hash, salt = hash length.
        my @pss = $kind ne 'pss' ? () :
            ('-sigopt', 'rsa_padding_mode:pss',
             '-sigopt', 'rsa_pss_saltlen:digest');
        _openssl('dgst', "-sha$bits", '-sign', $pem, @pss,
                 '-out', $out, $in);
    }
    my $sig = _slurp($out);
    # JWS wants R || S, each as long as the curve's field (RFC 7518 3.4);
    # openssl gives DER. The key's curve decides, so that ES256 with the
    # P-384 key still gives a well-formed (if wrong) signature.
    $sig = _der_to_rs($sig, _ec_field_bytes($key)) if $kind eq 'ec';
    return $sig;
}

sub _der_to_rs {
    my ($der, $n) = @_;
    my ($tag, $seq) = _der($der);
    my ($t1, $r, $rest) = _der($seq);
    my ($t2, $s) = _der($rest);
    die "GatewayJWT: not an ECDSA signature\n"
        unless $tag == 0x30 && $t1 == 0x02 && $t2 == 0x02;
    return join '', map {
        (my $v = $_) =~ s/^\x00+//;    # DER adds a 0 when the top bit is set
        die "GatewayJWT: ECDSA integer over $n bytes\n" if length $v > $n;
        ("\x00" x ($n - length $v)) . $v;
    } $r, $s;
}

# Field size of an EC key, from its uncompressed point 04 || X || Y.
sub _ec_field_bytes {
    my ($key) = @_;
    my (undef, $spki) = _der(public_der($key));
    my (undef, undef, $rest) = _der($spki);            # skip AlgorithmId
    my ($tag, $bits) = _der($rest);
    die "GatewayJWT: $key is not an EC key\n"
        unless $tag == 0x03 && substr($bits, 1, 1) eq "\x04";
    return (length($bits) - 2) / 2;   # minus unused-bits byte and 0x04
}

# One DER element: (tag, contents, the bytes after it).
sub _der {
    my ($b) = @_;
    die "GatewayJWT: truncated DER\n" if length $b < 2;
    my ($tag, $len) = unpack 'C2', $b;
    my $off = 2;
    if ($len & 0x80) {
        my $n = $len & 0x7f;
        $len = 0;
        $len = $len * 256 + ord substr $b, $off++, 1 for 1 .. $n;
    }
    die "GatewayJWT: truncated DER\n" if length $b < $off + $len;
    return ($tag, substr($b, $off, $len), substr($b, $off + $len));
}

sub _public {
    my ($key) = @_;
    return $PUB{$key} ||= do {
        my $pem = _key_file($key, 'pem');
        { pem => _openssl('pkey', '-in', $pem, '-pubout'),
          der => _openssl('pkey', '-in', $pem, '-pubout', '-outform', 'DER') };
    };
}

sub _key_file {
    my ($key, $ext) = @_;
    die "GatewayJWT: no key given and none by default for this alg\n"
        unless defined $key;
    die "GatewayJWT: bad key name '$key'\n" unless $key =~ /\A[\w-]+\z/;
    my $file = "$DATA/keys/$key.$ext";
    die "GatewayJWT: no $file\n" unless -f $file;
    return $file;
}

# Runs openssl without a shell and returns its stdout (raw bytes); dies
# with its stderr when it fails.
sub _openssl {
    my @cmd = ('openssl', @_);
    my $err = Symbol::gensym();
    my $pid = IPC::Open3::open3(my $to, my $from, $err, @cmd);
    close $to;
    binmode $from;
    my $out = do { local $/; <$from> };
    my $msg = do { local $/; <$err> };
    waitpid $pid, 0;
    die "GatewayJWT: '@cmd' failed: " . ($msg || "status $?") . "\n" if $?;
    return defined $out ? $out : '';
}

sub _slurp {
    open my $fh, '<:raw', $_[0] or die "GatewayJWT: $_[0]: $!\n";
    local $/;
    return scalar <$fh>;
}

sub _spew {
    open my $fh, '>:raw', $_[0] or die "GatewayJWT: $_[0]: $!\n";
    print $fh $_[1];
    close $fh or die "GatewayJWT: $_[0]: $!\n";
}

1;
