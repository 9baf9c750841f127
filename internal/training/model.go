package training

import (
	"time"

	"github.com/mportal/mportal/media/video"
)

// Video statuses: the state of the latest upload of a video. A video that was ready once stays
// playable (Playable) while a replacement is uploaded, processed, or fails.
const (
	StatusAwaitingUpload = "awaiting_upload" // created; no upload has finished yet
	StatusUploaded       = "uploaded"        // the upload passed the checks and waits for a worker
	StatusProcessing     = "processing"      // a worker is transcoding it (Percent)
	StatusReady          = "ready"           // the latest upload is playable
	StatusFailed         = "failed"          // processing failed (Failure); ops may Retry
)

// Video is a training video as ops see it.
type Video struct {
	ID              string     `json:"id"`
	Title           string     `json:"title"`
	Description     string     `json:"description"`      // Markdown as written
	DescriptionHTML string     `json:"description_html"` // sanitized HTML
	Category        string     `json:"category"`
	Tags            []string   `json:"tags"`
	Roles           []string   `json:"roles"`       // empty: every role
	Departments     []string   `json:"departments"` // empty: every department
	Required        bool       `json:"required"`
	DueAt           *time.Time `json:"due_at,omitempty"`
	Language        string     `json:"language"`
	Published       bool       `json:"published"`
	Status          string     `json:"status"`
	Percent         int        `json:"percent"`
	Failure         string     `json:"failure,omitempty"`
	// Playable reports whether a processed upload can be played (also while a replacement is
	// processed).
	Playable   bool      `json:"playable"`
	DurationMS int64     `json:"duration_ms,omitempty"`
	PosterURL  string    `json:"poster_url,omitempty"`
	Views      int64     `json:"views"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// CatalogueVideo is a video as an employee sees it in the catalogue.
type CatalogueVideo struct {
	ID              string     `json:"id"`
	Title           string     `json:"title"`
	Description     string     `json:"description"`
	DescriptionHTML string     `json:"description_html"`
	Category        string     `json:"category"`
	Tags            []string   `json:"tags"`
	Language        string     `json:"language"`
	Required        bool       `json:"required"`
	DueAt           *time.Time `json:"due_at,omitempty"`
	DurationMS      int64      `json:"duration_ms"`
	PosterURL       string     `json:"poster_url"`
	UpdatedAt       time.Time  `json:"updated_at"`
}

// Playback is what a player needs to start: the master playlist's URL, which carries its own
// credential (players send no Authorization header), and when it and every URL in the
// playlists expire.
type Playback struct {
	MasterURL string    `json:"master_url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Download is the offline copy: a presigned URL of the progressive MP4 (Range requests work),
// its size and SHA-256 to check the finished file.
type Download struct {
	URL       string    `json:"url"`
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	ExpiresAt time.Time `json:"expires_at"`
}

// videoDoc is a training_videos document.
type videoDoc struct {
	ID              string     `bson:"_id"`
	Title           string     `bson:"title"`
	Description     string     `bson:"description"`
	DescriptionHTML string     `bson:"description_html"`
	Category        string     `bson:"category"`
	Tags            []string   `bson:"tags"`
	Roles           []string   `bson:"roles"`
	Departments     []string   `bson:"departments"`
	Required        bool       `bson:"required"`
	DueAt           *time.Time `bson:"due_at,omitempty"`
	Language        string     `bson:"language"`
	Published       bool       `bson:"published"`
	Status          string     `bson:"status"`
	Percent         int        `bson:"percent"`
	Failure         string     `bson:"failure,omitempty"`
	// Job is the latest upload's job; Current the playable revision, if any.
	Job       string    `bson:"job,omitempty"`
	Current   *revision `bson:"current,omitempty"`
	CreatedBy string    `bson:"created_by"`
	CreatedAt time.Time `bson:"created_at"`
	UpdatedAt time.Time `bson:"updated_at"`
	Deleted   bool      `bson:"deleted"`
}

// revision summarises one processed upload: where its objects are and what a player needs.
type revision struct {
	ID            string            `bson:"id"` // the job's id
	Prefix        string            `bson:"prefix"`
	DurationMS    int64             `bson:"duration_ms"`
	Renditions    []video.Rendition `bson:"renditions"`
	PosterKey     string            `bson:"poster_key"`
	OfflineKey    string            `bson:"offline_key"`
	OfflineSize   int64             `bson:"offline_size"`
	OfflineSHA256 string            `bson:"offline_sha256"`
}

// Job states.
const (
	jobPending    = "pending" // inserted, not yet the video's job: no worker runs it (CompleteUpload)
	jobQueued     = "queued"
	jobDone       = "done"
	jobFailed     = "failed"
	jobSuperseded = "superseded" // a newer upload replaced it before it was published
)

// jobDoc is a training_jobs document: one upload of a video to process. Its id is the tus
// upload id, so completing an upload twice queues it once.
type jobDoc struct {
	ID           string `bson:"_id"`
	VideoID      string `bson:"video_id"`
	SourceBucket string `bson:"source_bucket"`
	SourceKey    string `bson:"source_key"`
	State        string `bson:"state"`
	Attempts     int    `bson:"attempts"`
	// FailedAt is when the last attempt failed for a reason not the video's; the next one
	// waits retryDelay after it. Unset for attempts cut short by a stop (taken over at once).
	FailedAt  *time.Time `bson:"failed_at,omitempty"`
	Failure   string     `bson:"failure,omitempty"`
	CreatedAt time.Time  `bson:"created_at"`
	UpdatedAt time.Time  `bson:"updated_at"`
	// Output is set once the outputs are stored: the revision, its playlists (the master as
	// "master", each rendition's under its name) and every object key written.
	Output    *revision         `bson:"output,omitempty"`
	Playlists map[string]string `bson:"playlists,omitempty"`
	Keys      []string          `bson:"keys,omitempty"`
}
