/**
 * Pure functions over envoy.yaml: each variant is the shipped configuration with one named
 * change (negative controls, the mTLS variant, test-only parameters). No I/O; the caller reads
 * compose/envoy/envoy.yaml and writes the result wherever Envoy needs it.
 *
 *   node compose/envoy/variants.ts mtls < compose/envoy/envoy.yaml > envoy-mtls.yaml
 * prints the mTLS variant (certificates expected under /etc/envoy/tls/).
 */
import { parse, stringify } from 'yaml';

// Envoy's configuration is a deep JSON tree; the functions below address it by name.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Node = any;

export const PROXY_LISTENER = 'proxy';
export const BACKEND_CLUSTER = 'bss_backend_cluster';
export const TLS_DIR = '/etc/envoy/tls';
export const SECURITY_HEADERS = [
  'strict-transport-security',
  'x-content-type-options',
  'x-frame-options',
  'content-security-policy',
] as const;

export interface RetryPolicy {
  readonly retryOn: readonly string[];
  readonly numRetries: number;
  readonly perTryTimeoutMs: number | undefined;
}

export interface TokenBucket {
  readonly maxTokens: number;
  readonly tokensPerFill: number;
  readonly fillIntervalSeconds: number;
  readonly enabledPercent: number;
  readonly enforcedPercent: number;
}

export interface CircuitBreakerLimits {
  readonly maxConnections: number;
  readonly maxPendingRequests: number;
  readonly maxRequests: number;
  readonly maxRetries: number;
}

export function parseEnvoyConfig(text: string): Node {
  return parse(text) as Node;
}

export function renderEnvoyConfig(config: Node): string {
  return stringify(config, { lineWidth: 0 });
}

function edit(text: string, change: (config: Node) => void): string {
  const config = parseEnvoyConfig(text);
  change(config);
  return renderEnvoyConfig(config);
}

function one<T>(items: readonly T[] | undefined, predicate: (item: T) => boolean, what: string): T {
  const found = (items ?? []).find(predicate);
  if (found === undefined) throw new Error(`envoy.yaml: ${what} not found`);
  return found;
}

function httpConnectionManager(config: Node): Node {
  const listener = one<Node>(config.static_resources?.listeners, (l) => l.name === PROXY_LISTENER, `listener "${PROXY_LISTENER}"`);
  return one<Node>(
    listener.filter_chains[0].filters,
    (f) => f.name === 'envoy.filters.network.http_connection_manager',
    'HTTP connection manager',
  ).typed_config;
}

function apiRoute(config: Node): Node {
  const host = httpConnectionManager(config).route_config.virtual_hosts[0];
  return one<Node>(host.routes, (r) => r.match?.prefix === '/api/', 'route /api/');
}

function backendCluster(config: Node): Node {
  return one<Node>(config.static_resources?.clusters, (c) => c.name === BACKEND_CLUSTER, `cluster "${BACKEND_CLUSTER}"`);
}

function rateLimit(config: Node): Node {
  return apiRoute(config).typed_per_filter_config['envoy.filters.http.local_ratelimit'];
}

function seconds(duration: string | undefined): number | undefined {
  if (duration === undefined) return undefined;
  const match = /^(\d+(?:\.\d+)?)s$/.exec(String(duration));
  if (!match) throw new Error(`envoy.yaml: duration "${duration}" is not in seconds (e.g. "2s")`);
  return Number(match[1]);
}

// ---------- reading the shipped settings ----------

export function retryPolicy(text: string): RetryPolicy {
  const policy = apiRoute(parseEnvoyConfig(text)).route.retry_policy ?? {};
  const perTry = seconds(policy.per_try_timeout);
  return {
    retryOn: String(policy.retry_on ?? '')
      .split(',')
      .filter(Boolean),
    numRetries: Number(policy.num_retries ?? 1),
    perTryTimeoutMs: perTry === undefined ? undefined : perTry * 1000,
  };
}

export function tokenBucket(text: string): TokenBucket {
  const limiter = rateLimit(parseEnvoyConfig(text));
  const scale: Record<string, number> = { HUNDRED: 1, TEN_THOUSAND: 100, MILLION: 10_000 };
  // Unset means 0 %: the filter then neither counts nor limits.
  const percent = (fraction: Node): number =>
    (fraction?.default_value?.numerator ?? 0) / (scale[fraction?.default_value?.denominator ?? 'HUNDRED'] ?? 1);
  return {
    maxTokens: Number(limiter.token_bucket.max_tokens),
    tokensPerFill: Number(limiter.token_bucket.tokens_per_fill ?? 1),
    fillIntervalSeconds: seconds(limiter.token_bucket.fill_interval)!,
    enabledPercent: percent(limiter.filter_enabled),
    enforcedPercent: percent(limiter.filter_enforced),
  };
}

