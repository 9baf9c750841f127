package api

import (
	"context"
	"net/url"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/auth"
)

// Approvals is the approval service (approval.Service): OA events, the approver's tasks and
// decisions, delegation, and the admins' integrations.
type Approvals interface {
	// Ingest receives a signed OA event; see approval.Service.Ingest for its error codes.
	Ingest(ctx context.Context, source string, h approval.Headers, body []byte) (*approval.IngestResult, error)
	// List returns a page of the caller's tasks, pending first; invalid naming the filter.
	List(ctx context.Context, p *auth.Principal, f approval.ListFilter) ([]approval.Summary, string, error)
	// Get returns the caller's task; not_found unless it is theirs.
	Get(ctx context.Context, p *auth.Principal, taskID string) (*approval.Detail, error)
	// Decide records the caller's decision once; invalid, not_found, task_closed, already_decided.
	Decide(ctx context.Context, p *auth.Principal, taskID string, in approval.DecisionInput) (*approval.DecisionView, error)
	// Delegation, SetDelegation and DeleteDelegation manage the caller's delegation.
	Delegation(ctx context.Context, p *auth.Principal) (*approval.Delegation, error)
	SetDelegation(ctx context.Context, p *auth.Principal, in approval.DelegationInput) (*approval.Delegation, error)
	DeleteDelegation(ctx context.Context, p *auth.Principal) error
	// The admins' integrations; forbidden unless the caller is an admin.
	CreateIntegration(ctx context.Context, p *auth.Principal, in approval.NewIntegration) (*approval.CreatedSecret, error)
	Integrations(ctx context.Context, p *auth.Principal) ([]approval.Integration, error)
	Integration(ctx context.Context, p *auth.Principal, source string) (*approval.Integration, error)
	UpdateIntegration(ctx context.Context, p *auth.Principal, source string, in approval.IntegrationUpdate) (*approval.Integration, error)
	RotateSecret(ctx context.Context, p *auth.Principal, source string) (*approval.CreatedSecret, error)
	RevokeSecret(ctx context.Context, p *auth.Principal, source, secretID string) (*approval.Integration, error)
	DeleteIntegration(ctx context.Context, p *auth.Principal, source string) error
}

var _ Approvals = (*approval.Service)(nil)

// ingestEvent verifies the signature on the raw body, exactly as the OA sent it, and answers
// 202 once the event is stored (200 for a webhook-id stored before).
func (s *Server) ingestEvent(c *fiber.Ctx) error {
	if err := requireContentType(c, "application/json"); err != nil {
		return err
	}
	body := c.Request().Body()
	if len(body) > s.deps.Config.BodyLimit {
		return apperr.New(apperr.TooLarge, "the request body is over %d bytes", s.deps.Config.BodyLimit)
	}
	h := approval.Headers{ID: c.Get("webhook-id"), Timestamp: c.Get("webhook-timestamp"), Signature: c.Get("webhook-signature")}
	res, err := s.deps.Approvals.Ingest(c.UserContext(), c.Params("source"), h, body)
	if err != nil {
		return err
	}
	if res.Result == approval.ResultAccepted {
		// Stored; the event worker applies it.
		return c.Status(fiber.StatusAccepted).JSON(res)
	}
	return c.JSON(res)
}

func (s *Server) listApprovals(c *fiber.Ctx) error {
	limit, err := queryLimit(c, approval.MaxLimit)
	if err != nil {
		return err
	}
	items, next, err := s.deps.Approvals.List(c.UserContext(), principal(c), approval.ListFilter{
		Status: c.Query("status"), Flow: c.Query("flow"), Source: c.Query("source"), Limit: limit, Cursor: c.Query("cursor")})
	if err != nil {
		return err
	}
	var cursor *string
	if next != "" {
		cursor = &next
	}
	return c.JSON(fiber.Map{"items": nonNil(items), "next_cursor": cursor})
}

// taskID is the task id of the path, percent-decoded (it holds a ':').
func taskID(c *fiber.Ctx) (string, error) {
	id, err := url.PathUnescape(c.Params("task_id"))
	if err != nil || id == "" {
		return "", apperr.New(apperr.NotFound, "approval task not found")
	}
	return id, nil
}

func (s *Server) getApproval(c *fiber.Ctx) error {
	id, err := taskID(c)
	if err != nil {
		return err
	}
	d, err := s.deps.Approvals.Get(c.UserContext(), principal(c), id)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (s *Server) decideApproval(c *fiber.Ctx) error {
	id, err := taskID(c)
	if err != nil {
		return err
	}
	var in approval.DecisionInput
	if err := s.bind(c, &in); err != nil {
		return err
	}
	d, err := s.deps.Approvals.Decide(c.UserContext(), principal(c), id, in)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (s *Server) getDelegation(c *fiber.Ctx) error {
	d, err := s.deps.Approvals.Delegation(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (s *Server) setDelegation(c *fiber.Ctx) error {
	var in approval.DelegationInput
	if err := s.bind(c, &in); err != nil {
		return err
	}
	d, err := s.deps.Approvals.SetDelegation(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return c.JSON(d)
}

func (s *Server) deleteDelegation(c *fiber.Ctx) error {
	if err := s.deps.Approvals.DeleteDelegation(c.UserContext(), principal(c)); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
