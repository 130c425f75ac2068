package GatewayRedis;

# A real redis-server (Debian's) for a test script, on a free port, with
# no persistence, in a directory of its own; stopped when the script
# ends.  Commands go over RESP on a plain socket (core Perl only).
#
#   my $port = GatewayRedis::start(%opts);   # once; sets $ENV{TEST_NGINX_REDIS_PORT}
#       opts: acl => [ 'user gw on >secret ~* +@all', ... ]  (ACL lines)
#   GatewayRedis::cmd('GET', 'k')      # the reply (array ref for arrays;
#                                      # die on an error reply)
#   GatewayRedis::stop(); GatewayRedis::restart();
#   GatewayRedis::sleep_async($secs)   # DEBUG SLEEP, not waited for

use strict;
use warnings;

use File::Temp ();
use GatewayProc ();
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep time);

my ($pid, $port, $dir, %opts, $owner);

sub bin {
    for my $b ('/usr/bin/redis-server', '/usr/sbin/redis-server') {
        return $b if -x $b;
    }
    die "redis-server is missing: apt-get install redis-server\n";
}

sub start {
    %opts = @_ if @_;
    return $port if $pid;
    $owner = $$;
    $dir //= File::Temp::tempdir('gw-redis-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    $port //= GatewayProc::free_port();
    spawn();
    $ENV{TEST_NGINX_REDIS_PORT} = $port;
    return $port;
}

sub spawn {
    my @args = (bin(), '--port', $port, '--bind', '127.0.0.1',
                '--save', '', '--appendonly', 'no', '--dir', $dir,
                '--daemonize', 'no', '--logfile', "$dir/redis.log",
                '--enable-debug-command', 'local');
    if ($opts{acl}) {
        open my $fh, '>', "$dir/users.acl" or die "$!\n";
        print $fh "$_\n" for @{ $opts{acl} };
        close $fh;
        push @args, '--aclfile', "$dir/users.acl";
    }
    $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec @args or POSIX::_exit(127);
    }
    my $deadline = time + 10;
    while (time < $deadline) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp');
        return if $s;
        sleep 0.05;
    }
    die "redis-server did not start on port $port\n";
}

sub port { $port }

sub stop {
    return unless $pid;
    kill 'TERM', $pid;
    waitpid $pid, 0;
    undef $pid;
}

sub restart {
    stop();
    spawn();
}

sub encode {
    my $out = '*' . scalar(@_) . "\r\n";
    $out .= '$' . length($_) . "\r\n$_\r\n" for @_;
    return $out;
}

sub read_reply {
    my ($s) = @_;
    my $line = <$s> // die "redis closed\n";
    $line =~ s/\r\n$//;
    my ($t, $rest) = (substr($line, 0, 1), substr($line, 1));
    return $rest if $t eq '+' || $t eq ':';
    die "redis: $rest\n" if $t eq '-';
    if ($t eq '$') {
        return undef if $rest < 0;
        my $buf = '';
        read($s, $buf, $rest + 2) == $rest + 2 or die "short read\n";
        return substr($buf, 0, $rest);
    }
    if ($t eq '*') {
        return undef if $rest < 0;
        return [ map { read_reply($s) } 1 .. $rest ];
    }
    die "bad reply line: $line\n";
}

# a fresh connection, as the default user
sub connect_redis {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or die "connect to redis: $!\n";
    return $s;
}

# a command on a fresh connection
sub cmd {
    my @cmd = @_;
    my $s = connect_redis();
    print $s encode(@cmd);
    my $r = read_reply($s);
    close $s;
    return $r;
}

# DEBUG SLEEP on its own connection, not waited for: Redis answers
# nobody meanwhile
sub sleep_async {
    my ($secs) = @_;
    my $s = connect_redis();
    print $s encode('DEBUG', 'SLEEP', $secs);
    return $s;
}

END { stop() if $pid && defined $owner && $$ == $owner; }

1;