export function circuitBreakerLimits(text: string): CircuitBreakerLimits {
  const t = backendCluster(parseEnvoyConfig(text)).circuit_breakers.thresholds[0];
  return {
    maxConnections: Number(t.max_connections ?? 1024),
    maxPendingRequests: Number(t.max_pending_requests ?? 1024),
    maxRequests: Number(t.max_requests ?? 1024),
    maxRetries: Number(t.max_retries ?? 3),
  };
}

/**
 * The active health check as Envoy reads it, every field that decides when the next check runs,
 * with Envoy's defaults filled in (HealthCheckerImplBase's constructor): unhealthy_interval →
 * interval, unhealthy_edge_interval → unhealthy_interval, healthy_edge_interval → interval,
 * no_traffic_interval → 60 s, no_traffic_healthy_interval → no_traffic_interval, jitter → 0.
 */
export interface HealthCheckTiming {
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly unhealthyIntervalMs: number;
  readonly unhealthyEdgeIntervalMs: number;
  readonly healthyEdgeIntervalMs: number;
  readonly noTrafficIntervalMs: number;
  readonly noTrafficHealthyIntervalMs: number;
  readonly intervalJitterMs: number;
  readonly intervalJitterPercent: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
}

export function healthCheckTiming(text: string): HealthCheckTiming {
  const checks: Node[] | undefined = backendCluster(parseEnvoyConfig(text)).health_checks;
  if (!checks?.length) throw new Error(`envoy.yaml: cluster "${BACKEND_CLUSTER}" has no health_checks`);
  if (checks.length > 1) throw new Error(`envoy.yaml: cluster "${BACKEND_CLUSTER}" has ${checks.length} health checks; one is expected`);
  const hc = checks[0];
  const ms = (field: string, fallback?: number): number => {
    const value = seconds(hc[field]);
    if (value !== undefined) return value * 1000;
    if (fallback === undefined) throw new Error(`envoy.yaml: health check field "${field}" is required`);
    return fallback;
  };
  const interval = ms('interval');
  const unhealthyInterval = ms('unhealthy_interval', interval);
  const noTraffic = ms('no_traffic_interval', 60_000);
  return {
    timeoutMs: ms('timeout'),
    intervalMs: interval,
    unhealthyIntervalMs: unhealthyInterval,
    unhealthyEdgeIntervalMs: ms('unhealthy_edge_interval', unhealthyInterval),
    healthyEdgeIntervalMs: ms('healthy_edge_interval', interval),
    noTrafficIntervalMs: noTraffic,
    noTrafficHealthyIntervalMs: ms('no_traffic_healthy_interval', noTraffic),
    intervalJitterMs: ms('interval_jitter', 0),
    intervalJitterPercent: Number(hc.interval_jitter_percent ?? 0),
    unhealthyThreshold: Number(hc.unhealthy_threshold),
    healthyThreshold: Number(hc.healthy_threshold),
  };
}

export function adminPort(text: string): number {
  return Number(parseEnvoyConfig(text).admin?.address?.socket_address?.port_value);
}

export function responseHeaders(text: string): string[] {
  const filter = one<Node>(
    httpConnectionManager(parseEnvoyConfig(text)).http_filters,
    (f) => f.name === 'envoy.filters.http.header_mutation',
    'header_mutation filter',
  );
  return filter.typed_config.mutations.response_mutations.map((m: Node) => String(m.append.header.key).toLowerCase());
}

// ---------- variants: one change each ----------

export function withNumRetries(text: string, numRetries: number): string {
  return edit(text, (c) => void (apiRoute(c).route.retry_policy.num_retries = numRetries));
}

/** max_connections, max_pending_requests and max_requests set to `limit` (max_retries unchanged). */
export function withCircuitBreakerLimit(text: string, limit: number): string {
  return edit(text, (c) => {
    const t = backendCluster(c).circuit_breakers.thresholds[0];
    Object.assign(t, { max_connections: limit, max_pending_requests: limit, max_requests: limit });
  });
}

export function withRateLimitEnforced(text: string, percent: number): string {
  return edit(text, (c) => void (rateLimit(c).filter_enforced.default_value.numerator = percent));
}

export function withRateLimitEnabled(text: string, percent: number): string {
  return edit(text, (c) => void (rateLimit(c).filter_enabled.default_value.numerator = percent));
}

/** Test-only: the same bucket refilling over a shorter interval (tokens_per_fill unchanged). */
export function withFillInterval(text: string, fillIntervalSeconds: number): string {
  return edit(text, (c) => void (rateLimit(c).token_bucket.fill_interval = `${fillIntervalSeconds}s`));
}

