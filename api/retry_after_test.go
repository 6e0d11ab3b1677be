package api_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/callsync/callsync/api"
)

// No answer can impose a pause longer than api.MaxRetryAfter: a Retry-After
// of ten years, in seconds or as an HTTP-date, once stopped every process
// sharing the key until someone deleted the pause by hand. Values that are
// not a delay (negative, garbage, not finite, a date in the past) are
// ignored, as if the header was absent.
func TestClient_RetryAfterIsBounded(t *testing.T) {
	future := func() string { return time.Now().Add(10 * 365 * 24 * time.Hour).UTC().Format(http.TimeFormat) }
	past := func() string { return time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat) }
	for name, tt := range map[string]struct {
		header func() string
		want   time.Duration
	}{
		"TenYearsInSeconds": {func() string { return "315360000" }, api.MaxRetryAfter},
		"HugeNumber":        {func() string { return "1e300" }, api.MaxRetryAfter},
		"TenYearsAsDate":    {future, api.MaxRetryAfter},
		"WithinTheBound":    {func() string { return "120" }, 2 * time.Minute},
		"Negative":          {func() string { return "-5" }, 0},
		"Garbage":           {func() string { return "soon" }, 0},
		"NotANumber":        {func() string { return "NaN" }, 0},
		"Infinite":          {func() string { return "+Inf" }, 0},
		"DateInThePast":     {past, 0},
	} {
		t.Run(name, func(t *testing.T) {
			c := testServer(t, api.Options{}, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tt.header())
				w.WriteHeader(http.StatusTooManyRequests)
			})
			_, err := c.GetCall(t.Context(), "abc")
			var se *api.StatusError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *api.StatusError", err)
			}
			if se.RetryAfter < 0 || se.RetryAfter > api.MaxRetryAfter {
				t.Fatalf("RetryAfter = %v, outside [0, %v]", se.RetryAfter, api.MaxRetryAfter)
			}
			if d := se.RetryAfter - tt.want; d < -2*time.Second || d > 2*time.Second {
				t.Errorf("RetryAfter = %v, want %v", se.RetryAfter, tt.want)
			}
		})
	}
}
