/** Shared by the failover suites: the on-paper guard and HAProxy endpoints for clients. */
import { failoverConfigVerdict } from '#fixtures/checks/haproxy-timing.js';
import { SHIPPED_HAPROXY_CONFIG, type TierSecrets } from '#fixtures/services/database-tier.js';
import type { StartedHaproxy } from '#fixtures/services/haproxy.js';
import type { PgClientConfig } from '#fixtures/services/postgres.js';

export const FAILOVER_CLAIM_MS = 10_000;

/** Refuses to start containers for a shipped config that cannot meet the claim on paper. */
export function assertShippedConfigCanFailOver(): void {
  const onPaper = failoverConfigVerdict(SHIPPED_HAPROXY_CONFIG, FAILOVER_CLAIM_MS);
  if (onPaper.status !== 'met') {
    throw new Error(`compose/haproxy/haproxy.cfg cannot meet "failover < 10 s": ${onPaper.measured}; ${onPaper.reason}`);
  }
}

export function haproxyEndpoint(secrets: TierSecrets, haproxy: StartedHaproxy, port: number): PgClientConfig {
  const { host, port: mapped } = haproxy.endpoint(port);
  const { username, password, database } = secrets.credentials;
  return { host, port: mapped, user: username, password, database };
}
