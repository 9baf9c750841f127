package datasync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/mportal/mportal/internal/apperr"
)

// PushChanges is a decoded push payload: each table's changes, by table name.
type PushChanges map[string]Changes

// DecodePush checks the structure of a push body {"changes":{"<table>":{"created":[...],
// "updated":[...],"deleted":[...]}}} and splits it into tables; known says which table names
// exist. Records stay raw JSON for the tables to decode. Anything structurally wrong — bad JSON,
// an unknown table, a record that is not an object or has no string id, a deleted entry that is
// not a string — is an invalid error whose Field points at it (for example
// "changes.feedback.created[3].id"), so that nothing of a malformed push is applied.
func DecodePush(body []byte, known func(table string) bool) (PushChanges, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, apperr.Field("", "the push body must be a JSON object {\"changes\": {...}}")
	}
	raw, ok := top["changes"]
	if !ok {
		return nil, apperr.Field("changes", "the push body has no \"changes\" object")
	}
	var tables map[string]json.RawMessage
	if !isObject(raw) || json.Unmarshal(raw, &tables) != nil {
		return nil, apperr.Field("changes", "\"changes\" must be an object of tables")
	}
	names := make([]string, 0, len(tables))
	for name := range tables {
		names = append(names, name)
	}
	slices.Sort(names)
	push := make(PushChanges, len(tables))
	for _, name := range names {
		field := "changes." + name
		if !known(name) {
			return nil, apperr.Field(field, "there is no synced table %q", name)
		}
		ch, err := decodeTable(field, name, tables[name])
		if err != nil {
			return nil, err
		}
		push[name] = ch
	}
	return push, nil
}

func decodeTable(field, table string, raw json.RawMessage) (Changes, error) {
	var parts map[string]json.RawMessage
	if !isObject(raw) || json.Unmarshal(raw, &parts) != nil {
		return Changes{}, apperr.Field(field, "table %s must be an object {\"created\", \"updated\", \"deleted\"}", table)
	}
	var ch Changes
	for part, val := range parts {
		var err error
		switch part {
		case "created":
			ch.Created, err = decodeRecords(field+".created", table, val)
		case "updated":
			ch.Updated, err = decodeRecords(field+".updated", table, val)
		case "deleted":
			ch.Deleted, err = decodeDeleted(field+".deleted", table, val)
		default:
			err = apperr.Field(field+"."+part, "table %s has an unknown part %q", table, part)
		}
		if err != nil {
			return Changes{}, err
		}
	}
	return ch, nil
}

func decodeRecords(field, table string, raw json.RawMessage) ([]json.RawMessage, error) {
	var recs []json.RawMessage
	if isNull(raw) {
		return nil, nil
	}
	if !isArray(raw) || json.Unmarshal(raw, &recs) != nil {
		return nil, apperr.Field(field, "%s of table %s must be an array of records", field, table)
	}
	for i, rec := range recs {
		at := field + "[" + strconv.Itoa(i) + "]"
		var cols map[string]json.RawMessage
		if !isObject(rec) || json.Unmarshal(rec, &cols) != nil {
			return nil, apperr.Field(at, "record %d of table %s is not an object", i, table)
		}
		var id string
		if err := json.Unmarshal(cols["id"], &id); err != nil || id == "" {
			return nil, apperr.Field(at+".id", "record %d of table %s has no string id", i, table)
		}
	}
	return recs, nil
}

func decodeDeleted(field, table string, raw json.RawMessage) ([]string, error) {
	var ids []json.RawMessage
	if isNull(raw) {
		return nil, nil
	}
	if !isArray(raw) || json.Unmarshal(raw, &ids) != nil {
		return nil, apperr.Field(field, "deleted of table %s must be an array of ids", table)
	}
	out := make([]string, len(ids))
	for i, r := range ids {
		if err := json.Unmarshal(r, &out[i]); err != nil || out[i] == "" || !isString(r) {
			return nil, apperr.Field(fmt.Sprintf("%s[%d]", field, i), "deleted id %d of table %s is not a string id", i, table)
		}
	}
	return out, nil
}

func firstByte(raw []byte) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func isObject(raw []byte) bool { return firstByte(raw) == '{' }
func isArray(raw []byte) bool  { return firstByte(raw) == '[' }
func isString(raw []byte) bool { return firstByte(raw) == '"' }
func isNull(raw []byte) bool   { return firstByte(raw) == 'n' }
