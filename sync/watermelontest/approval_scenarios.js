'use strict';
// The approvals scenarios (app schema 3): the approver's tasks come from signed OA events that
// the Go test sends (cfg.oa: POST an event, get the server's status and, once the event worker
// processed it, its result); decisions are made offline by creating approval_decisions records.

const assert = require('node:assert/strict');
const { LokiMemoryAdapter } = require('lokijs');
const { Device } = require('./device');
const { schemaV2, schemaV3, migrations, migrationsV3, tables } = require('./schema');
const { say } = require('./report');

// A fixed time (2026-01-01T00:00:00Z): nothing here depends on the date the test runs on.
const T0 = 1767225600000;

// oa sends one event as the OA integration "oa" and returns its processing result (applied or
// stale); the server must answer want (202: accepted).
async function oa(cfg, event, want = 202) {
  const res = await fetch(cfg.oa, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(event) });
  const text = await res.text();
  assert.equal(res.status, 200, `the OA helper: ${text}`);
  const out = JSON.parse(text);
  assert.equal(out.status, want, `the server answered ${out.status} to an OA event: ${JSON.stringify(out.answer)}`);
  return out.result;
}

const instance = (id, version, status) => ({
  id, flow_code: 'expense', flow_name: 'Expense claim', title: `Trip ${id}`,
  applicant: { employee_no: 'E7003', name: 'Wang Fang', department: 'Sales' },
  summary: [{ label: 'Amount', value: '¥3,200.00' }], attachments: [{ name: 'receipt.pdf', url: 'https://oa.example.com/f/1' }],
  deep_link: `https://oa.example.com/m/${id}`, status, version,
});
const task = (id, approver, version, status = 'PENDING') => ({
  id, node_id: 'manager', node_name: 'Manager review', node_mode: 'OR', approver_employee_no: approver, status,
  created_at: new Date(T0).toISOString(), due_at: null,
  actions: [{ action: 'approve', reason_required: false }, { action: 'reject', reason_required: true }],
  action_context: `ctx-${id}`, version,
});
const taskEvent = (type, iid, tid, approver, version = 1) => ({
  type, data: { instance: instance(iid, version, 'PENDING'), task: task(tid, approver, version) },
});
const created = (iid, tid, approver) => taskEvent('approval.task.created', iid, tid, approver);

// devices returns the user's devices on app schema 3.
function devices(cfg, user) {
  return cfg.users[user].sessions.map(
    (token, i) => new Device(cfg.url, `${user}-${'ABC'[i]}`, token, { schema: schemaV3, migrations: migrationsV3 }),
  );
}

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

// fitsSchema checks that a pulled approvals record has exactly the schema's columns, each of the
// type WatermelonDB stores.
function fitsSchema(table, rec) {
  const columns = Object.fromEntries(tables[table].map((c) => [c.name, c]));
  for (const [k, v] of Object.entries(rec)) {
    if (k === 'id') continue;
    const col = columns[k];
    assert.ok(col, `${table}.${k}: not a column of the app's schema`);
    assert.ok(v === null ? col.isOptional : typeof v === col.type, `${table}.${k}: ${JSON.stringify(v)} does not fit ${col.type}`);
  }
  for (const k of Object.keys(columns)) assert.ok(k in rec, `${table}.${k}: missing`);
}

