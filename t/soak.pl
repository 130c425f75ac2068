#!/usr/bin/perl

# make check-soak: keep-alive clients against a randomly misbehaving
# chaos function for a while, through a gateway of two workers with
# retries and a breaker, and (a third of the requests) through a service
# that has besides a concurrency cap with a queue and a deadline.  Fails
# unless every request sent got exactly one response (or was abandoned by
# its client on purpose) and exactly one access-log line, no connection
# is left in CLOSE-WAIT, no retry stays in flight, no slot of the cap is
# held and nobody waits in its queue at the end, and the error log has
# no [alert], [emerg] or worker crash.  Prints its figures.  Core Perl
# only.
#
#   perl t/soak.pl --nginx BIN --module SO --dir DIR [--time 60]
#        [--clients 200] [--workers 2]

use strict;
use warnings;

use File::Basename ();
use File::Path ();
use File::Spec ();
use Getopt::Long ();
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);

use lib File::Spec->catdir(File::Basename::dirname(
                               File::Spec->rel2abs(__FILE__)), 'inc');
use GatewayChaos;
use GatewayProc ();

my %o = (time => 60, clients => 200, workers => 2, procs => 8);
Getopt::Long::GetOptions(\%o, 'nginx=s', 'module=s', 'dir=s', 'time=i',
                         'clients=i', 'workers=i', 'procs=i')
    && $o{nginx} && $o{module} && $o{dir}
    or die "usage: $0 --nginx BIN --module SO --dir DIR [--time S]"
           . " [--clients N] [--workers N]\n";

File::Path::rmtree($o{dir});
File::Path::mkpath(["$o{dir}/logs", "$o{dir}/conf", "$o{dir}/out"]);

my $chaos = GatewayChaos::start();

my $port = GatewayProc::free_port();
my $user = $> == 0 ? "user root;\n" : '';

open my $cf, '>', "$o{dir}/conf/nginx.conf" or die "$!\n";
print $cf <<"_EOC_";
load_module $o{module};
${user}worker_processes $o{workers};
error_log logs/error.log info;
pid logs/nginx.pid;
events { worker_connections 4096; }

http {
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_max_body_size 1m;

    log_format soak 'soak id=\$http_x_soak_id status=\$status retries=\$gateway_retries';

    gateway_zone soak 4m;
    gateway_default_auth off;

    gateway_service soak {
        endpoint http://127.0.0.1:$chaos/;
        retries 2 on=error,timeout,502,503,504,429 backoff=1ms:20ms
                idempotency_header=Idempotency-Key;
        breaker failure_rate=50% min_requests=20 window=2s open=200ms max_open=1s
                probes=2 probe_timeout=5s;
    }

    gateway_service capped {
        endpoint http://127.0.0.1:$chaos/;
        retries 2 on=error,timeout,502,503,504,429 backoff=1ms:20ms
                idempotency_header=Idempotency-Key;
        breaker failure_rate=50% min_requests=20 window=2s open=200ms max_open=1s
                probes=2 probe_timeout=5s;
        concurrency 8 queue=16 queue_timeout=300ms;
        deadline 1500ms;
    }

    server {
        listen 127.0.0.1:$port backlog=4096;

        location /c/ {
            access_log logs/access.log soak;
            gateway_route /c/ capped strip;
            proxy_pass \$gateway_target;
            proxy_read_timeout 2s;
        }

        location /s/ {
            access_log logs/access.log soak;
            gateway_route /s/ soak strip;
            proxy_pass \$gateway_target;
            proxy_read_timeout 2s;
        }

        location = /status {
            gateway_status;
        }
    }
}
_EOC_
close $cf;

system($o{nginx}, '-p', "$o{dir}/", '-c', "$o{dir}/conf/nginx.conf") == 0
    or die "soak: nginx did not start\n";

END {
    local $?;
    if ($o{dir} && -s "$o{dir}/logs/nginx.pid") {
        system($o{nginx}, '-p', "$o{dir}/", '-c', "$o{dir}/conf/nginx.conf",
               '-s', 'quit');
    }
}

for (1 .. 100) {
    last if IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port);
    sleep 0.05;
}

