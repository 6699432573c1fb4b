/**
 * Every Envoy configuration the mesh ships (and every variant the suites derive from it) passes
 * `envoy --mode validate`; one that does not is refused before any container starts, with
 * Envoy's own message. The derived variants differ from the shipped file by exactly their change.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import * as envoyConfig from '#fixtures/services/envoy-variants.js';
import { assertEnvoyConfigsValid, EnvoyConfigError, validateEnvoyConfigs } from '#fixtures/services/envoy.js';
import { Topology } from '#fixtures/topology/topology.js';
import { envoyService } from '#fixtures/services/envoy.js';
import { envoyTlsFiles, generateMeshCertificates } from './certificates.js';
import { meshConfigs, SHIPPED, tlsConfigs } from './mesh-topology.js';

describe('mesh tier: configuration', () => {
  it('envoy --mode validate accepts envoy.yaml, its mTLS variant and every derived variant', async () => {
    const certs = generateMeshCertificates(['envoy-mtls']);
    const results = await validateEnvoyConfigs({ ...meshConfigs(), ...tlsConfigs() }, envoyTlsFiles(certs));
    for (const [name, result] of Object.entries(results)) expect(result.ok, `${name}: ${result.output}`).toBe(true);
    expect(Object.keys(results).length).toBeGreaterThanOrEqual(16);
  });

  it('each variant changes only what its name says', () => {
    expect(envoyConfig.retryPolicy(envoyConfig.withNumRetries(SHIPPED, 0))).toMatchObject({
      numRetries: 0,
      retryOn: ['5xx', 'reset', 'connect-failure'],
    });
    expect(envoyConfig.circuitBreakerLimits(envoyConfig.withCircuitBreakerLimit(SHIPPED, 10_000))).toEqual({
      maxConnections: 10_000,
      maxPendingRequests: 10_000,
      maxRequests: 10_000,
      maxRetries: 3,
    });
    expect(envoyConfig.tokenBucket(envoyConfig.withRateLimitEnforced(SHIPPED, 0))).toMatchObject({
      enforcedPercent: 0,
      enabledPercent: 100,
      maxTokens: 100,
    });
    expect(envoyConfig.responseHeaders(envoyConfig.withoutResponseHeader(SHIPPED, 'strict-transport-security'))).toEqual([
      'x-content-type-options',
      'x-frame-options',
      'content-security-policy',
      'referrer-policy',
    ]);
    // The shipped settings the suites judge against are the document's.
    expect(envoyConfig.tokenBucket(SHIPPED)).toEqual({
      maxTokens: 100,
      tokensPerFill: 10,
      fillIntervalSeconds: 60,
      enabledPercent: 100,
      enforcedPercent: 100,
    });
    expect(envoyConfig.circuitBreakerLimits(SHIPPED)).toEqual({
      maxConnections: 100,
      maxPendingRequests: 100,
      maxRequests: 100,
      maxRetries: 3,
    });
    expect(envoyConfig.retryPolicy(SHIPPED)).toEqual({
      retryOn: ['5xx', 'reset', 'connect-failure'],
      numRetries: 3,
      perTryTimeoutMs: 2000,
    });
    expect(() => envoyConfig.withoutResponseHeader(SHIPPED, 'x-not-there')).toThrow(/no response header "x-not-there"/);
    expect(() => envoyConfig.healthCheckTiming(envoyConfig.withoutHealthChecks(SHIPPED))).toThrow(/has no health_checks/);
    expect(envoyConfig.parseEnvoyConfig(envoyConfig.withCorsAnyOrigin(SHIPPED)).static_resources).toBeDefined();
    expect(envoyConfig.withCorsAnyOrigin(SHIPPED)).toContain('regex: .*');
    expect(envoyConfig.adminPort(SHIPPED)).toBe(15000);
    // The admin has no authentication: loopback only (suites/security attacks it from the network).
    expect(envoyConfig.adminAddress(SHIPPED)).toBe('127.0.0.1');
    expect(envoyConfig.adminAddress(envoyConfig.withAdminAddress(SHIPPED, '0.0.0.0'))).toBe('0.0.0.0');
    expect(envoyConfig.adminPort(envoyConfig.withAdminPort(SHIPPED, 15001))).toBe(15001);
    // Every field that decides when Envoy's health checks run, defaults filled in as Envoy does.
    expect(envoyConfig.healthCheckTiming(SHIPPED)).toEqual({
      timeoutMs: 1000,
      intervalMs: 10_000,
      unhealthyIntervalMs: 2000,
      unhealthyEdgeIntervalMs: 2000,
      healthyEdgeIntervalMs: 10_000,
      noTrafficIntervalMs: 10_000,
      noTrafficHealthyIntervalMs: 10_000,
      intervalJitterMs: 0,
      intervalJitterPercent: 0,
      unhealthyThreshold: 2,
      healthyThreshold: 1,
    });
    // Each variant differs from the shipped file in one place: the rest of the tree is unchanged.
    const rest = (text: string, drop: (c: ReturnType<typeof envoyConfig.parseEnvoyConfig>) => void) => {
      const c = envoyConfig.parseEnvoyConfig(text);
      drop(c);
      return c;
    };
    const withoutHc = (c: ReturnType<typeof envoyConfig.parseEnvoyConfig>) => void delete c.static_resources.clusters[0].health_checks;
    expect(rest(envoyConfig.withoutHealthChecks(SHIPPED), withoutHc)).toEqual(rest(SHIPPED, withoutHc));
    const withoutAdmin = (c: ReturnType<typeof envoyConfig.parseEnvoyConfig>) => void delete c.admin;
    expect(rest(envoyConfig.withAdminPort(SHIPPED, 15001), withoutAdmin)).toEqual(rest(SHIPPED, withoutAdmin));
  });

  it('the mTLS variant renders from the command line as the README says', () => {
    const out = execFileSync(process.execPath, ['fixtures/services/envoy-variants.ts', 'mtls'], { input: SHIPPED, encoding: 'utf8' });
    expect(out).toContain('require_client_certificate: true');
    expect(out).toContain('UpstreamTlsContext');
  });

  it("an invalid Envoy config is refused before any container starts, with Envoy's own message", async () => {
    const broken = SHIPPED.replace('max_tokens: 100', 'max_tokens: "a hundred"');
    const start = async (): Promise<Topology> => {
      await assertEnvoyConfigsValid({ 'envoy (broken)': broken });
      return Topology.start('mesh-invalid', [envoyService({ config: broken })]);
    };
    const error = await start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EnvoyConfigError);
    expect((error as Error).message).toMatch(
      /envoy \(broken\)" does not validate.*max_tokens|envoy \(broken\)" does not validate.*(INVALID|Unable to parse)/s,
    );
    const left = execFileSync('docker', ['ps', '-aq', '--filter', 'label=org.bss.topology=mesh-invalid'], { encoding: 'utf8' }).trim();
    expect(left).toBe('');
  });
});
