/** Shared by the failover suites: the on-paper guard. */
import { agentMaxAgeMs, failoverConfigVerdict } from '#fixtures/checks/haproxy-timing.js';
import { SHIPPED_HAPROXY_CONFIG, SHIPPED_HEALTH_AGENT } from '#fixtures/services/database-tier.js';
import { boundValue } from '#fixtures/report/bounds.js';

export const FAILOVER_CLAIM_MS = boundValue('db.haproxy.failover', 'outage');
/** How old an answer of the shipped health agent may be: part of the worst-case detection. */
export const AGENT_MAX_AGE_MS = agentMaxAgeMs(SHIPPED_HEALTH_AGENT);

/** Refuses to start containers for a shipped config that cannot meet the claim on paper. */
export function assertShippedConfigCanFailOver(): void {
  const onPaper = failoverConfigVerdict(SHIPPED_HAPROXY_CONFIG, FAILOVER_CLAIM_MS, AGENT_MAX_AGE_MS);
  if (onPaper.status !== 'met') {
    throw new Error(`compose/haproxy/haproxy.cfg cannot meet "failover < 10 s": ${onPaper.measured}; ${onPaper.reason}`);
  }
}
