package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/push/fcmfake"
)

// minioUser and minioPassword are the rig's own MinIO's root credentials (loopback only).
const (
	minioUser     = "chaos-minio"
	minioPassword = "chaos-minio-secret"
)

// database is the database the instances share.
const database = "chaos"

// cluster is the deployment under test: one database, one MinIO, the fake FCM, the mportal
// instances and HAProxy in front of them.
type cluster struct {
	dir       string
	mongoURI  string
	db        *proc // nil when the rig uses an external database (-mongodb-uri)
	minio     *proc
	minioAddr string
	fcm       *fcmfake.Server
	instances []*proc
	ports     []int
	haproxy   *proc
	base      string // HAProxy's URL: what the load talks to
	adminOTP  string
	// fanoutTokens are the push tokens of the devices seeded for the fan-outs; seeding is how
	// long writing them took.
	fanoutTokens []string
	seeding      time.Duration
}

func build(dir string) error {
	for _, b := range [][2]string{{"mportal", "./cmd/mportal"}, {"devdb", "./cmd/devdb"}} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, b[0]), b[1]).CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	return nil
}

func startCluster(ctx context.Context, dir, mongoURI string, n, fanout int) (*cluster, error) {
	c := &cluster{dir: dir, mongoURI: mongoURI}
	if err := build(dir); err != nil {
		return c, err
	}
	if c.mongoURI == "" {
		port, err := freePort()
		if err != nil {
			return c, err
		}
		os.MkdirAll(filepath.Join(dir, "db"), 0o755)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		c.db = &proc{name: "devdb", log: filepath.Join(dir, "devdb.log"),
			// -id-indexes: the _id expression index mportal adds at start on its own embedded
			// database, which instances reaching this one by URI cannot add (cmd/devdb).
			args: []string{filepath.Join(dir, "devdb"), "-dir", filepath.Join(dir, "db"), "-addr", addr, "-id-indexes", "2s"}}
		if err := c.db.start(); err != nil {
			return c, err
		}
		if err := waitTCP(c.db, addr, 60*time.Second); err != nil {
			return c, err
		}
		c.mongoURI = "mongodb://" + addr + "/"
	}
	if err := c.seedFanout(ctx, fanout); err != nil {
		return c, err
	}
	port, err := freePort()
	if err != nil {
		return c, err
	}
	console, _ := freePort()
	c.minioAddr = "127.0.0.1:" + strconv.Itoa(port)
	c.minio = &proc{name: "minio", log: filepath.Join(dir, "minio.log"),
		args: []string{"bin/minio", "server", "--quiet", "--address", c.minioAddr,
			"--console-address", "127.0.0.1:" + strconv.Itoa(console), filepath.Join(dir, "minio")},
		env: []string{"MINIO_ROOT_USER=" + minioUser, "MINIO_ROOT_PASSWORD=" + minioPassword, "MINIO_BROWSER=off", "MINIO_UPDATE=off"}}
	if err := c.minio.start(); err != nil {
		return c, err
	}
	if err := waitHTTP(ctx, c.minio, "http://"+c.minioAddr+"/minio/health/ready", 60*time.Second); err != nil {
		return c, err
	}
	c.fcm = fcmfake.New()
	creds, err := c.fcm.WriteCredentialsFile(dir)
	if err != nil {
		return c, err
	}
	keyFile, err := writeJWTKey(dir)
	if err != nil {
		return c, err
	}
	hport, err := freePort()
	if err != nil {
		return c, err
	}
	c.base = "http://127.0.0.1:" + strconv.Itoa(hport)
	for i := 0; i < n; i++ {
		p, err := freePort()
		if err != nil {
			return c, err
		}
		c.ports = append(c.ports, p)
		c.instances = append(c.instances, &proc{
			name: "mportal-" + strconv.Itoa(i), log: filepath.Join(dir, "mportal-"+strconv.Itoa(i)+".log"),
			args: []string{filepath.Join(dir, "mportal")},
			env: []string{
				"MPORTAL_LISTEN_ADDR=127.0.0.1:" + strconv.Itoa(p), "MPORTAL_PUBLIC_BASE_URL=" + c.base,
				"MPORTAL_DATA_DIR=" + filepath.Join(dir, "data-"+strconv.Itoa(i)),
				"MPORTAL_MONGODB_URI=" + c.mongoURI, "MPORTAL_MONGODB_DATABASE=" + database,
				"MPORTAL_MINIO_ENDPOINT=" + c.minioAddr, "MPORTAL_MINIO_ACCESS_KEY=" + minioUser,
				"MPORTAL_MINIO_SECRET_KEY=" + minioPassword, "MPORTAL_JWT_KEY_FILES=" + keyFile,
				"MPORTAL_FCM_CREDENTIALS_FILE=" + creds, "MPORTAL_FCM_ENDPOINT=" + c.fcm.URL + "/v1",
				"MPORTAL_TRAINING_WORKERS=0", "MPORTAL_LOG_LEVEL=warn",
				// The deployment's drain (MPORTAL_SHUTDOWN_TIMEOUT 30 s, deploy/k8s): as long as
				// a request may run (the write timeout), else a rolling restart cuts a slow pull's
				// stream; a shorter one once closed the database under a pull still in flight.
				"MPORTAL_SHUTDOWN_TIMEOUT=30s",
				"MPORTAL_APPROVAL_REMINDER_INTERVAL=" + reminderPass.String(),
				// What a slow run cost the database, in the logs a failed run keeps.
				"MPORTAL_DB_SLOW_COMMAND=2s",
			}})
		// CHAOS_PPROF_BASE_PORT=P serves instance i's Go profiles at 127.0.0.1:P+i (off when
		// unset), to see what a slow load costs the instances.
		if base, err := strconv.Atoi(os.Getenv("CHAOS_PPROF_BASE_PORT")); err == nil && base > 0 {
			last := c.instances[len(c.instances)-1]
			last.env = append(last.env, "MPORTAL_PPROF_ADDR=127.0.0.1:"+strconv.Itoa(base+i))
		}
	}
	// The first instance seeds the admin and prints its one-time password; the others start once
	// it is ready, so the seeding does not race.
	for i := range c.instances {
		if err := c.startInstance(ctx, i); err != nil {
			return c, err
		}
		if i == 0 {
			if c.adminOTP, err = findInLog(c.instances[0].log, "password: ", 5*time.Second); err != nil {
				return c, err
			}
		}
	}
	if err := c.startHAProxy(ctx, hport); err != nil {
		return c, err
	}
	return c, nil
}

