#!/usr/bin/perl
# Role-aware health endpoint for HAProxy (the Patroni REST API convention): a TCP or pgsql
# check cannot tell a primary from a standby, an HTTP check against this agent can.
#   GET /primary  200 when this server accepts writes (not in recovery), else 503
#   GET /replica  200 when this server is a hot standby, else 503
#   GET /read     200 when this server answers queries at all, else 503
#   GET /health   200 with {"role": ...} (503 when PostgreSQL does not answer)
# Uses only core Perl and psql over the local socket, so it runs in the upstream postgres
# image and in the offline one alike. One request at a time is plenty for health checks.
use strict;
use warnings;
use IO::Socket::INET;

my $port = $ENV{HEALTH_AGENT_PORT} || 8008;
my $server = IO::Socket::INET->new(LocalPort => $port, Listen => 64, ReuseAddr => 1, Proto => 'tcp')
  or die "health-agent: cannot listen on $port: $!\n";
$SIG{PIPE} = 'IGNORE';
print STDERR "health-agent: listening on $port\n";

sub role {
  local $ENV{PGCONNECT_TIMEOUT} = '1';
  local $ENV{PGOPTIONS} = '-c statement_timeout=1000';
  my $out = `psql -h /var/run/postgresql -U postgres -d postgres -XAtqc 'SELECT pg_is_in_recovery()' 2>/dev/null`;
  return 'unavailable' if $? != 0;
  chomp $out;
  return $out eq 't' ? 'replica' : $out eq 'f' ? 'primary' : 'unavailable';
}

while (my $client = $server->accept) {
  $client->autoflush(1);
  $client->timeout(2);
  my $request = <$client> // '';
  while (defined(my $line = <$client>)) { last if $line =~ /^\r?\n$/; }
  my ($path) = $request =~ m{^(?:GET|HEAD|OPTIONS)\s+(\S+)};
  $path //= '/';
  my $role = role();
  my $ok = $path eq '/primary' ? $role eq 'primary'
         : $path eq '/replica' ? $role eq 'replica'
         : ($path eq '/read' || $path eq '/health' || $path eq '/') ? $role ne 'unavailable'
         : 0;
  my $body = qq({"role":"$role"}\n);
  my $status = $ok ? '200 OK' : '503 Service Unavailable';
  print $client "HTTP/1.0 $status\r\nContent-Type: application/json\r\nContent-Length: "
    . length($body) . "\r\nConnection: close\r\n\r\n$body";
  close $client;
}
