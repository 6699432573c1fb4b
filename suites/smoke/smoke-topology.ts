/** The smallest topology that runs every image once, with just enough config to be real. */
import { alertmanagerService } from '#fixtures/services/alertmanager.js';
import { envoyService } from '#fixtures/services/envoy.js';
import { nodeExporterService, postgresExporterService } from '#fixtures/services/exporters.js';
import { haproxyService } from '#fixtures/services/haproxy.js';
import { kafkaService } from '#fixtures/services/kafka.js';
import { postgresService } from '#fixtures/services/postgres.js';
import { prometheusService } from '#fixtures/services/prometheus.js';
import type { ServiceDefinition } from '#fixtures/topology/topology.js';

const HAPROXY = `
global
  maxconn 200
defaults
  mode tcp
  timeout connect 3s
  timeout client 30s
  timeout server 30s
frontend postgres_read
  bind :5435
  default_backend postgres
backend postgres
  server postgres postgres:5432 check inter 1s
`;

const ENVOY = `
admin:
  address: { socket_address: { address: 127.0.0.1, port_value: 15000 } }
static_resources:
  listeners:
  - name: proxy
    address: { socket_address: { address: 0.0.0.0, port_value: 15006 } }
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: smoke
          route_config:
            virtual_hosts:
            - name: smoke
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                direct_response: { status: 200, body: { inline_string: "smoke-ok" } }
          http_filters:
          - name: envoy.filters.http.router
            typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router }
`;

const PROMETHEUS = `
global: { scrape_interval: 2s, evaluation_interval: 2s }
scrape_configs:
  - job_name: prometheus
    basic_auth: { username: bss-ops, password_file: /tmp/bss-web/password } # compose/web-auth/start.sh
    static_configs: [{ targets: ['localhost:9090'] }]
  - job_name: node-exporter
    static_configs: [{ targets: ['node-exporter:9100'] }]
  - job_name: postgres-exporter
    static_configs: [{ targets: ['postgres-exporter:9187'] }]
`;

const ALERTMANAGER = `
route: { receiver: default }
receivers: [{ name: default }]
`;

export const smokeServices: readonly ServiceDefinition[] = [
  postgresService(),
  haproxyService({ config: HAPROXY, ports: [5435], dependsOn: ['postgres'] }),
  envoyService({ config: ENVOY }),
  kafkaService({ brokers: 1 }),
  nodeExporterService(),
  postgresExporterService({ postgres: 'postgres' }),
  prometheusService({ config: PROMETHEUS, dependsOn: ['node-exporter', 'postgres-exporter'] }),
  alertmanagerService({ config: ALERTMANAGER }),
];
