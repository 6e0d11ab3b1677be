// Package migrations holds callsync's goose SQL migrations, embedded so that
// the binary can bring any database up to date without files on disk.
//
// Files are named NNNNN_what.sql, each with an Up and a Down section. An
// applied file is never edited: schema changes are new files.
package migrations

import "embed"

// FS holds every migration file. Pass it to goose.NewProvider.
//
//go:embed *.sql
var FS embed.FS
