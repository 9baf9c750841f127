'use strict';
// The scenarios, one per subtest of cmd/mportal/e2e_watermelon_test.go. Each gets a server on an
// empty database with users alice (three sessions: devices A, B and C), bob (one session) and an
// ops user (cfg.ops, a token for the REST API); `seeded` scenarios also find one announcement for everyone, published by ops, and the inbox
// item it left for each user. Every sync runs the stock synchronize() with sendCreatedAsUpdated.

const assert = require('node:assert/strict');
const { LokiMemoryAdapter } = require('lokijs');
const { schemaMigrations } = require('@nozbe/watermelondb/Schema/migrations');
const { Device, api } = require('./device');
const { schemaV1, schemaV2, migrations, tables, v2Tables, schemaV4, migrationsV4 } = require('./schema');
const { say } = require('./report');

// A fixed time (2026-01-01T00:00:00Z): nothing here depends on the date the test runs on.
const T0 = 1767225600000;

const feedback = (text, extra = {}) => ({
  category: 'bug', text, latitude: 31.23, longitude: 121.47, accuracy_m: 8, app_id: 'portal', build: 230,
  version: '2.3.0', channel: 'stable', platform: 'android', device_model: 'Pixel 8', os_version: '15',
  created_at: T0, share_with_testers: false, ...extra,
});

function devices(cfg, user) {
  const u = cfg.users[user];
  return u.sessions.map((token, i) => new Device(cfg.url, `${user}-${'ABC'[i]}`, token));
}

const asOps = (cfg, method, path, body, want) => api(cfg.url, method, path, cfg.ops, body, want);
const lastPull = (d) => d.pulls[d.pulls.length - 1].body;
const lastPush = (d) => d.pushes[d.pushes.length - 1].body;
const ids = (recs) => recs.map((r) => r.id).sort();

async function expectSynced(d, table, id, columns) {
  const r = await d.get(table, id);
  assert.ok(r, `${d.name} has no ${table}/${id}`);
  assert.equal(r._status, 'synced', `${d.name}: ${table}/${id} is ${r._status}`);
  for (const [k, v] of Object.entries(columns)) assert.deepEqual(r[k], v, `${d.name}: ${table}/${id}.${k}`);
  return r;
}