const approvalScenarios = {
  // App schema 2 syncs while alice already has a task; after the upgrade to 3 (createTable
  // migrations, same storage) the migration sync adds both tables and brings the task.
  async 'approvals-migration-sync'(cfg) {
    const alice = cfg.users.alice;
    assert.equal(await oa(cfg, created('I1', 'T1', alice.employee_no)), 'applied');
    const token = alice.sessions[2];
    const storage = new LokiMemoryAdapter(); // the device's storage, kept across the upgrade
    const v2 = new Device(cfg.url, 'alice-C', token, { schema: schemaV2, migrations, lokiAdapter: storage });
    await v2.sync({ migrationsEnabledAtVersion: 2 });
    assert.ok(!('approvals' in lastPull(v2).changes), 'schema 2 pulls no approvals');
    await v2.sync({ migrationsEnabledAtVersion: 2 });
    await v2.flush();

    say('alice-C: app upgraded to schema version 3 (adds approvals and approval_decisions)');
    const v3 = new Device(cfg.url, 'alice-C', token, { schema: schemaV3, migrations: migrationsV3, lokiAdapter: storage });
    await v3.sync({ migrationsEnabledAtVersion: 2 });
    assert.deepEqual(v3.pulls[0].migration, { from: 2, tables: ['approvals', 'approval_decisions'], columns: [] });
    const changes = lastPull(v3).changes;
    assert.deepEqual(ids(changes.approvals.updated), ['oa:T1']);
    fitsSchema('approvals', changes.approvals.updated[0]);
    assert.equal(changes.approval_decisions.updated.length, 0, 'decisions are push-only');
    const t1 = await expectSynced(v3, 'approvals', 'oa:T1', {
      status: 'pending', title: 'Trip I1', source: 'oa', node_name: 'Manager review', version: 1, created_at: T0,
      decided_at: null, applicant_name: 'Wang Fang',
    });
    assert.deepEqual(JSON.parse(t1.actions).map((a) => a.action), ['approve', 'reject']);
    assert.deepEqual(JSON.parse(t1.summary), [{ label: 'Amount', value: '¥3,200.00' }]);
    await v3.sync({ migrationsEnabledAtVersion: 2 });
    assert.equal(v3.pulls[1].migration, null, 'one migration sync only');
  },

  // Alice decides two tasks offline; meanwhile the applicant withdraws the second. The sync
  // pushes both: the first is applied and comes back decided, the second is rejected with the
  // reason, which GET /v1/sync/rejects shows. The app then drops the rejected decision.
  async 'approvals-decide-offline'(cfg) {
    const alice = cfg.users.alice;
    const [a, b] = devices(cfg, 'alice');
    await oa(cfg, created('I1', 'T1', alice.employee_no));
    await oa(cfg, created('I2', 'T2', alice.employee_no));
    await a.sync();
    assert.deepEqual(ids(await a.all('approvals')), ['oa:T1', 'oa:T2']);
    const t1 = await expectSynced(a, 'approvals', 'oa:T1', { status: 'pending' });
    const t2 = await expectSynced(a, 'approvals', 'oa:T2', { status: 'pending' });

    say('alice-A: offline, approves T1 and rejects T2');
    const d1 = await a.create('approval_decisions', { task_id: t1.id, action: 'approve', reason: '', task_version: t1.version });
    const d2 = await a.create('approval_decisions', { task_id: t2.id, action: 'reject', reason: 'Over budget', task_version: t2.version });
    say('the applicant withdraws I2 meanwhile');
    assert.equal(await oa(cfg, { type: 'approval.instance.updated', data: { instance: instance('I2', 2, 'CANCELED') } }), 'applied');

    const rejectedOK = [`approval_decisions/${d2}`];
    await a.sync({ rejectedOK });
    const push = lastPush(a);
    assert.equal(push.accepted, 1, 'the decision on T1 is applied');
    assert.deepEqual(push.rejected.map((r) => [r.table, r.id, r.code, r.field]), [['approval_decisions', d2, 'conflict', 'task_id']]);
    assert.match(push.rejected[0].detail, /withdrawn/);
    const stored = await a.api('GET', '/v1/sync/rejects');
    assert.deepEqual(stored.items.map((r) => [r.table, r.record_id, r.code]), [['approval_decisions', d2, 'conflict']]);
    assert.match(stored.items[0].detail, /withdrawn/);
    await expectSynced(a, 'approval_decisions', d1, { task_id: 'oa:T1', action: 'approve' });
    await expectSynced(a, 'approvals', 'oa:T2', { status: 'withdrawn', actions: '[]' });

    // A sync pulls before it pushes: the decision's effect comes with the next one.
    await a.sync({ rejectedOK });
    const decided = await expectSynced(a, 'approvals', 'oa:T1', { status: 'approved', actions: '[]' });
    assert.ok(decided.decided_at > 0, 'decided_at is set');
    const detail = await a.api('GET', '/v1/approvals/oa:T1');
    assert.equal(detail.decision.action, 'approve');
    assert.equal(detail.decision.via, 'mobile');

    await b.sync();
    await expectSynced(b, 'approvals', 'oa:T1', { status: 'approved' });
    await expectSynced(b, 'approvals', 'oa:T2', { status: 'withdrawn' });
    assert.deepEqual(await b.all('approval_decisions'), [], 'decisions are not pulled');

    say('alice-A: drops the rejected decision');
    await a.remove('approval_decisions', d2);
    await a.sync();
    assert.deepEqual(lastPush(a).rejected, [], 'deleting a decision is a no-op, not a rejection');
    assert.deepEqual(ids(await a.all('approval_decisions')), [d1]);
  },

  // Alice and bob each pull their own tasks only. When the OA hands alice's task to bob, it
  // leaves alice's device (deleted) and reaches bob's; a decision alice made offline on it is
  // rejected.
  async 'approvals-per-approver'(cfg) {
    const { alice, bob } = cfg.users;
    const [a] = devices(cfg, 'alice');
    const [b] = devices(cfg, 'bob');
    await oa(cfg, created('I1', 'TA', alice.employee_no));
    await oa(cfg, created('I2', 'TB', bob.employee_no));
    await a.sync();
    await b.sync();
    assert.deepEqual(ids(await a.all('approvals')), ['oa:TA']);
    assert.deepEqual(ids(await b.all('approvals')), ['oa:TB']);

    const ta = await expectSynced(a, 'approvals', 'oa:TA', {});
    const d = await a.create('approval_decisions', { task_id: ta.id, action: 'approve', reason: '', task_version: ta.version });
    say('the OA transfers TA from alice to bob');
    assert.equal(await oa(cfg, taskEvent('approval.task.updated', 'I1', 'TA', bob.employee_no, 2)), 'applied');

    await a.sync({ rejectedOK: [`approval_decisions/${d}`] });
    assert.ok(lastPull(a).changes.approvals.deleted.includes('oa:TA'), 'the pull deletes the task alice no longer holds');
    assert.deepEqual(await a.all('approvals'), []);
    const rejected = lastPush(a).rejected;
    assert.deepEqual(rejected.map((r) => [r.id, r.code]), [[d, 'not_found']]);
    await a.api('GET', '/v1/approvals/oa:TA', undefined, 404);

    await b.sync();
    assert.deepEqual(ids(await b.all('approvals')), ['oa:TA', 'oa:TB']);
    await expectSynced(b, 'approvals', 'oa:TA', { status: 'pending', version: 2 });
    assert.deepEqual(await b.all('approval_decisions'), []);
  },
};

module.exports = { approvalScenarios };
