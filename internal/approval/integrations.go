package approval

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// maxSecrets is how many secrets may be active at once: the current one and the one being
// rotated out.
const maxSecrets = 2

var sourcePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// NewIntegration is what an admin gives to create an integration.
type NewIntegration struct {
	Source      string `json:"source"`
	Name        string `json:"name"`
	CallbackURL string `json:"callback_url"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled"`
}

// IntegrationUpdate changes an integration; nil fields stay as they are.
type IntegrationUpdate struct {
	Name        *string `json:"name"`
	CallbackURL *string `json:"callback_url"`
	Enabled     *bool   `json:"enabled"`
}

// CreatedSecret is an integration with the secret just created: the only time the key leaves
// the server.
type CreatedSecret struct {
	Integration *Integration `json:"integration"`
	// Secret is the new key, "whsec_<base64>"; SecretID its id in the integration's list.
	Secret   string `json:"secret"`
	SecretID string `json:"secret_id"`
}

func requireAdmin(p *auth.Principal) error { return auth.RequireRole(p, auth.RoleAdmin) }

func validName(name string) error {
	if n := utf8.RuneCountInString(strings.TrimSpace(name)); n < 1 || n > 100 {
		return apperr.Field("name", "name must be 1 to 100 characters")
	}
	return nil
}

func validCallbackURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || len(raw) > 2000 {
		return apperr.Field("callback_url", "callback_url must be an absolute http(s) URL without credentials")
	}
	return nil
}

func (s *Service) newSecret() (Secret, error) {
	key, err := NewSecret()
	if err != nil {
		return Secret{}, fmt.Errorf("new secret: %w", err)
	}
	id := make([]byte, 6)
	if _, err := rand.Read(id); err != nil {
		return Secret{}, fmt.Errorf("new secret id: %w", err)
	}
	return Secret{ID: "sec_" + hex.EncodeToString(id), Key: key, CreatedAt: s.Now.Stored()}, nil
}

// CreateIntegration creates an integration with one secret, returned once. It returns
// forbidden unless p is an admin, invalid naming the field, and conflict when the source exists.
func (s *Service) CreateIntegration(ctx context.Context, p *auth.Principal, in NewIntegration) (*CreatedSecret, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	if !sourcePattern.MatchString(in.Source) {
		return nil, apperr.Field("source", "source must be 1 to 32 characters of a-z, 0-9 and '-', starting with a letter or digit")
	}
	if err := validName(in.Name); err != nil {
		return nil, err
	}
	if err := validCallbackURL(in.CallbackURL); err != nil {
		return nil, err
	}
	sec, err := s.newSecret()
	if err != nil {
		return nil, err
	}
	now := s.Now.Stored()
	ig := &Integration{ID: in.Source, Name: strings.TrimSpace(in.Name), CallbackURL: in.CallbackURL,
		Secrets: []Secret{sec}, Enabled: in.Enabled == nil || *in.Enabled, CreatedAt: now, UpdatedAt: now}
	if _, err := s.coll(integrationsColl).InsertOne(ctx, ig); err != nil {
		return nil, fmt.Errorf("create integration %s: %w", in.Source, mongodb.Translate(err, "integration"))
	}
	return &CreatedSecret{Integration: ig, Secret: sec.Key, SecretID: sec.ID}, nil
}

// Integrations lists every integration (without keys). forbidden unless p is an admin.
func (s *Service) Integrations(ctx context.Context, p *auth.Principal) ([]Integration, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	cur, err := s.coll(integrationsColl).Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("list integrations: %w", mongodb.Translate(err, "integration"))
	}
	out := []Integration{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("list integrations: %w", mongodb.Translate(err, "integration"))
	}
	return out, nil
}

// Integration returns one integration (without keys). forbidden unless p is an admin,
// not_found for an unknown source.
func (s *Service) Integration(ctx context.Context, p *auth.Principal, source string) (*Integration, error) {
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	return s.integration(ctx, source)
}

func (s *Service) integration(ctx context.Context, source string) (*Integration, error) {
	var ig Integration
	if err := s.coll(integrationsColl).FindOne(ctx, bson.D{{Key: "_id", Value: source}}).Decode(&ig); err != nil {
		return nil, fmt.Errorf("read integration %s: %w", source, mongodb.Translate(err, "integration"))
	}
	return &ig, nil
}

