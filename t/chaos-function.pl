#!/usr/bin/perl

# The chaos function: an HTTP server that misbehaves on request, the way
# real function servers do.  Core Perl only; one process per connection.
# Started by t/inc/GatewayChaos.pm; exits when the process that started
# it is gone.
#
#     perl t/chaos-function.pl PORT STATE_DIR PARENT_PID
#
# The path is /KEY/PLAN[/anything]: the n-th request with that KEY (since
# the server started; counted across processes in STATE_DIR) answers as
# the n-th item of the comma-separated PLAN, the last one repeating.  An
# item is HOW-STATUS, e.g. split-503, or STATUS alone (plain):
#
#   plain      header and body in one write, Content-Length
#   split      the header, 5 ms, then the body (what most servers do)
#   chunked    chunked, three chunks 3 ms apart
#   close      HTTP/1.0, no Content-Length: the body ends with the
#              connection, 5 ms after the header
#   big        1 MB body with Content-Length, in 64 KB writes
#   reset      Content-Length of 100000, half of it, then a reset
#   cut        Content-Length of 100000, half of it, then a clean close
#   hang       the header, then nothing until the peer goes away
#   stall      nothing at all until the peer goes away
#   slowMS     waits MS ms, then as split
#   raSECS     as split, with Retry-After: SECS
#   digest     as split; the body is the length and SHA-256 of the
#              request body it received
#   random     any of the above but stall and hang, by a random draw,
#              with a random status of 200, 429, 500 or 503
#
# Bodies say what answered: "STATUS HOW hit=N\n" (plus what digest
# adds).  GET /count/KEY answers the number of requests made with KEY;
# GET /max/KEY the most of them it was answering at once (a request
# counts from when it is read to just before the last write of its
# answer, or until the peer goes away).
# Keep-alive is kept unless the request or the item closes; the
# X-Chaos-Connection header tells responses on one connection apart.

use strict;
use warnings;

use Digest::SHA ();
use Fcntl qw(:flock O_RDWR O_CREAT);
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(sleep);

my ($port, $dir, $parent) = @ARGV;
die "usage: $0 PORT STATE_DIR PARENT_PID\n" unless $parent;

my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                   LocalPort => $port, Listen => 1024,
                                   ReuseAddr => 1, Proto => 'tcp')
    or die "chaos: listen on $port: $!\n";

my %reason = (200 => 'OK', 201 => 'Created', 404 => 'Not Found',
              429 => 'Too Many Requests', 500 => 'Internal Server Error',
              502 => 'Bad Gateway', 503 => 'Service Unavailable',
              504 => 'Gateway Timeout');

$SIG{CHLD} = 'IGNORE';
$SIG{PIPE} = 'IGNORE';

my $sel = IO::Select->new($listen);

while (1) {
    exit 0 unless kill 0, $parent;
    next unless $sel->can_read(0.5);
    my $c = $listen->accept or next;
    my $pid = fork;
    if (!defined $pid) {
        close $c;
        next;
    }
    if ($pid == 0) {
        close $listen;
        serve($c);
        POSIX::_exit(0);
    }
    close $c;
}

sub gone {
    return !kill 0, $parent;
}

# the request being answered: its key, until it stops counting
our $busy;

sub serve {
    my ($c) = @_;
    binmode $c;
    $c->autoflush(1);
    my $buf = '';
    while (1) {
        my $req = read_request($c, \$buf) or return;
        my $keep = answer($c, $req);
        done();
        return unless $keep;
    }
}