# the clients: procs processes, clients / procs connections each
my $until = time + $o{time};
my @kids;
my $per = int(($o{clients} + $o{procs} - 1) / $o{procs});
for my $p (0 .. $o{procs} - 1) {
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        srand($$ ^ time);
        client_loop($p, $per, $until);
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
waitpid $_, 0 for @kids;

sleep 2;

my $fail = 0;
sub fail { print "FAIL: @_\n"; $fail = 1 }

# what the clients saw
my (%sent, %answered, %abandoned, %status, $truncated);
for my $f (glob "$o{dir}/out/*") {
    open my $fh, '<', $f or die "$!\n";
    while (<$fh>) {
        my ($what, $id, $st, $tr) = split;
        if ($what eq 'sent') { $sent{$id}++ }
        elsif ($what eq 'abandoned') { $abandoned{$id}++ }
        elsif ($what eq 'got') {
            $answered{$id}++;
            $status{$st}++;
            $truncated++ if $tr;
        }
    }
}

my @dup = grep { $answered{$_} > 1 } keys %answered;
my @lost = grep { !$answered{$_} && !$abandoned{$_} } keys %sent;
fail(scalar(@dup) . " requests answered more than once") if @dup;
fail(scalar(@lost) . " requests never answered: @lost[0 .. ($#lost < 9 ? $#lost : 9)]")
    if @lost;

# the access log: one line per request sent
my %logged;
my $retried = 0;
open my $al, '<', "$o{dir}/logs/access.log" or die "no access.log: $!\n";
while (<$al>) {
    next unless /^soak id=(\S+) status=(\d+) retries=(\d+)/;
    $logged{$1}++;
    $retried += $3;
}
close $al;
my @twice = grep { $logged{$_} > 1 } keys %logged;
my @unlogged = grep { !$logged{$_} } keys %sent;
fail(scalar(@twice) . " requests logged more than once") if @twice;
fail(scalar(@unlogged) . " requests not logged: @unlogged[0 .. ($#unlogged < 9 ? $#unlogged : 9)]")
    if @unlogged;

# no connection of the gateway or to the function left half-closed
my $cw = 0;
for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
    open my $fh, '<', $f or next;
    while (<$fh>) {
        my @c = split;
        next unless @c > 3 && $c[3] eq '08';
        my ($lp) = $c[1] =~ /:([0-9A-F]{4})$/;
        my ($rp) = $c[2] =~ /:([0-9A-F]{4})$/;
        $cw++ if hex $lp == $port || hex $rp == $chaos;
    }
}
fail("$cw connections in CLOSE-WAIT") if $cw;

