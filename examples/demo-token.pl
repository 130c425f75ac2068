#!/usr/bin/perl
# The demo's bearer token, minted when "make run" starts: HS256, signed
# with the "demo" key of the JWK Set given (examples/jwks.json), subject
# "demo-user", issued now and valid for HOURS (default 12).  Core Perl only.
#
#     perl examples/demo-token.pl examples/jwks.json [HOURS]

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256);
use JSON::PP ();
use MIME::Base64 qw(encode_base64 decode_base64);

my ($jwks_file, $hours) = @ARGV;
die "usage: $0 jwks.json [hours]\n" unless defined $jwks_file;
$hours //= 12;
die "hours: a whole number from 1 to 48\n"
    unless $hours =~ /^\d+$/ && $hours >= 1 && $hours <= 48;

open my $fh, '<', $jwks_file or die "$jwks_file: $!\n";
my $jwks = JSON::PP->new->decode(do { local $/; <$fh> });
my ($jwk) = grep { ($_->{kid} // '') eq 'demo' && $_->{kty} eq 'oct' }
                 @{ $jwks->{keys} || [] };
die "$jwks_file: no \"oct\" key of kid \"demo\"\n" unless $jwk;

sub b64url {
    (my $s = encode_base64($_[0], '')) =~ tr{+/}{-_};
    $s =~ s/=+\z//;
    return $s;
}

(my $k = $jwk->{k}) =~ tr{-_}{+/};
my $key = decode_base64($k . '=' x (-length($k) % 4));

my $now = time;
my $json = JSON::PP->new->canonical;
my $signed = b64url($json->encode({ alg => 'HS256', kid => 'demo',
                                    typ => 'JWT' }))
             . '.'
             . b64url($json->encode({ sub => 'demo-user', iat => $now,
                                      exp => $now + $hours * 3600 }));

print $signed, '.', b64url(hmac_sha256($signed, $key)), "\n";