# requests of a key being answered now, and the most at once: "cur max"
sub busy {
    my ($key, $by) = @_;
    $key =~ s/[^A-Za-z0-9_.-]/_/g;
    sysopen my $fh, "$dir/$key.busy", O_RDWR | O_CREAT
        or die "chaos: $key: $!\n";
    flock $fh, LOCK_EX;
    my ($cur, $max) = split ' ', (<$fh> // '0 0');
    $cur = ($cur // 0) + $by;
    $max = $cur if $cur > ($max // 0);
    seek $fh, 0, 0;
    truncate $fh, 0;
    syswrite $fh, "$cur $max\n";
    close $fh;
}

sub done {
    busy($busy, -1) if defined $busy;
    undef $busy;
}

# the next request on the connection: method, path, headers, body
sub read_request {
    my ($c, $buf) = @_;
    my $sel = IO::Select->new($c);
    my $end;
    until (($end = index $$buf, "\r\n\r\n") >= 0) {
        return undef if gone() || !$sel->can_read(60);
        my $n = sysread $c, $$buf, 65536, length $$buf;
        return undef unless $n;
    }
    my $head = substr $$buf, 0, $end + 4, '';
    my ($line, @lines) = split /\r\n/, $head;
    my ($method, $path, $version) = split / /, $line // '';
    return undef unless $version;
    my %h;
    for (@lines) {
        $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    my $body = '';
    if (defined $h{'content-length'}) {
        my $len = $h{'content-length'};
        while (length $$buf < $len) {
            return undef if !$sel->can_read(60);
            my $n = sysread $c, $$buf, 1 << 20, length $$buf;
            return undef unless $n;
        }
        $body = substr $$buf, 0, $len, '';
    } elsif (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        while (1) {
            my $i;
            until (($i = index $$buf, "\r\n") >= 0) {
                return undef if !$sel->can_read(60);
                my $n = sysread $c, $$buf, 65536, length $$buf;
                return undef unless $n;
            }
            my $size = hex substr $$buf, 0, $i, '';
            substr $$buf, 0, 2, '';
            while (length $$buf < $size + 2) {
                return undef if !$sel->can_read(60);
                my $n = sysread $c, $$buf, 1 << 20, length $$buf;
                return undef unless $n;
            }
            $body .= substr $$buf, 0, $size, '';
            substr $$buf, 0, 2, '';
            if ($size == 0) {
                # trailers, if any, end with an empty line; nginx sends none
                last;
            }
        }
    }
    my $close = ($version eq 'HTTP/1.0' && ($h{connection} // '') !~ /keep-alive/i)
                || ($h{connection} // '') =~ /close/i;
    return { method => $method, path => $path, headers => \%h,
             body => $body, close => $close };
}

# the number of this request with this key, counted in a file
sub hit {
    my ($key) = @_;
    $key =~ s/[^A-Za-z0-9_.-]/_/g;
    sysopen my $fh, "$dir/$key", O_RDWR | O_CREAT or die "chaos: $key: $!\n";
    flock $fh, LOCK_EX;
    my $n = <$fh> // 0;
    $n++;
    seek $fh, 0, 0;
    truncate $fh, 0;
    syswrite $fh, "$n\n";
    close $fh;
    return $n;
}

sub count {
    my ($key) = @_;
    $key =~ s/[^A-Za-z0-9_.-]/_/g;
    open my $fh, '<', "$dir/$key" or return 0;
    my $n = <$fh> // 0;
    chomp $n;
    return $n;
}

sub most {
    my ($key) = @_;
    $key =~ s/[^A-Za-z0-9_.-]/_/g;
    open my $fh, '<', "$dir/$key.busy" or return 0;
    my (undef, $max) = split ' ', (<$fh> // '0 0');
    return $max // 0;
}

sub put {
    my ($c, $data) = @_;
    my $off = 0;
    while ($off < length $data) {
        my $n = syswrite $c, $data, length($data) - $off, $off;
        return 0 unless defined $n;
        $off += $n;
    }
    return 1;
}

# waits until the peer goes away (or a minute, or the tests are over)
sub wait_gone {
    my ($c) = @_;
    my $sel = IO::Select->new($c);
    for (1 .. 120) {
        return if gone();
        if ($sel->can_read(0.5)) {
            my $n = sysread $c, my $x, 65536;
            return unless $n;
        }
    }
}

# answers; true when the connection stays open for another request
sub answer {
    my ($c, $req) = @_;

    if ($req->{path} =~ m{^/(count|max)/([^/?]+)}) {
        my $body = ($1 eq 'count' ? count($2) : most($2)) . "\n";
        put($c, "HTTP/1.1 200 OK\r\nContent-Length: " . length($body)
                . "\r\n" . ($req->{close} ? "Connection: close\r\n" : '')
                . "\r\n$body");
        return !$req->{close};
    }

    my ($key, $plan) = $req->{path} =~ m{^/([^/?]+)/([^/?]+)};
    unless (defined $plan) {
        put($c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                . "Connection: close\r\n\r\n");
        return 0;
    }

    my $n = hit($key);
    busy($key, 1);
    $busy = $key;
    my @items = split /,/, $plan;
    my $item = $items[$n <= @items ? $n - 1 : $#items];
    my ($how, $status) = $item =~ /^(?:([a-z]+\d*)-)?(\d{3})$/;
    ($how, $status) = ($item, 200) unless defined $status;
    $how //= 'plain';

    if ($how eq 'random') {
        my @hows = qw(plain split chunked close big reset cut slow50 ra0
                      digest);
        $how = $hows[int rand @hows];
        $status = (200, 200, 200, 429, 500, 503)[int rand 6];
    }

    my $body = "$status $how hit=$n\n";
    my @extra;
    my $delay = 0.005;

    if ($how =~ /^slow(\d+)$/) {
        sleep $1 / 1000;
        $how = 'split';
    } elsif ($how =~ /^ra(\d+)$/) {
        push @extra, "Retry-After: $1";
        $how = 'split';
    } elsif ($how eq 'digest') {
        $body = "$status digest hit=$n length=" . length($req->{body})
                . " sha256=" . Digest::SHA::sha256_hex($req->{body}) . "\n";
        $how = 'split';
    } elsif ($how eq 'big') {
        $body .= 'x' x ((1 << 20) - length $body);
    }

    my $keep = !$req->{close};
    my $head = "HTTP/1.1 $status " . ($reason{$status} // 'Whatever') . "\r\n"
               . "Content-Type: text/plain\r\nX-Chaos-Connection: $$\r\n"
               . join('', map { "$_\r\n" } @extra);

    if ($how eq 'stall') {
        wait_gone($c);
        return 0;
    }

    if ($how eq 'close') {
        $head =~ s{^HTTP/1\.1}{HTTP/1.0};
        put($c, "${head}Connection: close\r\n\r\n") or return 0;
        sleep $delay;
        put($c, $body);
        return 0;
    }

    if ($how eq 'chunked') {
        put($c, "${head}Transfer-Encoding: chunked\r\n"
                . ($keep ? '' : "Connection: close\r\n") . "\r\n") or return 0;
        my @parts = ($body =~ /(.{1,8})/gs);
        for my $p (@parts) {
            sleep 0.003;
            put($c, sprintf("%x\r\n%s\r\n", length $p, $p)) or return 0;
        }
        put($c, "0\r\n\r\n") or return 0;
        return $keep;
    }

    if ($how eq 'reset' || $how eq 'cut') {
        put($c, "${head}Content-Length: 100000\r\n\r\n") or return 0;
        sleep $delay;
        put($c, substr($body . ('y' x 50000), 0, 50000)) or return 0;
        sleep $delay;
        if ($how eq 'reset') {
            setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
        }
        close $c;
        return 0;
    }

    $head .= "Content-Length: " . length($body) . "\r\n"
             . ($keep ? '' : "Connection: close\r\n") . "\r\n";

    if ($how eq 'hang') {
        put($c, $head);
        wait_gone($c);
        return 0;
    }

    if ($how eq 'big') {
        put($c, $head) or return 0;
        for (my $off = 0; $off < length $body; $off += 65536) {
            put($c, substr($body, $off, 65536)) or return 0;
        }
        return $keep;
    }

    if ($how eq 'split') {
        put($c, $head) or return 0;
        sleep $delay;
        done();
        put($c, $body) or return 0;
        return $keep;
    }

    # plain
    done();
    put($c, $head . $body) or return 0;
    return $keep;
}