# no retry in flight, as the status endpoint says
my ($st) = do {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "status: $!\n";
    print $s "GET /status?format=prometheus HTTP/1.0\r\n\r\n";
    local $/;
    (<$s> // '');
};
my ($inflight) = $st =~ /^gateway_retries_in_flight\{service="soak"\} (\d+)$/m;
fail("retries in flight: " . ($inflight // 'none shown')) if ($inflight // 1) != 0;
for my $g (qw(in_flight queued)) {
    my ($v) = $st =~ /^gateway_concurrency_${g}\{service="capped"\} (\d+)$/m;
    fail("concurrency $g at the end: " . ($v // 'none shown'))
        if ($v // 1) != 0;
}
my %cap = map { $st =~ /^gateway_concurrency_${_}\{service="capped"\} (\d+)$/m
                ? ($_ => $1) : () }
          qw(queued_total admitted_after_queue_total abandoned_total);
$cap{$1} = $2 while $st =~ /^gateway_concurrency_rejected_total\{service="capped",reason="(\w+)"\} (\d+)$/mg;
($cap{deadline}) = $st =~ /^gateway_deadline_exceeded_total\{service="capped"\} (\d+)$/m;
my ($transitions) = $st =~ /^gateway_breaker_transitions_total\{service="soak"\} (\d+)$/m;

# the error log
my %bad;
open my $el, '<', "$o{dir}/logs/error.log" or die "no error.log: $!\n";
while (<$el>) {
    $bad{$1}++ if /\[(alert|emerg)\]/;
    $bad{crash}++ if /exited on signal/;
    $bad{crit}++ if /\[crit\]/;
}
close $el;
fail("error log: " . join(', ', map { "$bad{$_} $_" } sort keys %bad)) if %bad;

my $n = keys %sent;
printf "soak: %d s, %d clients, %d workers: %d requests (%.0f/s), "
       . "%d abandoned by their clients, %d retries, %d breaker transitions\n",
       $o{time}, $o{clients}, $o{workers}, $n, $n / $o{time},
       scalar(keys %abandoned), $retried, $transitions // 0;
printf "soak: statuses %s; %d bodies cut by the function; "
       . "%d in CLOSE-WAIT, %d retries in flight\n",
       join(' ', map { "$_:$status{$_}" } sort keys %status),
       $truncated // 0, $cw, $inflight // -1;

printf "soak: the capped service: %d queued, %d admitted after waiting, "
       . "%d refused (queue full), %d (queue timeout), %d abandoned, "
       . "%d past the deadline\n",
       map { $_ // 0 } @cap{qw(queued_total admitted_after_queue_total
                               queue_full queue_timeout abandoned_total
                               deadline)};

print $fail ? "soak: FAILED\n" : "soak: passed\n";
exit $fail;


# one client process: $n keep-alive connections, each sending a request
# after the last was answered; 2% of requests are abandoned (the
# connection closed without reading), 10% are POSTs with a body
sub client_loop {
    my ($p, $n, $until) = @_;
    open my $out, '>', "$o{dir}/out/$p" or die "$!\n";
    my $seq = 0;
    my (%conn, $sel);
    $sel = IO::Select->new;

    my $open = sub {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp',
                                      Blocking => 0);
        unless ($s) { sleep 0.01; return }
        $conn{fileno $s} = { s => $s, buf => '', id => undef };
        $sel->add($s);
    };
    my $close = sub {
        my ($c) = @_;
        $sel->remove($c->{s});
        delete $conn{fileno $c->{s}};
        close $c->{s};
    };
    my $send = sub {
        my ($c) = @_;
        my $id = "$p-" . $seq++;
        my $key = "k" . int rand 50;
        my $loc = rand() < 0.33 ? 'c' : 's';
        my $req;
        if (rand() < 0.1) {
            my $body = 'b' x (1 + int rand 40000);
            $req = "POST /$loc/$key/random HTTP/1.1\r\nHost: soak\r\n"
                   . "X-Soak-Id: $id\r\nIdempotency-Key: $id\r\n"
                   . "Content-Length: " . length($body) . "\r\n\r\n$body";
        } else {
            $req = "GET /$loc/$key/random HTTP/1.1\r\nHost: soak\r\n"
                   . "X-Soak-Id: $id\r\n\r\n";
        }
        $c->{s}->blocking(1);
        my $ok = print { $c->{s} } $req;
        $c->{s}->blocking(0);
        print $out "sent $id\n";
        if (!$ok) {
            print $out "abandoned $id\n";
            $close->($c);
            return;
        }
        if (rand() < 0.02) {
            sleep 0.001 * int rand 20;
            print $out "abandoned $id\n";
            $close->($c);
            return;
        }
        $c->{id} = $id;
        $c->{since} = time;
    };

    $open->() for 1 .. $n;

    while (%conn || time < $until) {
        if (time < $until) {
            $open->() while keys %conn < $n;
            for my $c (values %conn) {
                $send->($c) unless defined $c->{id};
            }
        }
        last unless %conn;
        for my $s ($sel->can_read(0.2)) {
            my $fd = fileno $s;
            my $c = $conn{$fd} or next;
            my $r = sysread $s, $c->{buf}, 1 << 20, length $c->{buf};
            my $eof = !$r && !($!{EAGAIN} || $!{EWOULDBLOCK});
            while (defined $c->{id}) {
                my $res = parse(\$c->{buf}, $eof);
                last unless $res;
                print $out "got $c->{id} $res->{status} $res->{cut}\n";
                $c->{id} = undef;
                if ($res->{close} || $res->{cut}) {
                    $eof = 1;
                    last;
                }
                $send->($c) if time < $until;
                last unless $conn{$fd};
            }
            next unless $conn{$fd};
            # at EOF an answer still owed will not come: it is lost
            if ($eof || (!defined $c->{id} && time >= $until)) {
                $close->($c);
            }
        }
        # stragglers: 20 s after the end nothing is awaited any more
        last if time > $until + 20;
        if (time >= $until) {
            for my $c (values %conn) {
                $close->($c) unless defined $c->{id};
            }
        }
    }
    close $out;
}

# one whole response from the buffer, consumed: { status, close, cut };
# undef while incomplete.  At EOF an incomplete body is a cut response.
sub parse {
    my ($buf, $eof) = @_;
    my $end = index $$buf, "\r\n\r\n";
    return undef if $end < 0;
    my $head = substr $$buf, 0, $end + 4;
    my ($status) = $head =~ m{^HTTP/1\.\d (\d{3})} or return undef;
    my %h;
    $h{lc $1} = $2 while $head =~ /^([^:\r\n]+):\s*([^\r\n]*)/mg;
    my $close = ($h{connection} // '') =~ /close/i ? 1 : 0;
    my $rest = substr $$buf, $end + 4;
    if (defined $h{'content-length'}) {
        if (length $rest >= $h{'content-length'}) {
            substr $$buf, 0, $end + 4 + $h{'content-length'}, '';
            return { status => $status, close => $close, cut => 0 };
        }
        return $eof ? { status => $status, close => 1, cut => 1 } : undef;
    }
    if (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        my $pos = 0;
        while (1) {
            my $i = index $rest, "\r\n", $pos;
            last if $i < 0;
            my $size = hex substr $rest, $pos, $i - $pos;
            last if length($rest) < $i + 2 + $size + 2;
            $pos = $i + 2 + $size + 2;
            if ($size == 0) {
                substr $$buf, 0, $end + 4 + $pos, '';
                return { status => $status, close => $close, cut => 0 };
            }
        }
        return $eof ? { status => $status, close => 1, cut => 1 } : undef;
    }
    return $eof ? { status => $status, close => 1, cut => 0 } : undef;
}
