package sync

import "log/slog"

// The attributes sync's log lines share, each key named once here.

func callIDAttr(id string) slog.Attr { return slog.String("call_id", id) }

func modelIDAttr(id string) slog.Attr { return slog.String("model_id", id) }

func attemptAttr(n int) slog.Attr { return slog.Int("attempt", n) }

// errAttr is an error under the key "err", the key the text handler
// colours.
func errAttr(err error) slog.Attr { return slog.Any("err", err) }
