package api

import (
	"bytes"
	"testing"

	"github.com/callsync/callsync/api/apitest"
)

// BenchmarkCallPage decodes list pages of 100 generated calls, as a
// backfill reads them.
func BenchmarkCallPage(b *testing.B) {
	calls := apitest.Generate(apitest.GenerateOptions{Seed: 5, Calls: 100})
	var body bytes.Buffer
	body.WriteString(`{"status":"ok","response":{"pagination":{"total_records":100,"limit":100,"offset":0},"calls":[`)
	for i, c := range calls {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(c.ListJSON())
	}
	body.WriteString(`]}}`)
	b.SetBytes(int64(body.Len()))
	b.ReportAllocs()
	for b.Loop() {
		page, err := decodeCallPage(nil, "list", body.Bytes(), ListOptions{Limit: 100})
		if err != nil || len(page.Calls) != 100 {
			b.Fatal(len(page.Calls), err)
		}
	}
}
