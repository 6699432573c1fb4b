/** Shared by the failover suites: the on-paper guard. */
import { failoverConfigVerdict } from '#fixtures/checks/haproxy-timing.js';
import { SHIPPED_HAPROXY_CONFIG } from '#fixtures/services/database-tier.js';

export const FAILOVER_CLAIM_MS = 10_000;

/** Refuses to start containers for a shipped config that cannot meet the claim on paper. */
export function assertShippedConfigCanFailOver(): void {
  const onPaper = failoverConfigVerdict(SHIPPED_HAPROXY_CONFIG, FAILOVER_CLAIM_MS);
  if (onPaper.status !== 'met') {
    throw new Error(`compose/haproxy/haproxy.cfg cannot meet "failover < 10 s": ${onPaper.measured}; ${onPaper.reason}`);
  }
}
