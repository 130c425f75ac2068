package GatewayEcho;

# A function that answers with the request it received, for --- tcp_reply
# of a mock (a code ref, called with the bytes the mock read):
#
#     --- tcp_query_auto_timeout: 0.5
#     --- tcp_reply eval
#     \&GatewayEcho::reply
#
# The response body is the request: its method and target, its header
# lines as sent, an empty line and the body.  What belongs to the hop
# between nginx and the function, and changes with nginx's version (the
# HTTP version, HTTP/1.1 from 1.29.7 on, and Connection), is left out,
# so that tests assert what the function is given, on every nginx.

use strict;
use warnings;

sub request {
    my ($raw) = @_;

    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my ($line, @headers) = split /\r\n/, $head // '';

    $line = '' unless defined $line;
    $line =~ s{ HTTP/1\.[01]\z}{} or return "not an HTTP/1.x request: $raw";

    return join '', "$line\n",
                    map({ "$_\n" } grep { !/^connection:/i } @headers),
                    "\n", $body // '', "\n";
}

sub reply {
    my $text = request($_[0]);
    return "HTTP/1.0 201 Created\r\nContent-Length: " . length($text)
           . "\r\n\r\n" . $text;
}

1;
