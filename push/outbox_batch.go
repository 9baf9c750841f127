package push

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
)

// batchHeader is a push_batches document: one pending Send of up to MaxBatch devices, whose list
// is the push_batch_devices document of the same _id. Headers are small because the scanner reads
// them all on every pass.
type batchHeader struct {
	// ID is "<notification>/<fan-out epoch>.<seq>" for a first attempt and "<origin>~<attempt>"
	// for a retry.
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

// batchBody is a push_batch_devices document. The device list is one JSON string rather than an
// array of subdocuments: the embedded FerretDB spends tens of microseconds on every BSON value it
// reads or writes, so 500 subdocuments cost about 30 ms per read and again per delete, where one
// string costs well under a millisecond.
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

// insertBatch stores a batch; an id that exists already was written before and stands.
func (e *Engine) insertBatch(ctx context.Context, h batchHeader, devices []batchDevice) error {
	list, err := json.Marshal(devices)
	if err != nil {
		return fmt.Errorf("encode batch %s: %w", h.ID, err)
	}
	_, err = e.coll(batchDevicesColl).InsertOne(ctx, batchBody{ID: h.ID, Devices: string(list)})
	if err == nil || mongodb.IsDuplicateKey(err) {
		_, err = e.coll(batchesColl).InsertOne(ctx, h)
	}
	if err != nil && !mongodb.IsDuplicateKey(err) {
		return fmt.Errorf("write batch %s: %w", h.ID, mongodb.Translate(err, "batch"))
	}
	return nil
}

// loadDevices reads the device list of batch id; a missing list is an empty one (see deleteBatch).
func (e *Engine) loadDevices(ctx context.Context, id string) ([]batchDevice, error) {
	var body batchBody
	err := e.coll(batchDevicesColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&body)
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

// deleteBatch removes a batch once it was handled. The device list goes first: a header left
// alone by a crash is then handled again with no devices, whereas a lone device list would never
// be seen.
func (e *Engine) deleteBatch(ctx context.Context, id string) error {
	for _, coll := range []string{batchDevicesColl, batchesColl} {
		if _, err := e.coll(coll).DeleteOne(ctx, bson.D{{Key: "_id", Value: id}}); err != nil {
			return fmt.Errorf("delete batch %s: %w", id, mongodb.Translate(err, "batch"))
		}
	}
	return nil
}
