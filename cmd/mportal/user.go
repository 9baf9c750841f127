package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/config"
	"github.com/mportal/mportal/internal/directory"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/mongodb/embedded"
)

// userCommand runs `mportal user add|import`. Both use the same directory code as the API, acting
// as the system rather than as a signed-in admin.
func userCommand(ctx context.Context, cfg *config.Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	db, closeDB, err := openForCLI(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeDB()
	// Sessions to revoke: an imported row may disable a user. A running server learns of it
	// within MPORTAL_SESSION_RECHECK, as of any revocation made elsewhere.
	users := &directory.Users{DB: db, Argon: auth.DefaultArgon2, Sessions: &auth.Sessions{DB: db}}
	if err := users.EnsureIndexes(ctx); err != nil {
		return err
	}
	switch args[0] {
	case "add":
		return userAdd(ctx, users, args[1:], stdout, stderr)
	case "import":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: mportal user import FILE.csv")
			return errUsage
		}
		f, err := os.Open(args[1])
		if err != nil {
			return err
		}
		defer f.Close()
		res, err := users.ImportAsSystem(ctx, f)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
		if res.Failed > 0 {
			return fmt.Errorf("%d of %d rows failed (see the rows above); the other rows were applied", res.Failed, len(res.Rows))
		}
		return nil
	default:
		fmt.Fprintf(stderr, "mportal: unknown user command %q\n%s\n", args[0], usage)
		return errUsage
	}
}

func userAdd(ctx context.Context, users *directory.Users, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var in directory.CreateUser
	var roles string
	fs.StringVar(&in.EmployeeNo, "employee-no", "", "employee number (required, unique)")
	fs.StringVar(&in.Name, "name", "", "full name (required)")
	fs.StringVar(&in.Email, "email", "", "e-mail address (unique)")
	fs.StringVar(&in.Department, "department", "", "department")
	fs.StringVar(&roles, "roles", "employee", "comma-separated roles: employee,beta_tester,approver,ops,admin")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	for _, r := range strings.Split(roles, ",") {
		if r = strings.TrimSpace(r); r != "" {
			in.Roles = append(in.Roles, auth.Role(r))
		}
	}
	u, password, err := users.Create(ctx, systemActor, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %s (%s)\none-time password: %s\n", u.EmployeeNo, u.ID, password)
	return nil
}

// systemActor is who the CLI acts as: an operator with shell access to the server is an admin.
var systemActor = &auth.Principal{UserID: "system", Roles: []auth.Role{auth.RoleAdmin}}

// openForCLI connects to MPORTAL_MONGODB_URI, or to the embedded database of a running server
// (through the URI file it writes), or else starts the embedded database itself.
func openForCLI(ctx context.Context, cfg *config.Config) (*mongodb.DB, func(), error) {
	if cfg.MongoURI != "" {
		db, err := mongodb.Open(ctx, cfg.MongoURI, cfg.MongoDatabase, false)
		if err != nil {
			return nil, nil, err
		}
		return db, func() { _ = db.Close(context.Background()) }, nil
	}
	if uri, err := os.ReadFile(embeddedURIFile(cfg)); err == nil {
		pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		db, err := mongodb.Open(pingCtx, string(uri), cfg.MongoDatabase, true)
		cancel()
		if err == nil {
			return db, func() { _ = db.Close(context.Background()) }, nil
		}
	}
	srv, err := embedded.Start(cfg.EmbeddedDBDir(), "127.0.0.1:0", nil)
	if err != nil {
		return nil, nil, err
	}
	db, err := mongodb.Open(ctx, srv.URI(), cfg.MongoDatabase, true)
	if err != nil {
		srv.Stop()
		return nil, nil, err
	}
	return db, func() { _ = db.Close(context.Background()); srv.Stop() }, nil
}