const scenarios = {
  // The first sync on an empty server: WatermelonDB requires a timestamp > 0, and every table.
  async 'first-sync'(cfg) {
    const [a] = devices(cfg, 'alice');
    await a.sync();
    const first = lastPull(a);
    assert.ok(first.timestamp >= 1, `first timestamp ${first.timestamp}`);
    assert.deepEqual(Object.keys(first.changes).sort(), [...v2Tables].sort(), 'the synced tables (schema 2)');
    for (const [t, c] of Object.entries(first.changes)) {
      assert.equal(c.created.length + c.updated.length + c.deleted.length, 0, `${t} on an empty server`);
    }
    await a.sync();
    assert.equal(a.pulls[1].lastPulledAt, first.timestamp, 'the second pull sends the first timestamp');
    const fid = await a.create('feedback', feedback('First words'));
    await a.sync();
    assert.equal(lastPush(a).accepted, 1);
    await a.sync(); // a sync pulls before it pushes: the server's columns come with the next one
    await expectSynced(a, 'feedback', fid, { text: 'First words', status: 'new', author_name: cfg.users.alice.name });
  },

  // Feedback, a comment and a photo record written on device A reach device B of the same user;
  // a comment from B comes back to A with the counts; another user sees the announcement only.
  async 'create-push-pull'(cfg) {
    const [a, b] = devices(cfg, 'alice');
    const [bob] = devices(cfg, 'bob');
    await a.sync();
    const fid = await a.create('feedback', feedback('Ladder broken at dock 4'));
    await a.sync();
    const cid = await a.create('feedback_comments', { feedback_id: fid, text: 'Photo attached', created_at: T0 + 1 });
    const pid = await a.create('feedback_attachments', {
      feedback_id: fid, filename: 'ladder.jpg', content_type: 'image/jpeg', size: 1234, status: 'pending', created_at: T0 + 2,
    });
    await a.sync();
    assert.equal(lastPush(a).accepted, 2);

    await b.sync();
    await expectSynced(b, 'feedback', fid, {
      text: 'Ladder broken at dock 4', category: 'bug', status: 'new', author_id: cfg.users.alice.id,
      author_name: cfg.users.alice.name, comment_count: 1, latitude: 31.23, app_id: 'portal',
    });
    await expectSynced(b, 'feedback_comments', cid, { text: 'Photo attached', feedback_id: fid, from_ops: false });
    await expectSynced(b, 'feedback_attachments', pid, { filename: 'ladder.jpg', status: 'pending', size: 1234 });
    assert.deepEqual(ids(await b.all('announcements')), [cfg.announcement_id]);
    assert.equal((await b.all('inbox')).length, 1, 'the inbox item of the announcement');

    const cid2 = await b.create('feedback_comments', { feedback_id: fid, text: 'Still broken', created_at: T0 + 3 });
    await b.sync();
    await a.sync();
    await expectSynced(a, 'feedback_comments', cid2, { text: 'Still broken', author_name: cfg.users.alice.name });
    await expectSynced(a, 'feedback', fid, { comment_count: 2 });

    // Ops see it through REST, triage it and reply; both reach the devices.
    const seen = await asOps(cfg, 'GET', `/v1/ops/feedback/${fid}`);
    assert.equal(seen.text, 'Ladder broken at dock 4');
    await asOps(cfg, 'PATCH', `/v1/ops/feedback/${fid}`, { status: 'acknowledged' });
    await asOps(cfg, 'POST', `/v1/ops/feedback/${fid}/replies`, { text: 'A new ladder is on its way' }, 201);
    await a.sync();
    await b.sync();
    for (const d of [a, b]) {
      await expectSynced(d, 'feedback', fid, { status: 'acknowledged', comment_count: 3 });
      const replies = (await d.all('feedback_comments')).filter((c) => c.from_ops);
      assert.deepEqual(replies.map((c) => c.text), ['A new ladder is on its way'], `${d.name}: the ops reply`);
    }

    await bob.sync();
    for (const t of ['feedback', 'feedback_comments', 'feedback_attachments']) {
      assert.deepEqual(await bob.all(t), [], `bob's ${t}: alice's feedback is private`);
    }
    assert.deepEqual(ids(await bob.all('announcements')), [cfg.announcement_id]);
  },

  // A edits the text, B (offline) the category, ops the status; after A, B, A sync both devices
  // and the server have all three edits.
  async 'per-column-merge'(cfg) {
    const [a, b] = devices(cfg, 'alice');
    const fid = await a.create('feedback', feedback('Door sticks'));
    await a.sync();
    await b.sync();
    await a.update('feedback', fid, { text: 'Door sticks when it rains' });
    await b.update('feedback', fid, { category: 'incident' });
    // Meanwhile ops acknowledge it: an ops-owned column, which the devices' pushes must not undo.
    await asOps(cfg, 'PATCH', `/v1/ops/feedback/${fid}`, { status: 'acknowledged' });
    await a.sync();
    await b.sync();
    await a.sync();
    const both = { text: 'Door sticks when it rains', category: 'incident', status: 'acknowledged' };
    await expectSynced(a, 'feedback', fid, both);
    await expectSynced(b, 'feedback', fid, both);
    const server = await a.api('GET', `/v1/feedback/${fid}`);
    assert.deepEqual({ text: server.text, category: server.category, status: server.status }, both, 'the server copy');
  },

  // A record pushed, then deleted on the same device before the next sync: the deletion reaches
  // the server, the other device and a fresh third device.
  async 'delete-after-push'(cfg) {
    const [a, b, c] = devices(cfg, 'alice');
    const keep = await a.create('feedback', feedback('Keep me'));
    const fid = await a.create('feedback', feedback('Wrong site, sorry'));
    await a.sync();
    await b.sync();
    assert.ok(await b.get('feedback', fid), 'B has the record before the delete');
    await a.remove('feedback', fid);
    await a.sync();
    assert.equal(lastPush(a).accepted, 1, 'the delete was accepted');
    assert.deepEqual(ids(await a.all('feedback')), [keep]);
    await b.sync();
    assert.deepEqual(lastPull(b).changes.feedback.deleted, [fid], 'B pulls the deletion');
    assert.deepEqual(ids(await b.all('feedback')), [keep]);
    await c.sync();
    assert.deepEqual(ids(await c.all('feedback')), [keep], 'a third device never sees it');
    await a.api('GET', `/v1/feedback/${fid}`, undefined, 404);
  },

  // A record created and deleted on the device before it was ever pushed: WatermelonDB pushes
  // the deletion of an id the server never saw, which must not be an error or a rejection.
  async 'delete-before-first-push'(cfg) {
    const [a, b] = devices(cfg, 'alice');
    await a.sync();
    const fid = await a.create('feedback', feedback('Typo'));
    await a.remove('feedback', fid);
    await a.sync();
    await a.sync();
    assert.deepEqual(await a.all('feedback'), []);
    await b.sync();
    assert.deepEqual(await b.all('feedback'), []);
    await a.api('GET', `/v1/feedback/${fid}`, undefined, 404);
  },

  // The push reaches the server but its response is lost; the next sync pushes again: one copy
  // of each record, no rejection, nothing logged.
  async 'lost-push-response'(cfg) {
    const [a, b] = devices(cfg, 'alice');
    await a.sync();
    const fid = await a.create('feedback', feedback('Forklift beeps'));
    const cid = await a.create('feedback_comments', { feedback_id: fid, text: 'All night', created_at: T0 + 1 });
    await assert.rejects(
      a.sync({
        push: async ({ changes, lastPulledAt }) => {
          await a.sendPush(changes, lastPulledAt);
          throw new Error('network lost the push response');
        },
      }),
      /network lost the push response/,
    );
    say('alice-A: the push response was lost; syncing again');
    assert.equal((await a.get('feedback', fid))._status, 'created', 'still unsynced locally');
    await a.sync();
    assert.equal(lastPush(a).accepted, 2);
    await expectSynced(a, 'feedback', fid, { text: 'Forklift beeps', comment_count: 1 });
    await expectSynced(a, 'feedback_comments', cid, {});
    const list = await a.api('GET', '/v1/feedback');
    assert.deepEqual(list.items.map((f) => f.id), [fid], 'one copy on the server');
    await b.sync();
    assert.deepEqual(ids(await b.all('feedback')), [fid]);
    assert.deepEqual(ids(await b.all('feedback_comments')), [cid]);
  },

  // The same push sent twice in a row, then twice at once: the answers agree and nothing is
  // created twice.
  async 'replayed-push'(cfg) {
    const [a, b] = devices(cfg, 'alice');
    await a.sync();
    const fid = await a.create('feedback', feedback('Gate code changed'));
    const cid = await a.create('feedback_comments', { feedback_id: fid, text: 'Since Monday', created_at: T0 + 1 });
    const twice = (concurrent) => async ({ changes, lastPulledAt }) => {
      const send = () => a.sendPush(changes, lastPulledAt);
      const [first, second] = concurrent ? await Promise.all([send(), send()]) : [await send(), await send()];
      assert.deepEqual(second, first, `the answers to two copies of one push${concurrent ? ' sent at once' : ''}`);
      return second;
    };
    await a.sync({ push: twice(false) });
    await a.update('feedback', fid, { text: 'Gate code changed again' });
    await a.sync({ push: twice(true) });
    await a.sync();
    await expectSynced(a, 'feedback', fid, { text: 'Gate code changed again', comment_count: 1 });
    const list = await a.api('GET', '/v1/feedback');
    assert.deepEqual(list.items.map((f) => [f.id, f.text]), [[fid, 'Gate code changed again']]);
    await b.sync();
    assert.deepEqual(ids(await b.all('feedback')), [fid]);
    assert.deepEqual(ids(await b.all('feedback_comments')), [cid]);
  },

  // App version 1 has no announcements table; version 2 adds it with a migration. The
  // migration sync after the upgrade brings the announcement published before the first sync.
  async 'migration-sync'(cfg) {
    const [, , token] = cfg.users.alice.sessions;
    const storage = new LokiMemoryAdapter(); // the device's storage, kept across the upgrade
    const v1 = new Device(cfg.url, 'alice-C', token, {
      schema: schemaV1, migrations: schemaMigrations({ migrations: [] }), lokiAdapter: storage,
    });
    await v1.sync({ migrationsEnabledAtVersion: 1 });
    await v1.sync({ migrationsEnabledAtVersion: 1 });
    assert.equal((await v1.all('inbox')).length, 1);
    await v1.flush();

    say('alice-C: app upgraded to schema version 2 (adds announcements)');
    const v2 = new Device(cfg.url, 'alice-C', token, { schema: schemaV2, migrations, lokiAdapter: storage });
    assert.equal((await v2.all('inbox')).length, 1, 'the upgrade kept the local records');
    await v2.sync({ migrationsEnabledAtVersion: 1 });
    assert.deepEqual(v2.pulls[0].migration, { from: 1, tables: ['announcements'], columns: [] });
    await expectSynced(v2, 'announcements', cfg.announcement_id, { title: 'Depot closed' });
    await v2.sync({ migrationsEnabledAtVersion: 1 });
    assert.equal(v2.pulls[1].migration, null, 'one migration sync only');
  },

  // Marking an inbox item read on one device reaches the server and the other device.
  async 'inbox-mark-read'(cfg) {
    const [a, b] = devices(cfg, 'alice');
    await a.sync();
    await b.sync();
    const [item] = await a.all('inbox');
    assert.ok(item, 'the announcement left an inbox item');
    assert.equal(item.read_at, null);
    assert.equal(item.title, 'Depot closed');
    await a.update('inbox', item.id, { read_at: T0 });
    await a.sync();
    assert.equal(lastPush(a).accepted, 1);
    assert.equal((await a.api('GET', '/v1/inbox/unread-count')).unread, 0);
    await b.sync();
    const onB = await expectSynced(b, 'inbox', item.id, {});
    assert.notEqual(onB.read_at, null, 'B sees the item read');
    await a.sync();
    assert.notEqual((await expectSynced(a, 'inbox', item.id, {})).read_at, null);
  },

  // A withdrawn announcement leaves the app: its inbox item and the announcement are deleted on
  // a device that had them, a device syncing for the first time after it never gets them, and
  // the REST inbox no longer counts the item.
  async 'inbox-withdrawn'(cfg) {
    const [a, b] = devices(cfg, 'alice');
    await a.sync();
    const [item] = await a.all('inbox');
    assert.ok(item, 'the announcement left an inbox item');
    assert.equal((await a.api('GET', '/v1/inbox/unread-count')).unread, 1);
    await asOps(cfg, 'POST', `/v1/ops/announcements/${cfg.announcement_id}/withdraw`);
    say('ops withdrew the announcement');
    await a.sync();
    assert.deepEqual(lastPull(a).changes.inbox.deleted, [item.id], 'the item is sent deleted');
    assert.equal((await a.all('inbox')).length, 0, 'A: the item left the inbox');
    assert.equal((await a.all('announcements')).length, 0, 'A: the announcement is gone');
    await b.sync();
    assert.equal((await b.all('inbox')).length, 0, 'B (first sync after it): no item');
    assert.equal((await b.all('announcements')).length, 0);
    assert.equal((await a.api('GET', '/v1/inbox/unread-count')).unread, 0);
    assert.equal((await a.api('GET', '/v1/inbox')).items.length, 0);
    await a.sync();
    assert.equal(lastPull(a).changes.inbox.deleted.length, 0, 'sent deleted once');
  },

  // Announcements are read-only: a pushed edit is listed in `rejected` (and kept, once, in
  // /v1/sync/rejects), the sync itself succeeds, and the server's copy is unchanged.
  async 'announcements-read-only'(cfg) {
    const [a, b] = devices(cfg, 'alice');
    const id = cfg.announcement_id;
    await a.sync();
    await a.update('announcements', id, { title: 'Depot open after all' });
    await a.sync({ rejectedOK: [`announcements/${id}`] });
    const rejected = lastPush(a).rejected;
    assert.deepEqual(rejected.map((r) => [r.table, r.id, r.code]), [['announcements', id, 'forbidden']]);
    // WatermelonDB keeps a rejected record unsynced and pushes it again with every sync: the
    // server keeps one reject of it.
    await a.sync({ rejectedOK: [`announcements/${id}`] });
    assert.equal(lastPush(a).rejected.length, 1, 'the second sync pushed the edit again');
    const stored = await a.api('GET', '/v1/sync/rejects');
    assert.deepEqual(stored.items.map((r) => [r.table, r.record_id]), [['announcements', id]]);
    await b.sync();
    await expectSynced(b, 'announcements', id, { title: 'Depot closed' });
  },

  // Every pulled record fits the app's schema: exactly the declared columns, each of the type
  // WatermelonDB stores (it silently turns a value of another type into ''/0/false/null).
  async 'records-fit-the-schema'(cfg) {
    const [a, b] = devices(cfg, 'alice');
    const fid = await a.create('feedback', feedback('Schema check', { latitude: null, longitude: null, accuracy_m: null }));
    await a.sync();
    await a.create('feedback_comments', { feedback_id: fid, text: 'Comment', created_at: T0 });
    await a.create('feedback_attachments', {
      feedback_id: fid, filename: 'a.png', content_type: 'image/png', size: 10, status: 'pending', created_at: T0,
    });
    await a.sync();
    await b.sync();
    const problems = [];
    for (const [table, c] of Object.entries(lastPull(b).changes)) {
      const columns = Object.fromEntries(tables[table].map((col) => [col.name, col]));
      const records = [...c.created, ...c.updated];
      if (records.length === 0) problems.push(`${table}: no record pulled to check`);
      for (const rec of records) {
        for (const [k, v] of Object.entries(rec)) {
          if (k === 'id') continue;
          const col = columns[k];
          if (!col) {
            problems.push(`${table}.${k}: not a column of the app's schema`);
          } else if (v === null ? !col.isOptional : typeof v !== col.type) {
            problems.push(`${table}.${k}: ${JSON.stringify(v)} does not fit a${col.isOptional ? 'n optional' : ''} ${col.type} column`);
          }
        }
        for (const k of Object.keys(columns)) if (!(k in rec)) problems.push(`${table}.${k}: missing`);
      }
    }
    assert.deepEqual([...new Set(problems)], [], 'pulled values that do not fit the schema');
  },

  // Watch progress (schema 4): alice's phone records progress offline and pushes it; device C,
  // still on schema 2, upgrades to 4 and its migration sync brings the row; C watches the rest
  // offline and pushes; device B pulls the merged, completed row.
  async 'training-progress-migration'(cfg) {
    const video = cfg.training_video_id;
    const d = cfg.training_duration_ms;
    const [tokenA, tokenB, tokenC] = cfg.users.alice.sessions;
    const a = new Device(cfg.url, 'alice-A', tokenA, { schema: schemaV4, migrations: migrationsV4 });
    const storage = new LokiMemoryAdapter();
    const v2 = new Device(cfg.url, 'alice-C', tokenC, { migrations, lokiAdapter: storage });
    await v2.sync({ migrationsEnabledAtVersion: 1 });
    await v2.flush();

    await recordProgress(a, video, [[0, pct(d, 40)]], pct(d, 40));
    await a.sync({ migrationsEnabledAtVersion: 1 });
    assert.equal(lastPush(a).accepted, 1);

    say('alice-C: app upgraded from schema version 2 to 4 (adds approvals, approval_decisions, training_progress)');
    const c = new Device(cfg.url, 'alice-C', tokenC, { schema: schemaV4, migrations: migrationsV4, lokiAdapter: storage });
    await c.sync({ migrationsEnabledAtVersion: 1 });
    assert.deepEqual(c.pulls[0].migration, { from: 2, tables: ['approvals', 'approval_decisions', 'training_progress'], columns: [] });
    const pulled = await expectSynced(c, 'training_progress', video, { video_id: video, completed: false });
    assert.deepEqual(JSON.parse(pulled.ranges), [{ start_ms: 0, end_ms: pct(d, 40) }]);

    await recordProgress(c, video, [[pct(d, 30), d]], d);
    await c.sync({ migrationsEnabledAtVersion: 1 });
    assert.equal(lastPush(c).accepted, 1);

    const b = new Device(cfg.url, 'alice-B', tokenB, { schema: schemaV4, migrations: migrationsV4 });
    await b.sync({ migrationsEnabledAtVersion: 1 });
    const merged = await expectSynced(b, 'training_progress', video, { completed: true, watched_ms: d, last_position_ms: d });
    assert.deepEqual(JSON.parse(merged.ranges), [{ start_ms: 0, end_ms: d }]);
    assert.equal(typeof merged.completed_at, 'number');
    await a.sync({ migrationsEnabledAtVersion: 1 });
    await c.sync({ migrationsEnabledAtVersion: 1 });
    for (const dev of [a, c]) {
      await expectSynced(dev, 'training_progress', video, { ranges: merged.ranges, completed: true, completed_at: merged.completed_at });
    }
  },

  // Two devices of one user watch overlapping parts of a video offline and create the video's
  // row on each; after they sync (A, B, A, B) both hold the union, as does the server.
  async 'training-progress-converge'(cfg) {
    const video = cfg.training_video_id;
    const d = cfg.training_duration_ms;
    const [a, b] = cfg.users.alice.sessions.slice(0, 2).map((token, i) =>
      new Device(cfg.url, `alice-${'AB'[i]}`, token, { schema: schemaV4, migrations: migrationsV4 }));
    await a.sync();
    await b.sync();
    await recordProgress(a, video, [[0, pct(d, 50)]], pct(d, 50), 1000);
    await recordProgress(b, video, [[pct(d, 30), pct(d, 80)]], pct(d, 80), 2000);
    await a.sync();
    await b.sync(); // pulls A's row: B's own columns win the merge, then B pushes them
    await a.sync();
    await b.sync();
    const want = JSON.stringify([{ start_ms: 0, end_ms: pct(d, 80) }]);
    for (const dev of [a, b]) {
      const row = await expectSynced(dev, 'training_progress', video, { ranges: want, completed: false, watched_ms: pct(d, 80) });
      // The last position is the latest report's by the devices' clocks: A reported last.
      assert.equal(row.last_position_ms, pct(d, 50));
    }
    // The pulled row has exactly the schema's columns, each of the type WatermelonDB stores.
    const [pulled] = lastPull(b).changes.training_progress.updated;
    const columns = Object.fromEntries(tables.training_progress.map((col) => [col.name, col]));
    assert.deepEqual(Object.keys(pulled).sort(), ['id', ...Object.keys(columns)].sort());
    for (const [k, col] of Object.entries(columns)) {
      const v = pulled[k];
      assert.ok(v === null ? col.isOptional : typeof v === col.type, `training_progress.${k}: ${JSON.stringify(v)}`);
    }
    const online = await a.api('PUT', `/v1/training/videos/${video}/progress`, { ranges: [], last_position_ms: pct(d, 50) });
    assert.deepEqual(online.ranges, [{ start_ms: 0, end_ms: pct(d, 80) }]);
  },
};

