package updates

import (
	"context"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/rollout"
)

// AppendCheckUpdate appends the JSON of CheckUpdate's answer (Update.AppendJSON's bytes) to dst
// and returns it, with CheckUpdate's errors. Every app start checks, and most checks get one of
// a handful of answers, so an answer that offers a build is encoded once and then copied: the
// encoding of its long signed links and notes was a tenth of the update check's CPU time.
//
// The encoded answers live on the snapshot's build (so any release change, which replaces the
// snapshot, starts afresh) and are keyed by everything the answer holds besides the build: the
// release, the decision, the channel answered, its minimum build, the notes picked and the links
// (a new link, made every URLReuse, replaces the entry). Their number is bounded by the
// snapshot: releases x decisions x channels x the build's notes languages.
func (s *Service) AppendCheckUpdate(ctx context.Context, p *auth.Principal, q Query, locale string, dst []byte) ([]byte, error) {
	a, err := s.check(ctx, p, q, locale)
	if err != nil {
		return nil, err
	}
	bv := a.res.build
	if bv == nil { // nothing offered: a short answer without strings to escape
		return a.update().AppendJSON(dst), nil
	}
	k := answerKey{release: a.res.Release, decision: a.res.Decision.Type, installedNewer: a.res.Decision.InstalledNewer,
		unsatisfiable: a.res.Decision.Unsatisfiable, channel: a.res.Channel, minBuild: a.res.MinBuild,
		notes: a.notes, notesHTML: a.notesHTML}
	if v, ok := bv.answers.Load(k); ok {
		if e := v.(*encodedAnswer); e.link == a.link && e.install == a.install {
			return append(dst, e.body...), nil
		}
	}
	e := &encodedAnswer{link: a.link, install: a.install, body: a.update().AppendJSON(nil)}
	bv.answers.Store(k, e)
	return append(dst, e.body...), nil
}

// answerKey is what an answer that offers a build holds besides the build and its links.
type answerKey struct {
	release                       *release.Release
	decision                      rollout.UpdateType
	installedNewer, unsatisfiable bool
	channel                       string
	minBuild                      int64
	notes, notesHTML              string
}

// encodedAnswer is one answer's JSON and the links it was encoded with.
type encodedAnswer struct {
	link, install *signedURL
	body          []byte
}
