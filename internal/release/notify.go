package release

import (
	"context"
	"fmt"

	"github.com/mportal/mportal/push"
)

// notify enqueues one "release" push for a new release to the channel's members: everybody for
// stable; otherwise the explicit members plus the channel's roles and departments. All members
// are told, not only the release's cohort, because the push engine resolves audiences by
// directory criteria; those outside the cohort find "no update" until the rollout reaches them.
// A failure is logged: the release is published either way.
func (s *Service) notify(ctx context.Context, ch *Channel, b *Build, rel Release) {
	if s.Push == nil {
		return
	}
	aud, err := s.channelAudience(ctx, ch)
	if err != nil {
		s.log().Warn("release: notify", "release", rel.ID, "error", err.Error())
		return
	}
	if aud.Empty() {
		return
	}
	name := b.DisplayName
	n := push.Notification{
		Key:      "release:" + rel.ID,
		Category: push.CategoryRelease,
		Audience: aud,
		// A newer release of the same app, channel and platform replaces the notice; one of
		// another app or channel does not (the category's "release" key collapsed them all).
		CollapseKey: "release:" + ch.AppID + ":" + ch.Name + ":" + string(b.Platform),
		Title: map[string]string{
			"zh-CN": fmt.Sprintf("%s %s 已发布", name, b.Version),
			"en":    fmt.Sprintf("%s %s is available", name, b.Version),
		},
		Body: map[string]string{
			"zh-CN": fmt.Sprintf("%s 渠道有新版本 %s (%d)，打开应用即可更新。", ch.Name, b.Version, b.Build),
			"en":    fmt.Sprintf("Version %s (%d) is out on the %s channel. Open the app to update.", b.Version, b.Build, ch.Name),
		},
		DeepLink: "mportal://update?app=" + ch.AppID + "&channel=" + ch.Name,
		Data: map[string]string{
			"app_id": ch.AppID, "channel": ch.Name, "platform": string(b.Platform), "build": itoa(b.Build), "release_id": rel.ID,
		},
	}
	if _, _, err := s.Push.Enqueue(ctx, n); err != nil {
		s.log().Warn("release: notify", "release", rel.ID, "error", err.Error())
	}
}
