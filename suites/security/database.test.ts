/**
 * Least privilege in the database tier, attacked from a container on its network with psql and
 * the right passwords (the worst case: a leaked secret). Each attack must be refused by the tier
 * as deployed and succeed against its old configuration (the negative control):
 *
 *   - postgres-superuser: the superuser `postgres` logging in through HAProxy (5435 reads, 5436
 *     writes), PgBouncer (6432) and the primary directly. Deployed: pg_hba's first rule rejects the
 *     superuser on every TCP connection (local socket only); PgBouncer knows only the application
 *     and console roles. Old: the image's pg_hba, the superuser admitted from anywhere.
 *   - pgbouncer-console: the application's role opening PgBouncer's admin console (database
 *     `pgbouncer`). Deployed: admin_users and stats_users name the console role only. Old: the
 *     application's role among admin_users.
 */
import { afterAll, describe } from 'vitest';
import { printSummary } from '#fixtures/report/measurements.js';
import {
  APP_ROLE,
  databaseTier,
  HAPROXY,
  PGBOUNCER,
  PRIMARY,
  primaryService,
  READ_PORT,
  SHIPPED_PGBOUNCER_INI,
  tierSecrets,
  WRITE_PORT,
} from '#fixtures/services/database-tier.js';
import { POSTGRES_PORT } from '#fixtures/services/postgres.js';
import { topologyTest } from '#fixtures/vitest/topology-test.js';
import { attackerService, judgeAttacks, type StartedAttacker } from './attacker.js';

const PGBOUNCER_PORT = 6432;
const secrets = tierSecrets();
const OLD_PRIMARY = 'postgres-old';

/** The control's PgBouncer: the application's role is a console admin too. */
const appAsConsoleAdmin = SHIPPED_PGBOUNCER_INI.replace(/^admin_users = (.*)$/m, `admin_users = $1, ${APP_ROLE}`);
if (appAsConsoleAdmin === SHIPPED_PGBOUNCER_INI) throw new Error('pgbouncer.ini has no admin_users line to widen for the control');

const test = topologyTest('security-database', [
  ...databaseTier(secrets, { pgbouncerVariants: { 'pgbouncer-old': appAsConsoleAdmin } }),
  primaryService(secrets, { name: OLD_PRIMARY, superuserFromNetwork: true }),
  attackerService('psql-attacker', 'postgres'),
]);

afterAll(() => printSummary('security-database'));

const superuser = { user: secrets.credentials.username, password: secrets.credentials.password };

describe('security: the database logins, attacked from its network with the right passwords', () => {
  test('security.surfaces: the superuser logs in through no proxy and no TCP port (negative control: the image pg_hba)', async ({
    topology,
  }) => {
    const a = topology.get<StartedAttacker>('psql-attacker');
    const shipped = [
      await a.login({ host: HAPROXY, port: READ_PORT, database: 'bss', ...superuser }),
      await a.login({ host: HAPROXY, port: WRITE_PORT, database: 'bss', ...superuser }),
      await a.login({ host: PGBOUNCER, port: PGBOUNCER_PORT, database: 'bss_write', ...superuser }),
      await a.login({ host: PRIMARY, port: POSTGRES_PORT, database: 'postgres', ...superuser }),
    ];
    const old = [await a.login({ host: OLD_PRIMARY, port: POSTGRES_PORT, database: 'postgres', ...superuser })];
    judgeAttacks('postgres-superuser', shipped, old);
  });

  test('security.surfaces: the application role cannot open the PgBouncer console (negative control: bss_app among admin_users)', async ({
    topology,
  }) => {
    const a = topology.get<StartedAttacker>('psql-attacker');
    const app = { user: secrets.app.username, password: secrets.app.password, database: 'pgbouncer', query: 'SHOW USERS' };
    judgeAttacks(
      'pgbouncer-console',
      [await a.login({ host: PGBOUNCER, port: PGBOUNCER_PORT, ...app })],
      [await a.login({ host: 'pgbouncer-old', port: PGBOUNCER_PORT, ...app })],
    );
  });
});
