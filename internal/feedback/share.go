package feedback

import (
	"context"
	"fmt"
	"slices"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	datasync "github.com/mportal/mportal/sync"
)

// Sharing feedback with a channel's testers puts it in the pulls and REST views of everyone who
// holds the channel's key, so it takes membership: only a holder of the key (an explicit member
// of the channel: invited or self opted-in, see release's grants) may share into it. Everyone
// else's record is rejected with the reason, never stored unshared: the author's choice is not
// rewritten silently. Stable has no testers; checkFeedback refuses sharing there.

// mayShare returns forbidden (field share_with_testers) unless p, holding keys (nil: read
// them), may create r shared with its channel's testers. The channel is that of the app's
// catalogue id, which is what the feedback is stored under.
func (s *Service) mayShare(ctx context.Context, p *auth.Principal, r *feedbackRecord, keys []string) error {
	if !r.ShareWithTesters {
		return nil
	}
	if keys == nil {
		var err error
		if keys, err = s.heldKeys(ctx, p); err != nil {
			return err
		}
	}
	appID := r.AppID
	if s.Apps != nil {
		appID = s.Apps.CatalogID(ctx, appID)
	}
	if slices.Contains(keys, datasync.ChannelKey(appID, r.Channel)) {
		return nil
	}
	return &apperr.Error{Code: apperr.Forbidden, Field: "share_with_testers",
		Message: fmt.Sprintf("only members of the %s channel of %s may share feedback with its testers", r.Channel, appID)}
}

// sameSharing returns invalid (field share_with_testers) when an update of stored feedback asks
// for another share_with_testers than the one it was created with: sharing is fixed at
// creation, and ignoring the change would leave the author believing it applied.
func sameSharing(r *feedbackRecord, stored *feedbackDoc) error {
	if r.ShareWithTesters == stored.Shared {
		return nil
	}
	state := "is not"
	if stored.Shared {
		state = "is"
	}
	return apperr.Field("share_with_testers", "share_with_testers is fixed when feedback is created: this feedback %s shared with testers", state)
}

// heldKeys returns the keys of the batch's author, read once per push.
func (b *pushBatch) heldKeys(ctx context.Context) ([]string, error) {
	if b.held == nil {
		keys, err := b.s.heldKeys(ctx, b.p)
		if err != nil {
			return nil, err
		}
		b.held = keys
	}
	return b.held, nil
}
