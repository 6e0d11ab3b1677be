package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lmittmann/tint"
)

// flagSet wraps a flag.FlagSet whose flags fall back to environment
// variables: flag > environment > default. Bad environment values are
// collected and reported by parse, naming the variable.
type flagSet struct {
	*flag.FlagSet
	getenv  func(string) string
	errs    []error
	args    []string
	secrets *secretSet
	secret  []*string // values of secretVar flags, added to secrets by parse
	helping bool      // the arguments ask for help: print the flags
}

func newFlagSet(name, synopsis string, e env) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	f := &flagSet{FlagSet: fs, getenv: e.getenv, secrets: e.secrets}
	fs.Usage = func() {
		if !f.helping {
			return // a mistake gets a short error from parse, not every flag
		}
		fmt.Fprintf(fs.Output(), "Usage: callsync %s\n\nFlags (a flag's environment variable, when it has one, is in brackets; the flag wins):\n", synopsis)
		fs.PrintDefaults()
	}
	return f
}

// badFlagRE finds the flag a parse error is about.
var badFlagRE = regexp.MustCompile(`^invalid value "(.*)" for flag -(\S+):`)

func isDuration(v any) bool {
	_, ok := v.(time.Duration)
	return ok
}

// flagError rewrites a parse error of the flag package into one line that
// names the flag and says what it wants, with where to find the rest.
func (f *flagSet) flagError(err error) error {
	msg := err.Error()
	if m := badFlagRE.FindStringSubmatch(msg); m != nil {
		if fl := f.Lookup(m[2]); fl != nil {
			if g, ok := fl.Value.(flag.Getter); ok && isDuration(g.Get()) { // a Value of our own may not be a Getter
				return usagef("%s: --%s %q: want a duration such as 90s, 30m or 24h (no days: 7 days is 168h)", f.Name(), m[2], m[1])
			}
		}
	}
	return usagef("%s: %v\nRun 'callsync help %s' for its flags.", f.Name(), err, f.Name())
}

func (f *flagSet) env(name string) (string, bool) {
	if name == "" {
		return "", false
	}
	v := f.getenv(name)
	return v, v != ""
}

func (f *flagSet) usage(usage, envName string) string {
	if envName == "" {
		return usage
	}
	return usage + " [" + envName + "]"
}

func (f *flagSet) stringVar(p *string, name, envName, def, usage string) {
	if v, ok := f.env(envName); ok {
		def = v
	}
	f.StringVar(p, name, def, f.usage(usage, envName))
}

// secretVar is stringVar for a secret: a value from the environment is
// not shown as the flag's default in --help and usage messages.
func (f *flagSet) secretVar(p *string, name, envName, usage string) {
	f.stringVar(p, name, envName, "", usage)
	f.Lookup(name).DefValue = ""
	f.secret = append(f.secret, p)
}

func (f *flagSet) intVar(p *int, name, envName string, def int, usage string) {
	if v, ok := f.env(envName); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q: want a whole number", envName, v))
		} else {
			def = n
		}
	}
	f.IntVar(p, name, def, f.usage(usage, envName))
}

func (f *flagSet) durationVar(p *time.Duration, name, envName string, def time.Duration, usage string) {
	if v, ok := f.env(envName); ok {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q: want a duration such as 30s or 5m", envName, v))
		} else {
			def = d
		}
	}
	f.DurationVar(p, name, def, f.usage(usage, envName))
}

// parse parses args, flags and positional arguments in any order (a lone
// "--" ends the flags), and reports the first bad environment value.
// Positional arguments are then in Args.
func (f *flagSet) parse(args []string) error {
	var positional []string
	f.helping = slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "-help" || a == "--help" || a == "--h" })
	if out := f.Output(); !f.helping {
		f.SetOutput(io.Discard) // the flag package prints its error too: flagError's is enough
		defer f.SetOutput(out)
	}
	for {
		if err := f.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return err
			}
			return f.flagError(err)
		}
		rest := f.FlagSet.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	f.args = positional
	for _, p := range f.secret {
		f.secrets.add(*p)
	}
	if len(f.errs) > 0 {
		return usagef("%s: %v", f.Name(), f.errs[0])
	}
	return nil
}

// Args returns the positional arguments.
func (f *flagSet) Args() []string { return f.args }

// NArg returns the number of positional arguments.
func (f *flagSet) NArg() int { return len(f.args) }

// Arg returns the i-th positional argument.
func (f *flagSet) Arg(i int) string { return f.args[i] }

// logConfig holds the logging settings every command shares.
type logConfig struct {
	level  string
	format string
	color  string
}

func (c *logConfig) register(f *flagSet, level string) {
	f.stringVar(&c.level, "log-level", "LOG_LEVEL", level, "log level: debug, info, warn or error")
	f.stringVar(&c.format, "log-format", "LOG_FORMAT", "text", "log format: text (for people) or json (for log collectors)")
	f.stringVar(&c.color, "log-color", "LOG_COLOR", "auto", "colour text logs: auto (on a terminal), 1 or 0")
}

// logger builds the logger the command passes everywhere.
func (c *logConfig) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.level)); err != nil {
		return nil, usagef("--log-level (LOG_LEVEL) %q: want debug, info, warn or error", c.level)
	}
	switch c.format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: durationAsString})), nil
	case "text":
	default:
		return nil, usagef("--log-format (LOG_FORMAT) %q: want text or json", c.format)
	}
	var color bool
	switch c.color {
	case "auto":
		color = isTerminal(w)
	case "1", "true", "yes":
		color = true
	case "0", "false", "no":
	default:
		return nil, usagef("--log-color (LOG_COLOR) %q: want auto, 1 or 0", c.color)
	}
	return slog.New(tint.NewTextHandler(w, &tint.Options{Level: level, NoColor: !color, TimeFormat: time.DateTime,
		ReplaceAttr: errorInRed})), nil
}

// errorInRed colours an error logged under the key "err" as tint.Err does,
// so that packages log errors with slog.Any("err", err), free of tint.
func errorInRed(_ []string, a slog.Attr) slog.Attr {
	if _, ok := a.Value.Any().(error); ok && a.Key == "err" && a.Value.Kind() == slog.KindAny {
		return tint.Attr(9, a)
	}
	return a
}

// durationAsString writes durations as Go duration strings ("1m30s"), not
// as the integer nanoseconds slog's JSON handler writes by default.
func durationAsString(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// dbConfig holds the database settings.
type dbConfig struct {
	url     string
	secrets *secretSet
}

func (c *dbConfig) register(f *flagSet) {
	c.secrets = f.secrets
	f.secretVar(&c.url, "database-url", "DATABASE_URL", "PostgreSQL connection URL, e.g. postgres://user:pass@host:5432/db")
}

func (c *dbConfig) validate() error {
	if c.url == "" {
		return usagef("no database: set DATABASE_URL or --database-url (e.g. postgres://postgres@127.0.0.1:5432/postgres)")
	}
	c.secrets.addDatabaseURL(c.url)
	return nil
}
