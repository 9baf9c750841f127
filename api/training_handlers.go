package api

import (
	"context"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/training"
)

// Training is the training-video domain (training.Service). Ops methods return forbidden
// without the ops or admin role; everything an employee may not see is not_found.
type Training interface {
	// Create, Get, List, Update, Delete and Retry manage videos (ops): invalid naming the field,
	// not_found, conflict (Retry of a video that has not failed).
	Create(ctx context.Context, p *auth.Principal, in training.Input) (*training.Video, error)
	Get(ctx context.Context, p *auth.Principal, id string) (*training.Video, error)
	List(ctx context.Context, p *auth.Principal) ([]*training.Video, error)
	Update(ctx context.Context, p *auth.Principal, id string, patch training.Patch) (*training.Video, error)
	Delete(ctx context.Context, p *auth.Principal, id string) error
	Retry(ctx context.Context, p *auth.Principal, id string) (*training.Video, error)
	// Preview is the offline copy of any processed video, published or not (ops): conflict
	// while nothing of it has been processed.
	Preview(ctx context.Context, p *auth.Principal, id string) (*training.Download, error)
	// Catalogue, Video, Play and Download serve employees: not_found for a video they may not see.
	Catalogue(ctx context.Context, p *auth.Principal, q string) ([]*training.CatalogueVideo, error)
	Video(ctx context.Context, p *auth.Principal, id string) (*training.CatalogueVideo, error)
	Play(ctx context.Context, p *auth.Principal, id string) (*training.Playback, error)
	Download(ctx context.Context, p *auth.Principal, id string) (*training.Download, error)
	// Playlist serves a playback URL's playlists: forbidden for a forged or expired credential,
	// not_found for a video gone or unpublished since.
	Playlist(ctx context.Context, videoID, token, name string) (string, error)
	// ReportProgress merges an online player's progress report (as a pushed training_progress
	// row is): not_found for a video the caller may not see, invalid naming the field.
	ReportProgress(ctx context.Context, p *auth.Principal, videoID string, in training.ProgressInput) (*training.WatchProgress, error)
	// Completion, VideoCompletionUsers and WriteCompletionCSV are the ops completion report:
	// forbidden without the ops or admin role, not_found for an unknown video.
	Completion(ctx context.Context, p *auth.Principal) (*training.CompletionReport, error)
	VideoCompletionUsers(ctx context.Context, p *auth.Principal, videoID, department string) (*training.VideoUsers, error)
	WriteCompletionCSV(ctx context.Context, p *auth.Principal, videoID string) (func(io.Writer) error, error)
}

var _ Training = (*training.Service)(nil)

func (s *Server) listTrainingVideos(c *fiber.Ctx) error {
	items, err := s.deps.Training.List(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(items)})
}

func (s *Server) createTrainingVideo(c *fiber.Ctx) error {
	var in training.Input
	if err := s.bind(c, &in); err != nil {
		return err
	}
	v, err := s.deps.Training.Create(c.UserContext(), principal(c), in)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(v)
}

func (s *Server) getTrainingVideo(c *fiber.Ctx) error {
	v, err := s.deps.Training.Get(c.UserContext(), principal(c), c.Params("video_id"))
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) updateTrainingVideo(c *fiber.Ctx) error {
	var p training.Patch
	if err := s.bind(c, &p); err != nil {
		return err
	}
	v, err := s.deps.Training.Update(c.UserContext(), principal(c), c.Params("video_id"), p)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) deleteTrainingVideo(c *fiber.Ctx) error {
	if err := s.deps.Training.Delete(c.UserContext(), principal(c), c.Params("video_id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func (s *Server) retryTrainingVideo(c *fiber.Ctx) error {
	v, err := s.deps.Training.Retry(c.UserContext(), principal(c), c.Params("video_id"))
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusAccepted).JSON(v)
}

func (s *Server) previewTrainingVideo(c *fiber.Ctx) error {
	dl, err := s.deps.Training.Preview(c.UserContext(), principal(c), c.Params("video_id"))
	if err != nil {
		return err
	}
	return c.JSON(dl)
}

func (s *Server) trainingCatalogue(c *fiber.Ctx) error {
	items, err := s.deps.Training.Catalogue(c.UserContext(), principal(c), c.Query("q"))
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"items": nonNil(items)})
}

func (s *Server) trainingVideo(c *fiber.Ctx) error {
	v, err := s.deps.Training.Video(c.UserContext(), principal(c), c.Params("video_id"))
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) playTrainingVideo(c *fiber.Ctx) error {
	pb, err := s.deps.Training.Play(c.UserContext(), principal(c), c.Params("video_id"))
	if err != nil {
		return err
	}
	return c.JSON(pb)
}

func (s *Server) downloadTrainingVideo(c *fiber.Ctx) error {
	d, err := s.deps.Training.Download(c.UserContext(), principal(c), c.Params("video_id"))
	if err != nil {
		return err
	}
	return c.JSON(d)
}

// trainingPlaylist serves "master.m3u8" or "<rendition>.m3u8" of a playback URL. The URLs in it
// expire with the credential, so only the player's own cache may keep it.
func (s *Server) trainingPlaylist(c *fiber.Ctx) error {
	name, ok := strings.CutSuffix(c.Params("playlist"), ".m3u8")
	if !ok {
		return apperr.New(apperr.NotFound, "playlist not found")
	}
	text, err := s.deps.Training.Playlist(c.UserContext(), c.Params("video_id"), c.Params("token"), name)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/vnd.apple.mpegurl")
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	return c.SendString(text)
}

func (s *Server) reportTrainingProgress(c *fiber.Ctx) error {
	var in training.ProgressInput
	if err := s.bind(c, &in); err != nil {
		return err
	}
	p, err := s.deps.Training.ReportProgress(c.UserContext(), principal(c), c.Params("video_id"), in)
	if err != nil {
		return err
	}
	return c.JSON(p)
}

func (s *Server) trainingCompletion(c *fiber.Ctx) error {
	r, err := s.deps.Training.Completion(c.UserContext(), principal(c))
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (s *Server) trainingVideoCompletion(c *fiber.Ctx) error {
	r, err := s.deps.Training.VideoCompletionUsers(c.UserContext(), principal(c), c.Params("video_id"), c.Query("department"))
	if err != nil {
		return err
	}
	return c.JSON(r)
}

func (s *Server) trainingCompletionCSV(c *fiber.Ctx) error {
	return s.sendTrainingCompletionCSV(c, c.Query("video_id"))
}

// sendTrainingCompletionCSV answers the completion report as CSV: of the video videoID, or of
// every video when it is empty. The API and the console both send it.
func (s *Server) sendTrainingCompletionCSV(c *fiber.Ctx, videoID string) error {
	write, err := s.deps.Training.WriteCompletionCSV(c.UserContext(), principal(c), videoID)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="training-completion.csv"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return write(c.Response().BodyWriter())
}
