package updates

import (
	"context"
	"slices"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/release"
	"github.com/mportal/mportal/internal/release/rollout"
)

// CheckUpdateJSON returns the JSON of CheckUpdate's answer (Update.AppendJSON's bytes), with
// CheckUpdate's errors. Every app start checks, and most checks get one of a handful of
// answers, so an answer that offers a build is encoded once and then shared: the encoding of its
// long signed links and notes was a tenth of the update check's CPU time. The bytes returned
// may be those of other calls: they must not be modified (the handler sends them as they are,
// without a copy).
//
// The encoded answers live on the snapshot's build (so any release change, which replaces the
// snapshot, starts afresh) and are keyed by everything the answer holds besides the build: the
// release, the decision, the channel answered, its minimum build, the notes picked and the links
// (a new link, made every URLReuse, replaces the entry). Their number is bounded by the
// snapshot: releases x decisions x channels x the build's notes languages.
func (s *Service) CheckUpdateJSON(ctx context.Context, p *auth.Principal, q Query, locale string) ([]byte, error) {
	a, err := s.check(ctx, p, q, locale)
	if err != nil {
		return nil, err
	}
	bv := a.res.build
	if bv == nil { // nothing offered: a short answer without strings to escape
		return a.update().AppendJSON(nil), nil
	}
	k := answerKey{release: a.res.Release, decision: a.res.Decision.Type, installedNewer: a.res.Decision.InstalledNewer,
		unsatisfiable: a.res.Decision.Unsatisfiable, channel: a.res.Channel, minBuild: a.res.MinBuild,
		notes: a.notes, notesHTML: a.notesHTML}
	// The answer encoded last is nearly always the one asked for again, and comparing its key
	// (whose strings are the snapshot's own, so equal ones share their bytes) costs a fraction
	// of hashing the key through the map's interface (about 85 ns on every check).
	if e := bv.lastAnswer.Load(); e != nil && e.key == k && e.link == a.link && e.install == a.install {
		return e.body, nil
	}
	if v, ok := bv.answers.Load(k); ok {
		if e := v.(*encodedAnswer); e.link == a.link && e.install == a.install {
			return e.body, nil
		}
	}
	// Clipped: an append to a shared answer must copy it, never write past its end.
	e := &encodedAnswer{key: k, link: a.link, install: a.install, body: slices.Clip(a.update().AppendJSON(nil))}
	bv.answers.Store(k, e)
	bv.lastAnswer.Store(e) // only when encoding: checks that alternate answers write nothing shared
	return e.body, nil
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
	key           answerKey
	link, install *signedURL
	body          []byte
}
