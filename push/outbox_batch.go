package push

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/mportal/mportal/internal/mongodb"
)

// batchHeader is a push_batches document: up to maxBatchDevices pending sends, whose list
// is the push_batch_devices document of the same _id. Headers are small because the scanner reads
// them all on every pass.
type batchHeader struct {
	// ID is "<notification>/<fan-out epoch>.<seq>" for a first attempt and
	// "<batch>~<epoch>.<part>" for the retry of a part of a batch, epoch being that of the batch
	// lease that wrote it (see record).
	ID           string `bson:"_id"`
	Notification string `bson:"notification"`
	Origin       string `bson:"origin"`
	Attempt      int    `bson:"attempt"`
	Size         int    `bson:"size"`
	// NotBefore delays the batch: quiet hours or a retry back-off.
	NotBefore time.Time `bson:"not_before"`
	// FannedOutAt is when the devices were read from the directory; old batches have their
	// tokens verified before sending.
	FannedOutAt time.Time `bson:"fanned_out_at"`
}

// batchBody is a document of the notification's push_batch_devices collection (see bodiesColl).
// The device list is one JSON string rather than an array of subdocuments: the embedded FerretDB
// spends tens of microseconds on every BSON value it reads or writes, so 500 subdocuments cost
// about 30 ms per read and again per delete, where one string costs well under a millisecond.
type batchBody struct {
	ID      string `bson:"_id"`
	Devices string `bson:"devices"`
}

// batchDevice is one device of a batch.
type batchDevice struct {
	Key      string `json:"k"`
	User     string `json:"u"`
	Token    string `json:"t"`
	Platform string `json:"p"`
	Locale   string `json:"l"`
}

// bodiesColl is the collection of a notification's batch device lists. They stay until the
// notification completes and the collection is dropped: on the embedded FerretDB, deleting one of
// them reads every document of the collection (about 10 ms for a hundred 500-device lists), so
// one drop replaces a delete per batch.
func (e *Engine) bodiesColl(notification string) *mongo.Collection {
	return e.coll(batchDevicesColl + "_" + collSuffix(notification))
}

// insertBatch stores a batch; an id that exists already was written before and stands. The
// device list is also kept in memory for this engine's send of the batch.
func (e *Engine) insertBatch(ctx context.Context, h batchHeader, devices []batchDevice) error {
	list, err := json.Marshal(devices)
	if err != nil {
		return fmt.Errorf("encode batch %s: %w", h.ID, err)
	}
	_, err = e.bodiesColl(h.Notification).InsertOne(ctx, batchBody{ID: h.ID, Devices: string(list)})
	if err == nil {
		e.bodies.put(h.Notification, h.ID, devices)
	}
	if err == nil || mongodb.IsDuplicateKey(err) {
		_, err = e.coll(batchesColl).InsertOne(ctx, h)
	}
	if err != nil && !mongodb.IsDuplicateKey(err) {
		return fmt.Errorf("write batch %s: %w", h.ID, mongodb.Translate(err, "batch"))
	}
	return nil
}

// loadDevices returns the device list of batch h, from memory when this engine wrote it; a
// missing list is an empty one.
func (e *Engine) loadDevices(ctx context.Context, h *batchHeader) ([]batchDevice, error) {
	if devices, ok := e.bodies.take(h.Notification, h.ID); ok {
		return devices, nil
	}
	id := h.ID
	var body batchBody
	err := e.bodiesColl(h.Notification).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&body)
	switch {
	case mongodb.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read batch %s: %w", id, mongodb.Translate(err, "batch"))
	}
	var devices []batchDevice
	if err := json.Unmarshal([]byte(body.Devices), &devices); err != nil {
		return nil, fmt.Errorf("decode batch %s: %w", id, err)
	}
	return devices, nil
}

// deleteBatch removes a batch's header once the batch was handled; its device list goes with the
// notification's bodiesColl. A header that a crash left behind is handled again, and its
// devices' push_sent claims, all taken, keep them from being sent twice.
func (e *Engine) deleteBatch(ctx context.Context, id string) error {
	if _, err := e.coll(batchesColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
		return fmt.Errorf("delete batch %s: %w", id, mongodb.Translate(err, "batch"))
	}
	return nil
}