// seedFanout writes n simulated users with one pushable device each through their owning
// package (directory.SeedSimulated), before the instances start and load their recipient view.
func (c *cluster) seedFanout(ctx context.Context, n int) error {
	if n <= 0 {
		return nil
	}
	start := time.Now()
	db, err := mongodb.Open(ctx, c.mongoURI, database, false)
	if err != nil {
		return err
	}
	defer db.Close(context.Background())
	if c.fanoutTokens, err = directory.SeedSimulated(ctx, db, "fan", fanoutDepartment, n, time.Now()); err != nil {
		return err
	}
	c.seeding = time.Since(start)
	say("seeded %d fan-out devices in %s", n, c.seeding.Round(100*time.Millisecond))
	return nil
}

func (c *cluster) startInstance(ctx context.Context, i int) error {
	p := c.instances[i]
	if err := p.start(); err != nil {
		return err
	}
	return waitHTTP(ctx, p, "http://127.0.0.1:"+strconv.Itoa(c.ports[i])+"/readyz", 90*time.Second)
}

func (c *cluster) stop() {
	if c.haproxy != nil {
		c.haproxy.kill(syscall.SIGTERM, 5*time.Second)
	}
	for _, p := range c.instances {
		p.kill(syscall.SIGTERM, 15*time.Second)
	}
	if c.fcm != nil {
		c.fcm.Close()
	}
	if c.minio != nil {
		c.minio.kill(syscall.SIGTERM, 10*time.Second)
	}
	if c.db != nil {
		c.db.kill(syscall.SIGTERM, 10*time.Second)
	}
}

func writeJWTKey(dir string) (string, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "jwt.pem")
	return path, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}
