package api_test

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/callsync/callsync/api"
)

const echoKey = "sk-live-echoed-0123456789"

// TestClient_RedirectIsNotFollowed: a redirect to another server must not
// carry the key there; it is an error naming where it pointed.
func TestClient_RedirectIsNotFollowed(t *testing.T) {
	var leaked string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = r.Header.Get("Authorization")
		w.Write([]byte(`{"status":"ok","response":{"calls":[]}}`))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/v2/calls/x?token=abc", http.StatusFound)
	}))
	defer srv.Close()
	c, err := api.NewClient(api.Options{BaseURL: srv.URL + "/v2", APIKey: echoKey})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPayload(t.Context(), "x")
	if leaked != "" {
		t.Fatalf("the redirect target got Authorization %q", leaked)
	}
	var re *api.RedirectError
	if !errors.As(err, &re) || !errors.Is(err, api.ErrWrongURL) || errors.Is(err, api.ErrNotFound) {
		t.Fatalf("err = %v, want a *RedirectError matching ErrWrongURL", err)
	}
	if want := other.URL + "/v2/calls/x"; re.Location != want || strings.Contains(err.Error(), "token") {
		t.Fatalf("Location = %q (err %v), want %q without the query", re.Location, err, want)
	}
}

// TestClient_NotFoundShapes tells an unknown call from a request that
// reached no endpoint of the API (README §6 of the API notes).
func TestClient_NotFoundShapes(t *testing.T) {
	for _, c := range []struct {
		name, body string
		code       int
		missing    bool
	}{
		{"UnknownCall", `{"detail":{"status":"error","description":"Call not found","request_id":"r1","category":"important"}}`, 404, true},
		{"UnmatchedRoute", `{"detail":"Not Found"}`, 404, false},
		{"Gateway", `{"error":"not_found","message":"No route matched"}`, 404, false},
		{"HTML", `<html>404</html>`, 404, false},
		{"Empty", ``, 404, false},
		{"MethodNotAllowed", `{"detail":"Method Not Allowed"}`, 405, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.code)
				w.Write([]byte(c.body))
			}))
			defer srv.Close()
			cl, _ := api.NewClient(api.Options{BaseURL: srv.URL + "/v2", APIKey: echoKey})
			_, err := cl.GetPayload(t.Context(), "x")
			if got := errors.Is(err, api.ErrNotFound); got != c.missing {
				t.Fatalf("ErrNotFound = %v, want %v (err %v)", got, c.missing, err)
			}
			if got := errors.Is(err, api.ErrWrongURL); got == c.missing {
				t.Fatalf("ErrWrongURL = %v, want %v (err %v)", got, !c.missing, err)
			}
		})
	}
}

// TestClient_Unreachable: a refused connection matches ErrUnreachable.
func TestClient_Unreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, _ := api.NewClient(api.Options{BaseURL: "http://" + addr + "/v2", APIKey: echoKey})
	if _, err := c.GetPayload(t.Context(), "x"); !errors.Is(err, api.ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
}

// TestClient_RedactsEchoedSecrets: bodies that send the key or another
// secret back never reach an error's text or kept body.
func TestClient_RedactsEchoedSecrets(t *testing.T) {
	const hook = "whsec-echoed-secret"
	for _, c := range []struct {
		name string
		code int
		body string
	}{
		{"Unauthorized", 401, `{"detail":"bad header: Authorization: Bearer ` + echoKey + `"}`},
		{"Server", 500, `{"error":"boom","message":"request headers {'authorization': 'Bearer ` + echoKey + `'} ` + hook + `"}`},
		{"Undecodable", 200, `not json Bearer ` + echoKey + ` ` + hook},
		{"NotACall", 200, `{"status":"ok","response":{"calls":["Bearer ` + echoKey + `"]}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.code)
				w.Write([]byte(c.body))
			}))
			defer srv.Close()
			cl, _ := api.NewClient(api.Options{BaseURL: srv.URL + "/v2", APIKey: echoKey, Secrets: []string{hook}})
			_, err := cl.GetCall(t.Context(), "x")
			if err == nil {
				t.Fatal("no error")
			}
			text := err.Error()
			var de *api.DecodeError
			if errors.As(err, &de) {
				text += string(de.Body)
			}
			if strings.Contains(text, echoKey) || strings.Contains(text, hook) {
				t.Fatalf("secret in %q", text)
			}
			if !strings.Contains(text, api.Redacted) {
				t.Fatalf("%q: want %s where the secret was", text, api.Redacted)
			}
		})
	}
}