// pct is p % of the duration d, in whole milliseconds.
const pct = (d, p) => Math.round((d * p) / 100);

// recordProgress is what a player does offline: it merges the spans it watched into the video's
// row (created with the video's id when missing) and records the position and the time. The
// columns are set in an update, after the create, so WatermelonDB tracks them as changed: its
// per-column merge then keeps them when a pull brings the row another device wrote meanwhile (a
// record's columns set while it is created are not tracked, and a pull would overwrite them).
async function recordProgress(dev, video, spans, position, agoMs = 0) {
  await dev.db.write(async () => {
    const coll = dev.db.get('training_progress');
    let row = (await coll.query().fetch()).find((r) => r.id === video);
    if (!row) {
      row = await coll.create((r) => {
        r._raw.id = video;
        r._setRaw('video_id', video);
        r._setRaw('ranges', '[]');
      });
    }
    const ranges = [...JSON.parse(row._getRaw('ranges') || '[]'), ...spans.map(([s, e]) => ({ start_ms: s, end_ms: e }))];
    await row.update((r) => {
      r._setRaw('ranges', JSON.stringify(ranges));
      r._setRaw('last_position_ms', position);
      r._setRaw('reported_at_ms', Date.now() - agoMs);
    });
  });
}

Object.assign(scenarios, require('./approval_scenarios').approvalScenarios);

module.exports = { scenarios };
