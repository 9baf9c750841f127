package chaos

import "fmt"

// Upload is a file: its size and the hex SHA-256 of its bytes.
type Upload struct {
	ID     string // what names it (the rig: the feedback attachment id)
	Size   int64
	SHA256 string
}

// CheckUploads checks that every upload a client saw complete (the tus PATCH carrying its last
// byte answered 2xx) is stored with its size and bytes: stored holds what was read back from
// the object storage at the end, by ID; a missing entry is a lost upload.
func CheckUploads(completed []Upload, stored map[string]Upload) Guarantee {
	var v violations
	var bytes int64
	for _, u := range completed {
		bytes += u.Size
		got, ok := stored[u.ID]
		switch {
		case !ok:
			v.addf("%s (%d bytes) completed but is not stored", u.ID, u.Size)
		case got.Size != u.Size:
			v.addf("%s is stored with %d bytes, %d were uploaded", u.ID, got.Size, u.Size)
		case got.SHA256 != u.SHA256:
			v.addf("%s is stored with other bytes (SHA-256 %.12s, uploaded %.12s)", u.ID, got.SHA256, u.SHA256)
		}
	}
	return Guarantee{
		Name:   "every tus upload a client saw complete is in MinIO with its size and SHA-256",
		Pass:   v.n == 0 && len(completed) > 0,
		Detail: v.detail(fmt.Sprintf("%d uploads (%.1f MiB) read back", len(completed), float64(bytes)/(1<<20))),
	}
}
