package fcmfake

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
)

// WriteCredentialsFile writes a service-account JSON file into dir for
// ProjectID, with a fresh key and a token_uri on the fake, and returns its
// path. A client given the file runs the production path: it reads the
// project from the file and signs a JWT to obtain AccessToken from the fake.
func (s *Server) WriteCredentialsFile(dir string) (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("marshal key: %w", err)
	}
	file, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     ProjectID,
		"private_key_id": "fcmfake",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "push@" + ProjectID + ".iam.gserviceaccount.com",
		"client_id":      "1",
		"token_uri":      s.URL + tokenPath,
	})
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "fcm-credentials.json")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		return "", err
	}
	return path, nil
}

// tokenPath is the fake's OAuth token endpoint.
const tokenPath = "/token"

// serveToken answers every token request with AccessToken; the fake does
// not check the signed assertion.
func serveToken(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, AccessToken)
}
