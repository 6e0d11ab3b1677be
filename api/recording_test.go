package api_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/callsync/callsync/api"
)

func TestClient_RecordingLink(t *testing.T) {
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth = append(auth, r.Header.Get("Authorization"))
		switch r.URL.Path {
		case "/v2/calls/ok/recording":
			w.Header().Set("Location", "https://storage.example/rec.wav?X-Signature=secret-signature")
			w.WriteHeader(http.StatusFound)
		case "/v2/calls/none/recording":
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"detail":{"status":"error","description":"Recording not found","request_id":"r","category":"important"}}`))
		case "/v2/calls/busy/recording":
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusAccepted)
		case "/v2/calls/gone/recording":
			w.WriteHeader(http.StatusGone)
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"detail":"Not Found"}`))
		}
	}))
	defer srv.Close()
	c, err := api.NewClient(api.Options{BaseURL: srv.URL + "/v2", APIKey: "the-api-key"})
	if err != nil {
		t.Fatal(err)
	}
	link, err := c.RecordingLink(t.Context(), "ok")
	if err != nil || link.Host != "storage.example" || link.Query().Get("X-Signature") != "secret-signature" {
		t.Fatalf("RecordingLink(ok) = %v, %v", link, err)
	}
	for id, want := range map[string]error{"none": api.ErrNoRecording, "busy": api.ErrRecordingNotReady,
		"gone": api.ErrRecordingGone, "a/b": api.ErrWrongURL} {
		_, err := c.RecordingLink(t.Context(), id)
		if !errors.Is(err, want) {
			t.Errorf("RecordingLink(%s) = %v, want %v", id, err, want)
		}
	}
	var se *api.StatusError
	if _, err := c.RecordingLink(t.Context(), "busy"); !errors.As(err, &se) || se.RetryAfter.Seconds() != 30 {
		t.Errorf("processing: %v, want a StatusError with Retry-After 30 s", err)
	}
	for _, a := range auth {
		if a != "Bearer the-api-key" {
			t.Fatalf("the API got Authorization %q", a)
		}
	}
}

// TestDownloader_RefusesPrivateAddresses: the check runs on the address
// dialed, so a name that resolves to loopback is refused as well as the
// address itself, and the key is never sent.
func TestDownloader_RefusesPrivateAddresses(t *testing.T) {
	var got []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization"))
		_, _ = w.Write([]byte("RIFF"))
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	d := api.NewDownloader(api.DownloadOptions{})
	for _, raw := range []string{srv.URL + "/rec.wav?sig=s", "https://localhost" + port + "/rec.wav?sig=s"} {
		u, _ := url.Parse(raw)
		_, err := d.Open(t.Context(), u)
		if !errors.Is(err, api.ErrPrivateAddress) {
			t.Errorf("Open(%s) = %v, want ErrPrivateAddress", u.Host, err)
		}
		if err != nil && strings.Contains(err.Error(), "sig=") {
			t.Errorf("the error holds the link's query: %v", err)
		}
	}
	if len(got) != 0 {
		t.Fatalf("the server was reached %d times", len(got))
	}
	// Allowed: it is fetched, without an Authorization header.
	allowed := api.NewDownloader(api.DownloadOptions{AllowPrivate: true})
	u, _ := url.Parse(srv.URL + "/rec.wav")
	_, err := allowed.Open(t.Context(), u)
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Open with AllowPrivate = %v, want to reach the server (and fail its test certificate)", err)
	}
}

func TestPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "2a00:1450:4001::1": true, "127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false,
		"192.168.1.1": false, "169.254.169.254": false, "100.64.0.1": false, "0.0.0.0": false, "::1": false,
		"fc00::1": false, "fe80::1": false, "::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "224.0.0.1": false,
	} {
		if got := api.PublicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("PublicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}