// UpdateIntegration changes an integration's name, callback URL or enabled flag (enabling it
// clears DisabledReason). forbidden unless p is an admin, invalid naming the field, not_found.
func (s *Service) UpdateIntegration(ctx context.Context, p *auth.Principal, source string, in IntegrationUpdate) (*Integration, error) {
	defer s.forgetIntegration(source)
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	set := bson.D{{Key: "updated_at", Value: s.Now.Stored()}}
	if in.Name != nil {
		if err := validName(*in.Name); err != nil {
			return nil, err
		}
		set = append(set, bson.E{Key: "name", Value: strings.TrimSpace(*in.Name)})
	}
	if in.CallbackURL != nil {
		if err := validCallbackURL(*in.CallbackURL); err != nil {
			return nil, err
		}
		set = append(set, bson.E{Key: "callback_url", Value: *in.CallbackURL})
	}
	if in.Enabled != nil {
		set = append(set, bson.E{Key: "enabled", Value: *in.Enabled})
		if *in.Enabled {
			set = append(set, bson.E{Key: "disabled_reason", Value: ""})
		}
	}
	return s.updateIntegration(ctx, source, bson.D{{Key: "$set", Value: set}})
}

func (s *Service) updateIntegration(ctx context.Context, source string, update bson.D) (*Integration, error) {
	var ig Integration
	err := s.coll(integrationsColl).FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: source}}, update,
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&ig)
	if err != nil {
		return nil, fmt.Errorf("update integration %s: %w", source, mongodb.Translate(err, "integration"))
	}
	return &ig, nil
}

// RotateSecret adds a new secret, returned once, and keeps the newest previous one active so
// that the OA can switch over; an older one is dropped. forbidden unless p is an admin,
// not_found for an unknown source.
func (s *Service) RotateSecret(ctx context.Context, p *auth.Principal, source string) (*CreatedSecret, error) {
	defer s.forgetIntegration(source)
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	defer s.DB.Lock("approval/integration:" + source)()
	ig, err := s.integration(ctx, source)
	if err != nil {
		return nil, err
	}
	sec, err := s.newSecret()
	if err != nil {
		return nil, err
	}
	secrets := append(ig.Secrets, sec)
	if len(secrets) > maxSecrets {
		secrets = secrets[len(secrets)-maxSecrets:]
	}
	ig, err = s.updateIntegration(ctx, source, bson.D{{Key: "$set", Value: bson.D{
		{Key: "secrets", Value: secrets}, {Key: "updated_at", Value: s.Now.Stored()}}}})
	if err != nil {
		return nil, err
	}
	return &CreatedSecret{Integration: ig, Secret: sec.Key, SecretID: sec.ID}, nil
}

// RevokeSecret removes one secret, ending a rotation early. forbidden unless p is an admin,
// not_found for an unknown source or secret, conflict for the last secret.
func (s *Service) RevokeSecret(ctx context.Context, p *auth.Principal, source, secretID string) (*Integration, error) {
	defer s.forgetIntegration(source)
	if err := requireAdmin(p); err != nil {
		return nil, err
	}
	defer s.DB.Lock("approval/integration:" + source)()
	ig, err := s.integration(ctx, source)
	if err != nil {
		return nil, err
	}
	kept := make([]Secret, 0, len(ig.Secrets))
	for _, sec := range ig.Secrets {
		if sec.ID != secretID {
			kept = append(kept, sec)
		}
	}
	switch {
	case len(kept) == len(ig.Secrets):
		return nil, apperr.New(apperr.NotFound, "secret not found")
	case len(kept) == 0:
		return nil, apperr.New(apperr.Conflict, "the last secret cannot be revoked: rotate first")
	}
	return s.updateIntegration(ctx, source, bson.D{{Key: "$set", Value: bson.D{
		{Key: "secrets", Value: kept}, {Key: "updated_at", Value: s.Now.Stored()}}}})
}

// DeleteIntegration removes an integration: its events are refused from then on (404); its
// tasks and decisions stay. forbidden unless p is an admin, not_found.
func (s *Service) DeleteIntegration(ctx context.Context, p *auth.Principal, source string) error {
	defer s.forgetIntegration(source)
	if err := requireAdmin(p); err != nil {
		return err
	}
	res, err := s.coll(integrationsColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: source}})
	if err != nil {
		return fmt.Errorf("delete integration %s: %w", source, mongodb.Translate(err, "integration"))
	}
	if res.DeletedCount == 0 {
		return apperr.New(apperr.NotFound, "integration not found")
	}
	return nil
}
