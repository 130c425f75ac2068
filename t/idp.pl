#!/usr/bin/perl

# A mock identity provider for the tests of keys from identity providers:
# an HTTPS server of a JWK Set and an OpenID Connect discovery document,
# told what to serve through a plain-HTTP control port.  IO::Socket::SSL
# (Debian: libio-socket-ssl-perl) and core Perl; one process per
# connection.  Started by t/inc/GatewayIdP.pm; exits when the process
# that started it is gone.
#
#     perl t/idp.pl PORT CONTROL_PORT STATE_DIR PARENT_PID CERT KEY
#
# Served over https on PORT:
#
#   /jwks                the JWK Set of the keys named last (see below)
#   /.well-known/openid-configuration
#                        issuer https://127.0.0.1:PORT, jwks_uri .../jwks
#
# each as the current mode says: ok, slow-MS (waits MS ms first), hang
# (the header, then nothing), stall (nothing at all), garbage (a 200 that
# is no JSON), huge (2 MB of JSON), 500, close (closes at once), chunked
# (the body in chunks).  Every request to them is counted.
#
# Control, plain HTTP on CONTROL_PORT, each answering "ok" or a number:
#
#   /keys/KID,KID...     serve these keys of t/data/jwks.json ("-": none)
#   /mode/MODE           the mode of both documents
#   /cache/SECONDS       Cache-Control: max-age=SECONDS ("-": none)
#   /count/jwks, /count/discovery, /count/all   requests so far
#   /reset               counts back to 0
#   /sleep/MS            answers after MS ms (a pause between requests)

use strict;
use warnings;

use Fcntl qw(:flock O_RDWR O_CREAT);
use File::Basename ();
use File::Spec ();
use IO::Select;
use IO::Socket::INET;
use IO::Socket::SSL;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep);

my ($port, $cport, $dir, $parent, $cert, $key) = @ARGV;
die "usage: $0 PORT CONTROL_PORT STATE_DIR PARENT_PID CERT KEY\n"
    unless $key;

my $jwks_file = File::Spec->catfile(
    File::Basename::dirname(File::Spec->rel2abs(__FILE__)), 'data',
    'jwks.json');

my %listen;

for my $p ($port, $cport) {
    $listen{$p} = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                        LocalPort => $p, Listen => 1024,
                                        ReuseAddr => 1, Proto => 'tcp')
        or die "idp: listen on $p: $!\n";
}

$SIG{CHLD} = 'IGNORE';
$SIG{PIPE} = 'IGNORE';

my $server = $$;
my $sel = IO::Select->new(values %listen);

while (1) {
    exit 0 unless kill 0, $parent;

    for my $l ($sel->can_read(0.5)) {
        my $c = $l->accept or next;
        my $control = $l->sockport == $cport;
        my $pid = fork;

        if (!defined $pid) {
            close $c;
            next;
        }

        if ($pid == 0) {
            close $_ for values %listen;
            $control ? control($c) : serve($c);
            POSIX::_exit(0);
        }

        close $c;
    }
}


sub state_get {
    my ($name, $default) = @_;
    open my $fh, '<', "$dir/$name" or return $default;
    local $/;
    my $v = <$fh>;
    return $v;
}

sub state_set {
    my ($name, $value) = @_;
    open my $fh, '>', "$dir/$name.tmp" or die "idp: $dir/$name: $!\n";
    print $fh $value;
    close $fh;
    rename "$dir/$name.tmp", "$dir/$name" or die "idp: rename: $!\n";
}

# counts are kept in files, as every connection is a process of its own
sub count {
    my ($name, $add) = @_;
    sysopen my $fh, "$dir/count-$name", O_RDWR | O_CREAT or die "idp: $!\n";
    flock $fh, LOCK_EX;
    my $n = <$fh> // 0;
    chomp $n;
    $n ||= 0;
    if ($add) {
        $n += $add;
        seek $fh, 0, 0;
        truncate $fh, 0;
        print $fh "$n\n";
    }
    close $fh;
    return $n;
}

sub read_request {
    my ($c) = @_;
    my $req = '';
    while ($req !~ /\r?\n\r?\n/) {
        my $n = sysread $c, $req, 4096, length $req;
        return undef unless $n;
    }
    return $req =~ m{^GET (\S+)} ? $1 : '';
}

