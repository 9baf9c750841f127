package fcmfake

import (
	"net/http"
	"net/url"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"
)

// AccessToken is the OAuth access token SenderOptions makes clients send;
// it shows up in Received.Authorization as "Bearer " + AccessToken.
const AccessToken = "fcmfake-access-token"

// SenderOptions returns client options that point a Firebase messaging
// client at the fake: the endpoint, and static credentials that carry
// ProjectID and AccessToken, so no token is ever fetched and the client's
// normal authenticated transport is used. Only the endpoint is contacted.
func (s *Server) SenderOptions() []option.ClientOption {
	creds := &google.Credentials{
		ProjectID:   ProjectID,
		TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: AccessToken, TokenType: "Bearer"}),
	}
	return []option.ClientOption{option.WithEndpoint(s.URL + "/v1"), option.WithCredentials(creds)}
}

// HTTPClient returns a client that sends every request to the fake,
// whatever host it names. Pass it with option.WithHTTPClient to SDK parts
// that ignore option.WithEndpoint (topic management calls iid.googleapis.com);
// it adds no Authorization header.
func (s *Server) HTTPClient() *http.Client {
	target, _ := url.Parse(s.URL) // httptest URLs always parse
	return &http.Client{Transport: &RewriteTransport{Target: target, Next: s.srv.Client().Transport}}
}

// RewriteTransport sends each request to Target's scheme and host, keeping
// the path and query.
type RewriteTransport struct {
	// Target supplies the scheme and host.
	Target *url.URL
	// Next sends the rewritten request; nil means http.DefaultTransport.
	Next http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *RewriteTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	out.URL.Scheme, out.URL.Host, out.Host = t.Target.Scheme, t.Target.Host, t.Target.Host
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(out)
}