export function withoutResponseHeader(text: string, header: string): string {
  return edit(text, (c) => {
    const filter = one<Node>(
      httpConnectionManager(c).http_filters,
      (f) => f.name === 'envoy.filters.http.header_mutation',
      'header_mutation filter',
    );
    const mutations: Node[] = filter.typed_config.mutations.response_mutations;
    const kept = mutations.filter((m) => String(m.append.header.key).toLowerCase() !== header.toLowerCase());
    if (kept.length === mutations.length) throw new Error(`envoy.yaml: no response header "${header}" to drop`);
    filter.typed_config.mutations.response_mutations = kept;
  });
}

/** Active health checking removed from the backend cluster (outlier detection stays). */
export function withoutHealthChecks(text: string): string {
  return edit(text, (c) => {
    const cluster = backendCluster(c);
    if (!cluster.health_checks) throw new Error(`envoy.yaml: cluster "${BACKEND_CLUSTER}" has no health_checks to remove`);
    delete cluster.health_checks;
  });
}

/** The CORS allow list widened to every origin (a regex matching anything). */
export function withCorsAnyOrigin(text: string): string {
  return edit(text, (c) => {
    const host = httpConnectionManager(c).route_config.virtual_hosts[0];
    const cors = host.typed_per_filter_config?.['envoy.filters.http.cors'];
    if (!cors) throw new Error('envoy.yaml: no CORS policy on the virtual host');
    cors.allow_origin_string_match = [{ safe_regex: { regex: '.*' } }];
  });
}

/** The admin listener on another port. */
export function withAdminPort(text: string, port: number): string {
  return edit(text, (c) => void (c.admin.address.socket_address.port_value = port));
}

/** A catch-all route to the backend after the shipped ones: every path reaches it (the routing check's control). */
export function withCatchAllRoute(text: string): string {
  return edit(text, (c) => {
    httpConnectionManager(c).route_config.virtual_hosts[0].routes.push({ match: { prefix: '/' }, route: { cluster: BACKEND_CLUSTER } });
  });
}

/** The admin on another address (0.0.0.0: open to the network, as shipped before the admin moved to loopback). */
export function withAdminAddress(text: string, address: string): string {
  return edit(text, (c) => void (c.admin.address.socket_address.address = address));
}

/** The admin's listening address as configured (127.0.0.1 as shipped). */
export function adminAddress(text: string): string {
  return String(parseEnvoyConfig(text).admin?.address?.socket_address?.address);
}

export function withBackendEndpoints(text: string, endpoints: ReadonlyArray<{ address: string; port: number }>): string {
  return edit(text, (c) => {
    backendCluster(c).load_assignment.endpoints[0].lb_endpoints = endpoints.map(({ address, port }) => ({
      endpoint: { address: { socket_address: { address, port_value: port } } },
    }));
  });
}

/**
 * "mTLS ready": the proxy listener terminates TLS with the server certificate and verifies
 * client certificates against the CA (required unless `requireClientCertificate` is false),
 * and Envoy speaks TLS to the backend on `upstreamTlsPort`, verifying its certificate.
 * Files: ca.crt, server.crt, server.key, client.crt, client.key under /etc/envoy/tls/.
 */
export function withMtls(text: string, options: { requireClientCertificate?: boolean; upstreamTlsPort?: number } = {}): string {
  const require = options.requireClientCertificate ?? true;
  const upstreamPort = options.upstreamTlsPort ?? 8443;
  return edit(text, (c) => {
    const listener = one<Node>(c.static_resources.listeners, (l) => l.name === PROXY_LISTENER, 'proxy listener');
    listener.filter_chains[0].transport_socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
        require_client_certificate: require,
        common_tls_context: {
          tls_certificates: [
            { certificate_chain: { filename: `${TLS_DIR}/server.crt` }, private_key: { filename: `${TLS_DIR}/server.key` } },
          ],
          validation_context: { trusted_ca: { filename: `${TLS_DIR}/ca.crt` } },
        },
      },
    };
    const cluster = backendCluster(c);
    for (const lb of cluster.load_assignment.endpoints[0].lb_endpoints) lb.endpoint.address.socket_address.port_value = upstreamPort;
    cluster.transport_socket = {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address,
        common_tls_context: {
          tls_certificates: [
            { certificate_chain: { filename: `${TLS_DIR}/client.crt` }, private_key: { filename: `${TLS_DIR}/client.key` } },
          ],
          validation_context: { trusted_ca: { filename: `${TLS_DIR}/ca.crt` } },
        },
      },
    };
  });
}

const CLI: Record<string, (text: string) => string> = { mtls: (text) => withMtls(text) };

if (import.meta.url === `file://${process.argv[1]}`) {
  const variant = process.argv[2] ?? '';
  const render = CLI[variant];
  if (!render) {
    console.error(`usage: node compose/envoy/variants.ts <${Object.keys(CLI).join('|')}> < envoy.yaml`);
    process.exit(2);
  }
  const chunks: Buffer[] = [];
  process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
  process.stdin.on('end', () => process.stdout.write(render(Buffer.concat(chunks).toString('utf8'))));
}
