'use strict';
// The app's local schema: every table mportal syncs, with the columns of its sync record in
// mobile-contract/openapi.yaml (FeedbackRecord, FeedbackCommentRecord, FeedbackAttachmentRecord,
// SyncInboxRecord, SyncAnnouncementRecord, SyncApprovalRecord, SyncApprovalDecisionRecord).
// Version 1 lacks `announcements`; version 2 adds it with a migration, for the migration-sync
// scenario; version 3 adds `approvals` and `approval_decisions` (migrationsV3); version 4 adds
// `training_progress` (migrationsV4).

const { appSchema, tableSchema } = require('@nozbe/watermelondb');
const { schemaMigrations, createTable } = require('@nozbe/watermelondb/Schema/migrations');
const { Model } = require('@nozbe/watermelondb');

const str = (name, isOptional) => ({ name, type: 'string', ...(isOptional ? { isOptional } : {}) });
const num = (name, isOptional) => ({ name, type: 'number', ...(isOptional ? { isOptional } : {}) });
const bool = (name) => ({ name, type: 'boolean' });

const tables = {
  feedback: [
    str('category'), str('text'), num('latitude', true), num('longitude', true), num('accuracy_m', true),
    str('app_id'), num('build'), str('version'), str('channel'), str('platform'), str('device_model'),
    str('os_version'), num('created_at'), bool('share_with_testers'),
    // Server columns: ops-owned, then the server's own.
    str('status'), str('assignee_id'), str('resolution'), str('duplicate_of'), num('updated_by_ops_at', true),
    str('author_id'), str('author_name'), str('department'), num('me_too_count'), num('comment_count'), bool('me_too'),
  ],
  feedback_comments: [
    str('feedback_id'), str('author_id'), str('author_name'), bool('from_ops'), str('text'), num('created_at'),
  ],
  feedback_attachments: [
    str('feedback_id'), str('filename'), str('content_type'), num('size'), str('status'), num('created_at'),
    str('failure'),
  ],
  // `data` is an object of strings on the wire; a WatermelonDB column can only hold a string.
  inbox: [
    str('notification_id'), str('category'), str('title'), str('body'), str('deep_link'), str('data', true),
    num('created_at'), num('read_at', true),
  ],
  announcements: [
    str('title'), str('excerpt'), str('body_html'), str('importance'), bool('requires_ack'), bool('pinned'),
    str('cover_image', true), num('published_at'), num('expires_at', true),
  ],
  // Schema 3 (SyncApprovalRecord, SyncApprovalDecisionRecord): the approver's tasks, read-only;
  // `actions`, `summary` and `attachments` are JSON strings. Decisions are push-only.
  approvals: [
    str('source'), str('flow_code'), str('flow_name'), str('title'), str('node_name'), str('node_mode'),
    str('status'), str('delegated_from_employee_no', true), str('actions'), str('applicant_name'),
    str('applicant_department'), str('summary'), str('attachments'), str('deep_link'), num('created_at'),
    num('due_at', true), num('decided_at', true), num('version'),
  ],
  approval_decisions: [str('task_id'), str('action'), str('reason'), num('task_version')],
  // Schema 4 (SyncTrainingProgressRecord): the user's watch progress, one row per video whose id
  // is the video's id; `ranges` is a JSON string.
  training_progress: [
    str('video_id'), str('ranges'), num('last_position_ms'), num('reported_at_ms'), bool('completed'),
    num('completed_at', true), num('watched_ms'),
  ],
};

const tableOf = (name) => tableSchema({ name, columns: tables[name] });

const v1Tables = ['feedback', 'feedback_comments', 'feedback_attachments', 'inbox'];
const v2Tables = [...v1Tables, 'announcements'];
const v3Tables = [...v2Tables, 'approvals', 'approval_decisions'];
const v4Tables = [...v3Tables, 'training_progress'];
const schemaV1 = appSchema({ version: 1, tables: v1Tables.map(tableOf) });
const schemaV2 = appSchema({ version: 2, tables: v2Tables.map(tableOf) });
const schemaV3 = appSchema({ version: 3, tables: v3Tables.map(tableOf) });
const schemaV4 = appSchema({ version: 4, tables: v4Tables.map(tableOf) });
const toV2 = { toVersion: 2, steps: [createTable({ name: 'announcements', columns: tables.announcements })] };
const toV3 = {
  toVersion: 3,
  steps: ['approvals', 'approval_decisions'].map((name) => createTable({ name, columns: tables[name] })),
};
const migrations = schemaMigrations({ migrations: [toV2] });
const toV4 = { toVersion: 4, steps: [createTable({ name: 'training_progress', columns: tables.training_progress })] };
const migrationsV3 = schemaMigrations({ migrations: [toV3, toV2] });
const migrationsV4 = schemaMigrations({ migrations: [toV4, toV3, toV2] });

// Plain model classes: the tests read and write raw columns through _getRaw/_setRaw, so no
// decorators (and no Babel) are needed.
function modelFor(table) {
  const M = class extends Model {};
  M.table = table;
  return M;
}
const models = Object.fromEntries(Object.keys(tables).map((t) => [t, modelFor(t)]));

module.exports = {
  tables, v2Tables, v4Tables, schemaV1, schemaV2, schemaV3, schemaV4, migrations, migrationsV3, migrationsV4, models,
};
