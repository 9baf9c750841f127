package main

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mportal/mportal/internal/chaos"
)

// uploadChunk is the size of one tus PATCH: small enough that an upload spans several requests
// (and so, now and then, an instance kill or an outage, after which the client asks HEAD for the
// offset and resumes).
const uploadChunk = 512 << 10

// uploads collects the uploads the clients saw complete and how often they had to resume.
type uploads struct {
	mu        sync.Mutex
	completed []chaos.Upload
	uploadIDs map[string]string  // attachment id -> its tus upload id
	owners    map[string]*device // attachment id -> the device that uploaded it
	resumed   int
	abandoned int
}

func (u *uploads) complete(up chaos.Upload, uploadID string, resumed int, owner *device) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.completed = append(u.completed, up)
	u.uploadIDs[up.ID] = uploadID
	u.owners[up.ID] = owner
	u.resumed += resumed
}

// uploadLoop has device d attach photos to feedback records of its own, one after the other,
// each sent with tus in uploadChunk pieces, until loadCtx ends. Each upload runs to its end (or
// to a refusal) even when the load ends meanwhile.
func uploadLoop(ctx, loadCtx context.Context, cl *client, d *device, k int, rng *rand.Rand, u *uploads, w *writes) {
	for n := 1; loadCtx.Err() == nil; n++ {
		fb := fmt.Sprintf("%s-u%d-%d", d.user, k, n) // userOf(fb) is d.user: the user's devices must pull it
		att := fb + "-p"
		size := (1 + rng.IntN(3)) << 20
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		copy(data, []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00")) // sniffed as image/jpeg
		if err := pushCreate(ctx, cl, d, "feedback", feedbackRecord(fb, "photo "+fb)); err != nil {
			return
		}
		w.add(chaos.SyncWrite{Table: "feedback", ID: fb, Value: "photo " + fb})
		if err := pushCreate(ctx, cl, d, "feedback_attachments", map[string]any{"id": att, "feedback_id": fb,
			"filename": "photo.jpg", "content_type": "image/jpeg", "size": size, "created_at": time.Now().UnixMilli()}); err != nil {
			return
		}
		w.add(chaos.SyncWrite{Table: "feedback_attachments", ID: att, Value: "pending"})
		uploadID, resumed, err := tusUpload(ctx, cl, d.token, att, data)
		if err != nil {
			u.mu.Lock()
			u.abandoned++
			u.mu.Unlock()
			say("upload %s abandoned: %v", att, err)
			// refused: the server failed the attachment, or left it pending; either way every
			// device of the user must still have it
			w.add(chaos.SyncWrite{Table: "feedback_attachments", ID: att, AnyValue: true})
			continue
		}
		sum := sha256.Sum256(data)
		u.complete(chaos.Upload{ID: att, Size: int64(size), SHA256: hex.EncodeToString(sum[:])}, uploadID, resumed, d)
		// the upload completed the attachment: every device of the user must pull it complete
		w.add(chaos.SyncWrite{Table: "feedback_attachments", ID: att, Value: "complete"})
		sleep(loadCtx, time.Duration(200+rng.IntN(800))*time.Millisecond)
	}
}

// pushCreate pushes one new record until it is acknowledged and not rejected.
func pushCreate(ctx context.Context, cl *client, d *device, table string, rec map[string]any) error {
	body := map[string]any{"changes": map[string]any{table: map[string]any{"created": []any{rec}, "updated": []any{}, "deleted": []any{}}}}
	var res struct {
		Rejected []struct{ Table, ID, Code string } `json:"rejected"`
	}
	if err := cl.retry(ctx, "POST", "/v1/sync/push?last_pulled_at=0", d.token, body, &res); err != nil {
		return err
	}
	if len(res.Rejected) > 0 {
		return fmt.Errorf("%s %v rejected: %s", table, rec["id"], res.Rejected[0].Code)
	}
	return nil
}

// tusUpload creates a tus upload for attachment att and sends data, resuming from the server's
// offset (HEAD) after every failed PATCH. It returns the tus upload id and how often it resumed,
// and an error when the server refused the upload (a 4xx other than a wrong offset or a lock) or
// ctx ended.
func tusUpload(ctx context.Context, cl *client, token, att string, data []byte) (id string, resumed int, err error) {
	meta := func(k, v string) string { return k + " " + base64.StdEncoding.EncodeToString([]byte(v)) }
	create := map[string]string{"Tus-Resumable": "1.0.0", "Upload-Length": strconv.Itoa(len(data)),
		"Upload-Metadata": strings.Join([]string{meta("purpose", "feedback_attachment"), meta("filetype", "image/jpeg"),
			meta("filename", "photo.jpg"), meta("attachment_id", att)}, ",")}
	var path string
	for path == "" {
		status, h, _, err := cl.send(ctx, "POST", "/v1/uploads/", token, create, nil)
		switch {
		case err == nil:
			loc := h.Get("Location")
			if i := strings.Index(loc, "/v1/uploads/"); i >= 0 {
				path = loc[i:]
			} else {
				return "", 0, fmt.Errorf("create answered Location %q", loc)
			}
		case refused(status):
			return "", 0, err
		case ctx.Err() != nil:
			return "", 0, ctx.Err()
		default:
			sleep(ctx, 300*time.Millisecond)
		}
	}
	offset := 0
	for offset < len(data) {
		end := min(offset+uploadChunk, len(data))
		status, h, _, err := cl.send(ctx, "PATCH", path, token, map[string]string{"Tus-Resumable": "1.0.0",
			"Content-Type": "application/offset+octet-stream", "Upload-Offset": strconv.Itoa(offset)}, data[offset:end])
		if err == nil {
			if offset, err = strconv.Atoi(h.Get("Upload-Offset")); err != nil {
				return "", resumed, fmt.Errorf("PATCH answered Upload-Offset %q", h.Get("Upload-Offset"))
			}
			continue
		}
		if refused(status) && status != http.StatusConflict && status != http.StatusLocked {
			return "", resumed, err
		}
		// The chunk may or may not have been stored: ask the server where to go on from.
		resumed++
		for {
			if ctx.Err() != nil {
				return "", resumed, ctx.Err()
			}
			sleep(ctx, 300*time.Millisecond)
			status, h, _, err := cl.send(ctx, "HEAD", path, token, map[string]string{"Tus-Resumable": "1.0.0"}, nil)
			if err == nil {
				offset, _ = strconv.Atoi(h.Get("Upload-Offset"))
				break
			}
			if refused(status) {
				return "", resumed, err
			}
		}
	}
	return strings.TrimPrefix(path, "/v1/uploads/"), resumed, nil
}

// refused reports whether status says the request itself is wrong (retrying will not help).
func refused(status int) bool {
	return status >= 400 && status < 500 && status != http.StatusTooManyRequests
}

// readBack downloads every completed upload as its owner would: the attachment's content
// through the API (GET /v1/feedback/attachments/{id}/content, which presigns the object the
// attachment links), signed in afresh on the uploading device, then the presigned URL. It
// returns each one's size and SHA-256 by attachment id; a missing entry is one that could not be
// read. (It read MinIO's staging object with the rig's own credentials before: an attachment whose
// completion failed, or that linked another object, passed.)
func readBack(ctx context.Context, cl *client, u *uploads) map[string]chaos.Upload {
	out := map[string]chaos.Upload{}
	tokens := map[*device]string{}
	download := &http.Client{Timeout: requestTimeout}
	for _, up := range u.completed {
		d := u.owners[up.ID]
		token, ok := tokens[d]
		if !ok {
			var err error
			if token, err = logIn(ctx, cl, d.user, d.user+"-chaos-passphrase", d.id); err != nil {
				say("read back %s: sign in: %v", up.ID, err)
				continue
			}
			tokens[d] = token
		}
		var link struct{ URL string }
		if _, err := cl.doWith(ctx, "GET", "/v1/feedback/attachments/"+up.ID+"/content", token,
			map[string]string{"Accept": "application/json"}, nil, &link); err != nil {
			say("read back %s: %v", up.ID, err)
			continue
		}
		resp, err := download.Get(link.URL)
		if err != nil {
			say("read back %s: %v", up.ID, err)
			continue
		}
		h := sha256.New()
		n, err := io.Copy(h, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			say("read back %s: %d %v", up.ID, resp.StatusCode, err)
			continue
		}
		out[up.ID] = chaos.Upload{ID: up.ID, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}
	}
	return out
}
