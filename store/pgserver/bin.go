package pgserver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNotInstalled is returned, wrapped with the places searched, when no
// directory holds the PostgreSQL server binaries (initdb and postgres).
var ErrNotInstalled = errors.New("pgserver: PostgreSQL server binaries (initdb, postgres) not found")

// binaries are the programs Start runs. pg_ctl is not needed: Server signals
// the postmaster itself, since it is the postmaster's parent.
var binaries = []string{"initdb", "postgres"}

// candidateGlobs are the usual install locations, tried after PATH. Globs
// with a version in them are tried newest first.
var candidateGlobs = []string{
	"/usr/lib/postgresql/*/bin",         // Debian, Ubuntu
	"/usr/pgsql-*/bin",                  // RHEL, Fedora (PGDG packages)
	"/usr/local/pgsql/bin",              // built from source
	"/opt/homebrew/opt/postgresql*/bin", // Homebrew, versioned kegs
	"/opt/homebrew/bin",                 // Homebrew (Apple silicon)
	"/usr/local/bin",                    // Homebrew (Intel), manual links
}

// FindBinDir returns the directory holding initdb and postgres: the one
// initdb on PATH resolves to, else the newest of the usual install locations
// (/usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, /usr/local/pgsql/bin,
// Homebrew). It returns an error wrapping ErrNotInstalled, naming what was
// searched and how to install PostgreSQL, when none does.
func FindBinDir() (string, error) {
	var searched []string
	if p, err := exec.LookPath("initdb"); err == nil {
		// Resolve symlinks so that a /usr/local/bin/initdb linked into a
		// versioned directory finds the postgres of the same version.
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		dir := filepath.Dir(p)
		if hasBinaries(dir) {
			return dir, nil
		}
		searched = append(searched, dir)
	} else {
		searched = append(searched, "$PATH")
	}
	for _, g := range candidateGlobs {
		dirs, _ := filepath.Glob(g) // the patterns are constant and valid
		sortNewestFirst(dirs)
		for _, dir := range dirs {
			if hasBinaries(dir) {
				return dir, nil
			}
		}
		searched = append(searched, g)
	}
	return "", fmt.Errorf("%w in %s; install the PostgreSQL server "+
		"(Debian/Ubuntu: apt-get install postgresql; Fedora/RHEL: dnf install postgresql-server; "+
		"macOS: brew install postgresql) or put its bin directory on PATH",
		ErrNotInstalled, strings.Join(searched, ", "))
}

// hasBinaries reports whether dir holds every program in binaries.
func hasBinaries(dir string) bool {
	for _, b := range binaries {
		fi, err := os.Stat(filepath.Join(dir, b))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// sortNewestFirst orders paths by the first version number in them, highest
// first, so /usr/lib/postgresql/16/bin precedes .../9.6/bin.
func sortNewestFirst(dirs []string) {
	slices.SortStableFunc(dirs, func(a, b string) int {
		return slices.Compare(versionOf(b), versionOf(a))
	})
}

// versionOf returns the dot-separated numbers of the first path element
// that contains a digit, e.g. [9 6] for /usr/lib/postgresql/9.6/bin.
func versionOf(path string) []int {
	for _, elem := range strings.Split(filepath.ToSlash(path), "/") {
		i := strings.IndexAny(elem, "0123456789")
		if i < 0 {
			continue
		}
		var v []int
		for _, part := range strings.Split(elem[i:], ".") {
			n, err := strconv.Atoi(part)
			if err != nil {
				break
			}
			v = append(v, n)
		}
		return v
	}
	return nil
}
