// Package mongodb is mportal's MongoDB platform: the connection, idempotent index creation, the
// translation of driver errors into apperr codes, and the primitives that keep the code correct on
// both MongoDB and the embedded FerretDB (see claim.go and lock.go).
//
// The embedded FerretDB itself lives in the embedded subpackage so that only binaries that start it
// link it.
package mongodb

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// DB is a connected database. It is created in cmd and passed to the domain services.
type DB struct {
	Client *mongo.Client
	DB     *mongo.Database
	// Embedded is true on the embedded FerretDB, whose updates are not atomic: read-modify-writes
	// must hold Lock, and hot paths must be _id lookups. The embedded server lives inside this
	// process, so this process is its only writer.
	Embedded bool
	// FerretDB is true when the server is any FerretDB (embedded or reached through a URI, as the
	// tests' shared server is): its updates are not atomic either, so Lock serializes on it too.
	FerretDB bool
	locks    keyedMutex
	gate     *writeGate // on the embedded database, see writegate.go
	inserts  sync.Map   // collection name -> *insertBatcher, see insertbatch.go
}

// Options are the optional settings of OpenWith.
type Options struct {
	// SlowCommand, when positive, logs every command that takes at least this long to Logger, with
	// the shape of its filter but none of its values (see slowLog).
	SlowCommand time.Duration
	Logger      *slog.Logger
}

// Open connects to uri and pings it. embedded says whether uri points at mportal's embedded
// FerretDB.
func Open(ctx context.Context, uri, database string, embedded bool) (*DB, error) {
	return OpenWith(ctx, uri, database, embedded, Options{})
}

// OpenWith is Open with o.
func OpenWith(ctx context.Context, uri, database string, embedded bool, o Options) (*DB, error) {
	opts := options.Client().ApplyURI(uri).
		SetAppName("mportal").
		// During an outage every call waits this long before failing as unavailable (503 +
		// Retry-After); a request makes a few calls, so it bounds how long a client waits.
		SetServerSelectionTimeout(5 * time.Second).
		SetConnectTimeout(5 * time.Second)
	var gate *writeGate
	if embedded {
		// FerretDB serves one SQLite connection pool; a modest pool avoids lock contention.
		opts.SetMaxPoolSize(32)
		// One write at a time reaches SQLite, queued here rather than in its busy handler's
		// sleeps (see writegate.go).
		gate = newWriteGate()
		opts.SetMonitor(gate.monitor())
	}
	if o.SlowCommand > 0 && o.Logger != nil {
		var next *event.CommandMonitor
		if gate != nil {
			next = gate.monitor()
		}
		opts.SetMonitor(newSlowLog(o.SlowCommand, o.Logger).monitor(next))
	}
	client, err := mongo.Connect(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to mongodb: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx, readpref.Primary()); err != nil {
		_ = client.Disconnect(context.Background())
		return nil, fmt.Errorf("ping mongodb: %w", err)
	}
	ferret, err := isFerretDB(pingCtx, client)
	if err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	return &DB{Client: client, DB: client.Database(database), Embedded: embedded, FerretDB: embedded || ferret, gate: gate}, nil
}

// isFerretDB asks the server's buildInfo: FerretDB adds a ferretdbVersion field to it.
func isFerretDB(ctx context.Context, client *mongo.Client) (bool, error) {
	var info bson.M
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, fmt.Errorf("mongodb buildInfo: %w", err)
	}
	_, ok := info["ferretdbVersion"]
	return ok, nil
}

// Collection returns the named collection.
func (d *DB) Collection(name string) *mongo.Collection { return d.DB.Collection(name) }

// Ping checks that the database answers; /readyz uses it.
func (d *DB) Ping(ctx context.Context) error {
	return d.Client.Ping(ctx, readpref.Primary())
}

// Close disconnects the client.
func (d *DB) Close(ctx context.Context) error { return d.Client.Disconnect(ctx) }

// EnsureIndexes creates indexes on coll. It is idempotent: creating an index that exists with the
// same definition is a no-op, so it runs at every start.
//
// Each index is created with its own command: FerretDB v1.24 panics (and drops the connection)
// on a createIndexes command that names several indexes which all exist already.
func EnsureIndexes(ctx context.Context, coll *mongo.Collection, models ...mongo.IndexModel) error {
	for _, m := range models {
		if _, err := coll.Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("create index %v on %s: %w", m.Keys, coll.Name(), err)
		}
	}
	return nil
}
