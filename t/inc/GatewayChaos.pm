package GatewayChaos;

# Starts the chaos function (t/chaos-function.pl) for a test script, on a
# free port of its own, and stops it when the script ends.  The port is
# put in $ENV{TEST_NGINX_CHAOS_PORT}, which both runners substitute in
# the config sections as $TEST_NGINX_CHAOS_PORT.  Core Perl only.
#
#     use lib 't/inc';
#     use GatewayChaos;
#     GatewayChaos::start();

use strict;
use warnings;

use File::Basename ();
use File::Spec ();
use File::Temp ();
use IO::Select;
use GatewayProc ();
use IO::Socket::INET;
use Time::HiRes ();

my ($pid, $owner, $state);

sub start {
    return $ENV{TEST_NGINX_CHAOS_PORT} if $pid;

    my $port = GatewayProc::free_port();

    my $script = File::Spec->catfile(
        File::Basename::dirname(File::Spec->rel2abs(__FILE__)), '..',
        'chaos-function.pl');
    $state = File::Temp::tempdir('chaos-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    $owner = $$;

    $pid = fork;
    die "GatewayChaos: fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        exec $^X, $script, $port, $state, $owner;
        die "GatewayChaos: exec $script: $!\n";
    }

    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp');
        if ($s) {
            close $s;
            $ENV{TEST_NGINX_CHAOS_PORT} = $port;
            return $port;
        }
        Time::HiRes::sleep(0.05);
    }

    die "GatewayChaos: the chaos function did not start on $port\n";
}

# how many requests with this key reached the function; most(): the
# most it answered at once
sub most {
    my ($key) = @_;
    return count($key, 'max');
}

sub count {
    my ($key, $what) = @_;
    $what //= 'count';
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_CHAOS_PORT},
                                  Proto => 'tcp', Timeout => 5)
        or die "GatewayChaos: connect: $!\n";
    print $s "GET /$what/$key HTTP/1.0\r\n\r\n";
    local $/;
    my $r = <$s> // '';
    return $r =~ /\r\n\r\n(\d+)/ ? $1 : -1;
}

# requests sent one after another on one keep-alive connection to the
# nginx under test; each is a path (a GET) or [METHOD, path, body,
# headers].  Returns a list of { status, headers, body } (status 0: no
# response, -1: none in time) and stops at the first failure.
sub session {
    my (@reqs) = @_;
    my $opt = ref $reqs[-1] eq 'HASH' ? pop @reqs : {};
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_SERVER_PORT},
                                  Proto => 'tcp', Timeout => 5)
        or die "GatewayChaos: connect: $!\n";
    binmode $s;
    my (@out, $buf);
    $buf = '';
    for my $i (0 .. $#reqs) {
        my ($method, $path, $body, $headers) =
            ref $reqs[$i] ? @{ $reqs[$i] } : ('GET', $reqs[$i]);
        $body //= '';
        $headers //= '';
        my $last = $i == $#reqs;
        my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\n$headers"
                  . (length $body ? "Content-Length: " . length($body) . "\r\n" : '')
                  . ($last ? "Connection: close\r\n" : '') . "\r\n$body";
        my $off = 0;
        while ($off < length $req) {
            my $n = syswrite $s, $req, length($req) - $off, $off;
            last unless $n;
            $off += $n;
        }
        my $res = read_one($s, \$buf, $opt->{timeout} // 5);
        push @out, $res;
        last if $res->{status} <= 0;
    }
    close $s;
    return @out;
}

sub read_one {
    my ($s, $buf, $secs) = @_;
    my $deadline = Time::HiRes::time() + $secs;
    my $sel = IO::Select->new($s);
    my $eof = 0;
    my $more = sub {
        my $left = $deadline - Time::HiRes::time();
        return -1 if $left <= 0 || !$sel->can_read($left);
        my $n = sysread $s, $$buf, 1 << 20, length $$buf;
        $eof = 1 unless $n;
        return $n ? 1 : 0;
    };
    my $end;
    until (($end = index $$buf, "\r\n\r\n") >= 0) {
        my $r = $more->();
        return { status => ($r < 0 ? -1 : 0), body => '' } if $r <= 0;
    }
    my $head = substr $$buf, 0, $end + 4, '';
    my ($status) = $head =~ m{^HTTP/1\.\d (\d{3})};
    my %h;
    $h{lc $1} = $2 while $head =~ /^([^:\r\n]+):\s*([^\r\n]*)/mg;
    my $body = '';
    if (defined $h{'content-length'}) {
        while (length $$buf < $h{'content-length'}) {
            my $r = $more->();
            return { status => $status, headers => \%h, body => $$buf,
                     truncated => 1 } if $r <= 0;
        }
        $body = substr $$buf, 0, $h{'content-length'}, '';
    } elsif (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        while (1) {
            my $i;
            until (($i = index $$buf, "\r\n") >= 0) {
                my $r = $more->();
                return { status => $status, headers => \%h, body => $body,
                         truncated => 1 } if $r <= 0;
            }
            my $size = hex substr $$buf, 0, $i, '';
            substr $$buf, 0, 2, '';
            while (length $$buf < $size + 2) {
                my $r = $more->();
                return { status => $status, headers => \%h, body => $body,
                         truncated => 1 } if $r <= 0;
            }
            $body .= substr $$buf, 0, $size, '';
            substr $$buf, 0, 2, '';
            last if $size == 0;
        }
    } else {
        1 while $more->() > 0;
        $body = $$buf;
        $$buf = '';
    }
    return { status => $status, headers => \%h, body => $body };
}

# the script's exit status stays its own, not the server's
END {
    local $?;
    if ($pid && $owner && $$ == $owner) {
        kill 'TERM', $pid;
        waitpid $pid, 0;
    }
}

1;
