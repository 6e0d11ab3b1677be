// Package sync holds callsync's business rules: it claims queued call ids,
// fetches each call from the Synthflow API, normalizes it into warehouse
// rows, and decides between done, fetch again later, retry and give up.
//
// It declares the interfaces it consumes (Fetcher, Queue) and knows neither
// SQL nor HTTP. Inside this package a plain import "sync" is the standard
// library; everywhere else this package is imported as
//
//	callsync "github.com/callsync/callsync/sync"
//
// so that grep finds every use and goimports cannot confuse the two.
package sync
