package loadtest

import (
	"fmt"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Baseline is a bare Fiber app with one JSON handler, on a loopback port: the reference figure
// that mportal's own endpoints are compared with ("at least half of a bare Fiber JSON handler's
// requests per second"). It has no middleware, no authentication and no database, so it measures
// what the framework and the loopback network cost on this machine.
type Baseline struct {
	// URL is the handler's address, http://127.0.0.1:<port>/.
	URL string

	app    *fiber.App
	served chan error
}

// baselineBody is what the handler encodes on every request, a shape like a small API resource.
type baselineBody struct {
	ID     string    `json:"id"`
	Status string    `json:"status"`
	At     time.Time `json:"at"`
}

// StartBaseline starts the bare app on 127.0.0.1 on a free port.
func StartBaseline() (*Baseline, error) { return StartBaselineAt("127.0.0.1:0") }

// StartBaselineAt starts the bare app on addr.
func StartBaselineAt(addr string) (*Baseline, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("baseline: listen: %w", err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/", func(c *fiber.Ctx) error {
		return c.JSON(baselineBody{ID: "baseline", Status: "ok", At: time.Now().UTC()})
	})
	b := &Baseline{URL: "http://" + ln.Addr().String() + "/", app: app, served: make(chan error, 1)}
	go func() { b.served <- app.Listener(ln) }()
	return b, nil
}

// Close stops the app and waits for it.
func (b *Baseline) Close() error {
	if err := b.app.ShutdownWithTimeout(5 * time.Second); err != nil {
		return fmt.Errorf("baseline: shutdown: %w", err)
	}
	if err := <-b.served; err != nil {
		return fmt.Errorf("baseline: serve: %w", err)
	}
	return nil
}
