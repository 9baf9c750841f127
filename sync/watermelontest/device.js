'use strict';
// A device: one WatermelonDB database (LokiJS in memory) signed in as one session, synced with
// the stock synchronize() against mportal over HTTP. Pull and push calls are recorded so the
// scenarios can assert on what went over the wire.

const { Database } = require('@nozbe/watermelondb');
const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default;
const { synchronize } = require('@nozbe/watermelondb/sync');
const { schemaV2, models } = require('./schema');
const { fail, say } = require('./report');

// api calls mportal's REST API (JSON in, JSON out) and throws on a status other than want.
async function api(base, method, path, token, body, want = 200) {
  const init = { method, headers: { Authorization: `Bearer ${token}` } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(base + path, init);
  const text = await res.text();
  if (res.status !== want) {
    throw new Error(`${method} ${path}: status ${res.status}, want ${want}: ${text}`);
  }
  return text ? JSON.parse(text) : null;
}

class Device {
  // name labels the output; token is the session's bearer token; schema and migrations are the
  // app's; lokiAdapter, when given, is the LokiJS persistence adapter that keeps the data across
  // a simulated app restart (see reopen).
  constructor(base, name, token, { schema = schemaV2, migrations, lokiAdapter } = {}) {
    Object.assign(this, { base, name, token, pulls: [], pushes: [] });
    this.lokiAdapter = lokiAdapter;
    this.db = new Database({
      adapter: new LokiJSAdapter({
        dbName: name,
        schema,
        migrations,
        useWebWorker: false,
        // In Node there is no IndexedDB: either value falls back to LokiJS's memory adapter, but
        // `false` makes WatermelonDB log a deprecation warning, which fails these tests.
        useIncrementalIndexedDB: true,
        extraLokiOptions: { autosave: false, ...(lokiAdapter ? { adapter: lokiAdapter } : {}) },
        onSetUpError: (err) => fail(`${name}: database set-up failed: ${err}`),
      }),
      modelClasses: schema.tables ? Object.keys(schema.tables).map((t) => models[t]) : [],
    });
  }

  // sync runs synchronize() once. opts.push replaces the push call (to lose its response or send
  // it twice); opts.migrationsEnabledAtVersion enables migration syncs; opts.rejectedOK lists
  // "table/id" entries the server may reject (any other rejection fails the scenario).
  async sync(opts = {}) {
    const { push, migrationsEnabledAtVersion, rejectedOK = [] } = opts;
    await synchronize({
      database: this.db,
      sendCreatedAsUpdated: true,
      migrationsEnabledAtVersion,
      pullChanges: (args) => this.pull(args),
      pushChanges: async (args) => {
        const result = await (push ? push(args) : this.push(args));
        for (const r of result.rejected) {
          if (!rejectedOK.includes(`${r.table}/${r.id}`)) {
            fail(`${this.name}: the server rejected ${r.table}/${r.id}: ${r.code}: ${r.detail}`);
          }
        }
        // Rejected records stay unsynced on the device (WatermelonDB's experimentalRejectedIds).
        const rejectedIds = {};
        for (const r of result.rejected) (rejectedIds[r.table] ||= []).push(r.id);
        return { experimentalRejectedIds: rejectedIds };
      },
    });
  }

  // pull is the app's pullChanges: GET /v1/sync/pull.
  async pull({ lastPulledAt, schemaVersion, migration }) {
    const q = new URLSearchParams({
      last_pulled_at: lastPulledAt == null ? 'null' : String(lastPulledAt),
      schema_version: String(schemaVersion),
      migration: JSON.stringify(migration ?? null),
    });
    const body = await api(this.base, 'GET', `/v1/sync/pull?${q}`, this.token);
    this.pulls.push({ lastPulledAt, migration, body });
    const counts = Object.entries(body.changes)
      .map(([t, c]) => `${t} ${c.created.length}/${c.updated.length}/${c.deleted.length}`)
      .join(', ');
    say(`${this.name}: pulled since ${lastPulledAt}${migration ? ` with migration ${JSON.stringify(migration)}` : ''}: timestamp ${body.timestamp}; created/updated/deleted: ${counts}`);
    if (body.full_resync) fail(`${this.name}: unexpected full_resync`);
    return { changes: body.changes, timestamp: body.timestamp };
  }

  // push is the app's pushChanges: POST /v1/sync/push. It returns the server's answer.
  async push({ changes, lastPulledAt }) {
    const body = await this.sendPush(changes, lastPulledAt);
    this.pushes.push({ changes, body });
    return body;
  }

  // sendPush sends one push request and returns the server's answer.
  async sendPush(changes, lastPulledAt) {
    const body = await api(this.base, 'POST', `/v1/sync/push?last_pulled_at=${lastPulledAt}`, this.token, { changes });
    const counts = Object.entries(changes)
      .filter(([, c]) => c.created.length + c.updated.length + c.deleted.length > 0)
      .map(([t, c]) => `${t} ${c.created.length}/${c.updated.length}/${c.deleted.length}`)
      .join(', ');
    say(`${this.name}: pushed ${counts}: accepted ${body.accepted}, rejected ${JSON.stringify(body.rejected)}`);
    return body;
  }

  // create creates a record of table with the given raw columns and returns its id.
  async create(table, columns) {
    let id;
    await this.db.write(async () => {
      const rec = await this.db.get(table).create((r) => {
        for (const [k, v] of Object.entries(columns)) r._setRaw(k, v);
      });
      id = rec.id;
    });
    return id;
  }

  // update sets raw columns of a record (WatermelonDB marks them changed, for per-column merge).
  async update(table, id, columns) {
    await this.db.write(async () => {
      const rec = await this.db.get(table).find(id);
      await rec.update((r) => {
        for (const [k, v] of Object.entries(columns)) r._setRaw(k, v);
      });
    });
  }

  // remove marks a record deleted, so the next sync pushes the deletion.
  async remove(table, id) {
    await this.db.write(async () => {
      const rec = await this.db.get(table).find(id);
      await rec.markAsDeleted();
    });
  }

  // all returns the raw records of table (as stored locally, with _status and _changed).
  async all(table) {
    const recs = await this.db.get(table).query().fetch();
    return recs.map((r) => ({ ...r._raw }));
  }

  // get returns one raw record, or undefined.
  async get(table, id) {
    return (await this.all(table)).find((r) => r.id === id);
  }

  // flush writes the in-memory LokiJS database to its persistence adapter, as the app's
  // storage would before it is closed (autosave is off in these tests).
  async flush() {
    // eslint-disable-next-line no-underscore-dangle
    const loki = this.db.adapter.underlyingAdapter._driver.loki;
    await new Promise((resolve, reject) => loki.saveDatabase((err) => (err ? reject(err) : resolve())));
  }

  // api calls the REST API with this device's session.
  api(method, path, body, want) {
    return api(this.base, method, path, this.token, body, want);
  }
}

module.exports = { Device, api };
