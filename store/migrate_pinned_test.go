package store_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"testing"

	"github.com/callsync/callsync/migrations"
)

// releasedMigrations pins the SHA-256 of every released migration file
// (sha256sum migrations/*.sql). goose never runs an applied file again, so
// an edit to one reaches only databases created after it: a released file
// never changes, and a change is a new migration (migrations/README.md).
// A new file gets its line here when it is merged.
var releasedMigrations = map[string]string{
	"00001_create_calls.sql":                     "1d647761e5a21e6ef9df3bcadef98ff580cc243c1c6e554138d8904d91eafcf2",
	"00002_create_sync_queue.sql":                "1388f419a4b8b95782bc200a3b067e0e6483a039549d0ba80cc16697b3620d34",
	"00003_create_api_limits.sql":                "4b5edd978680054f2701c860abbbf782679033d95344800866a236f126c0ac4e",
	"00004_create_intake.sql":                    "94bedf3c6c30f4c49c73237066ed69f0d7e9bd7b8f130cf251679f13ecf410d6",
	"00005_create_sync_runs.sql":                 "a2faed5a6c6f48da1e460a1bbc9c637f17ade370193c56b89354b089e714d205",
	"00006_create_views.sql":                     "d4d0f7b7e36f7e24b362279e0f9c321b756b96adb0469cf31b8a2ca2d98234f5",
	"00007_payload_hash_as_sent.sql":             "ab8d66200517b25d05f6ab7d9366cdb2496adbb6e04efdb29f9b26528c5ee49b",
	"00008_create_agents_actions_judgements.sql": "39d6804667258e6b9a6e950947c48c13d4180bc5a57ca93390f83e8baff97258",
	"00009_views_by_agent.sql":                   "b6b904cae2f8827477166c03918d134b2a4caa6ff2f84a3ea6c219506f99f51e",
	"00010_privacy.sql":                          "9c349a174004f1ecc6b8695e95cf2593139ee93c7241808b3f8a4770687c639b",
	"00011_reader_views.sql":                     "04e20d2863f45ff3719fada6f8a63d53df421c70f583e8faccf649ae09b85636",
	"00012_queue_suspect.sql":                    "f63663f3c94bf2c9c6a142f7677d29dfc8a0c51e91ac300a379751d9577a344d",
	"00013_notify_due_queue_rows.sql":            "0053111b31f7c59ac97c515526db735dd7399a5992760ebe19128120ecd620dd",
	"00014_webhook_judgements.sql":               "92fb14d062e373df1d1fd72fb0b0511192723061e4a579ff31277c3a2b8a88b7",
	"00015_rollups.sql":                          "14d400a67854713f9a51533b20a920c7e2461507c0ed130599f8bc43b29b3c9e",
	"00016_child_rows_kept_by_the_store.sql":     "4979e1f019473b106138b8f85a9de327332c5e74b6a3713931117de19d2ffc06",
	"00018_erased_numbers_and_wide_counts.sql":   "23780d4e71191062f1b2f639a4ac57e5d8c0dffc0fc730477d91d856810469ac",
	"00019_reapply_edited_migrations.sql":        "bee9ff8620ddf7377e44eacc302c938929fd20155fc71c707a85c068a8ead317",
	"00020_intake_planner.sql":                   "818d4e8004457bfd1b28b85c8b03aa6170035167bfe53123f1ccb3a562715525",
	"00021_create_recordings.sql":                "1fd9af9c1d96be059906d68dcca7a5225b2b94f81d91c9c50d8555ab5ba161b1",
	"00022_call_facts_archived_recordings.sql":   "ae56b3ba37751faab3bbaedee3567f1f83c89ac9dce8d2c90ba240c65bd9f27d",
}

// TestMigrations_ReleasedFilesNeverChange fails when a pinned migration
// file changed or is gone, and when a file is not pinned, saying which
// line to add.
func TestMigrations_ReleasedFilesNeverChange(t *testing.T) {
	names, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, name := range names {
		b, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		got := hex.EncodeToString(sum[:])
		seen[name] = true
		want, ok := releasedMigrations[name]
		switch {
		case !ok:
			t.Errorf("migration %s is not pinned: once it is final, add this line to releasedMigrations in store/migrate_pinned_test.go:\n\t%q: %q,",
				name, name, got)
		case got != want:
			t.Errorf("released migration %s changed (sha256 %s, pinned %s): databases that applied it never see the change; "+
				"restore the file (git checkout main -- migrations/%s) and make the change in a new migration (migrations/README.md)",
				name, got, want, name)
		}
	}
	for name := range releasedMigrations {
		if !seen[name] {
			t.Errorf("released migration %s is gone: restore it (git checkout main -- migrations/%s); databases have applied it", name, name)
		}
	}
}