sub control {
    my ($c) = @_;
    my $path = read_request($c) // return;
    my $body = "ok\n";

    if ($path =~ m{^/keys/(.+)$}) {
        my @kids = $1 eq '-' ? () : split /,/, $1;
        open my $fh, '<', $jwks_file or die "idp: $jwks_file: $!\n";
        local $/;
        my $all = JSON::PP->new->decode(<$fh>);
        my %by = map { ($_->{kid} => $_) } @{ $all->{keys} };
        my @keys = map { $by{$_} // die "idp: no key $_\n" } @kids;
        state_set('jwks', JSON::PP->new->canonical->encode(
                              { keys => \@keys }));

    } elsif ($path =~ m{^/mode/(.+)$}) {
        state_set('mode', $1);

    } elsif ($path =~ m{^/cache/(.+)$}) {
        state_set('cache', $1 eq '-' ? '' : $1);

    } elsif ($path =~ m{^/count/(\w+)$}) {
        $body = ($1 eq 'all' ? count('jwks') + count('discovery')
                             : count($1)) . "\n";

    } elsif ($path eq '/reset') {
        unlink glob "$dir/count-*";

    } elsif ($path =~ m{^/sleep/(\d+)$}) {
        sleep($1 / 1000);

    } else {
        print $c "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        return;
    }

    print $c "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
             . "Content-Length: " . length($body) . "\r\n\r\n$body";
}

# up to a minute, while the server runs: a connection's process holds
# the test's output open, which prove waits for (and the test script, a
# zombie until then, is no sign of the end)
sub linger {
    for (1 .. 600) {
        return if getppid() != $server;
        sleep 0.1;
    }
}

sub serve {
    my ($c) = @_;

    IO::Socket::SSL->start_SSL($c, SSL_server => 1,
                               SSL_cert_file => $cert,
                               SSL_key_file => $key,
                               Timeout => 5)
        or return;

    my $path = read_request($c) // return;
    my ($name, $body);

    if ($path eq '/jwks') {
        $name = 'jwks';
        $body = state_get('jwks', '{"keys":[]}');

    } elsif ($path eq '/.well-known/openid-configuration') {
        $name = 'discovery';
        $body = JSON::PP->new->canonical->encode({
            issuer => "https://127.0.0.1:$port",
            jwks_uri => "https://127.0.0.1:$port/jwks",
            id_token_signing_alg_values_supported => ['RS256'],
        });

    } else {
        print $c "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                 . "Connection: close\r\n\r\n";
        $c->close(SSL_no_shutdown => 1);
        return;
    }

    count($name, 1);

    my $mode = state_get('mode', 'ok');
    my $cache = state_get('cache', '');
    my $head = "Content-Type: application/json\r\nConnection: close\r\n";
    $head .= "Cache-Control: max-age=$cache\r\n" if length $cache;

    if ($mode =~ /^slow-(\d+)$/) {
        sleep($1 / 1000);
        $mode = 'ok';
    }

    if ($mode eq 'stall') {
        linger();
        return;
    }

    if ($mode eq 'close') {
        $c->close(SSL_no_shutdown => 1);
        return;
    }

    if ($mode eq 'hang') {
        print $c "HTTP/1.1 200 OK\r\n$head";
        linger();
        return;
    }

    my $status = '200 OK';

    if ($mode eq 'garbage') {
        $body = "<html>this is not a key set{";

    } elsif ($mode eq 'huge') {
        $body = '{"keys":[],"pad":"' . ('x' x (2 * 1024 * 1024)) . '"}';

    } elsif ($mode eq '500') {
        $status = '500 Internal Server Error';
        $body = "{}";
    }

    if ($mode eq 'chunked') {
        my $out = "HTTP/1.1 $status\r\n${head}Transfer-Encoding: chunked\r\n\r\n";
        my $half = int(length($body) / 2);
        for my $part (substr($body, 0, $half), substr($body, $half)) {
            $out .= sprintf("%x\r\n%s\r\n", length $part, $part)
                if length $part;
        }
        print $c "${out}0\r\n\r\n";

    } else {
        print $c "HTTP/1.1 $status\r\n${head}Content-Length: "
                 . length($body) . "\r\n\r\n";
        print $c $body;
    }

    $c->close(SSL_no_shutdown => 1);
}
