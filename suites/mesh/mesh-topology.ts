/** The mesh tier as the suites start it: the shipped envoy.yaml and its one-change variants. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as envoyConfig from '#fixtures/services/envoy-variants.js';
import { REPO_ROOT } from '#fixtures/run/run-folder.js';
import { backendService } from '#fixtures/services/backend.js';
import { envoyService } from '#fixtures/services/envoy.js';
import { toxiproxyService } from '#fixtures/services/toxiproxy.js';
import type { ServiceDefinition } from '#fixtures/topology/topology.js';
import { envoyTlsFiles, type MeshCertificates } from './certificates.js';

export const SHIPPED = readFileSync(join(REPO_ROOT, 'compose', 'envoy', 'envoy.yaml'), 'utf8');
export const POSTGRES_LISTENER = 15432;
export const SLOW_PROXY = 'backend';
export const SLOW_PROXY_PORT = 18080;
/** Test-only parameter: the same bucket refilling over 6 s instead of 60 s, so the refill is observed in seconds. */
export const SHORT_FILL_SECONDS = 6;

/** The document's other admin port, where the shipped file does not put the admin interface. */
export const OTHER_ADMIN_PORT = 15001;

/** The slow-ejection control's threshold: at 2 s between failing checks it ejects after ≥ 38 s, past any bound the suite applies. */
export const SLOW_EJECT_THRESHOLD = 20;

const unlimited = envoyConfig.withRateLimitEnabled(SHIPPED, 0);
const pair = (config: string): string =>
  envoyConfig.withBackendEndpoints(config, [
    { address: 'backend', port: 8080 },
    { address: 'backend-b', port: 8080 },
  ]);

/** Envoy instance name → configuration; each differs from the shipped file by the change its name says. */
export function meshConfigs(): Record<string, string> {
  return {
    envoy: SHIPPED,
    'envoy-ratelimit': SHIPPED,
    'envoy-refill': envoyConfig.withFillInterval(SHIPPED, SHORT_FILL_SECONDS),
    // The shipped bucket (100 tokens, 10/min) admits at most 100 concurrent /api/ requests, so
    // the circuit breaker (100) can only be reached with the limiter off: one change.
    'envoy-unlimited': unlimited,
    'envoy-pair': pair(SHIPPED),
    // The backend behind Toxiproxy, for the per-try timeout. Its active health check is removed: a
    // 3 s latency also times out the 1 s /health check, and two failures eject the only host mid-case
    // (the 4th try then gets no_healthy_upstream instead of its own timeout) — a race, not the claim.
    'envoy-slow': envoyConfig.withoutHealthChecks(
      envoyConfig.withBackendEndpoints(SHIPPED, [{ address: 'toxiproxy', port: SLOW_PROXY_PORT }]),
    ),
    // Negative controls.
    'envoy-no-retries': envoyConfig.withNumRetries(SHIPPED, 0),
    'envoy-cb-10000': envoyConfig.withCircuitBreakerLimit(unlimited, 10_000),
    'envoy-unenforced': envoyConfig.withRateLimitEnforced(SHIPPED, 0),
    'envoy-no-hsts': envoyConfig.withoutResponseHeader(SHIPPED, 'strict-transport-security'),
    'envoy-cors-any': envoyConfig.withCorsAnyOrigin(SHIPPED),
    'envoy-no-hc': envoyConfig.withoutHealthChecks(SHIPPED),
    // Health checks present but slow to act: a failing /health counts towards 20 failures in a row
    // (≥ 19 × 2 s) instead of ejecting at once.
    'envoy-slow-eject': envoyConfig.withSlowEjection(unlimited, SLOW_EJECT_THRESHOLD),
    // The same change on the two-backend topology (the endpoints are the topology, not a second change).
    'envoy-pair-no-hc': pair(envoyConfig.withoutHealthChecks(SHIPPED)),
    'envoy-admin-15001': envoyConfig.withAdminPort(SHIPPED, OTHER_ADMIN_PORT),
    'envoy-catch-all': envoyConfig.withCatchAllRoute(SHIPPED),
  };
}

export function tlsConfigs(): Record<string, string> {
  return {
    'envoy-mtls': envoyConfig.withMtls(SHIPPED),
    'envoy-tls-optional': envoyConfig.withMtls(SHIPPED, { requireClientCertificate: false }),
  };
}

export function meshServices(certs: MeshCertificates): ServiceDefinition[] {
  const tlsFiles = envoyTlsFiles(certs);
  const envoys = Object.entries(meshConfigs()).map(([name, config]) =>
    envoyService({
      name,
      config,
      adminPort: envoyConfig.adminPort(config),
      extraPorts: name === 'envoy' ? [POSTGRES_LISTENER] : [],
      dependsOn: name.includes('pair') ? ['backend', 'backend-b'] : ['backend'],
    }),
  );
  const tls = Object.entries(tlsConfigs()).map(([name, config]) =>
    envoyService({ name, config, extraFiles: tlsFiles, dependsOn: ['backend'] }),
  );
  return [
    backendService({ name: 'backend', tls: certs.backend }),
    backendService({ name: 'backend-b' }),
    toxiproxyService({ routes: [{ name: SLOW_PROXY, listenPort: SLOW_PROXY_PORT, upstream: 'backend:8080' }], dependsOn: ['backend'] }),
    ...envoys,
    ...tls,
  ];
}
