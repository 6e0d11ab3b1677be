package objects

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// partialDir holds uploads in progress, inside the root so that a rename
// moves them into place on the same file system. Keys never start with a
// dot, so no key reaches it.
const partialDir = ".partial"

// staleAfter is when an upload left in partialDir by a process that died
// is removed.
const staleAfter = 24 * time.Hour

// Dir is a Store in a local directory: each object is a file under the
// root, at its key. A Put writes a temporary file, syncs it and renames it
// into place.
type Dir struct {
	root string
}

// OpenDir opens (creating) the directory root, and removes the uploads a
// process that died left there long ago.
func OpenDir(root string) (*Dir, error) {
	root = filepath.Clean(root)
	if err := os.MkdirAll(filepath.Join(root, partialDir), 0o750); err != nil {
		return nil, fmt.Errorf("objects: open %s: %w", root, err)
	}
	d := &Dir{root: root}
	entries, err := os.ReadDir(filepath.Join(root, partialDir))
	if err != nil {
		return nil, fmt.Errorf("objects: open %s: %w", root, err)
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleAfter {
			_ = os.Remove(filepath.Join(root, partialDir, e.Name())) // best effort: the next open retries
		}
	}
	return d, nil
}

func (d *Dir) path(key string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put writes body to a temporary file, syncs it, and renames it to key.
func (d *Dir) Put(ctx context.Context, key string, body io.Reader, _ string) (err error) {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Join(d.root, partialDir), "put-*")
	if err != nil {
		return fmt.Errorf("objects: put %s: %w", key, err)
	}
	defer func() {
		if err != nil { // the failure is err: the temporary file only has to go
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if _, err := io.Copy(f, ctxReader{ctx, body}); err != nil {
		return fmt.Errorf("objects: put %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("objects: put %s: sync: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("objects: put %s: %w", key, err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		return fmt.Errorf("objects: put %s: %w", key, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("objects: put %s: %w", key, err)
	}
	return syncDir(filepath.Dir(p))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("objects: sync %s: %w", dir, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("objects: sync %s: %w", dir, err)
	}
	return f.Close()
}

// Delete removes the file of key, and the date directories it leaves empty.
func (d *Dir) Delete(_ context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("objects: delete %s: %w", key, err)
	}
	for dir := filepath.Dir(p); dir != d.root && strings.HasPrefix(dir, d.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil { // not empty: stop
			break
		}
	}
	return nil
}

// Stat returns the size of the file of key.
func (d *Dir) Stat(_ context.Context, key string) (int64, error) {
	p, err := d.path(key)
	if err != nil {
		return 0, err
	}
	info, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("objects: stat %s: %w", key, ErrNotExist)
	}
	if err != nil {
		return 0, fmt.Errorf("objects: stat %s: %w", key, err)
	}
	return info.Size(), nil
}

// Link returns the file's path: a local directory has no expiring links.
func (d *Dir) Link(ctx context.Context, key string, _ time.Duration) (string, error) {
	if _, err := d.Stat(ctx, key); err != nil {
		return "", err
	}
	return d.path(key)
}

func (d *Dir) String() string { return "file://" + d.root }

// ctxReader ends a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
